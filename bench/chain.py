"""The hash chain's cost on the command path: single-event commits through `outbox.append` (locks, stream heads,
chained rows) against the same commits with the unchained insert append did before (its one statement), in the
same run, interleaved, on one connection, over a set of streams.

python -m bench.chain [--quick]
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.common import command_line, namespace, programme_events
from shared import outbox
from shared.db import Conn, create_pool, ensure_database, migrate
from shared.events import Envelope, encode
from shared.infra import provide
from shared.topics import Topics

EMPTY = __import__("pathlib").Path(__file__).parent / "no_migrations"


async def unchained(conn: Conn, topics: Topics, events: list[Envelope[Any]]) -> None:
    """What `outbox.append` did before the chain: one insert, no locks, no hashes."""
    records = []
    for env in events:
        rec = encode(env)
        records.append(
            (
                env.id, env.type, topics.for_source(env.source), env.key, env.subject,
                [[name, value.decode()] for name, value in rec.headers], rec.value.decode(), env.time, env.tenant,
            )
        )  # fmt: skip
    await conn.executemany(
        "INSERT INTO outbox (event_id, event_type, topic, key, subject, headers, payload, occurred_at, tenant) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        records,
    )


async def case(n: int, rounds: int = 6) -> dict[str, Any]:
    with provide() as infra:
        topics = namespace("chain")
        dsn = await ensure_database(infra.postgres_dsn, f"bench_chain_{topics.namespace[-8:]}")
        EMPTY.mkdir(exist_ok=True)
        await migrate(dsn, EMPTY, service="bench")
        pool = await create_pool(dsn, max_size=2)
        envs = list(programme_events(2 * n * rounds))
        spent = {"chained": 0.0, "unchained": 0.0}
        try:
            async with pool.acquire() as conn:
                for r in range(2 * rounds):
                    name = "chained" if r % 2 else "unchained"
                    append = outbox.append if name == "chained" else unchained
                    batch = envs[r * n : (r + 1) * n]
                    t0 = time.perf_counter()
                    for env in batch:
                        async with conn.transaction():
                            await append(conn, topics, [env])
                    spent[name] += time.perf_counter() - t0
        finally:
            await pool.close()
        each = {name: seconds / (n * rounds) for name, seconds in spent.items()}
        return {
            "benchmark": "hash chain on append",
            "case": f"{n * rounds:,} single-event commits each way",
            "infra": infra.source,
            "chained_us_per_commit": round(each["chained"] * 1e6),
            "unchained_us_per_commit": round(each["unchained"] * 1e6),
            "ratio_chained_over_unchained_commits_per_s": round(each["unchained"] / each["chained"], 3),
        }


def run(quick: bool = False) -> list[dict[str, Any]]:
    return [asyncio.run(case(200 if quick else 2_000))]


def main() -> None:
    command_line(__doc__, run)


if __name__ == "__main__":
    main()
