"""A real service process (as `python -m services.pairing` runs in production) writes JSON log lines: every line
one object, a request's lines with its correlation id, tenant and trace id (TANDEM_LOG_FORMAT=json)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import httpx

from shared.db import with_database
from shared.identity_provider import LocalIdentityProvider
from shared.infra import Infra
from shared.localstack import free_port
from shared.topics import Topics
from tests import auth
from tests.conftest import unique
from tests.health import ready
from tests.kafka_helpers import eventually

ROOT = Path(__file__).resolve().parents[2]


async def test_a_service_process_logs_json_lines_with_the_request_context(
    infra: Infra, created_topics: Topics, identity_provider: LocalIdentityProvider, tmp_path: Path
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "DATABASE_URL", "TANDEM_", "PAIRING_"))}
    env |= {
        "PAIRING_DATABASE_URL": with_database(infra.postgres_dsn, unique("logs")),
        "PAIRING_HTTP_PORT": str(port),
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap,
        "KAFKA_SESSION_TIMEOUT_MS": str(infra.session_timeout_ms),
        "KAFKA_HEARTBEAT_INTERVAL_MS": str(infra.heartbeat_interval_ms),
        "KAFKA_FETCH_MAX_WAIT_MS": str(infra.fetch_max_wait_ms),
        "TANDEM_TOPIC_NAMESPACE": created_topics.namespace,
        "TANDEM_TOPIC_PARTITIONS": str(created_topics.partitions),
        "TANDEM_OIDC_ISSUER": identity_provider.issuer,
        "TANDEM_CREATE_TOPICS": "true",
        "TANDEM_CREATE_DATABASE": "true",
        "TANDEM_LOG_FORMAT": "json",
        "TANDEM_LOG_LEVEL": "DEBUG",
        "PYTHONUNBUFFERED": "1",
    }
    log_file = tmp_path / "pairing.log"
    with log_file.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.pairing", cwd=ROOT, env=env, stdout=out, stderr=asyncio.subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        await eventually(lambda: ready(url), timeout=90)
        async with httpx.AsyncClient(base_url=url) as client:
            r = await client.get("/programmes", headers={**auth.headers("hr"), "X-Correlation-Id": "corr-process-1"})
            assert r.status_code == 200, r.text
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 60)
    text = log_file.read_text()
    lines: list[dict[str, Any]] = []
    for raw in text.splitlines():
        if raw.strip():
            lines.append(json.loads(raw))  # every line is one JSON object
    assert any(x["logger"] == "shared.runtime" and x["message"] == "pairing started" for x in lines), text
    [request] = [x for x in lines if x["logger"] == "tandem.http" and x["message"].startswith("GET /programmes 200")]
    assert request["service"] == "pairing"
    assert request["correlation_id"] == "corr-process-1"
    assert request["tenant"] == auth.DEFAULT_TENANT
    assert len(request["trace_id"]) == 32
    assert {"time", "level", "logger", "message", "causation_id", "span_id"} <= set(request)
