"""Commands: what a participant asks the sessions service to do, as plain immutable data.

Ids of new things (goal, session, feedback) come with the command: the service layer makes them, so
the domain stays deterministic. Times are tz-aware datetimes. A command names its pair; the
`Mentorship` aggregate of that pair handles it (see `model.Mentorship.handle`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Phase = Literal["start", "end"]


@dataclass(frozen=True)
class ConfirmAgreement:
    """One side confirms the mentorship agreement; the role follows from `participant_id`."""

    pair_id: str
    participant_id: str
    meeting_rhythm: str
    confidentiality: bool
    learning_focus: str = ""


@dataclass(frozen=True)
class SetGoal:
    pair_id: str
    goal_id: str
    topic: str
    description: str


@dataclass(frozen=True)
class AchieveGoal:
    pair_id: str
    goal_id: str


@dataclass(frozen=True)
class RateConfidence:
    """The mentee rates their AI confidence 1-5 per focus topic, once at the start and once at the end."""

    pair_id: str
    participant_id: str
    phase: Phase
    ratings: Mapping[str, int]


@dataclass(frozen=True)
class ScheduleSession:
    pair_id: str
    session_id: str
    starts_at: datetime
    duration_minutes: int
    agenda: str = ""


@dataclass(frozen=True)
class RescheduleSession:
    pair_id: str
    session_id: str
    starts_at: datetime
    duration_minutes: int


@dataclass(frozen=True)
class CancelSession:
    pair_id: str
    session_id: str
    reason: str = ""


@dataclass(frozen=True)
class LogSession:
    """Record that a scheduled session was held."""

    pair_id: str
    session_id: str
    held_at: datetime
    minutes: int
    topics: Sequence[str] = field(default_factory=tuple)
    tools: Sequence[str] = field(default_factory=tuple)
    action_items: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class SubmitFeedback:
    """Feedback on a logged session (`session_id`) or on the programme as a whole (`session_id=None`).

    Mentee questions: productivity_gain, minutes_saved_per_day, new_business_opportunity (+ opportunity_text).
    Mentor questions: team_productivity_gain, career_benefit. Unanswered questions stay None.
    """

    pair_id: str
    feedback_id: str
    author_id: str
    rating: int
    session_id: str | None = None
    productivity_gain: bool | None = None
    minutes_saved_per_day: int | None = None
    new_business_opportunity: bool | None = None
    opportunity_text: str | None = None
    team_productivity_gain: bool | None = None
    career_benefit: bool | None = None
    confidential_comment: str | None = None


Command = (
    ConfirmAgreement
    | SetGoal
    | AchieveGoal
    | RateConfidence
    | ScheduleSession
    | RescheduleSession
    | CancelSession
    | LogSession
    | SubmitFeedback
)
