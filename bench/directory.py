"""Employee directory benchmarks, each against a baseline measured in the same run.

- sync: `tandem hr import` of a 100,000-employee export (a CSV file, the real command in a child process),
  in rows/s and the child's peak memory (max RSS), against raw COPY of the same file into a table; the
  same for a tenth of the file, to show memory stays bounded as the file grows.
- recheck: in that 100,000-employee directory with 5,000 active pairs, one manager change (applied with
  everything it causes, the re-check of the pairs whose reporting line it can move included), and a
  re-check of all 5,000 live pairs (goal for both: under 1 s), against a bare SELECT of those pairs.
- matching: 3,000 x 3,000 with the reporting-line rule reading the 100,000-employee directory (the lines
  are fetched with the run), against today's matching of the same people without a directory (goal:
  at most 1.5 x).

The org chart is an 8-ary tree (a CEO, then 8, 64, 512... reports): seniors sit 3 and 4 levels down, juniors
at the leaves, so some juniors are within two levels of some seniors, as in a real company.

    python -m bench.directory [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from bench.common import namespace
from bench.matching import population
from services.pairing import handlers, repository
from services.pairing.app import SPEC as PAIRING
from services.pairing.domain import directory, pairs
from services.pairing.domain.matching import Policy, match
from shared.db import create_pool, ensure_database, migrate
from shared.infra import Infra, provide
from shared.uow import UnitOfWork

ROOT = Path(__file__).resolve().parents[1]
TENANT = "bench"
FAN_OUT = 8
DEPARTMENTS = ["Sales", "Finance", "Engineering", "Marketing", "Legal", "Operations", "HR", "Procurement"]


def manager_of(k: int) -> int | None:
    return None if k == 0 else (k - 1) // FAN_OUT


def level_bounds(level: int) -> tuple[int, int]:
    """The first and last index of a level of the tree."""
    first = sum(FAN_OUT**i for i in range(level))
    return first, first + FAN_OUT**level - 1


def level_of(k: int) -> int:
    level = 0
    while level_bounds(level)[1] < k:
        level += 1
    return level


def juniors_and_seniors(n: int) -> tuple[list[int], list[int]]:
    """Juniors: the deepest level of the tree; seniors: the three levels above it (some of them two levels
    up a junior's own reporting line)."""
    deepest = level_of(n - 1)
    juniors = list(range(level_bounds(deepest)[0], n))
    seniors = list(range(level_bounds(max(0, deepest - 3))[0], level_bounds(deepest - 1)[1] + 1))
    return juniors, seniors


def eid(k: int) -> str:
    return f"E{k:06d}"


def write_export(path: Path, n: int) -> None:
    rnd = random.Random(5)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "employee_id",
                "display_name",
                "email",
                "department",
                "grade",
                "manager_employee_id",
                "languages",
                "timezone",
                "locale",
                "location",
                "status",
            ]
        )
        for k in range(n):
            boss = manager_of(k)
            w.writerow(
                [
                    eid(k),
                    f"Person {k}",
                    f"p{k}@bench.example",
                    DEPARTMENTS[k % len(DEPARTMENTS)],
                    max(1, 20 - 2 * level_of(k)),
                    eid(boss) if boss is not None else "",
                    rnd.choice(["de; en", "en", "fr; en", "de"]),
                    "Europe/Berlin",
                    "de-DE",
                    "Berlin",
                    "active",
                ]
            )


def _sync(path: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """Run `tandem hr import` in a child; its wall time, its own peak RSS in MiB (wait4) and its summary."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "services", "hr", "import", str(path), "--tenant", TENANT, "--complete"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=err,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise RuntimeError(f"tandem hr import failed: {err.read().decode()}")
        return elapsed, usage.ru_maxrss / 1024, out.read().decode().strip().splitlines()[0]


async def _copy_baseline(dsn: str, path: Path) -> float:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "CREATE TEMP TABLE raw_export (employee_id text, display_name text, email text, "
            "department text, grade text, manager text, languages text, timezone text, locale text, "
            "location text, status text)"
        )
        t = time.perf_counter()
        await conn.copy_to_table("raw_export", source=path, format="csv", header=True)
        return time.perf_counter() - t
    finally:
        await conn.close()


async def _pairs(pool: asyncpg.Pool, n_pairs: int, n: int) -> None:
    """A programme with n_pairs active pairs: juniors (leaves) with seniors (levels 3 and 4) of other branches."""
    juniors, seniors = juniors_and_seniors(n)
    rnd = random.Random(9)
    rnd.shuffle(juniors)
    rnd.shuffle(seniors)
    topics = ["prompt-writing"]
    uow = UnitOfWork(pool, namespace("dirpairs"), tenant=TENANT)
    async with uow:
        programme = await handlers.create_programme(
            uow,
            handlers.CreateProgramme(
                name="Bench",
                starts_on=datetime(2026, 1, 12).date(),
                ends_on=datetime(2026, 12, 31).date(),
                cadence_days=14,
                focus_topics=topics,
                matching_policy={"reporting_line_levels": 2},
                launch=True,
            ),
        )
    rows = [{"employee_id": eid(k), "role": "mentor", "teach_topics": {"prompt-writing": 3}} for k in juniors[:n_pairs]]
    rows += [
        {"employee_id": eid(k), "role": "mentee", "learn_topics": {"prompt-writing": 3}} for k in seniors[:n_pairs]
    ]
    uow = UnitOfWork(pool, uow.topics, tenant=TENANT)
    async with uow:
        enrolled = await handlers.enrol_participants(uow, programme.programme_id, rows)
    mentors = [p for p in enrolled if p.role == "mentor"]
    mentees = [p for p in enrolled if p.role == "mentee"]
    uow = UnitOfWork(pool, uow.topics, tenant=TENANT)
    async with uow:  # the pairs, written as create_pair writes them (one transaction, for a fast setup)
        for k, (m, e) in enumerate(zip(mentors, mentees, strict=True)):
            changes = pairs.create_pair(f"bench-pair-{k}", programme.programme_id, m.participant_id, e.participant_id)
            await repository.insert_pair(uow.conn, TENANT, pairs.evolve_all(None, changes))
            uow.emit(*pairs.published(changes))
        await repository.set_programme_state(uow.conn, TENANT, replace(programme, state="running"))
        await uow.commit()


async def _recheck(pool: asyncpg.Pool, n: int, n_pairs: int) -> dict[str, Any]:
    await _pairs(pool, n_pairs, n)
    topics = namespace("dirrecheck")
    # one manager change: a level-2 manager moves to another branch (everyone below moves with them)
    mover = level_bounds(2)[0] + 3
    async with pool.acquire() as conn:
        current = await repository.get_employee(conn, TENANT, eid(mover))
    change = directory.Upsert(
        directory.EmployeeInput.model_validate(
            {**current.record(), "manager_employee_id": eid(2), "languages": list(current.languages)}
        )
    )
    uow = UnitOfWork(pool, topics, tenant=TENANT)
    t = time.perf_counter()
    async with uow:
        one = await handlers.apply_directory_changes(uow, [change], origin="hr_event", effective_at=datetime.now(UTC))
    one_s = time.perf_counter() - t
    uow = UnitOfWork(pool, topics, tenant=TENANT)
    t = time.perf_counter()
    async with uow:
        revision = await repository.lock_directory(uow.conn, TENANT)
        full = await handlers.recheck_pairs(uow, None, since=datetime.now(UTC), revision=revision)
        await uow.commit()
    full_s = time.perf_counter() - t
    t = time.perf_counter()
    async with pool.acquire() as conn:
        live = await conn.fetch("SELECT * FROM pairs WHERE tenant = $1 AND state IN ('active', 'paused')", TENANT)
    bare_s = time.perf_counter() - t
    return {
        "case": f"{n:,} employees, {len(live):,} live pairs",
        "one_manager_change_s": round(one_s, 3),
        "pairs_flagged_by_it": one.flagged,
        "recheck_all_s": round(full_s, 3),
        "flagged_by_recheck_all": full.flagged,
        "bare_select_s": round(bare_s, 3),
        "ratio_recheck_all_to_select": round(full_s / bare_s, 1) if bare_s else None,
        "goal_under_1s": one_s < 1 and full_s < 1,
    }


async def _matching(pool: asyncpg.Pool, n: int, size: int) -> dict[str, Any]:
    rnd = random.Random(3)
    mentors = population(size, "mentor", 1, rnd)
    mentees = population(size, "mentee", 1, rnd)
    leaves, seniors = juniors_and_seniors(n)
    mentors = [replace(p, employee_id=eid(k)) for p, k in zip(mentors, leaves, strict=False)]
    mentees = [replace(p, employee_id=eid(k)) for p, k in zip(mentees, seniors, strict=False)]
    policy = Policy(reporting_line_levels=2)
    ids = [p.employee_id for p in mentors + mentees]
    without: list[float] = []
    with_directory: list[float] = []
    for _ in range(2):  # alternate, and keep the best of each: the first run pays for warming up
        t = time.perf_counter()
        today = match(mentors, mentees, policy, {})
        without.append(time.perf_counter() - t)
        t = time.perf_counter()
        async with pool.acquire() as conn:
            chart = await repository.reporting_lines(conn, TENANT, ids, 2)
        chart_s = time.perf_counter() - t
        result = match(mentors, mentees, policy, chart)
        with_directory.append(time.perf_counter() - t)
    baseline_s, total_s = min(without), min(with_directory)
    return {
        "case": f"{len(mentors):,} x {len(mentees):,} over {n:,} employees",
        "reporting_lines_read": len(chart),
        "read_lines_s": round(chart_s, 3),
        "match_with_directory_s": round(total_s, 2),
        "match_without_s": round(baseline_s, 2),
        "ratio": round(total_s / baseline_s, 2),
        "goal_at_most_1_5": total_s / baseline_s <= 1.5,
        "pairs_with": len(result.proposals),
        "pairs_without": len(today.proposals),
    }


async def _run(infra: Infra, quick: bool) -> list[dict[str, Any]]:
    small, n = (300, 3_000) if quick else (10_000, 100_000)
    n_pairs, size = (200, 300) if quick else (5_000, 3_000)
    ns = namespace("dir")
    dbname = f"{ns.namespace}_pairing"
    dsn = await ensure_database(infra.postgres_dsn, dbname)
    await migrate(dsn, PAIRING.migrations, service="pairing")
    env = {
        **os.environ,
        "PAIRING_DATABASE_URL": dsn,
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap,
        "TANDEM_TOPIC_NAMESPACE": ns.namespace,
    }
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for size_rows in (small, n):
            path = Path(tmp) / f"export-{size_rows}.csv"
            write_export(path, size_rows)
            if size_rows == small:  # a separate tenant's worth: a fresh database, so both start empty
                small_dsn = await ensure_database(infra.postgres_dsn, f"{dbname}_small")
                await migrate(small_dsn, PAIRING.migrations, service="pairing")
                elapsed, rss, said = await asyncio.to_thread(_sync, path, {**env, "PAIRING_DATABASE_URL": small_dsn})
            else:
                elapsed, rss, said = await asyncio.to_thread(_sync, path, env)
            copy_s = await _copy_baseline(dsn, path)
            rows.append(
                {
                    "case": f"sync {size_rows:,} rows",
                    "rows_per_s": round(size_rows / elapsed),
                    "seconds": round(elapsed, 1),
                    "peak_rss_mib": round(rss),
                    "raw_copy_rows_per_s": round(size_rows / copy_s),
                    "ratio_to_copy": round(copy_s / elapsed, 3),
                    "result": said[:80],
                }
            )
    pool = await create_pool(dsn, max_size=4)
    try:
        rows.append(await _recheck(pool, n, n_pairs))
        rows.append(await _matching(pool, n, size))
    finally:
        await pool.close()
    return rows


def run(quick: bool) -> list[dict[str, Any]]:
    with provide() as infra:
        return asyncio.run(_run(infra, quick))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    for row in run(parser.parse_args().quick):
        print(row)
