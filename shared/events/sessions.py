"""Events produced by the sessions service: agreements, goals, confidence checks, sessions, feedback.

All are keyed by pair id so that a pair's history stays in order on one partition.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar, Literal

from pydantic import Field

from shared.events.base import EventPayload
from shared.events.common import Id, Role, Topic

SOURCE = "/tandem/sessions"


class _Sessions(EventPayload):
    SOURCE: ClassVar[str] = SOURCE
    KEY_FIELD: ClassVar[str | None] = "pair_id"

    pair_id: Id
    programme_id: Id


class AgreementConfirmed(_Sessions):
    """One side of a pair confirmed the mentorship agreement; both must before the first session."""

    PERSONAL_FIELDS: ClassVar[dict[str, str]] = {
        "meeting_rhythm": "text:pair_id",
        "learning_focus": "text:participant_id",
    }

    TYPE: ClassVar[str] = "tandem.sessions.AgreementConfirmed"
    SUBJECT_FIELD: ClassVar[str] = "pair_id"

    participant_id: Id
    role: Role
    meeting_rhythm: str = Field(max_length=200)
    confidentiality: bool
    learning_focus: str = Field(default="", max_length=2000)


class GoalSet(_Sessions):
    PERSONAL_FIELDS: ClassVar[dict[str, str]] = {"description": "text:pair_id"}
    TYPE: ClassVar[str] = "tandem.sessions.GoalSet"
    SUBJECT_FIELD: ClassVar[str] = "goal_id"

    goal_id: Id
    topic: Topic
    description: str = Field(min_length=1, max_length=2000)


class GoalAchieved(_Sessions):
    TYPE: ClassVar[str] = "tandem.sessions.GoalAchieved"
    SUBJECT_FIELD: ClassVar[str] = "goal_id"

    goal_id: Id


class ConfidenceRated(_Sessions):
    """A mentee's self-rated AI confidence per focus topic (1-5), at the start or the end."""

    TYPE: ClassVar[str] = "tandem.sessions.ConfidenceRated"
    SUBJECT_FIELD: ClassVar[str] = "pair_id"

    participant_id: Id
    phase: Literal["start", "end"]
    ratings: dict[Topic, int]


class SessionScheduled(_Sessions):
    PERSONAL_FIELDS: ClassVar[dict[str, str]] = {"agenda": "text:pair_id"}
    TYPE: ClassVar[str] = "tandem.sessions.SessionScheduled"
    SUBJECT_FIELD: ClassVar[str] = "session_id"

    session_id: Id
    starts_at: datetime
    duration_minutes: int = Field(ge=5, le=480)
    agenda: str = Field(default="", max_length=2000)
    sequence: int = Field(default=0, ge=0, description="iCalendar SEQUENCE of this version.")


class SessionRescheduled(_Sessions):
    TYPE: ClassVar[str] = "tandem.sessions.SessionRescheduled"
    SUBJECT_FIELD: ClassVar[str] = "session_id"

    session_id: Id
    starts_at: datetime
    duration_minutes: int = Field(ge=5, le=480)
    sequence: int = Field(ge=1)


class SessionCancelled(_Sessions):
    PERSONAL_FIELDS: ClassVar[dict[str, str]] = {"reason": "text:pair_id"}
    TYPE: ClassVar[str] = "tandem.sessions.SessionCancelled"
    SUBJECT_FIELD: ClassVar[str] = "session_id"

    session_id: Id
    reason: str = Field(default="", max_length=2000)
    sequence: int = Field(ge=1)


class SessionLogged(_Sessions):
    PERSONAL_FIELDS: ClassVar[dict[str, str]] = {"action_items": "text:pair_id"}
    TYPE: ClassVar[str] = "tandem.sessions.SessionLogged"
    SUBJECT_FIELD: ClassVar[str] = "session_id"

    session_id: Id
    held_at: datetime
    minutes: int = Field(ge=1, le=600)
    topics: list[Topic] = Field(default_factory=list, description="AI topics practised.")
    tools: list[str] = Field(default_factory=list, description="AI tools practised.")
    action_items: list[str] = Field(default_factory=list)


class FeedbackSubmitted(_Sessions):
    """Feedback after a session or at programme end; one per author per session.

    Mentee questions: productivity_gain, minutes_saved_per_day, new_business_opportunity (+ text).
    Mentor questions: team_productivity_gain, career_benefit.
    """

    PERSONAL_FIELDS: ClassVar[dict[str, str]] = {
        "opportunity_text": "text:author_id",
        "confidential_comment": "text:author_id",
    }

    TYPE: ClassVar[str] = "tandem.sessions.FeedbackSubmitted"
    CONFIDENTIAL_FIELDS: ClassVar[tuple[str, ...]] = ("confidential_comment",)
    SUBJECT_FIELD: ClassVar[str] = "feedback_id"

    feedback_id: Id
    session_id: str | None = None
    author_id: Id
    author_role: Role
    rating: int = Field(ge=1, le=5)
    productivity_gain: bool | None = None
    minutes_saved_per_day: int | None = Field(default=None, ge=0, le=480)
    new_business_opportunity: bool | None = None
    opportunity_text: str | None = Field(default=None, max_length=2000)
    team_productivity_gain: bool | None = None
    career_benefit: bool | None = None
    confidential_comment: str | None = Field(default=None, max_length=4000)


class LearningRecorded(EventPayload):
    """A participant completed or left a programme: their development record for the HR platform.

    Facts only (programme, role, dates, sessions held, hours, goals achieved): never feedback content.
    One per participant and programme; `record_id` is deterministic, so a redelivery records nothing new.
    """

    TYPE: ClassVar[str] = "tandem.sessions.LearningRecorded"
    SOURCE: ClassVar[str] = SOURCE
    SUBJECT_FIELD: ClassVar[str] = "participant_id"

    record_id: Id
    participant_id: Id
    employee_id: Id
    programme_id: Id
    programme_name: str
    role: Role
    outcome: Literal["completed", "withdrawn", "left_company", "by_hr"]
    started_on: date | None = Field(default=None, description="When their first pair in the programme began.")
    ended_on: date
    sessions_held: int = Field(ge=0)
    hours: float = Field(ge=0, description="Hours of sessions held, to a tenth.")
    goals_set: int = Field(ge=0)
    goals_achieved: int = Field(ge=0)


class SensitiveDataAccessed(EventPayload):
    """Someone read or exported what the audit trail must remember being read (a confidential comment, an
    export): who, what, when."""

    TYPE: ClassVar[str] = "tandem.sessions.SensitiveDataAccessed"
    SOURCE: ClassVar[str] = SOURCE
    SUBJECT_FIELD: ClassVar[str] = "subject_id"

    subject_id: Id = Field(description="What was read: a pair, programme or employee id.")
    what: str = Field(description="What was read or exported, e.g. 'confidential comments' or 'outcomes.csv'.")
    by: str = Field(description="Who: the token's subject (and name).")
    role: str


SESSIONS_EVENTS: tuple[type[EventPayload], ...] = (
    AgreementConfirmed,
    GoalSet,
    GoalAchieved,
    ConfidenceRated,
    SessionScheduled,
    SessionRescheduled,
    SessionCancelled,
    SessionLogged,
    FeedbackSubmitted,
    LearningRecorded,
    SensitiveDataAccessed,
)
