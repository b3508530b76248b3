"""The programme (cohort) aggregate: draft -> enrolling -> matching -> running -> closed. Pure.

Decide/evolve (see the README's "Domain style"): a command method checks the programme's state and
returns the event it publishes; the state changes only through `evolve`. A match run (`MatchRunCompleted`)
puts an enrolling programme into matching, its first pair (`PairCreated` or `PairProposed`) into running:
`require_matching` and `require_pairing` are the checks made before those events are decided.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Literal, cast, get_args

from shared.errors import Conflict, InvalidInput
from shared.events.common import Locale
from shared.events.pairing import MatchRunCompleted, PairCreated, PairProposed, ProgramClosed, ProgramLaunched

#: the languages messages are written in (the templates exist for)
LOCALES: tuple[str, ...] = get_args(Locale)
ProgrammeState = Literal["draft", "enrolling", "matching", "running", "closed"]
ProgrammeEvent = ProgramLaunched | ProgramClosed | MatchRunCompleted | PairCreated | PairProposed
Objective = Literal["max_total_score", "max_matched"]


@dataclass(frozen=True)
class Programme:
    programme_id: str
    name: str
    starts_on: date
    ends_on: date
    cadence_days: int
    focus_topics: tuple[str, ...]
    matching_policy: dict[str, Any] = field(default_factory=dict)
    requires_consent: bool = False
    consent_days: int = 7
    hr_contact_email: str | None = None
    state: ProgrammeState = "draft"
    #: Outcome figures are shown only for groups of at least this many (callers may raise it, never lower).
    min_group_size: int = 5
    #: the language of the HR contact: HR's messages about the programme are written in it
    hr_locale: Locale = "en"

    @property
    def objective(self) -> Objective:
        objective = self.matching_policy.get("objective", "max_total_score")
        return "max_matched" if objective == "max_matched" else "max_total_score"

    @property
    def reporting_line_levels(self) -> int:
        return int(self.matching_policy.get("reporting_line_levels", 2))

    @property
    def pauses_flagged_pairs(self) -> bool:
        """What a reorganisation does to a pair it makes break a hard rule: pause it (default) or leave it
        running until HR decides."""
        return bool(self.matching_policy.get("flagged_pairs", "pause") == "pause")

    def _require(self, action: str, *allowed: ProgrammeState) -> None:
        if self.state not in allowed:
            raise Conflict(
                f"cannot {action} programme {self.programme_id}: it is {self.state} "
                f"(allowed when {' or '.join(allowed)})",
                field="state",
                code="illegal_transition",
            )

    def launch(self) -> ProgramLaunched:
        self._require("launch", "draft")
        return ProgramLaunched(
            programme_id=self.programme_id,
            name=self.name,
            starts_on=self.starts_on,
            ends_on=self.ends_on,
            cadence_days=self.cadence_days,
            focus_topics=list(self.focus_topics),
            matching_policy=self.matching_policy,
            requires_consent=self.requires_consent,
            hr_contact_email=self.hr_contact_email,
            min_group_size=self.min_group_size,
            hr_locale=self.hr_locale,
        )

    def require_enrolment_open(self) -> None:
        self._require("enrol participants in", "draft", "enrolling", "matching", "running")

    def require_matching(self) -> None:
        """A match run may start (its `MatchRunCompleted` then moves the programme on, by `evolve`)."""
        self._require("run matching for", "enrolling", "matching", "running")

    def require_pairing(self) -> None:
        """Pairs may be made (their `PairCreated` or `PairProposed` then make it running, by `evolve`)."""
        self._require("accept pairs in", "enrolling", "matching", "running")

    def close(self) -> ProgramClosed:
        self._require("close", "enrolling", "matching", "running")
        return ProgramClosed(programme_id=self.programme_id)


def evolve(programme: Programme, event: ProgrammeEvent) -> Programme:
    """The programme after one of its events (no checks: the event already happened). The only place a
    programme's state changes. A draft is made by `new_programme`, not by an event: nothing is published
    before the launch."""
    if isinstance(event, ProgramLaunched):
        return replace(programme, state="enrolling")
    if isinstance(event, ProgramClosed):
        return replace(programme, state="closed")
    if isinstance(event, MatchRunCompleted):
        return programme if programme.state == "running" else replace(programme, state="matching")
    return replace(programme, state="running")


def new_programme(
    programme_id: str,
    name: str,
    starts_on: date,
    ends_on: date,
    cadence_days: int,
    focus_topics: list[str],
    *,
    matching_policy: dict[str, Any] | None = None,
    requires_consent: bool = False,
    consent_days: int = 7,
    hr_contact_email: str | None = None,
    min_group_size: int = 5,
    hr_locale: str = "en",
) -> Programme:
    if ends_on <= starts_on:
        raise InvalidInput("the programme must end after it starts", field="ends_on")
    if not focus_topics:
        raise InvalidInput("name at least one focus AI topic", field="focus_topics")
    if len(set(focus_topics)) != len(focus_topics):
        raise InvalidInput("focus topics must not repeat", field="focus_topics")
    if hr_locale not in LOCALES:
        raise InvalidInput(
            f"hr_locale must be one of {', '.join(LOCALES)} (the languages of the messages), not {hr_locale!r}",
            field="hr_locale",
        )
    return Programme(
        programme_id=programme_id,
        name=name,
        starts_on=starts_on,
        ends_on=ends_on,
        cadence_days=cadence_days,
        focus_topics=tuple(focus_topics),
        matching_policy=dict(matching_policy or {}),
        requires_consent=requires_consent,
        consent_days=consent_days,
        hr_contact_email=hr_contact_email,
        min_group_size=min_group_size,
        hr_locale=cast(Locale, hr_locale),
    )
