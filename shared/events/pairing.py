"""Events produced by the pairing service: programmes, participants, match runs, pairs."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from shared.events.base import EventPayload
from shared.events.common import AvailabilityWindow, Id, Level, Locale, PairEndReason, Role, Topic

SOURCE = "/tandem/pairing"


class _Pairing(EventPayload):
    SOURCE: ClassVar[str] = SOURCE


class ProgramLaunched(_Pairing):
    """HR launched a programme (cohort)."""

    TYPE: ClassVar[str] = "tandem.pairing.ProgramLaunched"
    SUBJECT_FIELD: ClassVar[str] = "programme_id"

    programme_id: Id
    name: str = Field(min_length=1, max_length=200)
    starts_on: date
    ends_on: date
    cadence_days: int = Field(ge=1, le=90, description="Pairs are expected to meet every N days.")
    focus_topics: list[Topic]
    matching_policy: dict[str, Any] = Field(default_factory=dict)
    requires_consent: bool = False
    hr_contact_email: str | None = Field(
        default=None, description="A functional mailbox of the HR team (not a person's address)."
    )
    min_group_size: int = Field(
        default=5,
        ge=3,
        le=100,
        description="Outcome figures are shown only for groups of at least this many answers (a caller may "
        "raise it, never lower it).",
    )
    hr_locale: Locale = Field(
        default="en",
        description="The language of the programme's HR contact: HR's messages about the programme (the weekly "
        "digest) are written in it. English on events from before.",
    )


class ProgramClosed(_Pairing):
    TYPE: ClassVar[str] = "tandem.pairing.ProgramClosed"
    SUBJECT_FIELD: ClassVar[str] = "programme_id"

    programme_id: Id


class ParticipantProfile(EventPayload):
    """Everything the programme knows of a participant. The only payload shape with personal data."""

    PERSONAL_FIELDS: ClassVar[dict[str, str]] = {
        "display_name": "identity:employee_id",
        "email": "identity:employee_id",
        "goal": "text:participant_id",
    }

    PERSONAL_DATA: ClassVar[bool] = True
    SOURCE: ClassVar[str] = SOURCE
    SUBJECT_FIELD: ClassVar[str] = "participant_id"

    participant_id: Id
    programme_id: Id
    employee_id: Id
    role: Role
    display_name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    locale: Locale = "en"
    department: str = Field(min_length=1, max_length=200)
    grade: int = Field(ge=0, le=30, description="Seniority grade; higher is more senior.")
    manager_employee_id: str | None = None
    location: str | None = None
    timezone: str = "UTC"
    languages: list[str] = Field(min_length=1)
    availability: list[AvailabilityWindow] = Field(default_factory=list)
    capacity: int = Field(default=1, ge=0, le=10, description="Mentors: how many mentees at once.")
    teach_topics: dict[Topic, Level] = Field(default_factory=dict, description="Mentors: topic -> level.")
    learn_topics: dict[Topic, Level] = Field(default_factory=dict, description="Mentees: topic -> priority.")
    goal: str = Field(default="", max_length=2000)


class ParticipantEnrolled(ParticipantProfile):
    """A participant joined a programme.

    Version history: v1 had `name` and a single `language`; v2 renamed `name` to `display_name` and
    made `languages` a list; v3 replaced the flat `topics` list by `teach_topics` / `learn_topics`.
    """

    TYPE: ClassVar[str] = "tandem.pairing.ParticipantEnrolled"
    VERSION: ClassVar[int] = 3
    WHOLE_RECORD: ClassVar[bool] = True


class ParticipantUpdated(ParticipantProfile):
    """A participant's profile changed; carries the full new profile."""

    TYPE: ClassVar[str] = "tandem.pairing.ParticipantUpdated"
    WHOLE_RECORD: ClassVar[bool] = True


class ParticipantWithdrew(_Pairing):
    TYPE: ClassVar[str] = "tandem.pairing.ParticipantWithdrew"
    SUBJECT_FIELD: ClassVar[str] = "participant_id"

    participant_id: Id
    programme_id: Id
    reason: Literal["withdrawn", "left_company", "by_hr"] = "withdrawn"


REASONS_DOC = (
    "Why the two were paired, as reasons with a stable `code` and their parameters (see docs/rationale-reasons.md), "
    "for a reader to word in its own language; `rationale` is the same in English. Empty on events from before."
)


class Reason(BaseModel):
    """One reason of a rationale: a stable code, and the parameters its wording needs (docs/rationale-reasons.md)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    code: str = Field(min_length=1, max_length=64)


class Proposal(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    proposal_id: Id
    mentor_id: Id
    mentee_id: Id
    score: float
    components: dict[str, float] = Field(default_factory=dict)
    rationale: str
    forced: bool = False
    reasons: list[Reason] = Field(default_factory=list, description=REASONS_DOC)


class Unmatched(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    participant_id: Id
    role: Role
    reason_code: str
    reason: str


class MatchRunCompleted(_Pairing):
    """A match run finished; carries everything needed to re-run and explain it later.

    Version history: v1 had no directory version; v2 records the directory revision and the hash of the
    reporting lines the hard rule read, so the decision can be replayed exactly from the log.
    """

    PERSONAL_FIELDS: ClassVar[dict[str, str]] = {
        "proposals[].rationale": "pair:proposal_id",
        "proposals[].reasons": "pair:proposal_id",
    }

    TYPE: ClassVar[str] = "tandem.pairing.MatchRunCompleted"
    VERSION: ClassVar[int] = 2
    SUBJECT_FIELD: ClassVar[str] = "match_run_id"
    KEY_FIELD: ClassVar[str | None] = "programme_id"

    match_run_id: Id
    programme_id: Id
    algorithm_version: str
    objective: Literal["max_total_score", "max_matched"]
    policy: dict[str, Any]
    proposals: list[Proposal]
    unmatched: list[Unmatched]
    total_score: float
    directory_revision: int | None = Field(
        default=None, description="The tenant's directory revision the run read (see tandem.directory events)."
    )
    org_chart_hash: str | None = Field(
        default=None, description="SHA-256 of the reporting lines the reporting-line rule read."
    )


class _PairEvent(_Pairing):
    SUBJECT_FIELD: ClassVar[str] = "pair_id"

    pair_id: Id
    programme_id: Id


class PairCreated(_PairEvent):
    PERSONAL_FIELDS: ClassVar[dict[str, str]] = {"rationale": "pair:pair_id", "reasons": "pair:pair_id"}
    TYPE: ClassVar[str] = "tandem.pairing.PairCreated"

    mentor_id: Id
    mentee_id: Id
    score: float | None = None
    rationale: str = ""
    reasons: list[Reason] = Field(default_factory=list, description=REASONS_DOC)
    origin: Literal["match_run", "manual", "rematch"] = "manual"
    match_run_id: str | None = None
    started_on: date | None = Field(
        default=None, description="When the pair began, if before it was recorded (e.g. a programme moved in)."
    )

    def began(self, recorded_at: datetime) -> datetime:
        """When the pair began, given when it was recorded (its event's time): the day it says it started on
        (09:00 UTC; a programme moved in), when that is earlier, else its recording. A pair's quiet clock (at
        risk, nudged) starts here when it has held no session; every service that keeps one reads it from here."""
        if self.started_on is not None:
            return min(recorded_at, datetime.combine(self.started_on, time(9, 0), tzinfo=UTC))
        return recorded_at


class PairPaused(_PairEvent):
    PERSONAL_FIELDS: ClassVar[dict[str, str]] = {"reason": "text:pair_id"}
    TYPE: ClassVar[str] = "tandem.pairing.PairPaused"

    reason: str = ""


class PairResumed(_PairEvent):
    TYPE: ClassVar[str] = "tandem.pairing.PairResumed"


class PairEnded(_PairEvent):
    PERSONAL_FIELDS: ClassVar[dict[str, str]] = {"note": "text:pair_id"}
    TYPE: ClassVar[str] = "tandem.pairing.PairEnded"

    reason: PairEndReason
    note: str = ""


class PairExtended(_PairEvent):
    """The pair goes on past the programme's end (it still counts as completed when it ends)."""

    TYPE: ClassVar[str] = "tandem.pairing.PairExtended"

    until: date


class PairProposed(_PairEvent):
    """A proposal awaits both people's consent before it becomes a pair."""

    PERSONAL_FIELDS: ClassVar[dict[str, str]] = {"rationale": "pair:pair_id", "reasons": "pair:pair_id"}

    TYPE: ClassVar[str] = "tandem.pairing.PairProposed"

    mentor_id: Id
    mentee_id: Id
    score: float | None = None
    rationale: str = ""
    reasons: list[Reason] = Field(default_factory=list, description=REASONS_DOC)
    consent_deadline: datetime
    match_run_id: str | None = None


class PairDeclined(_PairEvent):
    PERSONAL_FIELDS: ClassVar[dict[str, str]] = {"reason": "text:pair_id"}
    TYPE: ClassVar[str] = "tandem.pairing.PairDeclined"

    declined_by: Id
    reason: str = ""


FlagRule = Literal["reporting_line", "shared_language"]


class PairFlagged(_PairEvent):
    """A change in the directory (a reorganisation) made a live pair break a hard rule."""

    PERSONAL_FIELDS: ClassVar[dict[str, str]] = {"detail": "pair:pair_id"}

    TYPE: ClassVar[str] = "tandem.pairing.PairFlagged"

    rule: FlagRule
    detail: str = Field(description="The rule broken, in words.")
    chain: list[str] = Field(
        default_factory=list, description="Employee ids from one of the two up the reporting line to the other."
    )
    since: datetime = Field(description="When the change that broke the rule took effect.")
    directory_revision: int
    action: Literal["paused", "left_running"] = Field(description="What the programme's policy did with the pair.")


class PairFlagResolved(_PairEvent):
    """HR kept the pair (with the reason), ended it to rematch, or a later change cleared the conflict."""

    PERSONAL_FIELDS: ClassVar[dict[str, str]] = {"reason": "text:pair_id"}

    TYPE: ClassVar[str] = "tandem.pairing.PairFlagResolved"

    decision: Literal["keep", "end", "cleared"]
    reason: str = ""
    resolved_by: str = Field(description="Who decided ('directory' when a later change cleared it).")


class SensitiveDataAccessed(_Pairing):
    """Someone read or exported what the audit trail must remember being read: who, what, when."""

    TYPE: ClassVar[str] = "tandem.pairing.SensitiveDataAccessed"
    SUBJECT_FIELD: ClassVar[str] = "subject_id"

    subject_id: Id = Field(description="What was read: a pair, programme, participant or employee id.")
    what: str = Field(description="What was read or exported, e.g. 'audit timeline (csv)'.")
    by: str = Field(description="Who: the token's subject (and name).")
    role: str


class SubjectErased(_Pairing):
    """A person's personal data was erased (GDPR art. 17): their keys are destroyed and every service scrubs its
    copies of their names, addresses and free text. Carries ids only: the trail stays joinable, names are gone."""

    TYPE: ClassVar[str] = "tandem.pairing.SubjectErased"
    SUBJECT_FIELD: ClassVar[str] = "employee_id"

    employee_id: Id
    participant_ids: list[Id] = Field(default_factory=list, description="The person's enrolments, in every programme.")
    pair_ids: list[Id] = Field(
        default_factory=list, description="Every pair (and proposal) the person was in, as mentor or mentee."
    )
    reason: str = Field(min_length=1, max_length=200, description="Why, e.g. 'request' or 'retention_after_leaving'.")
    requested_by: str = Field(
        min_length=1, max_length=200, description="Who asked: the token's subject, or 'retention'."
    )


class RetentionPolicySet(_Pairing):
    """HR set the tenant's retention policy: free text of a programme is deleted this many months after it closed."""

    TYPE: ClassVar[str] = "tandem.pairing.RetentionPolicySet"
    SUBJECT_FIELD: ClassVar[str] = "policy"

    policy: Literal["retention"] = "retention"
    free_text_months: int = Field(ge=1, le=120)
    set_by: str = Field(min_length=1, max_length=200)


class FreeTextExpired(_Pairing):
    """The retention period of a closed programme's free text ran out: its text keys are destroyed and every
    service scrubs the programme's free text (feedback text, comments, agendas, action items, goals). Numbers,
    ratings and ids stay."""

    TYPE: ClassVar[str] = "tandem.pairing.FreeTextExpired"
    SUBJECT_FIELD: ClassVar[str] = "programme_id"

    programme_id: Id
    closed_on: date
    free_text_months: int = Field(ge=1, le=120)
    pair_ids: list[Id] = Field(default_factory=list, description="The programme's pairs (their timelines show it).")


PAIRING_EVENTS: tuple[type[EventPayload], ...] = (
    ProgramLaunched,
    ProgramClosed,
    ParticipantEnrolled,
    ParticipantUpdated,
    ParticipantWithdrew,
    MatchRunCompleted,
    PairProposed,
    PairDeclined,
    PairCreated,
    PairPaused,
    PairResumed,
    PairExtended,
    PairEnded,
    PairFlagged,
    PairFlagResolved,
    SensitiveDataAccessed,
    SubjectErased,
    RetentionPolicySet,
    FreeTextExpired,
)
