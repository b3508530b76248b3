"""Where a running local stack (`tandem up`) can be reached: the file it writes, and how the CLI reads it.

`tandem up` writes `<data dir>/stack.json` (readable by its user only: it holds database URLs and the CLI
client's secret) once its services answer, and removes it when it stops. The file names the process that
wrote it, so a file left by a killed run is recognised as stale and not used.

The `tandem` commands read it for the settings the environment does not give (the environment always wins),
one group at a time: the broker (KAFKA_BOOTSTRAP_SERVERS with the broker's client settings and the topic
namespace), the databases (DATABASE_URL and each <SERVICE>_DATABASE_URL, unless any of them is set), each
service's URL
(<SERVICE>_URL). TANDEM_STACK_FILE names the file to read (empty: read none); by default `.tandem/stack.json`
in the working directory or the nearest parent that has one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared import registry

FILE_NAME = "stack.json"
#: The variable naming the stack file to read ("" reads none).
STACK_FILE_VARIABLE = "TANDEM_STACK_FILE"
#: What `tandem up` is started with; said in every "missing" message.
HOW_TO_START = "start the local stack with `make up`"
#: The variables that travel with the broker's address (the local broker's client settings, its topic names).
BROKER_VARIABLES = (
    "KAFKA_BOOTSTRAP_SERVERS",
    "TANDEM_TOPIC_NAMESPACE",
    "KAFKA_SESSION_TIMEOUT_MS",
    "KAFKA_HEARTBEAT_INTERVAL_MS",
    "KAFKA_FETCH_MAX_WAIT_MS",
)


class StackFileError(ValueError):
    """A stack file that cannot be read: it says which file and why."""


@dataclass(frozen=True)
class Stack:
    """What a `tandem up` run tells the tools about itself."""

    pid: int
    started_at: str
    data_dir: str
    #: The broker's address and the variables that go with it (BROKER_VARIABLES that were set).
    broker: dict[str, str]
    #: The database server (each service uses its own database on it) and each service's database URL.
    database_url: str
    databases: dict[str, str]
    #: Each service's base URL.
    services: dict[str, str]
    #: The sign-in provider and the CLI's client (client credentials), when the local provider runs.
    oidc: dict[str, str] = field(default_factory=dict)
    #: Where notifications are mailed (the local catcher's host, port and folder), when it runs.
    smtp: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Any, path: Path) -> Stack:
        def mapping(key: str) -> dict[str, str]:
            value = data.get(key, {})
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                raise StackFileError(f"{path}: {key!r} is not an object of strings; remove the file")
            return {str(k): v for k, v in value.items()}

        if not isinstance(data, dict):
            raise StackFileError(f"{path}: not a JSON object; remove the file")
        pid = data.get("pid")
        if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
            raise StackFileError(f"{path}: 'pid' is not a process id; remove the file")
        broker = mapping("broker")
        if not broker.get("KAFKA_BOOTSTRAP_SERVERS"):
            raise StackFileError(f"{path}: no broker address (broker.KAFKA_BOOTSTRAP_SERVERS); remove the file")
        database_url = data.get("database_url")
        if not isinstance(database_url, str) or not database_url:
            raise StackFileError(f"{path}: no 'database_url'; remove the file")
        return cls(
            pid=pid,
            started_at=str(data.get("started_at", "")),
            data_dir=str(data.get("data_dir", path.parent)),
            broker=broker,
            database_url=database_url,
            databases=mapping("databases"),
            services=mapping("services"),
            oidc=mapping("oidc"),
            smtp=mapping("smtp"),
        )

    def defaults(self, env: Mapping[str, str]) -> dict[str, str]:
        """The variables this stack supplies that `env` does not, a whole group at a time: a broker or a database
        named in `env` is never mixed with this stack's."""
        found: dict[str, str] = {}
        if not env.get("KAFKA_BOOTSTRAP_SERVERS"):
            found |= {k: v for k, v in self.broker.items() if k in BROKER_VARIABLES and k not in env}
        database_variables = ["DATABASE_URL", *(f"{s.prefix}DATABASE_URL" for s in registry.SERVICES)]
        if not any(env.get(name) for name in database_variables):
            found["DATABASE_URL"] = self.database_url
            for name, url in self.databases.items():
                if name in registry.NAMES:
                    found[f"{registry.service(name).prefix}DATABASE_URL"] = url
        kek = Path(self.data_dir) / "kek"  # the key-encryption key `tandem up` made for the data it keeps
        if not env.get("TANDEM_KEK_FILE") and kek.exists():
            found["TANDEM_KEK_FILE"] = str(kek)
        for name, url in self.services.items():
            variable = f"{registry.service(name).prefix}URL" if name in registry.NAMES else None
            if variable is not None and not env.get(variable):
                found[variable] = url
        return found


def path_in(data_dir: Path) -> Path:
    return data_dir / FILE_NAME


def write(data_dir: Path, stack: Stack) -> Path:
    """Write the stack file (mode 0600, replaced whole, never half-written)."""
    path = path_in(data_dir)
    temporary = path.with_name(f".{FILE_NAME}.{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(stack.as_json(), out, indent=2, sort_keys=True)
        out.write("\n")
    os.replace(temporary, path)
    return path


def remove(data_dir: Path, pid: int) -> None:
    """Remove the stack file if it is the one process `pid` wrote (a newer run's stays)."""
    path = path_in(data_dir)
    with contextlib.suppress(FileNotFoundError, StackFileError, json.JSONDecodeError, OSError):
        if load(path).pid == pid:
            path.unlink()


def load(path: Path) -> Stack:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise StackFileError(f"{path}: not JSON ({exc}); remove the file") from None
    except UnicodeDecodeError:
        raise StackFileError(f"{path}: not UTF-8; remove the file") from None
    return Stack.from_json(data, path)


def alive(pid: int) -> bool:
    """Whether a process `pid` exists (it may belong to another user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def find(env: Mapping[str, str], cwd: Path) -> Path | None:
    """The stack file to read: TANDEM_STACK_FILE ("" for none), else `.tandem/stack.json` in `cwd` or the nearest
    parent that has one."""
    named = env.get(STACK_FILE_VARIABLE)
    if named is not None:
        return Path(named) if named else None
    for folder in (cwd, *cwd.parents):
        candidate = folder / ".tandem" / FILE_NAME
        if candidate.is_file():
            return candidate
    return None


@dataclass(frozen=True)
class Found:
    """What the tools learnt about a local stack: the running one's settings, or why there is none."""

    path: Path | None = None
    stack: Stack | None = None
    #: Why the file found is not used (stale, unreadable), for the "missing" messages.
    note: str = ""

    def defaults(self, env: Mapping[str, str]) -> dict[str, str]:
        return self.stack.defaults(env) if self.stack is not None else {}

    def missing(self, what: str) -> str:
        """One line: what is missing, and how to get it."""
        line = f"{what}, or {HOW_TO_START}"
        return f"{line} ({self.note})" if self.note else line


def discover(env: Mapping[str, str], cwd: Path) -> Found:
    """The running local stack, if any: a file that names a live process."""
    path = find(env, cwd)
    if path is None:
        return Found()
    if not path.is_file():
        return Found(path, note=f"{path} does not exist") if env.get(STACK_FILE_VARIABLE) else Found()
    try:
        stack = load(path)
    except (StackFileError, OSError) as exc:
        return Found(path, note=str(exc))
    if not alive(stack.pid):
        return Found(path, note=f"{path} is from a `tandem up` that is no longer running (pid {stack.pid})")
    return Found(path, stack)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
