"""The fault suite's reduced form for `make test`: two short runs with fixed seeds and two faults each (seed 19:
cut sessions' broker connections, poison without CloudEvents headers; seed 20: SIGTERM of sessions, a 2 MB
poison record, dead-lettered as a reference); the whole suite is `python -m tests.faults --runs 100`
(docs/reliability.md). Each run takes about half a minute.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.run import Config, suite

SEED = 19
CONFIG = Config(faults=2, seconds=8.0, rate=3.0, pairs=4, converge_timeout=40.0)


@pytest.mark.slow
async def test_faults_converge_with_nothing_lost_duplicated_or_stalled(tmp_path: Path) -> None:
    results = await suite(2, SEED, Config(**{**CONFIG.__dict__, "workdir": tmp_path}), say=print)
    problems = [line for r in results for line in ([r.error] if r.error else []) + r.verdict.summary(3)]
    assert all(not r.failed for r in results), "\n".join(problems)
