"""The `tandem` commands find a running local stack by the file `tandem up` writes (.tandem/stack.json), with
nothing set in the environment, against the real services, broker and databases; the environment wins over
the file; and with a stale file (its `tandem up` is gone) or none, each command says in one line what is
missing and how to get it, exit 2, no traceback."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.pairing.app import SPEC as PAIRING
from services.sessions.app import SPEC as SESSIONS
from shared import stack
from shared.infra import Infra
from shared.localstack import free_port
from tests.cli import ROOT
from tests.conftest import ServeFactory
from tests.integration.sessions.flows import programme_with_pairs

#: The commands the issue names, each as it needs a broker, a database or both.
COMMANDS = [
    ("audit", "P-1"),
    ("replay", "sessions"),
    ("status",),
    ("dlq", "list"),
    ("topics", "check"),
    ("projection", "verify", "sessions"),
]


def clean_env(**extra: str) -> dict[str, str]:
    """What a new terminal has: no broker, database or service variables (only what runs Python here)."""
    keep = ("PATH", "HOME", "LANG", "TMPDIR")
    return {**{k: os.environ[k] for k in keep if k in os.environ}, "PYTHONPATH": str(ROOT), **extra}


def tandem(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`tandem ARGS` as a person runs it (blocking: off the event loop where services answer in this process)."""
    return subprocess.run(
        [sys.executable, "-m", "services", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def written(data_dir: Path, *, pid: int, **fields: object) -> Path:
    base: dict[str, object] = {
        "pid": pid,
        "started_at": stack.now(),
        "data_dir": str(data_dir),
        "broker": {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"},
        "database_url": "postgresql://postgres@127.0.0.1:1/postgres",
        "databases": {},
        "services": {},
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    return stack.write(data_dir, stack.Stack(**{**base, **fields}))  # type: ignore[arg-type]


async def test_the_commands_find_the_running_stack_by_its_file(
    serve: ServeFactory, infra: Infra, tmp_path: Path
) -> None:
    pairing = await serve(PAIRING)
    sessions = await serve(SESSIONS)
    _, pairs = await programme_with_pairs(pairing, sessions.url, 1, name="Stack file cohort")
    pair_id = pairs[0]["pair_id"]
    topics = sessions.host.topics
    path = written(
        tmp_path / ".tandem",
        pid=os.getpid(),  # this test plays the running `tandem up`
        broker={
            "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap,
            "TANDEM_TOPIC_NAMESPACE": topics.namespace,
            "KAFKA_SESSION_TIMEOUT_MS": str(infra.session_timeout_ms),
        },
        database_url=infra.postgres_dsn,
        databases={"pairing": pairing.host.settings.dsn, "sessions": sessions.host.settings.dsn},
        services={"pairing": pairing.url, "sessions": sessions.url},
    )
    assert path.stat().st_mode & 0o777 == 0o600  # it holds database URLs: this user's only
    env = clean_env()
    workdir = tmp_path / "somewhere" / "below"  # the nearest .tandem/ above the working directory is found
    workdir.mkdir(parents=True)

    audit = await asyncio.to_thread(tandem, "audit", pair_id, cwd=workdir, env=env)
    assert audit.returncode == 0, audit.stderr
    assert f"event(s) about {pair_id}" in audit.stdout
    assert "PairCreated" in audit.stdout or "pair_created" in audit.stdout.lower(), audit.stdout

    status = await asyncio.to_thread(tandem, "status", "--service", "sessions", cwd=workdir, env=env)
    assert status.returncode == 0, status.stdout + status.stderr
    row = status.stdout.splitlines()[1].split()
    assert row[:3] == ["sessions", "yes", "0"], status.stdout  # ready, and its outbox read from its database
    assert "not configured" not in status.stdout

    dead = await asyncio.to_thread(tandem, "dlq", "list", "--service", "sessions", cwd=workdir, env=env)
    assert dead.returncode == 0, dead.stderr
    assert "0 dead letter(s)" in dead.stdout

    replay = await asyncio.to_thread(tandem, "replay", "sessions", "--no-swap", cwd=workdir, env=env)
    assert replay.returncode == 0, replay.stderr
    assert "rebuilt into schema" in replay.stdout

    # the environment wins: a broker named there is the one asked, not the stack's
    elsewhere = f"127.0.0.1:{free_port()}"
    told = await asyncio.to_thread(
        tandem, "audit", pair_id, cwd=workdir, env=clean_env(KAFKA_BOOTSTRAP_SERVERS=elsewhere)
    )
    assert told.returncode == 2
    assert "Traceback" not in told.stderr
    [line] = told.stderr.strip().splitlines()
    assert line.startswith(f"tandem: broker {elsewhere}: KafkaConnectionError"), line


def test_a_stale_stack_file_is_not_used_and_the_message_says_so(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a `tandem up` that was killed: its file stayed behind
    written(tmp_path / ".tandem", pid=gone.pid, broker={"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9"})
    for args in COMMANDS:
        r = tandem(*args, cwd=tmp_path, env=clean_env())
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        [line] = r.stderr.strip().splitlines()
        assert "start the local stack with `make up`" in line, line
        assert f"is from a `tandem up` that is no longer running (pid {gone.pid})" in line, line


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a))
def test_with_no_stack_and_no_settings_each_command_says_what_is_missing(tmp_path: Path, args: tuple[str]) -> None:
    r = tandem(*args, cwd=tmp_path, env=clean_env())
    assert r.returncode == 2, (r.stdout, r.stderr)
    [line] = r.stderr.strip().splitlines()
    assert line.startswith("tandem: no "), line
    assert line.endswith("or start the local stack with `make up`"), line
    assert ("KAFKA_BOOTSTRAP_SERVERS" in line) or ("DATABASE_URL" in line), line
    if args[0] in ("audit", "topics", "status", "replay", "projection"):
        assert "no broker: set KAFKA_BOOTSTRAP_SERVERS" in line
    if args[0] in ("replay", "projection"):
        assert "no database for sessions: set SESSIONS_DATABASE_URL or DATABASE_URL" in line


def test_an_unreadable_stack_file_is_named(tmp_path: Path) -> None:
    (tmp_path / ".tandem").mkdir()
    (tmp_path / ".tandem" / "stack.json").write_text("{not json")
    r = tandem("audit", "P-1", cwd=tmp_path, env=clean_env())
    assert r.returncode == 2
    [line] = r.stderr.strip().splitlines()
    assert "stack.json: not JSON" in line, line
    assert "remove the file" in line
