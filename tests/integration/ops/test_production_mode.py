"""Production mode against the real embedded Postgres and broker: a service that finds its database, schema
or topics missing, and may not create them, exits non-zero with one line saying so, having created nothing."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from services.sessions.app import SPEC
from shared import personal
from shared.db import check_migrations, ensure_database, migrate, migration_problems, with_database
from shared.environment import ConfigError
from shared.infra import Infra
from shared.localstack import free_port
from shared.production import StartRefused
from shared.registry import CONSUMERS
from shared.topics import Topics, ensure_topics
from tests import auth
from tests.cli import ROOT, tandem
from tests.conftest import HostFactory, unique
from tests.signing import signing_key_file


def service_env(infra: Infra, dsn: str, topics: Topics, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "SESSIONS_DATABASE_URL": dsn,
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap,
        "TANDEM_TOPIC_NAMESPACE": topics.namespace,
        "TANDEM_TOPIC_PARTITIONS": str(topics.partitions),
        "TANDEM_OIDC_ISSUER": auth.provider().issuer,
        "TANDEM_CREATE_DATABASE": "false",
        "TANDEM_CREATE_TOPICS": "false",
        "TANDEM_MIGRATE_AT_START": "false",
        "SESSIONS_HTTP_PORT": "0",
        **extra,
    }


async def run_service(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`python -m services.sessions` to its end: these runs must stop by themselves."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "services.sessions"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def database_exists(infra: Infra, name: str) -> bool:
    conn = await asyncpg.connect(infra.postgres_dsn)
    try:
        return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await conn.close()


async def topics_named(infra: Infra, namespace: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap)
    await admin.start()
    try:
        return sorted(t for t in await admin.list_topics() if t.startswith(namespace + "."))
    finally:
        await admin.close()


def one_line(stderr: str) -> str:
    """The last line the process wrote; there is no traceback."""
    assert "Traceback" not in stderr, stderr
    return stderr.strip().splitlines()[-1]


async def test_a_missing_database_stops_the_service_and_is_not_created(infra: Infra) -> None:
    name = unique("prod_missing")
    topics = Topics(namespace=unique("t"), partitions=3)
    done = await run_service(service_env(infra, with_database(infra.postgres_dsn, name), topics))
    assert done.returncode != 0
    line = one_line(done.stderr)
    assert f"database {name} does not exist on" in line
    assert "TANDEM_CREATE_DATABASE is off" in line
    assert "createdb" in line
    assert not await database_exists(infra, name)


async def test_an_unmigrated_schema_stops_the_service_naming_the_missing_migrations(infra: Infra) -> None:
    dsn = await ensure_database(infra.postgres_dsn, unique("prod_unmigrated"))
    topics = Topics(namespace=unique("t"), partitions=3)
    done = await run_service(service_env(infra, dsn, topics))
    assert done.returncode != 0
    line = one_line(done.stderr)
    assert "shared/0001_messaging is not applied" in line
    assert "sessions/0002_learning_records is not applied" in line
    assert "tandem migrate sessions" in line
    conn = await asyncpg.connect(dsn)
    try:  # nothing was migrated
        assert await conn.fetchval("SELECT to_regclass('public.schema_migrations')") is None
    finally:
        await conn.close()


async def test_a_changed_migration_is_named(infra: Infra) -> None:
    dsn = await ensure_database(infra.postgres_dsn, unique("prod_changed"))
    await migrate(dsn, SPEC.migrations, service="sessions")
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "UPDATE schema_migrations SET checksum = 'other' WHERE namespace = 'shared' AND version = '0001'"
        )
    finally:
        await conn.close()
    done = await run_service(service_env(infra, dsn, Topics(namespace=unique("t"), partitions=3)))
    assert done.returncode != 0
    assert "shared/0001_messaging was applied with other content" in one_line(done.stderr)


async def test_missing_topics_stop_the_service_and_are_not_created(infra: Infra) -> None:
    dsn = await ensure_database(infra.postgres_dsn, unique("prod_topics"))
    await migrate(dsn, SPEC.migrations, service="sessions")
    topics = Topics(namespace=unique("t"), partitions=3)
    present = [n for n in topics.all_topics(CONSUMERS) if n != topics.dead_letter("sessions")]
    await ensure_topics(infra.kafka_bootstrap, topics, present)
    done = await run_service(service_env(infra, dsn, topics))
    assert done.returncode != 0
    line = one_line(done.stderr)
    assert f"topic {topics.dead_letter('sessions')} is missing" in line
    assert "Strimzi KafkaTopic" in line
    assert "tandem topics create" in line
    assert topics.dead_letter("sessions") not in await topics_named(infra, topics.namespace)


async def test_topics_with_other_partitions_stop_the_service(infra: Infra) -> None:
    dsn = await ensure_database(infra.postgres_dsn, unique("prod_parts"))
    await migrate(dsn, SPEC.migrations, service="sessions")
    created = Topics(namespace=unique("t"), partitions=2)
    await ensure_topics(infra.kafka_bootstrap, created)
    declared = Topics(namespace=created.namespace, partitions=3)
    done = await run_service(service_env(infra, dsn, declared))
    assert done.returncode != 0
    assert f"topic {declared.sessions} has 2 partitions, declared 3" in one_line(done.stderr)


@pytest.fixture
def kek_file(tmp_path: Path) -> Iterator[str]:
    """A key-encryption key file; the process's KMS is the environment's again afterwards."""
    path = tmp_path / "kek"
    path.write_text(personal.new_kek_text())
    try:
        yield str(path)
    finally:
        personal.configure(None)


async def test_a_prepared_service_starts_without_creating_or_migrating(
    start_service: HostFactory, new_database: Callable[[str], Awaitable[str]], tmp_path: Path, kek_file: str
) -> None:
    dsn = await new_database("prod_ready")
    await migrate(dsn, SPEC.migrations, service="sessions")
    host = await start_service(
        SPEC,
        database_url=dsn,
        migrate_at_start=False,
        create_database=False,
        signing_key_file=signing_key_file(tmp_path),
        kek_file=kek_file,
    )
    assert host.started
    assert not getattr(personal.kms(), "development", True)  # personal data under the mounted KEK


async def test_production_mode_without_a_kek_stops_the_service_saying_so(
    start_service: HostFactory, new_database: Callable[[str], Awaitable[str]], tmp_path: Path
) -> None:
    dsn = await new_database("prod_nokek")
    await migrate(dsn, SPEC.migrations, service="sessions")
    with pytest.raises(StartRefused, match="TANDEM_KEK_FILE is not set: in production mode"):
        await start_service(
            SPEC, database_url=dsn, migrate_at_start=False, create_database=False,
            signing_key_file=signing_key_file(tmp_path),
        )  # fmt: skip


async def test_a_kek_file_that_cannot_be_read_stops_the_service_naming_it(
    start_service: HostFactory, new_database: Callable[[str], Awaitable[str]], tmp_path: Path
) -> None:
    dsn = await new_database("prod_badkek")
    (tmp_path / "kek").write_text("not a key")
    with pytest.raises(ConfigError, match=r"TANDEM_KEK_FILE: .*does not hold base64"):
        await start_service(SPEC, database_url=dsn, kek_file=str(tmp_path / "kek"))


async def test_production_mode_without_a_signing_key_stops_the_service_saying_so(
    start_service: HostFactory, new_database: Callable[[str], Awaitable[str]], kek_file: str
) -> None:
    dsn = await new_database("prod_nokey")
    await migrate(dsn, SPEC.migrations, service="sessions")
    with pytest.raises(StartRefused, match="TANDEM_SIGNING_KEY_FILE is not set: in production mode"):
        await start_service(SPEC, database_url=dsn, migrate_at_start=False, create_database=False, kek_file=kek_file)


async def test_a_broker_that_does_not_answer_is_waited_for_not_a_reason_to_exit(infra: Infra) -> None:
    dsn = await ensure_database(infra.postgres_dsn, unique("prod_nobroker"))
    await migrate(dsn, SPEC.migrations, service="sessions")
    env = service_env(infra, dsn, Topics(namespace=unique("t"), partitions=3))
    env["KAFKA_BOOTSTRAP_SERVERS"] = f"127.0.0.1:{free_port()}"  # nobody listens there
    seen, running = await asyncio.to_thread(wait_for_line, env, "does not answer")
    assert "does not answer" in seen[-1], "".join(seen)
    assert "checking the topics again" in seen[-1]
    assert running  # still waiting for the broker, not exited


async def test_a_database_server_that_does_not_answer_is_waited_for_not_a_reason_to_exit(infra: Infra) -> None:
    """A pod restarted while its Postgres fails over (or not up yet) waits for it, as for the broker, instead of
    dying with a traceback (the fault suite saw that: seed 3039)."""
    away = f"postgresql://postgres@127.0.0.1:{free_port()}/tandem_sessions"  # nobody listens there
    env = service_env(infra, away, Topics(namespace=unique("t"), partitions=3))
    seen, running = await asyncio.to_thread(wait_for_line, env, "does not answer")
    assert "database server 127.0.0.1:" in seen[-1], "".join(seen)
    assert "trying again in" in seen[-1]
    assert running, "".join(seen)  # still waiting for the database, not exited


def wait_for_line(env: dict[str, str], words: str) -> tuple[list[str], bool]:
    """Start the service, read its log until a line has `words` (or it exits); whether it was still running
    then. It is stopped afterwards."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.sessions"], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stderr is not None
        seen = []
        for line in proc.stderr:
            seen.append(line)
            if words in line:
                break
        return seen, proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(timeout=30)


async def test_the_migrate_job_names_a_missing_database_and_migrates_an_existing_one(infra: Infra) -> None:
    name = unique("prod_job")
    env = {**os.environ, "SESSIONS_DATABASE_URL": with_database(infra.postgres_dsn, name)}
    missing = await tandem("migrate", "sessions", env=env)
    assert missing.returncode == 2
    assert f"database {name} does not exist on" in one_line(missing.stderr)
    assert not await database_exists(infra, name)
    await ensure_database(infra.postgres_dsn, name)
    done = await tandem("migrate", "sessions", env=env)
    assert done.returncode == 0, done.stderr
    assert "shared/0005_dead_letter_redrive" in done.stdout
    again = await tandem("migrate", "sessions", env=env)
    assert again.stdout.strip() == "sessions: up to date"


async def test_a_migration_applied_by_a_newer_release_is_named_and_does_not_stop_the_older_code(infra: Infra) -> None:
    dsn = await ensure_database(infra.postgres_dsn, unique("prod_newer"))
    await migrate(dsn, SPEC.migrations, service="sessions")
    assert await migration_problems(dsn, SPEC.migrations, service="sessions") == []
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "INSERT INTO schema_migrations (namespace, version, name, checksum) "
            "VALUES ('sessions', '0099', '0099_from_the_future', 'x')"
        )
    finally:
        await conn.close()
    # the release before may run on it (a rollback, or two releases' pods during a roll): named, not refused
    assert await migration_problems(dsn, SPEC.migrations, service="sessions") == []
    checked = await check_migrations(dsn, SPEC.migrations, service="sessions")
    assert checked.newer == ["sessions/0099_from_the_future"]
