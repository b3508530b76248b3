"""`python -m tests.faults --runs 100 [--seed N]`: the randomized fault suite; writes docs/reliability.md."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
import time
from pathlib import Path

from tests.faults.faults import KINDS
from tests.faults.report import write_report
from tests.faults.run import Config, RunResult, suite


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.faults", description=__doc__)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=None, help="the first run's seed (run k has seed + k)")
    parser.add_argument("--faults", type=int, default=3, help="faults drawn per run")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the load in each run")
    parser.add_argument("--rate", type=float, default=3.0, help="commands per second")
    parser.add_argument("--pairs", type=int, default=6)
    parser.add_argument("--converge-timeout", type=float, default=150.0)
    parser.add_argument("--kinds", default="", help="comma-separated fault kinds (prefixes) to draw from")
    parser.add_argument("--report", type=Path, default=Path("docs/reliability.md"), help="'-' for none")
    parser.add_argument("--results", type=Path, default=Path(".tandem/faults/results.jsonl"))
    parser.add_argument("--keep", action="store_true", help="keep the folders of passing runs too")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    signal.signal(signal.SIGTERM, _interrupt)  # a stopped suite still takes every process of its run down
    seed = args.seed if args.seed is not None else int(time.time()) % 100_000
    kinds = tuple(k for k in KINDS if not args.kinds or k.startswith(tuple(args.kinds.split(","))))
    config = Config(faults=args.faults, seconds=args.seconds, rate=args.rate, pairs=args.pairs,
                    converge_timeout=args.converge_timeout, kinds=kinds, keep=args.keep)  # fmt: skip
    command = "python -m tests.faults " + " ".join(argv if argv is not None else sys.argv[1:])
    print(f"fault suite: {args.runs} run(s) from seed {seed}; {command}", flush=True)
    started = time.time()
    args.results.parent.mkdir(parents=True, exist_ok=True)

    def record(results: list[RunResult]) -> None:  # after every run: an interrupted suite still leaves its report
        with args.results.open("a") as out:
            out.write(json.dumps(results[-1].as_dict(), default=str) + "\n")
        if str(args.report) != "-":
            write_report(args.report, results, config, seed=seed, command=command, started=started)

    results = asyncio.run(suite(args.runs, seed, config, say=lambda s: print(s, flush=True), after=record))
    if str(args.report) != "-":
        print(f"report: {args.report}")
    failed = sum(r.failed for r in results)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
