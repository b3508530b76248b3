"""The matching benchmark runs (tiny size) so it cannot rot; no timing is asserted."""

from __future__ import annotations

from bench.matching import case


def test_matching_benchmark_runs_and_reports_ratios() -> None:
    row = case(40, 50, 1, seed=3)
    assert row["pairs_optimal"] >= row["pairs_greedy"]
    assert row["ratio_score_optimal_over_greedy"] is None or row["ratio_score_optimal_over_greedy"] >= 0.999
    assert {"score_s", "solve_s", "greedy_s"} <= set(row)
