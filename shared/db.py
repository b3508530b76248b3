"""Database helpers: one asyncpg pool per service, plain SQL migrations applied in order and recorded."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from shared.retry import Backoff

log = logging.getLogger(__name__)

#: Tables built by consumers from the event log live in this schema; `tandem replay` rebuilds them
#: into a fresh schema and swaps it in. A service's own state and the messaging tables live in public.
PROJECTION_SCHEMA = "projection"
SEARCH_PATH = f"{PROJECTION_SCHEMA}, public"

#: A connection as handlers receive it: plain, or borrowed from a pool.
Conn = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy

SHARED_MIGRATIONS = Path(__file__).parent / "migrations"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_DBNAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


async def _init_connection(conn: asyncpg.Connection) -> None:
    for typename in ("json", "jsonb"):
        await conn.set_type_codec(typename, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(
    dsn: str, *, min_size: int = 1, max_size: int = 10, search_path: str = SEARCH_PATH
) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        server_settings={"search_path": search_path},
    )
    assert pool is not None
    return pool


async def connect(dsn: str, *, search_path: str = SEARCH_PATH) -> asyncpg.Connection:
    conn: asyncpg.Connection = await asyncpg.connect(dsn, server_settings={"search_path": search_path})
    await _init_connection(conn)
    return conn


class ListenConnection:
    """A connection that LISTENs on a channel and comes back after the database does (a restart, a failover,
    a cut connection). A notification sent while it was away is lost, so `callback` is also called each time
    it reconnects: whoever listens must treat a call as "look again", never as a message."""

    def __init__(
        self, dsn: str, channel: str, callback: Callable[[Any, int, str, object], None], *, check_every: float = 1.0
    ) -> None:
        self.dsn = dsn
        self.channel = channel
        self.callback = callback
        self.check_every = check_every
        self.reconnects = 0
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    async def start(self) -> None:
        await self._open()
        self._task = asyncio.create_task(self._watch(), name=f"listen-{self.channel}")

    async def _open(self) -> None:
        conn = await connect(self.dsn)
        await conn.add_listener(self.channel, self.callback)
        self._conn = conn

    async def _watch(self) -> None:
        backoff, failures = Backoff(0.2, 5.0), 0
        while True:
            await asyncio.sleep(self.check_every if not failures else backoff.delay(failures))
            if self.connected:
                continue
            try:
                await self._open()
            except Exception as exc:
                failures += 1
                if failures == 1:
                    log.warning("LISTEN %s: reconnecting after %s", self.channel, exc)
                continue
            failures = 0
            self.reconnects += 1
            log.info("LISTEN %s: reconnected", self.channel)
            self.callback(None, 0, self.channel, "")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._conn.close(), 2)
            self._conn = None


@dataclass(frozen=True)
class Migration:
    namespace: str
    version: str
    name: str
    sql: str
    schema: str = "public"

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(namespace: str, folder: Path, schema: str = "public") -> list[Migration]:
    out = []
    for path in sorted(folder.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise ValueError(f"migration file {path.name!r} must be named NNNN_description.sql")
        out.append(Migration(namespace, match.group(1), path.stem, path.read_text(), schema))
    return out


def service_migrations(service: str, folder: Path) -> list[Migration]:
    """The shared messaging tables, the service's own tables (folder/*.sql, schema public), then its
    projection tables (folder/projection/*.sql, schema `projection`)."""
    return (
        load_migrations("shared", SHARED_MIGRATIONS)
        + load_migrations(service, folder)
        + load_migrations(f"{service}-projection", folder / "projection", PROJECTION_SCHEMA)
    )


async def apply_projection_migrations(conn: Conn, migrations: list[Migration], schema: str) -> None:
    """Create a service's projection tables in `schema` (used by replay to build a fresh copy)."""
    await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    for m in migrations:
        await conn.execute(f'SET LOCAL search_path TO "{schema}", public')
        await conn.execute(m.sql)


async def migrate(dsn: str, folder: Path, *, service: str) -> list[str]:
    """Apply the shared messaging migrations, then the service's own, each once, in order.

    Runs under an advisory lock so that several replicas starting at once apply each migration once.
    A migration whose file changed after it was applied is an error, not silently skipped.
    """
    migrations = service_migrations(service, folder)
    applied_now: list[str] = []
    conn = await connect(dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock(hashtext('tandem-migrations'))")
        try:
            await conn.execute(
                """CREATE TABLE IF NOT EXISTS public.schema_migrations (
                       namespace text NOT NULL, version text NOT NULL, name text NOT NULL,
                       checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(),
                       PRIMARY KEY (namespace, version))"""
            )
            done = {
                (r["namespace"], r["version"]): r["checksum"]
                for r in await conn.fetch("SELECT namespace, version, checksum FROM public.schema_migrations")
            }
            for m in migrations:
                key = (m.namespace, m.version)
                if key in done:
                    if done[key] != m.checksum:
                        raise RuntimeError(f"migration {m.namespace}/{m.name} changed after it was applied")
                    continue
                async with conn.transaction():
                    await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{m.schema}"')
                    await conn.execute(f'SET LOCAL search_path TO "{m.schema}", public')
                    await conn.execute(m.sql)
                    await conn.execute(
                        "INSERT INTO public.schema_migrations (namespace, version, name, checksum) "
                        "VALUES ($1, $2, $3, $4)",
                        m.namespace,
                        m.version,
                        m.name,
                        m.checksum,
                    )
                applied_now.append(f"{m.namespace}/{m.name}")
                log.info("applied migration %s/%s", m.namespace, m.name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock(hashtext('tandem-migrations'))")
    finally:
        await conn.close()
    return applied_now


@dataclass(frozen=True)
class SchemaCheck:
    """How a database's schema stands against the code's migrations."""

    #: Migrations the code has that are not applied, or were applied with other content: the code cannot run.
    problems: list[str]
    #: Migrations applied but unknown to the code: a newer release migrated. The code runs (migrations are written
    #: so that the release before keeps working, which is what a rollback needs); say so.
    newer: list[str]


async def migration_problems(dsn: str, folder: Path, *, service: str) -> list[str]:
    """What keeps the code from running on the schema (see `check_migrations`); empty: it may."""
    return (await check_migrations(dsn, folder, service=service)).problems


async def check_migrations(dsn: str, folder: Path, *, service: str) -> SchemaCheck:
    """How the schema differs from the code's migrations, without changing anything: each migration not applied
    yet, applied with other content than the code's, or applied but unknown to the code."""
    migrations = service_migrations(service, folder)
    conn = await connect(dsn)
    try:
        if await conn.fetchval("SELECT to_regclass('public.schema_migrations')") is None:
            return SchemaCheck([f"{m.namespace}/{m.name} is not applied" for m in migrations], [])
        done = {
            (r["namespace"], r["version"]): (r["name"], r["checksum"])
            for r in await conn.fetch("SELECT namespace, version, name, checksum FROM public.schema_migrations")
        }
    finally:
        await conn.close()
    problems: list[str] = []
    known: set[tuple[str, str]] = set()
    for m in migrations:
        known.add((m.namespace, m.version))
        applied = done.get((m.namespace, m.version))
        if applied is None:
            problems.append(f"{m.namespace}/{m.name} is not applied")
        elif applied[1] != m.checksum:
            problems.append(f"{m.namespace}/{m.name} was applied with other content (changed after it was applied)")
    namespaces = {m.namespace for m in migrations}
    newer = [
        f"{namespace}/{name}"
        for (namespace, version), (name, _checksum) in sorted(done.items())
        if namespace in namespaces and (namespace, version) not in known
    ]
    return SchemaCheck(problems, newer)


async def database_missing(dsn: str) -> bool:
    """Whether the database `dsn` names does not exist (the server answers that it does not). Other
    failures (server unreachable, password refused) are raised."""
    try:
        conn = await asyncpg.connect(dsn)
    except asyncpg.InvalidCatalogNameError:
        return True
    await conn.close()
    return False


def database_name(dsn: str) -> str:
    return urlsplit(dsn).path.lstrip("/") or "postgres"


def server_of(dsn: str) -> str:
    """host:port of a DSN's server, as it may be printed."""
    parts = urlsplit(dsn)
    host = parts.hostname or "localhost"
    return f"{host}:{parts.port or 5432}"


def with_database(dsn: str, database: str) -> str:
    """The same server DSN pointing at another database."""
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def shown(dsn: str) -> str:
    """The DSN as it may be printed: its password (in the user part or a `password=` parameter) masked."""
    parts = urlsplit(dsn)
    netloc = parts.netloc
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        if ":" in user:
            user = user.split(":", 1)[0] + ":***"
        netloc = f"{user}@{host}"
    query = re.sub(r"(?i)(^|&)(password=)[^&]*", r"\1\2***", parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


async def ensure_database(admin_dsn: str, database: str) -> str:
    """Create `database` on the server of `admin_dsn` if missing; returns its DSN."""
    if not _DBNAME.match(database):
        raise ValueError(f"database name {database!r} must be lowercase letters, digits and underscores")
    conn = await connect(admin_dsn)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            try:
                await conn.execute(f'CREATE DATABASE "{database}"')
            except asyncpg.DuplicateDatabaseError:
                pass
    finally:
        await conn.close()
    return with_database(admin_dsn, database)


def rows(records: Sequence[asyncpg.Record]) -> list[dict[str, Any]]:
    return [dict(r) for r in records]
