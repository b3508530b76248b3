"""Broker-loss recovery of the local stack: how long until the system is whole again after its broker came
back empty, with N events kept in the services' outboxes.

The pairing and sessions services run (in this process) against a Tansu broker of their own, in
TANDEM_BROKER_LOSS=recover mode. Their outboxes are filled with a realistic programme's log (pairing and
sessions events, from bench.common). First the baseline, measured in the same run: from a standing start,
the time until both relays have published every event and the sessions consumer has read all of them.
Then the broker is stopped and started again empty, and the clock runs from its restart until each service
has noticed, recreated the topics, republished its outbox in order, and the sessions consumer has read the
whole new log (every event a duplicate its inbox drops) and both services are ready.

    python -m bench.recovery [--quick] [--events N]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import namespace, programme_events
from services.pairing.app import SPEC as PAIRING
from services.sessions.app import SPEC as SESSIONS
from shared import outbox
from shared.auth import AuthSettings
from shared.config import ServiceSettings
from shared.db import connect, ensure_database, migrate
from shared.events import pairing as p
from shared.events import sessions as s
from shared.infra import provide
from shared.localstack import EmbeddedKafka
from shared.runtime import ServiceHost


async def _fill(dsn_by_source: dict[str, str], topics: Any, n_events: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    conns = {source: await connect(dsn) for source, dsn in dsn_by_source.items()}
    try:
        batch: dict[str, list[Any]] = {source: [] for source in conns}
        for env in programme_events(n_events):
            batch[env.source].append(env)
            counts[env.source] = counts.get(env.source, 0) + 1
            if len(batch[env.source]) >= 5000:
                async with conns[env.source].transaction():
                    await outbox.append(conns[env.source], topics, batch[env.source])
                batch[env.source] = []
        for source, envs in batch.items():
            if envs:
                async with conns[source].transaction():
                    await outbox.append(conns[source], topics, envs)
    finally:
        for conn in conns.values():
            await conn.close()
    return counts


async def _until(check: Any, timeout: float) -> float:
    started = time.perf_counter()
    while not await check():
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"not done after {timeout:.0f} s")
        await asyncio.sleep(0.05)
    return time.perf_counter() - started


async def case(n_events: int) -> dict[str, Any]:
    topics = namespace("recovery")
    root = Path(tempfile.mkdtemp(prefix="tandem-bench-recovery-"))
    kafka = EmbeddedKafka(log_file=root / "tansu.log").start()
    hosts: list[ServiceHost] = []
    with provide() as infra:
        try:
            dsns = {}
            for spec in (PAIRING, SESSIONS):
                dsns[spec.name] = await ensure_database(infra.postgres_dsn, f"{topics.namespace}_{spec.name}")
                await migrate(dsns[spec.name], spec.migrations, service=spec.name)
            counts = await _fill({p.SOURCE: dsns["pairing"], s.SOURCE: dsns["sessions"]}, topics, n_events)
            total = sum(counts.values())
            for spec in (PAIRING, SESSIONS):
                settings = ServiceSettings(
                    service=spec.name, database_url=dsns[spec.name], kafka_bootstrap_servers=kafka.bootstrap,
                    topics=topics, relay_poll_interval=0.2, create_topics=True, broker_loss="recover",
                    kafka_session_timeout_ms=EmbeddedKafka.SESSION_TIMEOUT_MS,
                    kafka_heartbeat_interval_ms=EmbeddedKafka.HEARTBEAT_INTERVAL_MS,
                    kafka_fetch_max_wait_ms=EmbeddedKafka.FETCH_MAX_WAIT_MS, tenants=frozenset({"*"}),
                    auth=AuthSettings(issuer="http://127.0.0.1:9/unused", tenants=frozenset({"*"})),
                )  # fmt: skip
                hosts.append(ServiceHost(spec, settings))
            sessions = hosts[1]
            started = time.perf_counter()
            for host in hosts:
                await host.start(create_database=False)
            assert sessions.consumer is not None

            def seen() -> int:
                st = sessions.consumer.stats  # type: ignore[union-attr]
                return st.applied + st.ignored + st.duplicates + st.dead_lettered

            async def whole(target: int) -> bool:
                if seen() < target:
                    return False
                for host in hosts:
                    if await host.pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"):
                        return False
                return True

            await _until(lambda: whole(total), 3600)
            initial = time.perf_counter() - started

            kafka.stop()
            kafka.start()  # the same address, empty
            restarted = time.perf_counter()
            before = seen()

            async def recovered() -> bool:
                return all(h.guard is not None and h.guard.state.recoveries for h in hosts) and await whole(
                    before + total
                )

            await _until(recovered, 3600)
            recovery = time.perf_counter() - restarted
            return {
                "events": total,
                "pairing_events": counts.get(p.SOURCE, 0),
                "initial_delivery_s": round(initial, 2),
                "recovery_s": round(recovery, 2),
                "ratio_recovery_over_initial": round(recovery / initial, 3),
                "recovery_events_per_s": round(total / recovery),
            }
        finally:
            for host in reversed(hosts):
                await host.stop()
            kafka.stop()


def run(quick: bool = False, events: int | None = None) -> list[dict[str, Any]]:
    return [asyncio.run(case(events or (10_000 if quick else 100_000)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--events", type=int)
    args = parser.parse_args()
    for row in run(args.quick, args.events):
        print(row)


if __name__ == "__main__":
    main()
