"""Database helpers: one asyncpg pool per service, plain SQL migrations applied in order and recorded."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

log = logging.getLogger(__name__)

#: A connection as handlers receive it: plain, or borrowed from a pool.
Conn = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy

SHARED_MIGRATIONS = Path(__file__).parent / "migrations"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_DBNAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


async def _init_connection(conn: asyncpg.Connection) -> None:
    for typename in ("json", "jsonb"):
        await conn.set_type_codec(typename, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, init=_init_connection)
    assert pool is not None
    return pool


async def connect(dsn: str) -> asyncpg.Connection:
    conn: asyncpg.Connection = await asyncpg.connect(dsn)
    await _init_connection(conn)
    return conn


@dataclass(frozen=True)
class Migration:
    namespace: str
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(namespace: str, folder: Path) -> list[Migration]:
    out = []
    for path in sorted(folder.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise ValueError(f"migration file {path.name!r} must be named NNNN_description.sql")
        out.append(Migration(namespace, match.group(1), path.stem, path.read_text()))
    return out


async def migrate(dsn: str, service_migrations: Path, *, service: str) -> list[str]:
    """Apply the shared messaging migrations, then the service's own, each once, in order.

    Runs under an advisory lock so that several replicas starting at once apply each migration once.
    A migration whose file changed after it was applied is an error, not silently skipped.
    """
    migrations = load_migrations("shared", SHARED_MIGRATIONS) + load_migrations(service, service_migrations)
    applied_now: list[str] = []
    conn = await connect(dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock(hashtext('tandem-migrations'))")
        try:
            await conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       namespace text NOT NULL, version text NOT NULL, name text NOT NULL,
                       checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(),
                       PRIMARY KEY (namespace, version))"""
            )
            done = {
                (r["namespace"], r["version"]): r["checksum"]
                for r in await conn.fetch("SELECT namespace, version, checksum FROM schema_migrations")
            }
            for m in migrations:
                key = (m.namespace, m.version)
                if key in done:
                    if done[key] != m.checksum:
                        raise RuntimeError(f"migration {m.namespace}/{m.name} changed after it was applied")
                    continue
                async with conn.transaction():
                    await conn.execute(m.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (namespace, version, name, checksum) VALUES ($1, $2, $3, $4)",
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


def with_database(dsn: str, database: str) -> str:
    """The same server DSN pointing at another database."""
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


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
