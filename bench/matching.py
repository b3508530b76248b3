"""Matching benchmark: the optimal assignment against a greedy baseline measured in the same run.

Populations like a large enterprise programme (seeded, so every run sees the same people):
3,000 mentors x 3,000 mentees, and 1,500 mentors with capacity 2 x 3,000 mentees (the size of the
largest programme SAP SuccessFactors' mentoring module allows). Prints time to score, to solve, the
greedy baseline's time and score, and the ratio optimal / greedy.

    python -m bench.matching [--quick]
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Any

from services.pairing.domain.matching import (
    ALGORITHM_VERSION,
    TOPIC_LABELS,
    Person,
    Policy,
    build_matrices,
    greedy,
    match,
    solve,
    total_score,
)

DEPARTMENTS = ["Sales", "Finance", "Engineering", "Marketing", "Legal", "Operations", "HR", "Procurement"]
TIMEZONES = ["Europe/Berlin", "Europe/London", "America/New_York", "Asia/Kolkata", "Asia/Singapore"]
LANGUAGES = ["de", "en", "fr", "es", "it", "pl"]


def population(n: int, role: str, capacity: int, rnd: random.Random) -> list[Person]:
    topics = list(TOPIC_LABELS)
    people = []
    for k in range(n):
        day = rnd.randrange(5)
        start = rnd.choice([8, 9, 10, 11, 13, 14, 15, 16])
        langs = {"en"} if rnd.random() < 0.7 else set()
        langs |= set(rnd.sample(LANGUAGES, rnd.randint(1, 2)))
        people.append(
            Person(
                participant_id=f"{role}-{k:05d}",
                employee_id=f"E-{role}-{k:05d}",
                display_name=f"{role.title()} {k}",
                role=role,  # type: ignore[arg-type]
                department=rnd.choice(DEPARTMENTS),
                grade=rnd.randint(2, 7) if role == "mentor" else rnd.randint(9, 16),
                languages=frozenset(langs),
                timezone=rnd.choice(TIMEZONES),
                availability=((day, f"{start:02d}:00", f"{start + 2:02d}:00"), (rnd.randrange(5), "12:00", "13:00")),
                capacity=capacity,
                topics={t: rnd.randint(1, 3) for t in rnd.sample(topics, rnd.randint(1, 4))},
            )
        )
    return people


def org_chart(mentors: list[Person], mentees: list[Person], rnd: random.Random) -> dict[str, str]:
    """Mentees report up a chain of seniors; some mentors report into their lines."""
    chart = {}
    seniors = [p.employee_id for p in mentees]
    for e in seniors:
        if rnd.random() < 0.6:
            chart[e] = rnd.choice(seniors)
    for p in mentors:
        chart[p.employee_id] = rnd.choice(seniors)
    return {k: v for k, v in chart.items() if k != v}


def case(n_mentors: int, n_mentees: int, capacity: int, seed: int = 2026) -> dict[str, Any]:
    rnd = random.Random(seed)
    mentors = population(n_mentors, "mentor", capacity, rnd)
    mentees = population(n_mentees, "mentee", 1, rnd)
    chart = org_chart(mentors, mentees, rnd)
    policy = Policy()

    t0 = time.perf_counter()
    m = build_matrices(mentors, mentees, policy, chart)
    t1 = time.perf_counter()
    optimal = solve(m, policy)
    t2 = time.perf_counter()
    baseline = greedy(m)
    t3 = time.perf_counter()
    result = match(mentors, mentees, policy, chart)  # the whole service call: score, solve, explain
    t4 = time.perf_counter()
    opt_score, greedy_score = total_score(m, optimal), total_score(m, baseline)
    return {
        "benchmark": "matching",
        "case": f"{n_mentors} mentors (capacity {capacity}) x {n_mentees} mentees",
        "algorithm": ALGORITHM_VERSION,
        "score_s": round(t1 - t0, 2),
        "solve_s": round(t2 - t1, 2),
        "greedy_s": round(t3 - t2, 2),
        "match_with_rationales_s": round(t4 - t3, 2),
        "pairs_optimal": len(optimal),
        "pairs_greedy": len(baseline),
        "score_optimal": opt_score,
        "score_greedy": greedy_score,
        "ratio_score_optimal_over_greedy": round(opt_score / greedy_score, 4) if greedy_score else None,
        "ratio_time_optimal_over_greedy": round((t2 - t1) / (t3 - t2), 2) if t3 > t2 else None,
        "unmatched": len(result.unmatched),
    }


def run(quick: bool = False) -> list[dict[str, Any]]:
    if quick:
        return [case(300, 300, 1), case(150, 300, 2)]
    return [case(3000, 3000, 1), case(1500, 3000, 2)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a reduced size for CI (seconds)")
    args = parser.parse_args()
    for row in run(args.quick):
        print(
            f"{row['case']}: score {row['score_s']} s, solve {row['solve_s']} s "
            f"(greedy {row['greedy_s']} s), with rationales {row['match_with_rationales_s']} s; "
            f"pairs {row['pairs_optimal']} vs greedy {row['pairs_greedy']}; "
            f"total score optimal/greedy = {row['ratio_score_optimal_over_greedy']}"
        )


if __name__ == "__main__":
    main()
