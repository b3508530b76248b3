"""The local stack's file (shared.stack): which settings it supplies beside the environment (the environment
wins, a group at a time), and how a stale or broken file is told apart from a running stack's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared import stack


def a_stack(pid: int | None = None) -> stack.Stack:
    return stack.Stack(
        pid=pid or os.getpid(),
        started_at="2026-12-07T09:00:00+00:00",
        data_dir="/x/.tandem",
        broker={"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:19092", "TANDEM_TOPIC_NAMESPACE": "tandem"},
        database_url="postgresql://postgres@127.0.0.1:55432/postgres",
        databases={"sessions": "postgresql://postgres@127.0.0.1:55432/tandem_sessions"},
        services={"sessions": "http://127.0.0.1:8002", "pairing": "http://127.0.0.1:8001"},
    )


def test_an_empty_environment_takes_everything_from_the_stack() -> None:
    supplied = a_stack().defaults({})
    assert supplied == {
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:19092",
        "TANDEM_TOPIC_NAMESPACE": "tandem",
        "DATABASE_URL": "postgresql://postgres@127.0.0.1:55432/postgres",
        "SESSIONS_DATABASE_URL": "postgresql://postgres@127.0.0.1:55432/tandem_sessions",
        "SESSIONS_URL": "http://127.0.0.1:8002",
        "PAIRING_URL": "http://127.0.0.1:8001",
    }


def test_a_broker_in_the_environment_is_never_mixed_with_the_stacks_namespace() -> None:
    supplied = a_stack().defaults({"KAFKA_BOOTSTRAP_SERVERS": "kafka:9092"})
    assert "KAFKA_BOOTSTRAP_SERVERS" not in supplied
    assert "TANDEM_TOPIC_NAMESPACE" not in supplied
    assert supplied["DATABASE_URL"].endswith("/postgres")


def test_any_database_variable_in_the_environment_keeps_all_of_the_stacks_out() -> None:
    supplied = a_stack().defaults({"PAIRING_DATABASE_URL": "postgresql://db/pairing"})
    assert not [k for k in supplied if k.endswith("DATABASE_URL")]
    assert supplied["KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:19092"


def test_a_service_url_in_the_environment_wins() -> None:
    supplied = a_stack().defaults({"SESSIONS_URL": "http://elsewhere"})
    assert "SESSIONS_URL" not in supplied
    assert supplied["PAIRING_URL"] == "http://127.0.0.1:8001"


def test_the_file_is_written_for_this_user_only_and_read_back(tmp_path: Path) -> None:
    path = stack.write(tmp_path, a_stack())
    assert path == tmp_path / "stack.json"
    assert path.stat().st_mode & 0o777 == 0o600
    assert stack.load(path) == a_stack()
    assert stack.discover({}, tmp_path).stack is None  # `.tandem/stack.json` is looked for, not a bare stack.json


def test_a_file_is_found_in_the_working_directory_or_above(tmp_path: Path) -> None:
    stack.write(_mkdir(tmp_path / ".tandem"), a_stack())
    below = _mkdir(tmp_path / "a" / "b")
    found = stack.discover({}, below)
    assert found.stack == a_stack()
    assert stack.discover({"TANDEM_STACK_FILE": ""}, below).stack is None  # told to read none


def test_a_file_whose_process_is_gone_is_stale(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    stack.write(_mkdir(tmp_path / ".tandem"), a_stack(pid=gone.pid))
    found = stack.discover({}, tmp_path)
    assert found.stack is None
    assert found.defaults({}) == {}
    assert found.missing("no broker: set X") == (
        f"no broker: set X, or start the local stack with `make up` ({tmp_path / '.tandem' / 'stack.json'} is from "
        f"a `tandem up` that is no longer running (pid {gone.pid}))"
    )


def test_removing_takes_only_the_file_the_process_wrote(tmp_path: Path) -> None:
    stack.write(tmp_path, a_stack())
    stack.remove(tmp_path, os.getpid() + 1)  # another run's
    assert (tmp_path / "stack.json").exists()
    stack.remove(tmp_path, os.getpid())
    assert not (tmp_path / "stack.json").exists()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{oops", "not JSON"),
        ("[]", "not a JSON object"),
        ('{"pid": "12"}', "'pid' is not a process id"),
        ('{"pid": 12, "broker": {}}', "no broker address"),
        ('{"pid": 12, "broker": {"KAFKA_BOOTSTRAP_SERVERS": "k:1"}}', "no 'database_url'"),
        ('{"pid": 12, "broker": {"KAFKA_BOOTSTRAP_SERVERS": 1}}', "'broker' is not an object of strings"),
    ],
)
def test_a_broken_file_is_named_with_its_problem(tmp_path: Path, text: str, problem: str) -> None:
    path = _mkdir(tmp_path / ".tandem") / "stack.json"
    path.write_text(text)
    with pytest.raises(stack.StackFileError, match=problem):
        stack.load(path)
    found = stack.discover({}, tmp_path)
    assert found.stack is None
    assert problem in found.missing("no broker")


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
