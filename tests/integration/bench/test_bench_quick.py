"""Every benchmark runs in its reduced size so none can rot; no timing is asserted, only that each
produced its figures and its ratio against the baseline measured in the same run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_the_benchmark_command_runs_them_all_and_writes_the_results(tmp_path: Path) -> None:
    out = tmp_path / "benchmarks.md"
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--output", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    text = out.read_text()
    for section in (
        "## matching",
        "## replay",
        "## latency",
        "## relay",
        "## consumer",
        "## directory",
        "## scim",
        "## eventstore",
        "## recovery",
    ):
        assert section in text
    for ratio in (
        "ratio_score_optimal_over_greedy",
        "ratio_replay_over_min_raw",
        "ratio_decrypting_over_plain",
        "ratio_p99_e2e_over_bare",
        "ratio_relay_over_bare",
        "ratio_live_over_bare",
        "ratio_scim_over_health_live",
        "ratio_scim_over_file_import",
        "ratio_to_copy",
        "ratio_recheck_all_to_select",
        "goal_at_most_1_5",
        "ratio_p99_large_over_small",
        "ratio_recovery_over_initial",
    ):
        assert ratio in text
    assert "| 100/100 | 0 |" in text, "the latency run lost commands or events"  # observed, http_errors
    assert "| 300/300 | 0 |" in text, "the SCIM run lost Users"  # created, http_errors
    assert "| 120/120 | 0 |" in text, "the event-store run lost commands"  # commands, http_errors
    assert "Index Scan using outbox_tenant_key" in text, "the event-store lookup did not use its index"
    assert "machine:" in text
    assert "with `python -m bench --quick` (reduced sizes)" in text
