"""Request and response bodies of the pairing API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from services.pairing.domain.pairs import Pair
from services.pairing.domain.participants import Participant
from services.pairing.domain.programmes import Programme
from shared.events.common import AvailabilityWindow, Id, Level, Locale, PairEndReason, Role, Topic


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MatchingPolicyIn(Strict):
    """How HR wants people matched. Hard rules are never traded for score."""

    objective: Literal["max_total_score", "max_matched"] = "max_total_score"
    weights: dict[str, float] = Field(default_factory=dict, description="topic_coverage, availability, ...")
    reporting_line_levels: int = Field(default=2, ge=0, le=10)
    must_pair: list[tuple[Id, Id]] = Field(default_factory=list, description="(mentor id, mentee id)")
    never_pair: list[tuple[Id, Id]] = Field(default_factory=list, description="(mentor id, mentee id)")
    min_score: float = Field(default=0.0, ge=0, le=100)
    min_overlap_minutes: int = Field(default=0, ge=0)


class ProgrammeIn(Strict):
    programme_id: Id | None = None
    name: str = Field(min_length=1, max_length=200)
    starts_on: date
    ends_on: date
    cadence_days: int = Field(default=14, ge=1, le=90)
    focus_topics: list[Topic] = Field(min_length=1)
    matching_policy: MatchingPolicyIn = Field(default_factory=MatchingPolicyIn)
    requires_consent: bool = False
    consent_days: int = Field(default=7, ge=1, le=60)
    hr_contact_email: EmailStr | None = None
    launch: bool = Field(default=False, description="Launch at once (open enrolment, publish ProgramLaunched).")


class ProgrammeOut(BaseModel):
    programme_id: str
    name: str
    starts_on: date
    ends_on: date
    cadence_days: int
    focus_topics: list[str]
    matching_policy: dict[str, Any]
    requires_consent: bool
    consent_days: int
    hr_contact_email: str | None
    state: str

    @classmethod
    def of(cls, p: Programme) -> ProgrammeOut:
        return cls(**{**vars(p), "focus_topics": list(p.focus_topics)})


class ParticipantIn(Strict):
    participant_id: Id | None = None
    employee_id: Id
    role: Role
    display_name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    locale: Locale = "en"
    department: str = Field(min_length=1, max_length=200)
    grade: int = Field(ge=0, le=30)
    manager_employee_id: str | None = None
    location: str | None = None
    timezone: str = "UTC"
    languages: list[str] = Field(min_length=1)
    availability: list[AvailabilityWindow] = Field(default_factory=list)
    capacity: int = Field(default=1, ge=0, le=10)
    teach_topics: dict[Topic, Level] = Field(default_factory=dict)
    learn_topics: dict[Topic, Level] = Field(default_factory=dict)
    goal: str = Field(default="", max_length=2000)


class ParticipantPatch(Strict):
    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    email: EmailStr | None = None
    locale: Locale | None = None
    department: str | None = Field(default=None, min_length=1)
    grade: int | None = Field(default=None, ge=0, le=30)
    manager_employee_id: str | None = None
    location: str | None = None
    timezone: str | None = None
    languages: list[str] | None = None
    availability: list[AvailabilityWindow] | None = None
    capacity: int | None = Field(default=None, ge=0, le=10)
    teach_topics: dict[Topic, Level] | None = None
    learn_topics: dict[Topic, Level] | None = None
    goal: str | None = Field(default=None, max_length=2000)


class ParticipantOut(BaseModel):
    participant_id: str
    programme_id: str
    employee_id: str
    role: str
    status: str
    profile: dict[str, Any]

    @classmethod
    def of(cls, p: Participant) -> ParticipantOut:
        return cls(**vars(p))


class ParticipantPage(BaseModel):
    items: list[ParticipantOut]
    total: int
    limit: int
    offset: int


class WithdrawIn(Strict):
    reason: Literal["withdrawn", "left_company", "by_hr"] = "withdrawn"


class PairIn(Strict):
    programme_id: Id
    mentor_id: Id
    mentee_id: Id
    pair_id: Id | None = None


class PairOut(BaseModel):
    pair_id: str
    programme_id: str
    mentor_id: str
    mentee_id: str
    state: str
    score: float | None
    rationale: str
    origin: str
    match_run_id: str | None
    end_reason: str | None
    mentor_consent: bool | None
    mentee_consent: bool | None
    consent_deadline: datetime | None
    warnings: list[str]
    extended_until: date | None

    @classmethod
    def of(cls, pair: Pair) -> PairOut:
        return cls(**{**vars(pair), "warnings": list(pair.warnings)})


class PairPage(BaseModel):
    items: list[PairOut]
    total: int
    limit: int
    offset: int


class PauseIn(Strict):
    reason: str = Field(default="", max_length=2000)


class EndIn(Strict):
    reason: PairEndReason
    note: str = Field(default="", max_length=2000)


class ExtendIn(Strict):
    until: date = Field(description="The new last day; after the programme's end.")


class ConsentIn(Strict):
    participant_id: Id
    decision: Literal["accept", "decline"]
