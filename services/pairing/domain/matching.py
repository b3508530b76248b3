"""Explainable, globally optimal matching of mentors (juniors who teach) and mentees (seniors who learn).

Pure: no I/O. Everything is vectorised over the mentee x mentor matrix so that 3,000 x 3,000 takes
seconds on two cores.

Score (0..100) of a candidate pair, a weighted mean of components in [0, 1]:
- topic coverage: how much of the mentee's learning goals the mentor can teach, weighted by the
  mentee's priority (1-3) and the mentor's level (1-3);
- availability: weekly overlap of their windows, converted to UTC at a fixed reference week
  (deterministic whatever the date), full marks from two hours a week;
- cross-department: different departments widen both networks;
- seniority gap: the wider (mentee above mentor), the more the format is what it is meant to be.
Hard rules, never traded for score: a shared language; no reporting line between them within N
management levels (through the whole org chart, programme members or not); HR's never-pair list;
HR's must-pair list (honoured when it breaks no other hard rule); optional minimum score and
minimum weekly overlap.

Solver: scipy's linear_sum_assignment (a globally optimal assignment) over mentees x mentor seats,
each mentor repeated by capacity. Infeasible cells cost 0, the same as staying unmatched, so the
optimum is a maximum-weight matching of the feasible pairs. The "max_matched" objective adds a large
constant to every feasible pair so that the number of people matched dominates and score breaks ties.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from services.pairing.domain.directory import primary_language

ALGORITHM_VERSION = "lsa-1"
Objective = Literal["max_total_score", "max_matched"]
Role = Literal["mentor", "mentee"]

SLOT_MINUTES = 30
SLOTS_PER_WEEK = 7 * 24 * 60 // SLOT_MINUTES
#: A fixed Monday: availability is converted to UTC at this week, so the result never depends on today.
REFERENCE_MONDAY = datetime(2026, 1, 5)
FULL_OVERLAP_MINUTES = 120
FULL_GRADE_GAP = 8

TOPIC_LABELS = {
    "prompt-writing": "prompt writing",
    "office-copilots": "copilots in office tools",
    "data-analysis": "data analysis with AI",
    "ai-agents": "AI agents",
    "ai-risk-policy": "AI risk and policy",
}
LANGUAGE_NAMES = {
    "de": "German", "en": "English", "fr": "French", "es": "Spanish", "it": "Italian", "nl": "Dutch",
    "pl": "Polish", "pt": "Portuguese", "tr": "Turkish", "zh": "Chinese", "ja": "Japanese", "ar": "Arabic",
    "hi": "Hindi", "sv": "Swedish", "da": "Danish", "cs": "Czech",
}  # fmt: skip


def topic_label(topic: str) -> str:
    return TOPIC_LABELS.get(topic, topic.replace("-", " "))


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(primary_language(code), code)


def spoken(person: Person) -> frozenset[str]:
    """The languages a person speaks, as primary subtags: 'de-CH' and 'de' are one language here."""
    return frozenset(primary_language(tag) for tag in person.languages)


@dataclass(frozen=True)
class Person:
    participant_id: str
    employee_id: str
    display_name: str
    role: Role
    department: str
    grade: int
    languages: frozenset[str]
    timezone: str = "UTC"
    #: (weekday 0 = Monday, "HH:MM", "HH:MM") in the person's own time zone
    availability: tuple[tuple[int, str, str], ...] = ()
    capacity: int = 1
    #: mentors: topic -> level 1..3; mentees: topic -> priority 1..3
    topics: Mapping[str, int] = field(default_factory=dict)
    goal: str = ""


@dataclass(frozen=True)
class Weights:
    topic_coverage: float = 0.5
    availability: float = 0.2
    cross_department: float = 0.15
    seniority_gap: float = 0.15

    def total(self) -> float:
        return self.topic_coverage + self.availability + self.cross_department + self.seniority_gap


@dataclass(frozen=True)
class Policy:
    weights: Weights = field(default_factory=Weights)
    reporting_line_levels: int = 2
    must_pair: tuple[tuple[str, str], ...] = ()
    never_pair: tuple[tuple[str, str], ...] = ()
    objective: Objective = "max_total_score"
    min_score: float = 0.0
    min_overlap_minutes: int = 0

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Policy:
        weights = Weights(
            **{k: float(v) for k, v in (data.get("weights") or {}).items() if k in Weights.__annotations__}
        )
        if weights.total() <= 0:
            raise ValueError("the matching weights must add up to more than 0")
        objective = data.get("objective", "max_total_score")
        if objective not in ("max_total_score", "max_matched"):
            raise ValueError(f"unknown objective {objective!r}")
        return cls(
            weights=weights,
            reporting_line_levels=int(data.get("reporting_line_levels", 2)),
            must_pair=tuple((str(a), str(b)) for a, b in data.get("must_pair", ())),
            never_pair=tuple((str(a), str(b)) for a, b in data.get("never_pair", ())),
            objective=objective,
            min_score=float(data.get("min_score", 0.0)),
            min_overlap_minutes=int(data.get("min_overlap_minutes", 0)),
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["must_pair"] = [list(p) for p in self.must_pair]
        data["never_pair"] = [list(p) for p in self.never_pair]
        return data


@dataclass(frozen=True)
class Proposal:
    mentor_id: str
    mentee_id: str
    score: float
    components: dict[str, float]
    rationale: str
    forced: bool = False
    reasons: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Unmatched:
    participant_id: str
    role: Role
    reason_code: str
    reason: str


@dataclass(frozen=True)
class MatchResult:
    proposals: list[Proposal]
    unmatched: list[Unmatched]
    conflicts: list[str]
    policy: dict[str, Any]
    algorithm_version: str
    objective: Objective
    total_score: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PairExplanation:
    score: float
    components: dict[str, float]
    violations: list[str]
    warnings: list[str]
    rationale: str
    reasons: list[dict[str, Any]] = field(default_factory=list)


# --- the matrices ----------------------------------------------------------------------------------


def _slots(person: Person) -> npt.NDArray[np.bool_]:
    """The person's weekly availability as UTC half-hour slots of the reference week."""
    out = np.zeros(SLOTS_PER_WEEK, dtype=bool)
    tz = ZoneInfo(person.timezone)
    utc = ZoneInfo("UTC")
    base = REFERENCE_MONDAY.replace(tzinfo=utc)
    for weekday, start, end in person.availability:
        day = REFERENCE_MONDAY + timedelta(days=weekday)
        sh, sm = (int(x) for x in start.split(":"))
        eh, em = (int(x) for x in end.split(":"))
        begin = day.replace(tzinfo=tz) + timedelta(hours=sh, minutes=sm)
        finish = day.replace(tzinfo=tz) + timedelta(hours=eh, minutes=em)
        first = int((begin.astimezone(utc) - base).total_seconds() // 60 // SLOT_MINUTES)
        last = int(-(-(finish.astimezone(utc) - base).total_seconds() // 60 // SLOT_MINUTES))
        for slot in range(first, last):
            out[slot % SLOTS_PER_WEEK] = True
    return out


def reporting_chain(a: str, b: str, org_chart: Mapping[str, str], levels: int) -> list[str] | None:
    """The reporting line between employees `a` and `b` when one is within `levels` management levels above
    the other: the employee ids from the lower one up to the higher one. None when neither is."""
    for low, high in ((a, b), (b, a)):
        up = _ancestors(low, org_chart, levels)
        if high in up:
            return [low, *up[: up.index(high) + 1]]
    return None


def _ancestors(employee_id: str, org_chart: Mapping[str, str], levels: int) -> list[str]:
    out: list[str] = []
    current = employee_id
    for _ in range(levels):
        manager = org_chart.get(current)
        if manager is None or manager == employee_id or manager in out:
            break
        out.append(manager)
        current = manager
    return out


@dataclass
class Matrices:
    """Everything about every candidate pair (rows: mentees, columns: mentors)."""

    mentees: list[Person]
    mentors: list[Person]
    score: npt.NDArray[np.float64]
    components: dict[str, npt.NDArray[np.float64]]
    overlap_minutes: npt.NDArray[np.float64]
    has_availability: npt.NDArray[np.bool_]
    language: npt.NDArray[np.bool_]
    reporting: npt.NDArray[np.bool_]
    never: npt.NDArray[np.bool_]
    threshold: npt.NDArray[np.bool_]

    @property
    def feasible(self) -> npt.NDArray[np.bool_]:
        return self.language & ~self.reporting & ~self.never & self.threshold


def build_matrices(
    mentors: Sequence[Person], mentees: Sequence[Person], policy: Policy, org_chart: Mapping[str, str]
) -> Matrices:
    n_e, n_m = len(mentees), len(mentors)
    topics = sorted({t for p in [*mentors, *mentees] for t in p.topics})
    t_index = {t: i for i, t in enumerate(topics)}
    prio = np.zeros((n_e, len(topics)))
    for i, p in enumerate(mentees):
        for t, v in p.topics.items():
            prio[i, t_index[t]] = v
    level = np.zeros((n_m, len(topics)))
    for j, p in enumerate(mentors):
        for t, v in p.topics.items():
            level[j, t_index[t]] = v
    weight = prio.sum(axis=1, keepdims=True)
    weight[weight == 0] = 1.0
    coverage = (prio / weight) @ (level / 3.0).T

    a_e = np.array([_slots(p) for p in mentees], dtype=np.float32).reshape(n_e, SLOTS_PER_WEEK)
    a_m = np.array([_slots(p) for p in mentors], dtype=np.float32).reshape(n_m, SLOTS_PER_WEEK)
    overlap = (a_e @ a_m.T).astype(np.float64) * SLOT_MINUTES
    known = (a_e.sum(axis=1) > 0)[:, None] & (a_m.sum(axis=1) > 0)[None, :]
    availability = np.where(known, np.minimum(overlap / FULL_OVERLAP_MINUTES, 1.0), 0.5)

    departments = sorted({p.department for p in [*mentors, *mentees]})
    d_index = {d: i for i, d in enumerate(departments)}
    d_e = np.array([d_index[p.department] for p in mentees])
    d_m = np.array([d_index[p.department] for p in mentors])
    cross = (d_e[:, None] != d_m[None, :]).astype(np.float64)

    g_e = np.array([p.grade for p in mentees], dtype=np.float64)
    g_m = np.array([p.grade for p in mentors], dtype=np.float64)
    gap = np.clip((g_e[:, None] - g_m[None, :]) / FULL_GRADE_GAP, 0.0, 1.0)

    w = policy.weights
    score = 100.0 * (
        w.topic_coverage * coverage + w.availability * availability + w.cross_department * cross
        + w.seniority_gap * gap
    ) / w.total()  # fmt: skip
    score = np.round(score, 1)

    speaks_e = [spoken(p) for p in mentees]
    speaks_m = [spoken(p) for p in mentors]
    languages = sorted({lang for langs in [*speaks_e, *speaks_m] for lang in langs})
    l_index = {lang: i for i, lang in enumerate(languages)}
    l_e = np.zeros((n_e, len(languages)), dtype=np.float32)
    for i, langs in enumerate(speaks_e):
        for lang in langs:
            l_e[i, l_index[lang]] = 1
    l_m = np.zeros((n_m, len(languages)), dtype=np.float32)
    for j, langs in enumerate(speaks_m):
        for lang in langs:
            l_m[j, l_index[lang]] = 1
    language = (l_e @ l_m.T) > 0

    reporting = np.zeros((n_e, n_m), dtype=bool)
    if policy.reporting_line_levels > 0:
        mentor_by_employee: dict[str, list[int]] = {}
        for j, p in enumerate(mentors):
            mentor_by_employee.setdefault(p.employee_id, []).append(j)
        mentee_by_employee: dict[str, list[int]] = {}
        for i, p in enumerate(mentees):
            mentee_by_employee.setdefault(p.employee_id, []).append(i)
        for i, p in enumerate(mentees):
            for boss in _ancestors(p.employee_id, org_chart, policy.reporting_line_levels):
                for j in mentor_by_employee.get(boss, ()):
                    reporting[i, j] = True
        for j, p in enumerate(mentors):
            for boss in _ancestors(p.employee_id, org_chart, policy.reporting_line_levels):
                for i in mentee_by_employee.get(boss, ()):
                    reporting[i, j] = True

    never = np.zeros((n_e, n_m), dtype=bool)
    mentor_pos = {p.participant_id: j for j, p in enumerate(mentors)}
    mentee_pos = {p.participant_id: i for i, p in enumerate(mentees)}
    for mentor_id, mentee_id in policy.never_pair:
        if mentor_id in mentor_pos and mentee_id in mentee_pos:
            never[mentee_pos[mentee_id], mentor_pos[mentor_id]] = True

    threshold = score >= policy.min_score
    if policy.min_overlap_minutes > 0:
        threshold &= ~known | (overlap >= policy.min_overlap_minutes)

    return Matrices(
        mentees=list(mentees),
        mentors=list(mentors),
        score=score,
        components={
            "topic_coverage": np.round(coverage, 3),
            "availability": np.asarray(np.round(availability, 3), dtype=np.float64),
            "cross_department": cross,
            "seniority_gap": np.round(gap, 3),
        },
        overlap_minutes=overlap,
        has_availability=known,
        language=language,
        reporting=reporting,
        never=never,
        threshold=threshold,
    )


# --- explanation -----------------------------------------------------------------------------------


def _hours(minutes: float) -> str:
    hours = minutes / 60
    return f"{hours:g} h" if hours == int(hours) else f"{hours:.1f} h"


#: A rationale's reasons: each a stable `code` and its parameters (docs/rationale-reasons.md lists them), so that
#: every reader words them in its own language; `rationale_text` words them in English.
Reason = dict[str, Any]


def first_name(display_name: str) -> str:
    """How a rationale calls the mentee: "Anna" of "Anna Kowalska"; a titled one by surname ("Hoffmann" of
    "Dr. Ingrid Hoffmann")."""
    words = display_name.split() or [display_name]
    return words[-1] if display_name.startswith(("Dr.", "Prof.")) else words[0]


def reasons(m: Matrices, i: int, j: int) -> list[Reason]:
    """Why this mentor and this mentee, as reasons with stable codes (see `Reason`)."""
    mentee, mentor = m.mentees[i], m.mentors[j]
    goals = sorted(mentee.topics, key=lambda t: (-mentee.topics[t], t))
    covered = [t for t in goals if t in mentor.topics]
    name = first_name(mentee.display_name)
    out: list[Reason] = []
    if goals:
        if covered:
            out.append({"code": "covers_goals", "covered": len(covered), "goals": len(goals), "topics": covered,
                        "mentee": name})  # fmt: skip
        else:
            out.append({"code": "covers_no_goals", "goals": len(goals), "mentee": name})
    shared = sorted(spoken(mentee) & spoken(mentor))
    if shared:
        out.append({"code": "shared_languages", "languages": shared})
    if m.has_availability[i, j]:
        minutes = int(m.overlap_minutes[i, j])
        out.append({"code": "weekly_overlap", "minutes": minutes} if minutes else {"code": "no_common_slot"})
    else:
        out.append({"code": "availability_unknown"})
    if mentee.department != mentor.department:
        out.append(
            {"code": "different_departments", "mentee_department": mentee.department,
             "mentor_department": mentor.department}
        )  # fmt: skip
    else:
        out.append({"code": "same_department", "department": mentee.department})
    gap = mentee.grade - mentor.grade
    out.append({"code": "grade_gap", "gap": gap} if gap > 0 else {"code": "no_seniority_gap"})
    return out


def _reason_text(r: Reason) -> str:
    code = r["code"]
    if code == "covers_goals":
        topics = ", ".join(topic_label(t) for t in r["topics"])
        if r["goals"] == 1:
            return f"covers {r['mentee']}'s goal: {topics}"
        return f"covers {r['covered']} of {r['mentee']}'s {r['goals']} goals: {topics}"
    if code == "covers_no_goals":
        return f"covers none of {r['mentee']}'s goals"
    if code == "shared_languages":
        return "both speak " + " and ".join(language_name(x) for x in r["languages"])
    if code == "weekly_overlap":
        return f"{_hours(float(r['minutes']))} weekly overlap"
    if code == "no_common_slot":
        return "no common time slot yet"
    if code == "availability_unknown":
        return "availability not given"
    if code == "different_departments":
        return f"different departments ({r['mentee_department']} / {r['mentor_department']})"
    if code == "same_department":
        return f"same department ({r['department']})"
    if code == "grade_gap":
        return f"grade gap {r['gap']}"
    if code == "no_seniority_gap":
        return "no seniority gap"
    raise ValueError(f"unknown rationale reason code {code!r}")


def rationale_text(found: Sequence[Reason]) -> str:
    """The reasons as one English sentence (the `rationale` string readers before `reasons` show)."""
    if not found:
        return ""
    text = "; ".join(_reason_text(r) for r in found)
    return text[0].upper() + text[1:] + "."


def rationale(m: Matrices, i: int, j: int) -> str:
    return rationale_text(reasons(m, i, j))


def _components(m: Matrices, i: int, j: int) -> dict[str, float]:
    out = {name: float(arr[i, j]) for name, arr in m.components.items()}
    out["overlap_minutes"] = float(m.overlap_minutes[i, j])
    return out


def violations(m: Matrices, i: int, j: int, policy: Policy) -> list[str]:
    out = []
    if not m.language[i, j]:
        out.append("they share no language")
    if m.reporting[i, j]:
        out.append(f"one is within {policy.reporting_line_levels} management level(s) of the other")
    if m.never[i, j]:
        out.append("HR put them on the never-pair list")
    return out


def explain_pair(mentor: Person, mentee: Person, policy: Policy, org_chart: Mapping[str, str]) -> PairExplanation:
    """Score, hard-rule violations and rationale of one pair, e.g. one HR makes by hand."""
    m = build_matrices([mentor], [mentee], policy, org_chart)
    warnings = []
    score = float(m.score[0, 0])
    if score < max(policy.min_score, 40.0):
        warnings.append(f"low compatibility score {score:.1f} of 100")
    if m.has_availability[0, 0] and m.overlap_minutes[0, 0] < policy.min_overlap_minutes:
        warnings.append(f"only {_hours(float(m.overlap_minutes[0, 0]))} weekly overlap")
    found = reasons(m, 0, 0)
    return PairExplanation(
        score, _components(m, 0, 0), violations(m, 0, 0, policy), warnings, rationale_text(found), found
    )


@dataclass(frozen=True)
class RuleConflict:
    """A hard rule a pair breaks that a directory change can bring about."""

    rule: Literal["reporting_line", "shared_language"]
    detail: str
    chain: tuple[str, ...] = ()


def hard_rule_conflict(
    mentor: Person, mentee: Person, policy: Policy, org_chart: Mapping[str, str]
) -> RuleConflict | None:
    """The first directory-dependent hard rule the pair breaks, or None. Cheap: no score is computed, so a
    reorganisation can re-check thousands of live pairs at once."""
    if not spoken(mentor) & spoken(mentee):
        return RuleConflict(
            "shared_language", f"{mentor.display_name} and {mentee.display_name} no longer share a language"
        )
    if policy.reporting_line_levels > 0:
        chain = reporting_chain(mentor.employee_id, mentee.employee_id, org_chart, policy.reporting_line_levels)
        if chain is not None:
            lower, higher = (mentor, mentee) if chain[0] == mentor.employee_id else (mentee, mentor)
            levels = len(chain) - 1
            return RuleConflict(
                "reporting_line",
                f"{lower.display_name} reports to {higher.display_name} within {levels} management "
                f"level{'s' if levels != 1 else ''} (the programme allows none within "
                f"{policy.reporting_line_levels})",
                tuple(chain),
            )
    return None


# --- solving ---------------------------------------------------------------------------------------


def _seats(mentors: Sequence[Person], used: Mapping[str, int]) -> npt.NDArray[np.intp]:
    seats: list[int] = []
    for j, p in enumerate(mentors):
        seats.extend([j] * max(0, p.capacity - used.get(p.participant_id, 0)))
    return np.array(seats, dtype=np.intp)


def solve(m: Matrices, policy: Policy, used: Mapping[str, int] | None = None) -> list[tuple[int, int]]:
    """Globally optimal (mentee row, mentor column) pairs for the matrices, honouring capacity."""
    used = used or {}
    seats = _seats(m.mentors, used)
    if len(seats) == 0 or not m.mentees:
        return []
    feasible = m.feasible[:, seats]
    gain = m.score[:, seats]
    if policy.objective == "max_matched":
        gain = gain + 10.0 * 100.0 * (len(m.mentees) + 1)
    cost = np.where(feasible, -gain, 0.0)
    rows, cols = linear_sum_assignment(cost)
    return sorted((int(r), int(seats[c])) for r, c in zip(rows, cols, strict=True) if feasible[r, c])


def greedy(m: Matrices, used: Mapping[str, int] | None = None) -> list[tuple[int, int]]:
    """The baseline: take the best remaining feasible pair until none is left."""
    used = used or {}
    capacity = np.array([max(0, p.capacity - used.get(p.participant_id, 0)) for p in m.mentors])
    masked = np.where(m.feasible, m.score, -1.0)
    flat = np.argsort(-masked, axis=None, kind="stable")
    taken = np.zeros(len(m.mentees), dtype=bool)
    n_m = len(m.mentors)
    out = []
    remaining_mentees, remaining_seats = len(m.mentees), int(capacity.sum())
    for k in flat:
        if remaining_mentees == 0 or remaining_seats == 0:
            break
        i, j = divmod(int(k), n_m)
        if masked[i, j] < 0:
            break
        if taken[i] or capacity[j] == 0:
            continue
        taken[i] = True
        capacity[j] -= 1
        remaining_mentees -= 1
        remaining_seats -= 1
        out.append((i, j))
    return sorted(out)


def total_score(m: Matrices, pairs: Iterable[tuple[int, int]]) -> float:
    return round(float(sum(m.score[i, j] for i, j in pairs)), 1)


def _unmatched_mentee(m: Matrices, i: int, policy: Policy) -> Unmatched:
    p = m.mentees[i]
    if not m.mentors:
        return Unmatched(p.participant_id, "mentee", "no_mentors", "no mentors are enrolled")
    lang = m.language[i]
    if not lang.any():
        code, reason = (
            "no_shared_language",
            "no mentor speaks " + " or ".join(language_name(x) for x in sorted(spoken(p))),
        )
    elif not (lang & ~m.reporting[i]).any():
        code, reason = (
            "reporting_line",
            (f"every mentor who shares a language is within {policy.reporting_line_levels} management level(s)"),
        )
    elif not (lang & ~m.reporting[i] & ~m.never[i]).any():
        code, reason = "never_pair", "the only compatible mentors are on HR's never-pair list"
    elif not m.feasible[i].any():
        code, reason = "no_compatible_candidate", "no mentor reaches the programme's minimum score or overlap"
    else:
        n = int(m.feasible[i].sum())
        code, reason = (
            "capacity_exhausted",
            (f"all {n} compatible mentor(s) are taken by pairs that give the programme a better overall result"),
        )
    return Unmatched(p.participant_id, "mentee", code, reason)


def _idle_mentor(m: Matrices, j: int, free: int) -> Unmatched:
    p = m.mentors[j]
    if not m.mentees:
        return Unmatched(p.participant_id, "mentor", "no_mentees", "no mentees are enrolled")
    if not m.feasible[:, j].any():
        if not m.language[:, j].any():
            return Unmatched(p.participant_id, "mentor", "no_shared_language", "no unpaired mentee shares a language")
        return Unmatched(p.participant_id, "mentor", "no_compatible_candidate", "no unpaired mentee is compatible")
    return Unmatched(
        p.participant_id,
        "mentor",
        "no_mentee_needed",
        f"{free} seat(s) free: every compatible mentee is better served by another mentor",
    )


def match(
    mentors: Sequence[Person],
    mentees: Sequence[Person],
    policy: Policy,
    org_chart: Mapping[str, str],
    *,
    used_capacity: Mapping[str, int] | None = None,
) -> MatchResult:
    """The optimal proposals for the people given, with a rationale for each and a reason for everyone
    left unmatched. `used_capacity` counts mentees a mentor already has (from live pairs).

    People are ordered by employee id before solving, so that equal scores are broken the same way for
    the same people: identical cohorts give identical pairs, whatever their participant ids."""
    mentors = sorted(mentors, key=lambda p: (p.employee_id, p.participant_id))
    mentees = sorted(mentees, key=lambda p: (p.employee_id, p.participant_id))
    used = dict(used_capacity or {})
    m = build_matrices(mentors, mentees, policy, org_chart)
    mentor_pos = {p.participant_id: j for j, p in enumerate(mentors)}
    mentee_pos = {p.participant_id: i for i, p in enumerate(mentees)}

    forced: list[tuple[int, int]] = []
    conflicts: list[str] = []
    for mentor_id, mentee_id in policy.must_pair:
        if mentor_id not in mentor_pos or mentee_id not in mentee_pos:
            conflicts.append(f"must-pair {mentor_id} / {mentee_id}: not both available for matching")
            continue
        i, j = mentee_pos[mentee_id], mentor_pos[mentor_id]
        broken = violations(m, i, j, policy)
        if broken:
            conflicts.append(f"must-pair {mentor_id} / {mentee_id} not honoured: {'; '.join(broken)}")
            continue
        if any(fi == i for fi, _ in forced):
            conflicts.append(f"must-pair {mentor_id} / {mentee_id}: the mentee is already in another must-pair")
            continue
        if used.get(mentor_id, 0) >= mentors[j].capacity:
            conflicts.append(f"must-pair {mentor_id} / {mentee_id}: the mentor has no free seat")
            continue
        forced.append((i, j))
        used[mentor_id] = used.get(mentor_id, 0) + 1

    free_rows = [i for i in range(len(mentees)) if all(fi != i for fi, _ in forced)]
    sub = Matrices(
        mentees=[mentees[i] for i in free_rows],
        mentors=mentors,
        score=m.score[free_rows],
        components={k: v[free_rows] for k, v in m.components.items()},
        overlap_minutes=m.overlap_minutes[free_rows],
        has_availability=m.has_availability[free_rows],
        language=m.language[free_rows],
        reporting=m.reporting[free_rows],
        never=m.never[free_rows],
        threshold=m.threshold[free_rows],
    )
    solved = [(free_rows[r], c) for r, c in solve(sub, policy, used)]

    proposals = [
        Proposal(
            mentors[j].participant_id,
            mentees[i].participant_id,
            float(m.score[i, j]),
            _components(m, i, j),
            rationale(m, i, j),
            forced=(i, j) in forced,
            reasons=reasons(m, i, j),
        )
        for i, j in sorted(forced + solved, key=lambda p: (mentors[p[1]].employee_id, mentees[p[0]].employee_id))
    ]
    matched_rows = {i for i, _ in forced + solved}
    seats_taken: dict[int, int] = {}
    for _, j in forced + solved:
        seats_taken[j] = seats_taken.get(j, 0) + 1
    unmatched = [_unmatched_mentee(m, i, policy) for i in range(len(mentees)) if i not in matched_rows]
    for j, p in enumerate(mentors):
        free = p.capacity - (used_capacity or {}).get(p.participant_id, 0) - seats_taken.get(j, 0)
        if free > 0:
            unmatched.append(_idle_mentor(m, j, free))
    return MatchResult(
        proposals=proposals,
        unmatched=unmatched,
        conflicts=conflicts,
        policy=policy.to_dict(),
        algorithm_version=ALGORITHM_VERSION,
        objective=policy.objective,
        total_score=total_score(m, forced + solved),
    )
