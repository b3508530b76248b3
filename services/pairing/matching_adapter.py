"""The bridge between the pairing write model (participants, programmes) and the pure matching engine."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from services.pairing.domain import matching
from services.pairing.domain.participants import Participant
from services.pairing.domain.programmes import Programme
from shared.errors import InvalidInput


@dataclass(frozen=True)
class Verdict:
    score: float | None
    rationale: str
    violations: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    reasons: list[dict[str, Any]] = field(default_factory=list)


def person(p: Participant) -> matching.Person:
    profile = p.profile
    topics = profile.get("teach_topics" if p.role == "mentor" else "learn_topics") or {}
    return matching.Person(
        participant_id=p.participant_id,
        employee_id=p.employee_id,
        display_name=str(profile["display_name"]),
        role=p.role,
        department=str(profile["department"]),
        grade=int(profile["grade"]),
        languages=frozenset(profile.get("languages") or ()),
        timezone=str(profile.get("timezone") or "UTC"),
        availability=tuple(
            (int(w["weekday"]), str(w["start"]), str(w["end"])) for w in profile.get("availability") or ()
        ),
        capacity=p.capacity if p.role == "mentor" else 1,
        topics={str(k): int(v) for k, v in topics.items()},
        goal=str(profile.get("goal", "")),
    )


def policy(
    data: Mapping[str, Any], *, objective: str | None = None, override: Mapping[str, Any] | None = None
) -> matching.Policy:
    """The engine's policy from a programme's `matching_policy`, with a match run's `override` (fields replaced;
    weights one by one) and objective. A policy the engine cannot run is refused naming the field: the
    override's (`policy.<field>`) when it has one, else `matching_policy`."""
    override = override or {}
    merged = {**data, **override}
    if "weights" in override:
        merged["weights"] = {**(data.get("weights") or {}), **override["weights"]}
    if objective is not None:
        merged["objective"] = objective
    try:
        return matching.Policy.from_dict(merged)
    except (ValueError, TypeError) as exc:
        if override:
            name = "weights" if "weights" in str(exc) and "weights" in override else next(iter(override))
            raise InvalidInput(f"policy.{name}: {exc}", field=f"policy.{name}") from None
        raise InvalidInput(f"matching policy: {exc}", field="matching_policy") from None


def explain(programme: Programme, mentor: Participant, mentee: Participant, org_chart: Mapping[str, str]) -> Verdict:
    """Score, rationale and hard-rule check of a pair HR makes by hand; a low score is a warning."""
    e = matching.explain_pair(person(mentor), person(mentee), policy(programme.matching_policy), org_chart)
    return Verdict(e.score, e.rationale, e.violations, e.warnings, e.reasons)


def conflict(
    programme: Programme, mentor: Participant, mentee: Participant, org_chart: Mapping[str, str]
) -> matching.RuleConflict | None:
    """The directory-dependent hard rule a live pair now breaks, if any (see matching.hard_rule_conflict)."""
    return matching.hard_rule_conflict(person(mentor), person(mentee), policy(programme.matching_policy), org_chart)


def run(
    programme: Programme,
    mentors: Sequence[Participant],
    mentees: Sequence[Participant],
    org_chart: Mapping[str, str],
    *,
    used_capacity: Mapping[str, int],
    run_policy: matching.Policy | None = None,
) -> matching.MatchResult:
    """Match under `run_policy` (see policy(): the programme's with a run's changes), else the programme's."""
    return matching.match(
        [person(p) for p in mentors],
        [person(p) for p in mentees],
        run_policy if run_policy is not None else policy(programme.matching_policy),
        org_chart,
        used_capacity=used_capacity,
    )
