"""Programme outcome figures: a pure, deterministic function of facts. No I/O, no clock.

`compute_outcomes(facts, now=...)` turns simple records (pairs with their active intervals, sessions
held, goals achieved, feedback answers, confidence ratings) into the figures HR sees:

* per ISO week (Monday 00:00 UTC to the next Monday): pairs active, sessions held, minutes, goals
  achieved. Weeks run from the first fact to the last one (an open active interval lasts until
  `now`); quiet weeks in between are listed with zeros.
* at-risk pairs: active at `now`, and no session held for more than 2 × cadence_days. The clock
  starts at the pair's last held session, or at its creation when it has none. Refinement: if the
  pair was paused and resumed since, the clock starts no earlier than the resumption (the start of
  its current active interval), so a pair is not flagged for the time it was allowed to rest. For a
  pair that was never paused this is exactly "since its last session or since pair creation".
* outcome figures from feedback, compared with reference figures (IWG research 2026):
  mentees reporting a productivity gain, mentees reporting a new business opportunity, the median
  minutes mentees save per day, mentors reporting higher team productivity, mentors expecting a
  career benefit; and the mean change in the mentees' AI confidence (end minus start).
* goals achieved per AI topic.

Choices:

* "As of now": facts dated after `now` are left out (pairs created later, sessions, goals, feedback
  and ratings after it), so the same facts give the figures as they stood on any past day.
* Latest answer per person and question: each person counts once per question, with their latest
  answer (by time, then feedback id) that is not empty. One enthusiastic mentee answering "yes"
  after every session still counts once; someone who changed their mind counts with their current
  view; a later feedback that skips the question does not erase an earlier answer.
* Small groups: a figure computed from fewer than `min_group_size` (default 5) distinct people is
  not shown. Its `value` is None, `reason` is "not enough answers", and `n` says how many answered,
  so the dashboard explains the gap instead of showing a figure that points at individuals. The
  programme's own `min_group_size` (ProgramLaunched; 5 when an older event does not say) is a floor: a
  caller may ask for a larger group, never a smaller one (`group_floor`).
* Confidence change per mentee: the mean of (end - start) over the topics rated in both phases
  (latest rating per phase); mentees without both phases, or without a common topic, do not count.
  The programme figure is the mean over mentees, under the same small-group rule.
* Only people in the role a question is for count (mentee questions: mentees; mentor questions: mentors).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from statistics import mean, median
from types import MappingProxyType
from typing import Any, Literal

from services.sessions.domain.commands import Phase
from services.sessions.domain.errors import InvalidInput
from services.sessions.domain.model import PairEvent, PairView, evolve_pair
from shared.events.common import Role
from shared.events.pairing import PairCreated
from shared.events.sessions import ConfidenceRated, FeedbackSubmitted, GoalSet, SessionLogged

MIN_GROUP_SIZE = 5
NOT_ENOUGH_ANSWERS = "not enough answers"

# --------------------------------------------------------------------------------------------------
# Reference figures

FigureKind = Literal["share", "median", "mean"]


@dataclass(frozen=True)
class ReferenceFigure:
    """A published figure the dashboard draws as a reference line next to the programme's own."""

    key: str
    value: float
    unit: Literal["share", "minutes_per_day"]
    text: str
    source: str


REFERENCE_SOURCE = "IWG research 2026"

REFERENCE_FIGURES: Mapping[str, ReferenceFigure] = MappingProxyType(
    {
        ref.key: ref
        for ref in (
            ReferenceFigure(
                "mentee_productivity_gain",
                0.77,
                "share",
                "77% of directors report higher productivity through reverse mentoring",
                REFERENCE_SOURCE,
            ),
            ReferenceFigure(
                "mentee_new_business_opportunity",
                0.80,
                "share",
                "80% of directors report that reverse mentoring opened new business opportunities",
                REFERENCE_SOURCE,
            ),
            ReferenceFigure(
                "mentee_minutes_saved_per_day",
                60.0,
                "minutes_per_day",
                "Directors save about one hour per day with what they learnt",
                REFERENCE_SOURCE,
            ),
            ReferenceFigure(
                "mentor_team_productivity_gain",
                0.72,
                "share",
                "72% of young mentors report higher productivity in their team",
                REFERENCE_SOURCE,
            ),
            ReferenceFigure(
                "mentor_career_benefit",
                0.79,
                "share",
                "79% of Gen-Z mentors expect a benefit for their career",
                REFERENCE_SOURCE,
            ),
        )
    }
)

# --------------------------------------------------------------------------------------------------
# Facts (input)


def _aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{name} must carry a time zone (got {value.isoformat()})", field=name)


@dataclass(frozen=True)
class ActiveInterval:
    """A stretch of time in which a pair was active: [start, end); `end=None` means still active."""

    start: datetime
    end: datetime | None = None

    def __post_init__(self) -> None:
        _aware("start", self.start)
        if self.end is not None:
            _aware("end", self.end)
            if self.end < self.start:
                raise InvalidInput(f"interval ends ({self.end}) before it starts ({self.start})", field="end")


@dataclass(frozen=True)
class PairFact:
    pair_id: str
    programme_id: str
    mentor_id: str
    mentee_id: str
    created_at: datetime
    active: tuple[ActiveInterval, ...]

    def __post_init__(self) -> None:
        _aware("created_at", self.created_at)

    @classmethod
    def from_events(
        cls, created: PairCreated, created_at: datetime, changes: Iterable[tuple[datetime, PairEvent]] = ()
    ) -> PairFact:
        """A pair from its PairCreated and its later state changes, each with its time (oldest first)."""
        return cls(
            created.pair_id,
            created.programme_id,
            created.mentor_id,
            created.mentee_id,
            created_at,
            active_intervals(created_at, changes),
        )


def active_intervals(created_at: datetime, changes: Iterable[tuple[datetime, PairEvent]]) -> tuple[ActiveInterval, ...]:
    """Active intervals from a pair's creation and its pause/resume/end events (oldest first), the pair's
    state following the one pair state machine of this service (`evolve_pair`: ended is final)."""
    intervals: list[ActiveInterval] = []
    pair: PairView | None = PairView("", "", "", "", "active", created_at, created_at)
    open_since: datetime | None = created_at
    for at, event in changes:
        pair = evolve_pair(pair, event, at)
        active = pair is not None and pair.is_active
        if open_since is not None and not active:
            intervals.append(ActiveInterval(open_since, at))
            open_since = None
        elif open_since is None and active:
            open_since = at
    if open_since is not None:
        intervals.append(ActiveInterval(open_since))
    return tuple(intervals)


@dataclass(frozen=True)
class HeldSession:
    session_id: str
    pair_id: str
    programme_id: str
    held_at: datetime
    minutes: int

    def __post_init__(self) -> None:
        _aware("held_at", self.held_at)

    @classmethod
    def from_event(cls, event: SessionLogged) -> HeldSession:
        return cls(event.session_id, event.pair_id, event.programme_id, event.held_at, event.minutes)


@dataclass(frozen=True)
class AchievedGoal:
    goal_id: str
    pair_id: str
    programme_id: str
    topic: str
    achieved_at: datetime

    def __post_init__(self) -> None:
        _aware("achieved_at", self.achieved_at)

    @classmethod
    def from_event(cls, goal: GoalSet, achieved_at: datetime) -> AchievedGoal:
        """From the goal's GoalSet (which names the topic) and the time of its GoalAchieved."""
        return cls(goal.goal_id, goal.pair_id, goal.programme_id, goal.topic, achieved_at)


@dataclass(frozen=True)
class FeedbackAnswers:
    """The answers of one feedback; None = not answered. (Ratings and comments are not needed here.)"""

    feedback_id: str
    pair_id: str
    programme_id: str
    author_id: str
    author_role: Role
    submitted_at: datetime
    productivity_gain: bool | None = None
    minutes_saved_per_day: int | None = None
    new_business_opportunity: bool | None = None
    team_productivity_gain: bool | None = None
    career_benefit: bool | None = None

    def __post_init__(self) -> None:
        _aware("submitted_at", self.submitted_at)

    @classmethod
    def from_event(cls, event: FeedbackSubmitted, submitted_at: datetime) -> FeedbackAnswers:
        return cls(
            event.feedback_id,
            event.pair_id,
            event.programme_id,
            event.author_id,
            event.author_role,
            submitted_at,
            productivity_gain=event.productivity_gain,
            minutes_saved_per_day=event.minutes_saved_per_day,
            new_business_opportunity=event.new_business_opportunity,
            team_productivity_gain=event.team_productivity_gain,
            career_benefit=event.career_benefit,
        )


@dataclass(frozen=True)
class ConfidenceCheck:
    pair_id: str
    programme_id: str
    participant_id: str
    phase: Phase
    ratings: Mapping[str, int]
    rated_at: datetime

    def __post_init__(self) -> None:
        _aware("rated_at", self.rated_at)

    @classmethod
    def from_event(cls, event: ConfidenceRated, rated_at: datetime) -> ConfidenceCheck:
        return cls(event.pair_id, event.programme_id, event.participant_id, event.phase, dict(event.ratings), rated_at)


@dataclass(frozen=True)
class ProgrammeFacts:
    """Everything known about one programme. Records of other programmes are ignored."""

    programme_id: str
    cadence_days: int
    pairs: Sequence[PairFact] = ()
    sessions: Sequence[HeldSession] = ()
    goals: Sequence[AchievedGoal] = ()
    feedback: Sequence[FeedbackAnswers] = ()
    confidence: Sequence[ConfidenceCheck] = ()

    def __post_init__(self) -> None:
        if self.cadence_days < 1:
            raise InvalidInput(f"cadence_days must be at least 1 (got {self.cadence_days})", field="cadence_days")


# --------------------------------------------------------------------------------------------------
# Figures (output)


@dataclass(frozen=True)
class Figure:
    """One outcome figure. `value` is None when fewer than `min_group_size` people answered (see `reason`)."""

    key: str
    label: str
    kind: FigureKind
    value: float | None
    n: int
    min_group_size: int
    reason: str | None
    reference: ReferenceFigure | None

    @property
    def shown(self) -> bool:
        return self.value is not None


@dataclass(frozen=True)
class WeekFigures:
    week: str  # ISO week, e.g. "2026-W10"
    week_start: date  # its Monday
    pairs_active: int
    sessions_held: int
    minutes: int
    goals_achieved: int


@dataclass(frozen=True)
class AtRiskPair:
    pair_id: str
    mentor_id: str
    mentee_id: str
    last_session_at: datetime | None
    quiet_since: datetime  # where the clock started: last session, creation, or resumption
    days_without_session: int  # whole days from quiet_since to now


@dataclass(frozen=True)
class TopicGoals:
    topic: str
    goals_achieved: int


@dataclass(frozen=True)
class Totals:
    pairs: int
    pairs_active: int
    sessions_held: int
    minutes: int
    goals_achieved: int


CSV_COLUMNS: tuple[str, ...] = ("programme_id", "as_of", "section", "key", "metric", "value", "n", "reference", "note")
CsvValue = str | int | float | None


@dataclass(frozen=True)
class ProgrammeOutcomes:
    programme_id: str
    as_of: datetime
    cadence_days: int
    min_group_size: int
    totals: Totals
    weeks: tuple[WeekFigures, ...]
    at_risk: tuple[AtRiskPair, ...]
    figures: tuple[Figure, ...]
    goals_by_topic: tuple[TopicGoals, ...]

    def figure(self, key: str) -> Figure:
        for figure in self.figures:
            if figure.key == key:
                return figure
        raise KeyError(key)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only: datetimes and dates as ISO 8601 strings, tuples as lists."""
        plain = _plain(asdict(self))
        assert isinstance(plain, dict)
        return plain

    def to_csv_rows(self, programme_name: str | None = None) -> list[dict[str, CsvValue]]:
        """One row per figure in long format, with the columns CSV_COLUMNS (for csv.DictWriter); the programme's
        name first when given. Cells are plain values: the writer neutralises text a spreadsheet would run."""
        rows: list[dict[str, CsvValue]] = []

        def row(section: str, key: str, metric: str, value: CsvValue, **extra: CsvValue) -> None:
            rows.append(
                {
                    "programme_id": self.programme_id,
                    "as_of": self.as_of.isoformat(),
                    "section": section,
                    "key": key,
                    "metric": metric,
                    "value": value,
                    "n": extra.get("n"),
                    "reference": extra.get("reference"),
                    "note": extra.get("note"),
                }
            )

        if programme_name is not None:
            row("programme", "", "name", programme_name)
        row("programme", "", "min_group_size", self.min_group_size)
        for name, number in asdict(self.totals).items():
            row("total", "", name, number)
        for week in self.weeks:
            for name in ("pairs_active", "sessions_held", "minutes", "goals_achieved"):
                row("week", week.week, name, getattr(week, name), note=week.week_start.isoformat())
        for topic in self.goals_by_topic:
            row("topic", topic.topic, "goals_achieved", topic.goals_achieved)
        for figure in self.figures:
            reference = figure.reference
            row(
                "figure",
                figure.key,
                figure.kind,
                figure.value,
                n=figure.n,
                reference=None if reference is None else reference.value,
                note=figure.reason or (None if reference is None else f"{reference.text} ({reference.source})"),
            )
        for pair in self.at_risk:
            last = pair.last_session_at.isoformat() if pair.last_session_at else "none"
            row(
                "at_risk",
                pair.pair_id,
                "days_without_session",
                pair.days_without_session,
                note=f"mentor {pair.mentor_id}, mentee {pair.mentee_id}, last session {last}",
            )
        return rows


# --------------------------------------------------------------------------------------------------
# The computation


def group_floor(programme_floor: int, asked: int | None) -> int:
    """The smallest group a figure is shown for: the programme's floor, or a larger one if the caller asks;
    never smaller (InvalidInput naming min_group_size)."""
    if asked is None:
        return programme_floor
    if asked < programme_floor:
        raise InvalidInput(
            f"min_group_size {asked} is below the programme's floor of {programme_floor}: it may be raised, "
            "never lowered",
            field="min_group_size",
            code="below_group_floor",
        )
    return asked


def compute_outcomes(
    facts: ProgrammeFacts, *, now: datetime, min_group_size: int = MIN_GROUP_SIZE
) -> ProgrammeOutcomes:
    """The outcome figures of one programme as they stood at `now` (tz-aware)."""
    _aware("now", now)
    if min_group_size < 1:
        raise InvalidInput(f"min_group_size must be at least 1 (got {min_group_size})", field="min_group_size")
    pid = facts.programme_id
    pairs = sorted((p for p in facts.pairs if p.programme_id == pid and p.created_at <= now), key=lambda p: p.pair_id)
    intervals = {p.pair_id: _clip(p.active, now) for p in pairs}
    sessions = sorted(
        (s for s in facts.sessions if s.programme_id == pid and s.held_at <= now),
        key=lambda s: (s.held_at, s.session_id),
    )
    goals = [g for g in facts.goals if g.programme_id == pid and g.achieved_at <= now]
    feedback = sorted(
        (f for f in facts.feedback if f.programme_id == pid and f.submitted_at <= now),
        key=lambda f: (f.submitted_at, f.feedback_id),
    )
    confidence = sorted(
        (c for c in facts.confidence if c.programme_id == pid and c.rated_at <= now),
        key=lambda c: (c.rated_at, c.pair_id, c.participant_id),
    )

    active_now = [p for p in pairs if _current_start(intervals[p.pair_id]) is not None]
    topic_counts = Counter(g.topic for g in goals)
    return ProgrammeOutcomes(
        programme_id=pid,
        as_of=now,
        cadence_days=facts.cadence_days,
        min_group_size=min_group_size,
        totals=Totals(
            pairs=len(pairs),
            pairs_active=len(active_now),
            sessions_held=len(sessions),
            minutes=sum(s.minutes for s in sessions),
            goals_achieved=len(goals),
        ),
        weeks=_weeks(intervals, sessions, goals, now),
        at_risk=_at_risk(active_now, intervals, sessions, facts.cadence_days, now),
        figures=_figures(feedback, confidence, min_group_size),
        goals_by_topic=tuple(TopicGoals(topic, topic_counts[topic]) for topic in sorted(topic_counts)),
    )


_Span = tuple[datetime, datetime | None]  # [start, end); None = still active at now


def _clip(active: Iterable[ActiveInterval], now: datetime) -> list[_Span]:
    spans: list[_Span] = []
    for interval in sorted(active, key=lambda i: i.start):
        if interval.start > now:
            continue
        end = interval.end if interval.end is not None and interval.end <= now else None
        spans.append((interval.start, end))
    return spans


def _current_start(spans: Sequence[_Span]) -> datetime | None:
    """Start of the span the pair is active in at now, or None when it is not active."""
    for start, end in spans:
        if end is None:
            return start
    return None


def _monday(moment: datetime | date) -> date:
    day = moment.astimezone(UTC).date() if isinstance(moment, datetime) else moment
    return day - timedelta(days=day.weekday())


def _iso_week(monday: date) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def _weeks(
    intervals: Mapping[str, Sequence[_Span]],
    sessions: Sequence[HeldSession],
    goals: Sequence[AchievedGoal],
    now: datetime,
) -> tuple[WeekFigures, ...]:
    moments: list[datetime] = [s.held_at for s in sessions] + [g.achieved_at for g in goals]
    for spans in intervals.values():
        for start, end in spans:
            moments += [start, now if end is None else end]
    if not moments:
        return ()
    first, last = _monday(min(moments)), _monday(max(moments))
    session_weeks: Counter[date] = Counter()
    minute_weeks: Counter[date] = Counter()
    for s in sessions:
        session_weeks[_monday(s.held_at)] += 1
        minute_weeks[_monday(s.held_at)] += s.minutes
    goal_weeks = Counter(_monday(g.achieved_at) for g in goals)
    weeks: list[WeekFigures] = []
    monday = first
    while monday <= last:
        week_start = datetime(monday.year, monday.month, monday.day, tzinfo=UTC)
        week_end = week_start + timedelta(days=7)
        active = sum(
            1
            for spans in intervals.values()
            if any(start < week_end and (end is None or end > week_start) for start, end in spans)
        )
        weeks.append(
            WeekFigures(
                week=_iso_week(monday),
                week_start=monday,
                pairs_active=active,
                sessions_held=session_weeks[monday],
                minutes=minute_weeks[monday],
                goals_achieved=goal_weeks[monday],
            )
        )
        monday += timedelta(days=7)
    return tuple(weeks)


def _at_risk(
    active_now: Sequence[PairFact],
    intervals: Mapping[str, Sequence[_Span]],
    sessions: Sequence[HeldSession],
    cadence_days: int,
    now: datetime,
) -> tuple[AtRiskPair, ...]:
    limit = timedelta(days=2 * cadence_days)
    last_held: dict[str, datetime] = {}
    for s in sessions:  # sorted by held_at: the last one wins
        last_held[s.pair_id] = s.held_at
    flagged: list[AtRiskPair] = []
    for pair in active_now:
        current = _current_start(intervals[pair.pair_id])
        assert current is not None
        last = last_held.get(pair.pair_id)
        quiet_since = current if last is None else max(last, current)
        if now - quiet_since > limit:
            flagged.append(
                AtRiskPair(pair.pair_id, pair.mentor_id, pair.mentee_id, last, quiet_since, (now - quiet_since).days)
            )
    return tuple(sorted(flagged, key=lambda p: (p.quiet_since, p.pair_id)))


_FIGURES: tuple[tuple[str, str, FigureKind, Role, str], ...] = (
    ("mentee_productivity_gain", "Mentees reporting a productivity gain", "share", "mentee", "productivity_gain"),
    (
        "mentee_new_business_opportunity",
        "Mentees reporting a new business opportunity",
        "share",
        "mentee",
        "new_business_opportunity",
    ),
    (
        "mentee_minutes_saved_per_day",
        "Median minutes mentees save per day",
        "median",
        "mentee",
        "minutes_saved_per_day",
    ),
    (
        "mentor_team_productivity_gain",
        "Mentors reporting higher team productivity",
        "share",
        "mentor",
        "team_productivity_gain",
    ),
    ("mentor_career_benefit", "Mentors expecting a career benefit", "share", "mentor", "career_benefit"),
)
CONFIDENCE_FIGURE = "mentee_confidence_change"


def _latest_answers(feedback: Sequence[FeedbackAnswers], role: Role, question: str) -> dict[str, bool | int]:
    """Each author's latest non-empty answer to one question (feedback is sorted oldest first)."""
    latest: dict[str, bool | int] = {}
    for f in feedback:
        answer = getattr(f, question)
        if f.author_role == role and answer is not None:
            latest[f.author_id] = answer
    return latest


def _figure(key: str, label: str, kind: FigureKind, values: Sequence[float], min_group_size: int) -> Figure:
    n = len(values)
    value: float | None = None
    reason: str | None = NOT_ENOUGH_ANSWERS
    if n >= min_group_size:
        reason = None
        if kind == "share":
            value = sum(1 for v in values if v) / n
        elif kind == "median":
            value = float(median(values))
        else:
            value = float(mean(values))
    return Figure(key, label, kind, value, n, min_group_size, reason, REFERENCE_FIGURES.get(key))


def _confidence_changes(confidence: Sequence[ConfidenceCheck]) -> list[float]:
    latest: dict[tuple[str, Phase], Mapping[str, int]] = {}
    for check in confidence:  # sorted oldest first: the last one wins
        latest[(check.participant_id, check.phase)] = check.ratings
    changes: list[float] = []
    for participant in sorted({participant for participant, _ in latest}):
        start, end = latest.get((participant, "start")), latest.get((participant, "end"))
        if start is None or end is None:
            continue
        common = sorted(set(start) & set(end))
        if common:
            changes.append(mean(end[topic] - start[topic] for topic in common))
    return changes


def _figures(
    feedback: Sequence[FeedbackAnswers], confidence: Sequence[ConfidenceCheck], min_group_size: int
) -> tuple[Figure, ...]:
    figures = [
        _figure(key, label, kind, list(_latest_answers(feedback, role, question).values()), min_group_size)
        for key, label, kind, role, question in _FIGURES
    ]
    figures.append(
        _figure(
            CONFIDENCE_FIGURE,
            "Mean change in mentees' AI confidence (end minus start, scale 1-5)",
            "mean",
            _confidence_changes(confidence),
            min_group_size,
        )
    )
    return tuple(figures)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


__all__ = [
    "CONFIDENCE_FIGURE",
    "CSV_COLUMNS",
    "MIN_GROUP_SIZE",
    "NOT_ENOUGH_ANSWERS",
    "REFERENCE_FIGURES",
    "REFERENCE_SOURCE",
    "AchievedGoal",
    "ActiveInterval",
    "AtRiskPair",
    "ConfidenceCheck",
    "FeedbackAnswers",
    "Figure",
    "HeldSession",
    "PairFact",
    "ProgrammeFacts",
    "ProgrammeOutcomes",
    "TopicGoals",
    "Totals",
    "WeekFigures",
    "active_intervals",
    "compute_outcomes",
    "group_floor",
]
