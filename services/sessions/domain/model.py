"""The sessions domain: one `Mentorship` aggregate per pair. Pure: no I/O, no clock, no database.

A pair (mentor = the younger, AI-fluent employee; mentee = the senior leader) agrees how it works,
sets goals per AI topic, rates the mentee's AI confidence at the start and at the end, schedules and
holds sessions and gives feedback. Everything about one pair is decided by its `Mentorship`: the
rules cross these parts (no session before the agreement, no feedback on a session that was not
held), and the events of one pair are keyed by its pair id, so the pair is the consistency boundary.

Commands come in (`commands.py`), events go out (the payload models of `shared.events.sessions`).
Every command method validates, builds its event, applies it to the aggregate and returns it; the
event is also appended to `Mentorship.events` for a unit of work to publish. State changes only by
applying events, so `Mentorship.from_history` rebuilds an aggregate from what it published. How an event
changes a pair's state is `evolve` (a pure function of a `MentorshipState` and an event), the one fold of
a pair's history: the aggregate, the read model (per event and in bulk) and the audit all use it.

Which pair state allows what:

* active only: confirm the agreement, set a goal, rate confidence at the "start", schedule,
  reschedule and log a session. These plan or do mentoring, which a paused or ended pair does not.
* any state: achieve a goal, rate confidence at the "end", give feedback, cancel a session. These
  look back or clean up, and often happen just as or after a pair ends (e.g. programme-end feedback
  from a pair that ended "completed", or cancelling the open sessions of a pair that was paused).
* ended only: call off the sessions still to come (`cancel_after_end`), each by the cancel rule.

The agreement: each side confirms it once (meeting rhythm, confidentiality, learning focus). Both
must have confirmed before the first session can be scheduled; a confirmation cannot be withdrawn,
so "before the first session" and "before any session" are the same rule. Logging needs a
scheduled session, so nothing is held before the agreement either.

Scheduling in the past is allowed on purpose: a session held ad hoc is recorded by scheduling and
then logging it. A session is logged only once it has started (`now >= starts_at`), with a `held_at`
between its start and now.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any, Generic, Literal, TypeVar

from pydantic import TypeAdapter, ValidationError

from services.sessions.domain import errors
from services.sessions.domain.commands import (
    AchieveGoal,
    CancelSession,
    Command,
    ConfirmAgreement,
    LogSession,
    Phase,
    RateConfidence,
    RescheduleSession,
    ScheduleSession,
    SetGoal,
    SubmitFeedback,
)
from services.sessions.domain.errors import Conflict, InvalidInput, NotFound
from shared.events.base import EventPayload
from shared.events.common import PairEndReason, Role, Topic
from shared.events.pairing import PairCreated, PairEnded, PairPaused, PairResumed
from shared.events.sessions import (
    AgreementConfirmed,
    ConfidenceRated,
    FeedbackSubmitted,
    GoalAchieved,
    GoalSet,
    SessionCancelled,
    SessionLogged,
    SessionRescheduled,
    SessionScheduled,
)

PairState = Literal["active", "paused", "ended"]
SessionStatus = Literal["scheduled", "held", "cancelled"]

SessionsEvent = (
    AgreementConfirmed
    | GoalSet
    | GoalAchieved
    | ConfidenceRated
    | SessionScheduled
    | SessionRescheduled
    | SessionCancelled
    | SessionLogged
    | FeedbackSubmitted
)
PairEvent = PairPaused | PairResumed | PairEnded

MIN_DURATION_MINUTES = 5
MAX_DURATION_MINUTES = 480
MIN_HELD_MINUTES = 1
MAX_HELD_MINUTES = 600
MIN_RATING = 1
MAX_RATING = 5
MAX_MINUTES_SAVED_PER_DAY = 480

MENTEE_QUESTIONS: tuple[str, ...] = (
    "productivity_gain",
    "minutes_saved_per_day",
    "new_business_opportunity",
    "opportunity_text",
)
MENTOR_QUESTIONS: tuple[str, ...] = ("team_productivity_gain", "career_benefit")

_TOPIC: TypeAdapter[str] = TypeAdapter(Topic)
_E = TypeVar("_E", bound=EventPayload)
_S = TypeVar("_S", bound=SessionsEvent)
_R = TypeVar("_R", AgreementConfirmed, ConfidenceRated, FeedbackSubmitted)


# --------------------------------------------------------------------------------------------------
# The pair as this service sees it


@dataclass(frozen=True)
class PairView:
    """A pair, projected from the pairing service's events. Only an active pair plans or holds sessions.

    `created_at` is when the pair began (see `began`), `updated_at` when its state last changed; both are
    the events' times, unknown (None) where a pair is made without them."""

    pair_id: str
    programme_id: str
    mentor_id: str
    mentee_id: str
    state: PairState = "active"
    created_at: datetime | None = None
    updated_at: datetime | None = None
    #: Why the two were paired (PairCreated.rationale, English; the pages render it through reasons.js) ...
    rationale: str = ""
    #: ... and the same as reasons with stable codes (PairCreated.reasons), which the pages word in the reader's
    #: language; empty for pairs from before them.
    reasons: tuple[dict[str, Any], ...] = ()

    @classmethod
    def from_created(cls, event: PairCreated, at: datetime | None = None) -> PairView:
        start = began(event, at)
        reasons = tuple(r.model_dump(mode="json") for r in event.reasons)
        return cls(
            event.pair_id,
            event.programme_id,
            event.mentor_id,
            event.mentee_id,
            "active",
            start,
            start,
            event.rationale,
            reasons,
        )

    def apply(self, event: PairEvent, at: datetime | None = None) -> PairView:
        """The pair after a pairing event. Ended is final: later events leave an ended pair ended."""
        if event.pair_id != self.pair_id:
            raise InvalidInput(
                f"event for pair {event.pair_id} applied to pair {self.pair_id}",
                field="pair_id",
                code=errors.PAIR_MISMATCH,
            )
        after = evolve_pair(self, event, at)
        assert after is not None  # a known pair stays known
        return after

    @property
    def is_active(self) -> bool:
        return self.state == "active"

    def role_of(self, participant_id: str) -> Role | None:
        if participant_id == self.mentor_id:
            return "mentor"
        if participant_id == self.mentee_id:
            return "mentee"
        return None


def began(event: PairCreated, at: datetime | None) -> datetime | None:
    """When the pair began (`PairCreated.began`: the day it says it started on, else when it was created,
    `at`); None when neither is known."""
    if at is not None:
        return event.began(at)
    return None if event.started_on is None else datetime.combine(event.started_on, time(9, 0), tzinfo=UTC)


# --------------------------------------------------------------------------------------------------
# Entities inside the aggregate


@dataclass(frozen=True)
class Goal:
    goal_id: str
    topic: str
    description: str
    achieved: bool = False
    pair_id: str = ""
    programme_id: str = ""
    set_at: datetime | None = None
    achieved_at: datetime | None = None


@dataclass(frozen=True)
class Session:
    """One session of a pair, in its latest version. `sequence` is its iCalendar SEQUENCE."""

    session_id: str
    pair_id: str
    programme_id: str
    starts_at: datetime
    duration_minutes: int
    agenda: str = ""
    sequence: int = 0
    status: SessionStatus = "scheduled"
    cancel_reason: str = ""
    held_at: datetime | None = None
    minutes: int | None = None
    topics: tuple[str, ...] = ()
    tools: tuple[str, ...] = ()
    action_items: tuple[str, ...] = ()
    updated_at: datetime | None = None

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.duration_minutes)


@dataclass(frozen=True)
class Recorded(Generic[_R]):
    """A fact recorded once and never changed (an agreement, a confidence check, a feedback) and when."""

    event: _R
    at: datetime | None = None


# --------------------------------------------------------------------------------------------------
# How a pair's state evolves: the one definition, used by the aggregate, the read model (per event and
# in bulk) and the audit. Pure, no checks of the rules (the event already happened): only what an event
# does to what is already known. An event about something unknown changes nothing; an event that would
# record a second time what is recorded once (a session id, an agreement side, a feedback id, a
# confidence phase) is refused with `Conflict` (DUPLICATE_ID), as the read model's keys refuse it.

SessionEvent = SessionScheduled | SessionRescheduled | SessionCancelled | SessionLogged
GoalEvent = GoalSet | GoalAchieved
PairLifeEvent = PairCreated | PairPaused | PairResumed | PairEnded
_PAIR_STATE: dict[type[PairEvent], PairState] = {PairPaused: "paused", PairResumed: "active", PairEnded: "ended"}


def evolve_pair(pair: PairView | None, event: PairLifeEvent, at: datetime | None) -> PairView | None:
    """A pair begins once (a second PairCreated changes nothing); a change of an unknown pair changes
    nothing; an ended pair stays ended."""
    if isinstance(event, PairCreated):
        return pair if pair is not None else PairView.from_created(event, at)
    if pair is None or pair.state == "ended":
        return pair
    return replace(pair, state=_PAIR_STATE[type(event)], updated_at=at)


def evolve_goal(goal: Goal | None, event: GoalEvent, at: datetime | None) -> Goal | None:
    """Setting a goal again restates it (topic, description, when) and keeps whether it was achieved."""
    if isinstance(event, GoalSet):
        if goal is not None:
            return replace(goal, topic=event.topic, description=event.description, set_at=at)
        return Goal(event.goal_id, event.topic, event.description, False, event.pair_id, event.programme_id, at)
    if goal is None:
        return None
    return replace(goal, achieved=True, achieved_at=at)


def evolve_session(session: Session | None, event: SessionEvent, at: datetime | None) -> Session | None:
    if isinstance(event, SessionScheduled):
        _once(session, "session", event.session_id)
        return Session(
            session_id=event.session_id,
            pair_id=event.pair_id,
            programme_id=event.programme_id,
            starts_at=event.starts_at,
            duration_minutes=event.duration_minutes,
            agenda=event.agenda,
            sequence=event.sequence,
            updated_at=at,
        )
    if session is None:
        return None
    if isinstance(event, SessionRescheduled):
        return replace(
            session,
            starts_at=event.starts_at,
            duration_minutes=event.duration_minutes,
            sequence=event.sequence,
            updated_at=at,
        )
    if isinstance(event, SessionCancelled):
        return replace(session, status="cancelled", cancel_reason=event.reason, sequence=event.sequence, updated_at=at)
    return replace(
        session,
        status="held",
        held_at=event.held_at,
        minutes=event.minutes,
        topics=tuple(event.topics),
        tools=tuple(event.tools),
        action_items=tuple(event.action_items),
        updated_at=at,
    )


def record(existing: Recorded[_R] | None, event: _R, at: datetime | None, what: str, key: str) -> Recorded[_R]:
    """Record a once-only fact; a second one under the same key is refused."""
    _once(existing, what, key)
    return Recorded(event, at)


def _once(existing: object | None, what: str, key: str) -> None:
    if existing is not None:
        raise Conflict(f"{what} {key} is already recorded", code=errors.DUPLICATE_ID)


@dataclass(frozen=True)
class MentorshipState:
    """Everything known about one pair in the sessions service, after some of its events (immutable).

    `pair` is None until the pair's PairCreated is seen: replay may read a pair's sessions events before
    its pairing events (two topics), and the state is the same whatever the interleaving of the two."""

    pair_id: str
    pair: PairView | None = None
    agreement: Mapping[Role, Recorded[AgreementConfirmed]] = field(default_factory=dict)
    goals: Mapping[str, Goal] = field(default_factory=dict)
    confidence: Mapping[Phase, Recorded[ConfidenceRated]] = field(default_factory=dict)
    sessions: Mapping[str, Session] = field(default_factory=dict)
    feedback: Mapping[str, Recorded[FeedbackSubmitted]] = field(default_factory=dict)


def evolve(state: MentorshipState, event: SessionsEvent | PairLifeEvent, at: datetime | None) -> MentorshipState:
    """The pair's state after one of its events (`at`: the event's time). The only fold of a pair's history."""
    if isinstance(event, PairCreated | PairPaused | PairResumed | PairEnded):
        return replace(state, pair=evolve_pair(state.pair, event, at))
    if isinstance(event, AgreementConfirmed):
        agreed = record(
            state.agreement.get(event.role), event, at, f"the {event.role}'s agreement of pair", state.pair_id
        )
        return replace(state, agreement={**state.agreement, event.role: agreed})
    if isinstance(event, GoalSet | GoalAchieved):
        return replace(
            state, goals=_put(state.goals, event.goal_id, evolve_goal(state.goals.get(event.goal_id), event, at))
        )
    if isinstance(event, ConfidenceRated):
        rated = record(
            state.confidence.get(event.phase), event, at, f"the {event.phase} confidence of pair", state.pair_id
        )
        return replace(state, confidence={**state.confidence, event.phase: rated})
    if isinstance(event, SessionScheduled | SessionRescheduled | SessionCancelled | SessionLogged):
        after = evolve_session(state.sessions.get(event.session_id), event, at)
        return replace(state, sessions=_put(state.sessions, event.session_id, after))
    given = record(state.feedback.get(event.feedback_id), event, at, "feedback", event.feedback_id)
    return replace(state, feedback={**state.feedback, event.feedback_id: given})


def fold(pair_id: str, history: Iterable[tuple[SessionsEvent | PairLifeEvent, datetime | None]]) -> MentorshipState:
    """A pair's state after its history (events with their times, oldest first)."""
    state = MentorshipState(pair_id)
    for event, at in history:
        state = evolve(state, event, at)
    return state


_V = TypeVar("_V")


def _put(entries: Mapping[str, _V], key: str, value: _V | None) -> Mapping[str, _V]:
    if value is None:
        return entries
    return {**entries, key: value}


# --------------------------------------------------------------------------------------------------
# The aggregate


class Mentorship:
    """Everything the sessions service decides for one pair: agreement, goals, confidence, sessions, feedback.

    `focus_topics` are the programme's AI focus topics when known (from ProgramLaunched); confidence
    ratings are then limited to them.
    """

    def __init__(self, pair: PairView, *, focus_topics: Iterable[str] | None = None) -> None:
        self.state = MentorshipState(pair.pair_id, pair)
        self.focus_topics: frozenset[str] | None = frozenset(focus_topics) if focus_topics is not None else None
        #: Events produced by commands since this object was made or loaded, oldest first.
        self.events: list[SessionsEvent] = []

    @classmethod
    def from_history(
        cls,
        pair: PairView,
        history: Iterable[SessionsEvent | PairEvent | tuple[SessionsEvent | PairEvent, datetime | None]],
        *,
        focus_topics: Iterable[str] | None = None,
    ) -> Mentorship:
        """Rebuild a pair's aggregate from its past events (in order; each alone or with its time, as read
        from the log); `events` stays empty."""
        mentorship = cls(pair, focus_topics=focus_topics)
        for item in history:
            event, at = item if isinstance(item, tuple) else (item, None)
            mentorship.apply(event, at)
        return mentorship

    # -- reading ----------------------------------------------------------------------------------

    @property
    def pair(self) -> PairView:
        assert self.state.pair is not None  # made with its pair, which stays known
        return self.state.pair

    @property
    def agreement(self) -> Mapping[Role, Recorded[AgreementConfirmed]]:
        return self.state.agreement

    @property
    def goals(self) -> Mapping[str, Goal]:
        return self.state.goals

    @property
    def confidence(self) -> Mapping[Phase, Recorded[ConfidenceRated]]:
        return self.state.confidence

    @property
    def sessions(self) -> Mapping[str, Session]:
        return self.state.sessions

    @property
    def feedback(self) -> Mapping[str, Recorded[FeedbackSubmitted]]:
        return self.state.feedback

    @property
    def pair_id(self) -> str:
        return self.pair.pair_id

    @property
    def programme_id(self) -> str:
        return self.pair.programme_id

    @property
    def agreement_complete(self) -> bool:
        return "mentor" in self.agreement and "mentee" in self.agreement

    def session(self, session_id: str) -> Session:
        try:
            return self.sessions[session_id]
        except KeyError:
            raise NotFound(
                f"pair {self.pair_id} has no session {session_id}", field="session_id", code=errors.UNKNOWN_SESSION
            ) from None

    def goal(self, goal_id: str) -> Goal:
        try:
            return self.goals[goal_id]
        except KeyError:
            raise NotFound(
                f"pair {self.pair_id} has no goal {goal_id}", field="goal_id", code=errors.UNKNOWN_GOAL
            ) from None

    # -- commands ---------------------------------------------------------------------------------

    def handle(self, command: Command, *, now: datetime) -> list[SessionsEvent]:
        """Dispatch any command to its method; returns the events to publish."""
        if isinstance(command, ConfirmAgreement):
            return [self.confirm_agreement(command)]
        if isinstance(command, SetGoal):
            return [self.set_goal(command)]
        if isinstance(command, AchieveGoal):
            return [self.achieve_goal(command)]
        if isinstance(command, RateConfidence):
            return [self.rate_confidence(command)]
        if isinstance(command, ScheduleSession):
            return [self.schedule_session(command)]
        if isinstance(command, RescheduleSession):
            return [self.reschedule_session(command)]
        if isinstance(command, CancelSession):
            return [self.cancel_session(command)]
        if isinstance(command, LogSession):
            return [self.log_session(command, now=now)]
        return [self.submit_feedback(command)]

    def confirm_agreement(self, cmd: ConfirmAgreement) -> AgreementConfirmed:
        self._check_pair(cmd.pair_id)
        self._require_active("confirm its agreement")
        role = self._role("participant_id", cmd.participant_id)
        if role in self.agreement:
            raise Conflict(
                f"the {role} {cmd.participant_id} already confirmed the agreement of pair {self.pair_id}",
                field="participant_id",
                code=errors.AGREEMENT_ALREADY_CONFIRMED,
            )
        rhythm = cmd.meeting_rhythm.strip()
        if not rhythm:
            raise InvalidInput(
                "meeting_rhythm must say how often and how long the pair meets, e.g. 'every two weeks, 45 minutes'",
                field="meeting_rhythm",
            )
        return self._record(
            _event(
                AgreementConfirmed,
                pair_id=self.pair_id,
                programme_id=self.programme_id,
                participant_id=cmd.participant_id,
                role=role,
                meeting_rhythm=rhythm,
                confidentiality=cmd.confidentiality,
                learning_focus=cmd.learning_focus.strip(),
            )
        )

    def set_goal(self, cmd: SetGoal) -> GoalSet:
        self._check_pair(cmd.pair_id)
        self._require_active("set goals")
        if cmd.goal_id in self.goals:
            raise Conflict(
                f"pair {self.pair_id} already has a goal {cmd.goal_id}", field="goal_id", code=errors.DUPLICATE_ID
            )
        topic = _topic("topic", cmd.topic)
        description = cmd.description.strip()
        if not description:
            raise InvalidInput("description of the goal must not be empty", field="description")
        return self._record(
            _event(
                GoalSet,
                pair_id=self.pair_id,
                programme_id=self.programme_id,
                goal_id=cmd.goal_id,
                topic=topic,
                description=description,
            )
        )

    def achieve_goal(self, cmd: AchieveGoal) -> GoalAchieved:
        self._check_pair(cmd.pair_id)
        goal = self.goal(cmd.goal_id)
        if goal.achieved:
            raise Conflict(
                f"goal {goal.goal_id} of pair {self.pair_id} is already achieved",
                field="goal_id",
                code=errors.GOAL_ALREADY_ACHIEVED,
            )
        return self._record(GoalAchieved(pair_id=self.pair_id, programme_id=self.programme_id, goal_id=goal.goal_id))

    def rate_confidence(self, cmd: RateConfidence) -> ConfidenceRated:
        self._check_pair(cmd.pair_id)
        if cmd.phase == "start":
            self._require_active("start its confidence check")
        role = self._role("participant_id", cmd.participant_id)
        if role != "mentee":
            raise InvalidInput(
                f"only the mentee rates their AI confidence; {cmd.participant_id} is the mentor of pair {self.pair_id}",
                field="participant_id",
                code=errors.MENTEE_ONLY,
            )
        if cmd.phase in self.confidence:
            raise Conflict(
                f"the mentee of pair {self.pair_id} already rated their AI confidence at the {cmd.phase}",
                field="phase",
                code=errors.CONFIDENCE_ALREADY_RATED,
            )
        if not cmd.ratings:
            raise InvalidInput("ratings must rate at least one AI topic", field="ratings")
        ratings: dict[str, int] = {}
        for raw_topic, rating in cmd.ratings.items():
            where = f"ratings.{raw_topic}"
            topic = _topic(where, raw_topic)
            if self.focus_topics is not None and topic not in self.focus_topics:
                raise InvalidInput(
                    f"{topic!r} is not a focus topic of programme {self.programme_id} "
                    f"(focus topics: {', '.join(sorted(self.focus_topics)) or 'none'})",
                    field=where,
                )
            _in_range(where, rating, MIN_RATING, MAX_RATING, "confidence")
            ratings[topic] = rating
        return self._record(
            _event(
                ConfidenceRated,
                pair_id=self.pair_id,
                programme_id=self.programme_id,
                participant_id=cmd.participant_id,
                phase=cmd.phase,
                ratings=ratings,
            )
        )

    def schedule_session(self, cmd: ScheduleSession) -> SessionScheduled:
        self._check_pair(cmd.pair_id)
        self._require_active("schedule sessions")
        if not self.agreement_complete:
            missing = " and ".join(role for role in ("mentor", "mentee") if role not in self.agreement)
            raise Conflict(
                f"pair {self.pair_id} cannot schedule its first session before both sides confirmed "
                f"the agreement (missing: {missing})",
                code=errors.AGREEMENT_INCOMPLETE,
            )
        if cmd.session_id in self.sessions:
            raise Conflict(
                f"pair {self.pair_id} already has a session {cmd.session_id}",
                field="session_id",
                code=errors.DUPLICATE_ID,
            )
        starts_at = _aware("starts_at", cmd.starts_at)
        _in_range("duration_minutes", cmd.duration_minutes, MIN_DURATION_MINUTES, MAX_DURATION_MINUTES, "duration")
        return self._record(
            _event(
                SessionScheduled,
                pair_id=self.pair_id,
                programme_id=self.programme_id,
                session_id=cmd.session_id,
                starts_at=starts_at,
                duration_minutes=cmd.duration_minutes,
                agenda=cmd.agenda.strip(),
                sequence=0,
            )
        )

    def reschedule_session(self, cmd: RescheduleSession) -> SessionRescheduled:
        self._check_pair(cmd.pair_id)
        session = self.session(cmd.session_id)
        self._require_active("reschedule sessions")
        self._require_open(session, "rescheduled")
        starts_at = _aware("starts_at", cmd.starts_at)
        _in_range("duration_minutes", cmd.duration_minutes, MIN_DURATION_MINUTES, MAX_DURATION_MINUTES, "duration")
        return self._record(
            _event(
                SessionRescheduled,
                pair_id=self.pair_id,
                programme_id=self.programme_id,
                session_id=session.session_id,
                starts_at=starts_at,
                duration_minutes=cmd.duration_minutes,
                sequence=session.sequence + 1,
            )
        )

    def cancel_session(self, cmd: CancelSession) -> SessionCancelled:
        self._check_pair(cmd.pair_id)
        session = self.session(cmd.session_id)
        self._require_open(session, "cancelled")
        return self._record(
            _event(
                SessionCancelled,
                pair_id=self.pair_id,
                programme_id=self.programme_id,
                session_id=session.session_id,
                reason=cmd.reason.strip(),
                sequence=session.sequence + 1,
            )
        )

    def cancel_after_end(self, ended_at: datetime, reason: str) -> list[SessionCancelled]:
        """The pair ended at `ended_at`: each of its sessions still scheduled to start after that is cancelled
        by the cancel rule, earliest first. Sessions held, cancelled already or started before the end stay as
        they are, so asking again cancels nothing. Only an ended pair calls its sessions off this way."""
        if self.pair.state != "ended":
            raise Conflict(
                f"pair {self.pair_id} is {self.pair.state}; its sessions are called off only once it has ended",
                code=errors.PAIR_NOT_ENDED,
            )
        ended_at = _aware("ended_at", ended_at)
        upcoming = sorted(
            (s for s in self.sessions.values() if s.status == "scheduled" and s.starts_at > ended_at),
            key=lambda s: (s.starts_at, s.session_id),
        )
        return [self.cancel_session(CancelSession(self.pair_id, s.session_id, reason)) for s in upcoming]

    def log_session(self, cmd: LogSession, *, now: datetime) -> SessionLogged:
        """Record that a session was held. `now` is the caller's clock (the domain has none)."""
        self._check_pair(cmd.pair_id)
        now = _aware("now", now)
        session = self.session(cmd.session_id)
        self._require_active("log sessions")
        self._require_open(session, "logged")
        if now < session.starts_at:
            raise Conflict(
                f"session {session.session_id} starts at {session.starts_at.isoformat()}; "
                "it cannot be logged before it started",
                field="session_id",
                code=errors.SESSION_NOT_STARTED,
            )
        held_at = _aware("held_at", cmd.held_at)
        if held_at < session.starts_at:
            raise InvalidInput(
                f"held_at {held_at.isoformat()} is before session {session.session_id} started "
                f"({session.starts_at.isoformat()})",
                field="held_at",
            )
        if held_at > now:
            raise InvalidInput(f"held_at {held_at.isoformat()} is in the future", field="held_at")
        _in_range("minutes", cmd.minutes, MIN_HELD_MINUTES, MAX_HELD_MINUTES, "session length")
        topics = [_topic(f"topics.{i}", topic) for i, topic in enumerate(cmd.topics)]
        return self._record(
            _event(
                SessionLogged,
                pair_id=self.pair_id,
                programme_id=self.programme_id,
                session_id=session.session_id,
                held_at=held_at,
                minutes=cmd.minutes,
                topics=_unique(topics),
                tools=_unique(tool.strip() for tool in cmd.tools if tool.strip()),
                action_items=[item.strip() for item in cmd.action_items if item.strip()],
            )
        )

    def submit_feedback(self, cmd: SubmitFeedback) -> FeedbackSubmitted:
        self._check_pair(cmd.pair_id)
        role = self._role("author_id", cmd.author_id)
        other_role_questions = MENTOR_QUESTIONS if role == "mentee" else MENTEE_QUESTIONS
        for question in other_role_questions:
            if getattr(cmd, question) is not None:
                other = "mentors" if role == "mentee" else "mentees"
                raise InvalidInput(
                    f"{question} is a question for {other}; {cmd.author_id} is the {role} of pair {self.pair_id}",
                    field=question,
                    code=errors.QUESTION_FOR_OTHER_ROLE,
                )
        _in_range("rating", cmd.rating, MIN_RATING, MAX_RATING, "rating")
        if cmd.minutes_saved_per_day is not None:
            _in_range("minutes_saved_per_day", cmd.minutes_saved_per_day, 0, MAX_MINUTES_SAVED_PER_DAY, "minutes saved")
        opportunity_text = (cmd.opportunity_text or "").strip() or None
        if cmd.new_business_opportunity is True and opportunity_text is None:
            raise InvalidInput(
                "opportunity_text must describe the new business opportunity when new_business_opportunity is yes",
                field="opportunity_text",
            )
        if cmd.new_business_opportunity is not True and opportunity_text is not None:
            raise InvalidInput(
                "opportunity_text is only asked when new_business_opportunity is yes", field="opportunity_text"
            )
        if cmd.feedback_id in self.feedback:
            raise Conflict(
                f"pair {self.pair_id} already has a feedback {cmd.feedback_id}",
                field="feedback_id",
                code=errors.DUPLICATE_ID,
            )
        about = "the programme" if cmd.session_id is None else f"session {cmd.session_id}"
        if cmd.session_id is not None:
            session = self.session(cmd.session_id)
            if session.status != "held":
                raise Conflict(
                    f"session {session.session_id} is {session.status}; feedback is only for a session that was logged",
                    field="session_id",
                    code=errors.SESSION_NOT_LOGGED,
                )
        if any(
            f.event.author_id == cmd.author_id and f.event.session_id == cmd.session_id for f in self.feedback.values()
        ):
            raise Conflict(
                f"{cmd.author_id} already gave feedback on {about}",
                field="session_id",
                code=errors.FEEDBACK_ALREADY_GIVEN,
            )
        comment = (cmd.confidential_comment or "").strip() or None
        return self._record(
            _event(
                FeedbackSubmitted,
                pair_id=self.pair_id,
                programme_id=self.programme_id,
                feedback_id=cmd.feedback_id,
                session_id=cmd.session_id,
                author_id=cmd.author_id,
                author_role=role,
                rating=cmd.rating,
                productivity_gain=cmd.productivity_gain,
                minutes_saved_per_day=cmd.minutes_saved_per_day,
                new_business_opportunity=cmd.new_business_opportunity,
                opportunity_text=opportunity_text,
                team_productivity_gain=cmd.team_productivity_gain,
                career_benefit=cmd.career_benefit,
                confidential_comment=comment,
            )
        )

    # -- applying events --------------------------------------------------------------------------

    def apply(self, event: SessionsEvent | PairEvent, at: datetime | None = None) -> None:
        """Change state by one event (no checks: the event already happened), by `evolve`."""
        if isinstance(event, PairPaused | PairResumed | PairEnded):
            self.pair.apply(event)  # refuses another pair's event
        self.state = evolve(self.state, event, at)

    # -- helpers ----------------------------------------------------------------------------------

    def _record(self, event: _S) -> _S:
        self.apply(event)
        self.events.append(event)
        return event

    def _check_pair(self, pair_id: str) -> None:
        if pair_id != self.pair_id:
            raise InvalidInput(
                f"command for pair {pair_id} sent to pair {self.pair_id}", field="pair_id", code=errors.PAIR_MISMATCH
            )

    def _require_active(self, action: str) -> None:
        if not self.pair.is_active:
            raise Conflict(
                f"pair {self.pair_id} is {self.pair.state}; only an active pair can {action}",
                code=errors.PAIR_NOT_ACTIVE,
            )

    def _role(self, field: str, participant_id: str) -> Role:
        role = self.pair.role_of(participant_id)
        if role is None:
            raise InvalidInput(
                f"{participant_id} is neither the mentor nor the mentee of pair {self.pair_id}",
                field=field,
                code=errors.NOT_A_PARTICIPANT,
            )
        return role

    @staticmethod
    def _require_open(session: Session, action: str) -> None:
        if session.status == "cancelled":
            raise Conflict(
                f"session {session.session_id} is cancelled; it cannot be {action}",
                field="session_id",
                code=errors.SESSION_CANCELLED,
            )
        if session.status == "held":
            raise Conflict(
                f"session {session.session_id} was already logged as held; it cannot be {action}",
                field="session_id",
                code=errors.SESSION_ALREADY_LOGGED,
            )


# --------------------------------------------------------------------------------------------------
# Why sessions are called off when a pair ends

_END_WORDS: dict[PairEndReason, str] = {
    "completed": "it completed the programme",
    "rematched": "it was ended for a rematch",
    "withdrawn": "one of the two withdrew from the programme",
    "left_company": "one of the two left the company",
    "by_hr": "HR ended it",
}


def pair_ended_reason(reason: PairEndReason, note: str = "") -> str:
    """The cancel reason of a session the end of its pair calls off, e.g. "the pair ended: Lena Yilmaz left
    the company" (the note of the end, or the reason in words when there is none)."""
    return f"the pair ended: {note.strip() or _END_WORDS[reason]}"


# --------------------------------------------------------------------------------------------------
# Validation helpers


def _event(cls: type[_E], **fields: Any) -> _E:
    """Build an event payload; a constraint of the contract (e.g. a length limit) becomes InvalidInput."""
    try:
        return cls(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        raise InvalidInput(f"{field}: {first['msg']}", field=field) from None


def _topic(field: str, value: str) -> str:
    try:
        return _TOPIC.validate_python(value)
    except ValidationError:
        raise InvalidInput(
            f"AI topic {value!r} must be a lowercase slug such as 'prompt-writing'", field=field
        ) from None


def _aware(field: str, value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{field} must carry a time zone (got {value.isoformat()})", field=field)
    return value.astimezone(UTC)


def _in_range(field: str, value: int, low: int, high: int, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"{field}: {what} must be a whole number from {low} to {high} (got {value!r})", field=field)


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


__all__ = [
    "MAX_DURATION_MINUTES",
    "MAX_HELD_MINUTES",
    "MAX_MINUTES_SAVED_PER_DAY",
    "MAX_RATING",
    "MENTEE_QUESTIONS",
    "MENTOR_QUESTIONS",
    "MIN_DURATION_MINUTES",
    "MIN_HELD_MINUTES",
    "MIN_RATING",
    "Goal",
    "Mentorship",
    "MentorshipState",
    "PairEvent",
    "PairState",
    "PairView",
    "Recorded",
    "Session",
    "SessionStatus",
    "SessionsEvent",
    "began",
    "evolve",
    "evolve_goal",
    "evolve_pair",
    "evolve_session",
    "fold",
    "pair_ended_reason",
    "record",
]
