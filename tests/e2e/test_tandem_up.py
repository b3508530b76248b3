"""`tandem up` as a new user runs it: everything starts, answers, and Ctrl-C leaves no process behind."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from shared.identity_provider import sign_in

ROOT = Path(__file__).resolve().parents[2]


def tandem_in(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`tandem ARGS` from `folder` in a new terminal: no broker, database or service variables set."""
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ} | {"PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "services", *args], cwd=folder, env=env, capture_output=True, text=True, timeout=180
    )


@pytest.mark.slow
def test_tandem_up_starts_everything_and_ctrl_c_stops_every_process(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "services", "up", "--data-dir", str(tmp_path / ".tandem")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 120
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Press Ctrl-C" in line:
                break
        output = "".join(lines)
        assert "Press Ctrl-C" in output, output
        urls = dict(re.findall(r"^\s+(pairing|sessions|notifications)\s+(http://\S+)", output, re.M))
        assert set(urls) == {"pairing", "sessions", "notifications"}, output
        for name, url in urls.items():
            assert httpx.get(f"{url}/health/ready", timeout=5).status_code == 200
            metrics = httpx.get(f"{url}/metrics", timeout=5)  # public, like the probes
            assert metrics.status_code == 200
            assert f'tandem_ready{{service="{name}"}} 1.0' in metrics.text
            # tandem up asks its services for lines a person reads (TANDEM_LOG_FORMAT=text), not JSON
            log = (tmp_path / ".tandem" / "logs" / f"{name}.log").read_text()
            assert f"shared.runtime {name} started [service={name}]" in log, log
            assert not [line for line in log.splitlines() if line.startswith("{")], log
        [issuer] = re.findall(r"^sign-in\s+local\s+(http://\S+)", output, re.M)
        assert httpx.get(f"{urls['pairing']}/pairs").status_code == 401  # nothing without signing in
        token = sign_in(issuer, "hr")  # as a person does: the provider's sign-in page, then the code exchange
        pairs = httpx.get(
            f"{urls['pairing']}/pairs",
            params={"programme_id": "demo-ai-2026"},
            headers={"authorization": f"Bearer {token}"},
        ).json()
        assert pairs["total"] > 0  # demo data was seeded through the API
        # the `tandem` commands find this stack by .tandem/stack.json, with nothing set in the environment
        stack_file = tmp_path / ".tandem" / "stack.json"
        assert stack_file.stat().st_mode & 0o777 == 0o600
        written = json.loads(stack_file.read_text())
        assert written["pid"] == proc.pid
        assert written["services"] == urls
        assert written["oidc"]["issuer"] == issuer
        assert written["oidc"]["cli_client_id"] == "tandem-cli"
        status = tandem_in(tmp_path, "status")
        assert status.returncode == 0, status.stdout + status.stderr
        pair_id = pairs["items"][0]["pair_id"]
        audit = tandem_in(tmp_path, "audit", pair_id)
        assert audit.returncode == 0, audit.stderr
        assert f"event(s) about {pair_id}" in audit.stdout
        assert tandem_in(tmp_path, "topics", "check").returncode == 0
        replay = tandem_in(tmp_path, "replay", "sessions", "--no-swap")
        assert replay.returncode == 0, replay.stderr
        assert "rebuilt into schema" in replay.stdout
        # tamper evidence: the stack made its own signing key, and the demo's events verify (log and outboxes)
        assert (tmp_path / ".tandem" / "signing-key.pem").stat().st_mode & 0o777 == 0o600
        verify = tandem_in(tmp_path, "audit", "verify", "--outbox")
        assert verify.returncode == 0, verify.stdout + verify.stderr
        assert verify.stdout.splitlines()[-1] == "tamper evidence: clean (pairing, sessions, notifications)"
        family = psutil.Process(proc.pid).children(recursive=True)
        assert len(family) >= 4  # three services, the broker, Postgres (run via a helper user)
        postgres_pids = {
            p.pid
            for p in psutil.process_iter(["name", "cmdline"])
            if p.info["name"] == "postgres" and str(tmp_path) in " ".join(p.info["cmdline"] or [])
        }
        assert postgres_pids
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, rest
    assert "stopped" in rest
    assert not (tmp_path / ".tandem" / "stack.json").exists()  # the tools no longer point at a stopped stack
    time.sleep(0.5)
    alive = [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not alive, alive
    assert not [
        pid for pid in postgres_pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    ]


@pytest.mark.slow
def test_the_services_stop_when_tandem_up_is_killed_outright(tmp_path: Path) -> None:
    """kill -9 of `tandem up` (a crash, an OOM kill): its services stop by themselves (a graceful stop) rather
    than live on with its ports and claims; a second `tandem up` then starts where it is told to."""
    env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "services", "up", "--data-dir", str(tmp_path / ".tandem"), "--no-demo"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    output = ""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and "Press Ctrl-C" not in output:
        line = proc.stdout.readline()
        if not line:
            break
        output += line
    try:
        assert "Press Ctrl-C" in output, output
        services = [
            p
            for p in psutil.Process(proc.pid).children(recursive=True)
            if "services." in " ".join(p.cmdline()) and "-m" in p.cmdline()
        ]
        assert len(services) == 3, output
        family = psutil.Process(proc.pid).children(recursive=True)
    finally:
        proc.kill()
        proc.wait(timeout=10)
    try:
        _, alive = psutil.wait_procs(services, timeout=30)
        assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE], alive
    finally:  # what a crash leaves of the infrastructure (the broker, Postgres) is the test's to clear
        for p in [
            *family,
            *(p for p in psutil.process_iter(["cmdline"]) if str(tmp_path) in " ".join(p.info["cmdline"] or [])),
        ]:
            with contextlib.suppress(psutil.Error):
                p.kill()
    # its stack file stayed behind: the commands see that its `tandem up` is gone, and say so
    left = tandem_in(tmp_path, "audit", "P-1")
    assert left.returncode == 2
    [line] = left.stderr.strip().splitlines()
    assert f"is from a `tandem up` that is no longer running (pid {proc.pid})" in line, line
