"""Run every benchmark, print a summary, write docs/benchmarks.md.

python -m bench [--quick] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import chain, consumer, directory, eventstore, latency, matching, recovery, relay, replay, scim

#: name -> run(quick) -> rows. Adding a benchmark is one line here.
BENCHMARKS: dict[str, Callable[[bool], list[dict[str, Any]]]] = {
    "matching": matching.run,
    "replay": replay.run,
    "latency": latency.run,
    "relay": relay.run,
    "consumer": consumer.run,
    "directory": directory.run,
    "scim": scim.run,
    "recovery": recovery.run,
    "eventstore": eventstore.run,
    "chain": chain.run,
}
DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_kb = int(
            next(x for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal")).split()[1]
        )
        mem = f"{mem_kb / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        mem = "? GiB"
    system = f"{platform.system()} {platform.release()}"
    return f"{os.cpu_count()} cores ({cpu}), {mem}, {system}, Python {platform.python_version()}"


def _what_it_measures(name: str) -> list[str]:
    """The benchmark module's docstring but its usage line, so the table is read as it was meant."""
    run = BENCHMARKS.get(name)
    doc = sys.modules[run.__module__].__doc__ if run is not None else None
    paragraphs = [p.strip() for p in (doc or "").strip().split("\n\n")]
    return [line for p in paragraphs if p and not p.startswith("python -m") for line in [*p.splitlines(), ""]]


def _commit() -> str:
    try:
        return (
            subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
            ).stdout.strip()
            or "?"
        )
    except OSError:
        return "?"


def section(name: str, rows: list[dict[str, Any]], quick: bool, command: str) -> str:
    """One benchmark's section: what it measures, when and how it was run, its table."""
    lines = [f"## {name}", ""]
    lines.extend(_what_it_measures(name))
    lines += [
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC at commit {_commit()} with `{command}`"
        f"{' (reduced sizes)' if quick else ''}.",
        "",
    ]
    keys: list[str] = []
    for row in rows:  # a new table whenever the columns change (a benchmark may measure several things)
        if list(row) != keys:
            if keys:
                lines.append("")
            keys = list(row)
            lines.append("| " + " | ".join(keys) + " |")
            lines.append("|" + "---|" * len(keys))
        lines.append("| " + " | ".join(str(row.get(k, "")) for k in keys) + " |")
    if rows:
        lines.append("")
    return "\n".join(lines) + "\n"


def sections_of(text: str) -> dict[str, str]:
    """The sections of a results file, by benchmark name."""
    out: dict[str, str] = {}
    for part in text.split("\n## ")[1:]:
        name = part.split("\n", 1)[0].strip()
        out[name] = "## " + part.rstrip("\n") + "\n"
    return out


def markdown(results: dict[str, list[dict[str, Any]]], quick: bool, command: str, previous: str = "") -> str:
    """The results file: the benchmarks just run, and the earlier sections of those that were not."""
    kept = sections_of(previous)
    lines = [
        "# Benchmarks",
        "",
        "Each benchmark measures its own baseline in the same run and reports the ratio, because absolute times",
        "drift on shared machines. Each section says when it was measured (`--only` re-runs some).",
        "",
        f"- machine: {machine()}",
        "",
    ]
    body = []
    for name in BENCHMARKS:
        if name in results:
            body.append(section(name, results[name], quick, command))
        elif name in kept:
            body.append(kept[name])
    return "\n".join(lines) + "\n".join(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="reduced sizes (seconds), as CI runs them")
    parser.add_argument("--only", nargs="*", choices=sorted(BENCHMARKS), help="run only these")
    parser.add_argument("--output", type=Path, default=DOC, help="where to write the Markdown results")
    args = parser.parse_args()
    results: dict[str, list[dict[str, Any]]] = {}
    for name, run in BENCHMARKS.items():
        if args.only and name not in args.only:
            continue
        print(f"--- {name}", flush=True)
        results[name] = run(args.quick)
        for row in results[name]:
            print("   ", row, flush=True)
    command = (
        "python -m bench" + (" --quick" if args.quick else "") + (f" --only {' '.join(args.only)}" if args.only else "")
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    previous = args.output.read_text() if args.only and args.output.exists() else ""
    args.output.write_text(markdown(results, args.quick, command, previous))
    print(f"written to {args.output}")


if __name__ == "__main__":
    sys.exit(main())
