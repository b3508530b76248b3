"""One run, and a suite of runs: start the system, set it up, load it while faults play, heal, wait for it to
converge (the checker finds nothing, or the timeout passes), record the verdict, take everything down.

A run is fully described by its seed: the faults (kinds, times, parameters) and the load's choices are drawn
from it, so `python -m tests.faults --runs 1 --seed S` replays run S (the system's own timing differs).
"""

from __future__ import annotations

import asyncio
import random
import shutil
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.faults.checker import Checker, Verdict
from tests.faults.faults import KINDS, Fault, Injector, draw
from tests.faults.load import Load, SetupError, people, users
from tests.faults.system import SERVICES, System


@dataclass(frozen=True)
class Config:
    faults: int = 3
    seconds: float = 20.0
    rate: float = 3.0
    pairs: int = 6
    converge_timeout: float = 150.0
    kinds: tuple[str, ...] = KINDS
    workdir: Path = Path(".tandem/faults")
    keep: bool = False  # keep the folder (logs, databases) of passing runs too


@dataclass
class RunResult:
    seed: int
    faults: list[Fault]
    verdict: Verdict = field(default_factory=Verdict)
    converged: bool = False
    converge_seconds: float = 0.0
    error: str = ""
    exits: list[str] = field(default_factory=list)  # services that ended by themselves during the run
    folder: str = ""
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return bool(self.error) or not self.verdict.clean

    def as_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed, "failed": self.failed, "error": self.error, "converged": self.converged,
            "converge_seconds": round(self.converge_seconds, 1), "seconds": round(self.seconds, 1),
            "faults": [f.describe() for f in self.faults], "counts": self.verdict.counts,
            "findings": self.verdict.summary(), "facts": self.verdict.facts, "exits": self.exits,
            "all_findings": [f"{f.category} {f.what}: {f.detail}" for f in self.verdict.findings[:300]],
            "folder": self.folder,
        }  # fmt: skip


async def one_run(seed: int, config: Config, say: Callable[[str], None] = print) -> RunResult:
    rng = random.Random(seed)
    faults = draw(rng, config.faults, config.seconds, config.kinds)
    result = RunResult(seed, faults)
    folder = config.workdir.resolve() / f"seed-{seed}"
    shutil.rmtree(folder, ignore_errors=True)
    result.folder = str(folder)
    system = System(folder)
    started = time.monotonic()
    injector: Injector | None = None
    load: Load | None = None
    try:
        await system.start(users(people(config.pairs)))
        assert system.idp is not None
        load = Load({s: system.url(s) for s in SERVICES}, system.idp, random.Random(f"load-{seed}"), config.pairs)
        await load.setup()
        injector = Injector(system, f"s{seed}")
        say(f"  seed {seed}: load {config.seconds:g}s at {config.rate:g}/s, faults: "
            + "; ".join(f.describe() for f in faults))  # fmt: skip
        begin = time.monotonic()
        await asyncio.gather(load.run(config.seconds, config.rate), injector.play(faults, begin))
        healed = time.monotonic()  # time to converge counts from here: the faults have stopped
        await heal(system, result)
        checker = Checker(system, load.ledger, injector)
        while True:  # converged: when the check that found nothing began (a check itself takes a few seconds)
            began = time.monotonic()
            result.verdict = await checker.check()
            result.converge_seconds = began - healed
            if result.verdict.clean or time.monotonic() - healed > config.converge_timeout:
                break
            await asyncio.sleep(2.0)
        result.converged = result.verdict.clean
    except SetupError as exc:
        result.error = f"setup failed: {exc}"
    except Exception as exc:
        result.error = f"{type(exc).__name__}: {exc}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "harness-error.txt").write_text(traceback.format_exc())
    finally:
        if load is not None:
            await load.close()
        if injector is not None:
            await injector.close()
        await system.stop()
        result.seconds = time.monotonic() - started
        if not result.failed and not config.keep:
            shutil.rmtree(folder, ignore_errors=True)
            result.folder = ""
    return result


async def heal(system: System, result: RunResult) -> None:
    """Faults stop: no latency, no outage; every process that is down is started again (a service that ended by
    itself is noted first)."""
    system.heal_proxies()
    if not system.broker_running:
        result.exits.append("the broker was down at heal (its restart had failed); started")
        system.start_broker()
    if not await system.postgres_running():
        result.exits.append("Postgres was down at heal (its restart had failed); started")
        await system.start_postgres()
    for name, proc in system.services.items():
        if not proc.running:
            code = proc.proc.returncode if proc.proc is not None else None
            result.exits.append(f"{name} had exited by itself (code {code}); restarted at heal")
            proc.start()
    late = await system.wait_ready(timeout=60)
    for name in late:
        result.exits.append(f"{name} not ready 60 s after heal")


async def suite(
    runs: int,
    seed: int,
    config: Config,
    say: Callable[[str], None] = print,
    after: Callable[[list[RunResult]], None] | None = None,
) -> list[RunResult]:
    """Run `runs` runs with seeds seed, seed + 1, ...; `after` sees the results so far after each run."""
    results: list[RunResult] = []
    for k in range(runs):
        result = await one_run(seed + k, config, say)
        status = "FAIL" if result.failed else "ok"
        counts = result.verdict.counts
        say(f"run {k + 1}/{runs} seed {result.seed}: {status} lost {counts['lost']} duplicated "
            f"{counts['duplicated']} stalled {counts['stalled']}, converged in {result.converge_seconds:.1f}s"
            + (f" ({result.error})" if result.error else ""))  # fmt: skip
        for line in result.verdict.summary(3):
            say(f"    {line}")
        for line in result.exits:
            say(f"    {line}")
        results.append(result)
        if after is not None:
            after(results)
    return results
