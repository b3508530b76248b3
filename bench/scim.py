"""SCIM provisioning throughput: Users created through POST /scim/v2/Users, each its own unit of work (the
directory change with what it causes, its directory event in the outbox, the SCIM attributes kept). Beside
it, two baselines measured in the same run against the same service: as many bare HTTP requests
(GET /health/live) over the same connections, and the directory's full-file import of as many rows (one
request, applied in chunks), the bulk way into the same directory.

The pairing service runs as its own process (`python -m services.pairing`), as in production, on the
embedded Postgres and broker; its outbox relay publishes the events meanwhile. The load is closed-loop from
a lean keep-alive HTTP client (`bench.http`) with 8 requests in flight; 20 of each kind of request warm up
first and are not counted.

    python -m bench.scim [--quick]
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.common import command_line, namespace, summary_ms, wait_ready
from bench.http import Client, HttpError
from shared.db import ensure_database
from shared.identity_provider import LocalIdentityProvider
from shared.infra import Infra, provide
from shared.localstack import free_port
from shared.topics import ensure_topics

ROOT = Path(__file__).resolve().parents[1]
IN_FLIGHT = 8
WARM_UP = 20
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
TANDEM = "urn:ietf:params:scim:schemas:extension:tandem:2.0:User"


async def _start_pairing(infra: Infra, ns: str, issuer: str) -> tuple[subprocess.Popen[bytes], str, str]:
    port = free_port()
    dsn = f"{infra.postgres_dsn.rsplit('/', 1)[0]}/{ns}_pairing"
    await ensure_database(infra.postgres_dsn, f"{ns}_pairing")
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap,
        "DATABASE_URL": infra.postgres_dsn,
        "TANDEM_OIDC_ISSUER": issuer,
        "TANDEM_TOPIC_NAMESPACE": ns,
        "PAIRING_HTTP_PORT": str(port),
        "PAIRING_DATABASE_URL": dsn,
        "KAFKA_SESSION_TIMEOUT_MS": str(infra.session_timeout_ms),
        "KAFKA_HEARTBEAT_INTERVAL_MS": str(infra.heartbeat_interval_ms),
        "KAFKA_FETCH_MAX_WAIT_MS": str(infra.fetch_max_wait_ms),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.pairing"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    await wait_ready(url)
    return proc, url, dsn


def _user(i: int, run: str) -> dict[str, Any]:
    """A SCIM User as an HR platform provisions one: core attributes, both extensions."""
    employee = f"E-{run}-{i:06d}"
    return {
        "schemas": [CORE, ENTERPRISE, TANDEM],
        "userName": f"{employee.lower()}@acme.example",
        "externalId": f"ext-{employee}",
        "name": {"givenName": "Person", "familyName": f"{i:06d}"},
        "displayName": f"Person {i:06d}",
        "emails": [{"value": f"{employee.lower()}@acme.example", "type": "work", "primary": True}],
        "locale": "de-DE",
        "timezone": "Europe/Berlin",
        "active": True,
        "addresses": [{"type": "work", "locality": "Berlin", "country": "DE"}],
        ENTERPRISE: {
            "employeeNumber": employee,
            "department": f"D{i % 40}",
            "manager": {"value": f"E-{run}-{i // 8:06d}"} if i else None,  # eight reports each
        },
        TANDEM: {"grade": str(i % 20), "languages": "de, en"},
    }


def _row(i: int, run: str) -> dict[str, Any]:
    """The same person as a row of the HR file."""
    employee = f"F-{run}-{i:06d}"
    return {
        "employee_id": employee,
        "display_name": f"Person {i:06d}",
        "email": f"{employee.lower()}@acme.example",
        "external_id": f"ext-{employee}",
        "locale": "de-DE",
        "timezone": "Europe/Berlin",
        "location": "Berlin",
        "department": f"D{i % 40}",
        "grade": i % 20,
        "languages": ["de", "en"],
        "manager_employee_id": f"F-{run}-{i // 8:06d}" if i else None,
    }


async def _closed_loop(send: Callable[[int], Awaitable[int]], n: int, expect: int) -> tuple[float, list[float], int]:
    """`n` requests, IN_FLIGHT at a time: the seconds they took, each one's latency, how many failed."""
    latencies: list[float] = []
    failed = 0
    next_index = 0

    async def worker() -> None:
        nonlocal next_index, failed
        while next_index < n:
            i = next_index
            next_index += 1
            t0 = time.perf_counter()
            try:
                status = await send(i)
            except (OSError, HttpError):
                status = 0
            latencies.append(time.perf_counter() - t0)
            failed += status != expect

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    return time.perf_counter() - t0, latencies, failed


async def case(n: int) -> dict[str, Any]:
    with provide() as infra, LocalIdentityProvider() as idp:
        topics = namespace("scim")
        await ensure_topics(infra.kafka_bootstrap, topics)
        proc, url, dsn = await _start_pairing(infra, topics.namespace, idp.issuer)
        try:
            # the HR platform's SCIM client signs in with OAuth client credentials; its JWT is verified per request
            auth = {"Authorization": f"Bearer {idp.client_credentials_token('tandem-hr-platform')}"}
            scim = Client(url, {**auth, "Content-Type": "application/scim+json"})
            plain = Client(url)
            run = uuid.uuid4().hex[:6]

            async def health(_: int) -> int:
                return (await plain.get("/health/live"))[0]

            async def create(i: int) -> int:
                return (await scim.post("/scim/v2/Users", _user(i, run)))[0]

            async def warm(i: int) -> int:
                return (await scim.post("/scim/v2/Users", _user(i, f"w{run}")))[0]

            await _closed_loop(health, WARM_UP, 200)
            await _closed_loop(warm, WARM_UP, 201)
            health_s, _, health_failed = await _closed_loop(health, n, 200)
            scim_s, latencies, scim_failed = await _closed_loop(create, n, 201)
            await scim.close()
            await plain.close()

            rows = [_row(i, run) for i in range(n)]
            async with httpx.AsyncClient(base_url=url, headers=auth, timeout=600) as client:
                t0 = time.perf_counter()
                imported = await client.post("/directory/imports", json=rows)
                import_s = time.perf_counter() - t0
            imported.raise_for_status()
            conn = await asyncpg.connect(dsn)
            try:
                created = await conn.fetchval(
                    "SELECT count(*) FROM employees WHERE employee_id LIKE $1 AND scim_created_at IS NOT NULL",
                    f"E-{run}-%",
                )
            finally:
                await conn.close()
        finally:
            proc.terminate()
            proc.wait(15)
        users_per_s = n / scim_s
        health_per_s = n / health_s
        rows_per_s = n / import_s
        return {
            "benchmark": "scim provisioning",
            "case": f"{n:,} POST /scim/v2/Users, {IN_FLIGHT} in flight",
            "infra": infra.source,
            "users_per_s": round(users_per_s, 1),
            "create_p50_ms": summary_ms(latencies)["p50_ms"],
            "create_p99_ms": summary_ms(latencies)["p99_ms"],
            "health_live_per_s": round(health_per_s, 1),
            "file_import_rows_per_s": round(rows_per_s, 1),
            "created": f"{created}/{n}",
            "http_errors": scim_failed + health_failed,
            "ratio_scim_over_health_live": round(users_per_s / health_per_s, 3),
            "ratio_scim_over_file_import": round(users_per_s / rows_per_s, 3),
        }


def run(quick: bool = False) -> list[dict[str, Any]]:
    return [asyncio.run(case(300 if quick else 10_000))]


def main() -> None:
    command_line(__doc__, run)


if __name__ == "__main__":
    main()
