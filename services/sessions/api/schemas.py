"""Request and response bodies of the sessions API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.sessions.domain.model import Session
from shared.events.common import Id, SafeId, Topic


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AgreementIn(Strict):
    participant_id: Id
    meeting_rhythm: str = Field(min_length=1, max_length=200, examples=["every two weeks, 45 minutes"])
    confidentiality: bool = Field(description="What is said in the sessions stays between the two.")
    learning_focus: str = Field(default="", max_length=2000)


class GoalIn(Strict):
    goal_id: SafeId | None = None
    topic: Topic
    description: str = Field(min_length=1, max_length=2000)


class ConfidenceIn(Strict):
    participant_id: Id
    phase: Literal["start", "end"]
    ratings: dict[Topic, int] = Field(description="Focus topic -> confidence 1 (none) to 5 (very confident).")


class ScheduleIn(Strict):
    session_id: SafeId | None = None
    starts_at: datetime
    duration_minutes: int = Field(default=45, ge=5, le=480)
    agenda: str = Field(default="", max_length=2000)


class RescheduleIn(Strict):
    starts_at: datetime
    duration_minutes: int = Field(default=45, ge=5, le=480)


class CancelIn(Strict):
    reason: str = Field(default="", max_length=2000)


class LogIn(Strict):
    held_at: datetime
    minutes: int = Field(ge=1, le=600)
    topics: list[Topic] = Field(default_factory=list, description="AI topics practised.")
    tools: list[str] = Field(default_factory=list, description="AI tools practised, e.g. ChatGPT, Copilot.")
    action_items: list[str] = Field(default_factory=list)


class FeedbackIn(Strict):
    feedback_id: SafeId | None = None
    author_id: Id
    session_id: Id | None = Field(default=None, description="Omit for feedback at the programme's end.")
    rating: int = Field(ge=1, le=5)
    productivity_gain: bool | None = Field(default=None, description="Mentees: did this raise your productivity?")
    minutes_saved_per_day: int | None = Field(default=None, ge=0, le=480, description="Mentees.")
    new_business_opportunity: bool | None = Field(default=None, description="Mentees: a new business opportunity?")
    opportunity_text: str | None = Field(default=None, max_length=2000)
    team_productivity_gain: bool | None = Field(default=None, description="Mentors: did your team's productivity rise?")
    career_benefit: bool | None = Field(default=None, description="Mentors: will this help your career?")
    confidential_comment: str | None = Field(
        default=None, max_length=4000, description="Seen only by its author and HR."
    )


class SessionOut(BaseModel):
    session_id: str
    pair_id: str
    programme_id: str
    starts_at: datetime
    duration_minutes: int
    agenda: str
    sequence: int
    status: str
    cancel_reason: str
    held_at: datetime | None
    minutes: int | None
    topics: list[str]
    tools: list[str]
    action_items: list[str]
    ics_url: str

    @classmethod
    def of(cls, s: Session) -> SessionOut:
        data = {k: getattr(s, k) for k in cls.model_fields if k != "ics_url"}
        return cls(
            **{
                **data,
                "topics": list(s.topics),
                "tools": list(s.tools),
                "action_items": list(s.action_items),
                "ics_url": f"/sessions/{s.session_id}.ics",
            }
        )


class EventsOut(BaseModel):
    """What a command decided: the events it published (type and data)."""

    events: list[dict[str, Any]]
