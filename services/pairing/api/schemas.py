"""Request and response bodies of the pairing API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator
from pydantic.json_schema import SkipJsonSchema

from services.pairing.domain.directory import PROFILE_FIELDS
from services.pairing.domain.pairs import Pair
from services.pairing.domain.participants import Participant
from services.pairing.domain.programmes import Programme
from shared.events.common import AvailabilityWindow, Id, Level, Locale, PairEndReason, Role, SafeId, Topic


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# The bounds of a matching policy's fields: a programme's policy and a match run's override obey the same.
PolicyObjective = Literal["max_total_score", "max_matched"]
ReportingLineLevels = Annotated[int, Field(ge=0, le=10)]
MinScore = Annotated[float, Field(ge=0, le=100)]
MinOverlapMinutes = Annotated[int, Field(ge=0)]
PersonPairs = Annotated[list[tuple[Id, Id]], Field(description="(mentor id, mentee id)")]
Weight = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class MatchingPolicyIn(Strict):
    """How HR wants people matched. Hard rules are never traded for score."""

    objective: PolicyObjective = "max_total_score"
    weights: dict[str, float] = Field(default_factory=dict, description="topic_coverage, availability, ...")
    reporting_line_levels: ReportingLineLevels = 2
    must_pair: PersonPairs = Field(default_factory=list)
    never_pair: PersonPairs = Field(default_factory=list)
    min_score: MinScore = 0.0
    min_overlap_minutes: MinOverlapMinutes = 0
    flagged_pairs: Literal["pause", "keep_running"] = Field(
        default="pause",
        description="When a reorganisation makes a live pair break a hard rule: pause it, or keep it running "
        "until HR decides. Either way the pair is flagged.",
    )


class _NotNull(Strict):
    """Every field may be left out; one that is given must have a value (null is refused, naming the field)."""

    @field_validator("*", mode="before")
    @classmethod
    def _given(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("give a value, or leave the field out to keep the programme's")
        return value


class WeightsOverrideIn(_NotNull):
    """The weights to change for one run (each 0 or more); those left out stay the programme's."""

    topic_coverage: Weight | None = None
    availability: Weight | None = None
    cross_department: Weight | None = None
    seniority_gap: Weight | None = None


class PolicyOverrideIn(_NotNull):
    """The programme's matching-policy fields to replace for one run; those left out stay the programme's. The
    weights are replaced one by one. `flagged_pairs` is what a reorganisation does to live pairs, not part of a
    run: it is refused here."""

    objective: PolicyObjective | None = None
    weights: WeightsOverrideIn | None = None
    reporting_line_levels: ReportingLineLevels | None = None
    must_pair: PersonPairs | None = None
    never_pair: PersonPairs | None = None
    min_score: MinScore | None = None
    min_overlap_minutes: MinOverlapMinutes | None = None
    flagged_pairs: SkipJsonSchema[Any] = None

    @field_validator("flagged_pairs", mode="before")
    @classmethod
    def _not_for_a_run(cls, value: Any) -> None:
        raise ValueError(
            "what a reorganisation does to live pairs is the programme's setting, not a match run's: leave it out"
        )

    def changes(self) -> dict[str, Any]:
        """The fields given, as the programme's policy stores them (weights: only those given)."""
        return self.model_dump(exclude_unset=True, exclude={"flagged_pairs"})


class ProgrammeIn(Strict):
    programme_id: SafeId | None = None
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
    min_group_size: int = Field(
        default=5,
        ge=3,
        le=100,
        description="Outcome figures are shown only for groups of at least this many answers; a reader may raise "
        "it, never lower it.",
    )
    hr_locale: Locale = Field(
        default="en", description="The HR contact's language: HR's weekly digest of the programme is written in it."
    )


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
    min_group_size: int
    hr_locale: str

    @classmethod
    def of(cls, p: Programme) -> ProgrammeOut:
        return cls(**{**vars(p), "focus_topics": list(p.focus_topics)})


class _DirectoryOwned(Strict):
    """Refuses the fields the employee directory owns, naming them (they are not in the schema)."""

    display_name: SkipJsonSchema[Any] = None
    email: SkipJsonSchema[Any] = None
    locale: SkipJsonSchema[Any] = None
    department: SkipJsonSchema[Any] = None
    grade: SkipJsonSchema[Any] = None
    manager_employee_id: SkipJsonSchema[Any] = None
    location: SkipJsonSchema[Any] = None
    timezone: SkipJsonSchema[Any] = None
    languages: SkipJsonSchema[Any] = None

    @field_validator(*PROFILE_FIELDS, mode="before")
    @classmethod
    def _from_directory(cls, value: Any) -> None:
        if value is not None:
            raise ValueError("this comes from the employee directory (SCIM, HR events or file sync), not the enrolment")
        return None


class ParticipantIn(_DirectoryOwned):
    """Enrol an employee of the directory. Name, e-mail, department, grade, manager, location, time zone,
    languages and locale come from the directory; the enrolment says what the programme needs."""

    participant_id: SafeId | None = None
    employee_id: SafeId
    role: Role
    availability: list[AvailabilityWindow] = Field(default_factory=list)
    capacity: int = Field(default=1, ge=0, le=10)
    teach_topics: dict[Topic, Level] = Field(default_factory=dict)
    learn_topics: dict[Topic, Level] = Field(default_factory=dict)
    goal: str = Field(default="", max_length=2000)

    def enrolment(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True, exclude=set(PROFILE_FIELDS))


class ParticipantPatch(_DirectoryOwned):
    """Change what the enrolment owns; the directory's fields change in the HR platform."""

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
    programme_id: SafeId
    mentor_id: SafeId
    mentee_id: SafeId
    pair_id: SafeId | None = None


class PairOut(BaseModel):
    pair_id: str
    programme_id: str
    mentor_id: str
    mentee_id: str
    state: str
    score: float | None
    rationale: str
    reasons: list[dict[str, Any]] = Field(
        default_factory=list,
        description="The rationale as reasons with stable codes and parameters (docs/rationale-reasons.md); "
        "empty for pairs from before.",
    )
    origin: str
    match_run_id: str | None
    end_reason: str | None
    mentor_consent: bool | None
    mentee_consent: bool | None
    consent_deadline: datetime | None
    warnings: list[str]
    extended_until: date | None
    pause_cause: Literal["manual", "leave", "flag"] | None = Field(
        description="Why a paused pair is paused: by hand, a leave of absence, or a reorganisation flag."
    )
    flag: dict[str, Any] | None = Field(
        description="The hard rule the pair breaks since a reorganisation (rule, detail, chain, since, action)."
    )
    flag_override: dict[str, Any] | None = Field(
        description="HR kept the pair despite a flag: the rule, chain, reason, who and when."
    )

    @classmethod
    def of(cls, pair: Pair) -> PairOut:
        data = {k: v for k, v in vars(pair).items() if k in cls.model_fields}
        flag = pair.flag.to_dict() if pair.flag else None
        return cls(**{**data, "warnings": list(pair.warnings), "reasons": list(pair.reasons), "flag": flag})


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
    participant_id: SafeId
    decision: Literal["accept", "decline"]


class FlagResolutionIn(Strict):
    decision: Literal["keep", "end"] = Field(
        description="keep: the pair goes on (the override is recorded); end: it ends and its members are rematched."
    )
    reason: str = Field(min_length=1, max_length=2000, description="Why: kept in the audit trail.")
