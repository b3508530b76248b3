"""Schemathesis over each running service, with valid tokens (reduced size): no server error, and every status
a route answers is documented in its OpenAPI (401, 403, 404, 409, 422 included)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.notifications.app import SPEC as NOTIFICATIONS
from services.pairing.app import SPEC as PAIRING
from services.sessions.app import SPEC as SESSIONS
from shared.runtime import ServiceSpec
from tests import auth
from tests.conftest import ServeFactory

ROOT = Path(__file__).resolve().parents[2]
ST = str(Path(sys.executable).with_name("st"))


@pytest.mark.parametrize("spec", [PAIRING, SESSIONS, NOTIFICATIONS], ids=lambda s: s.name)
async def test_no_server_error_and_every_status_documented(serve: ServeFactory, spec: ServiceSpec) -> None:
    svc = await serve(spec)
    report = ROOT / "test-artifacts" / f"schemathesis-{spec.name}.xml"
    report.parent.mkdir(exist_ok=True)
    command = [
        ST, "run", f"{svc.url}/openapi.json",
        "--checks", "not_a_server_error,status_code_conformance",
        "--header", f"Authorization: Bearer {auth.token('hr')}",
        "--max-examples", os.environ.get("TANDEM_SCHEMATHESIS_EXAMPLES", "8"),
        "--seed", "2026", "--phases", "examples,coverage,fuzzing", "--request-timeout", "20",
        "--report", "junit", "--report-junit-path", str(report),
    ]  # fmt: skip
    # its example cache (.schemathesis/) goes with the report, not into the checkout
    run = await asyncio.to_thread(subprocess.run, command, cwd=report.parent, capture_output=True, text=True,
                                  timeout=600)  # fmt: skip
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
