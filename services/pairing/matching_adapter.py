"""The bridge between the pairing write model and the matching engine (services/pairing/domain)."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.pairing.domain.participants import Participant
from services.pairing.domain.programmes import Programme


@dataclass(frozen=True)
class Verdict:
    score: float | None
    rationale: str
    violations: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _chain(employee_id: str, org_chart: dict[str, str], levels: int) -> list[str]:
    out, current = [], employee_id
    for _ in range(levels):
        manager = org_chart.get(current)
        if manager is None or manager in out:
            break
        out.append(manager)
        current = manager
    return out


def explain(programme: Programme, mentor: Participant, mentee: Participant, org_chart: dict[str, str]) -> Verdict:
    """Hard rules for a hand-made pair: a shared language, no reporting line, not on the never-pair list."""
    violations = []
    languages = set(mentor.profile.get("languages", [])) & set(mentee.profile.get("languages", []))
    if not languages:
        violations.append("they share no language")
    levels = int(programme.matching_policy.get("reporting_line_levels", 2))
    if mentor.employee_id in _chain(mentee.employee_id, org_chart, levels) or mentee.employee_id in _chain(
        mentor.employee_id, org_chart, levels
    ):
        violations.append(f"one is within {levels} management level(s) of the other")
    never = {tuple(p) for p in programme.matching_policy.get("never_pair", [])}
    if (mentor.participant_id, mentee.participant_id) in never:
        violations.append("HR put them on the never-pair list")
    rationale = f"paired by HR; both speak {', '.join(sorted(languages))}" if languages else "paired by HR"
    return Verdict(score=None, rationale=rationale, violations=violations)
