"""The programme (cohort) aggregate: draft -> enrolling -> matching -> running -> closed. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Literal

from shared.errors import Conflict, InvalidInput
from shared.events.pairing import ProgramClosed, ProgramLaunched

ProgrammeState = Literal["draft", "enrolling", "matching", "running", "closed"]
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

    def launch(self) -> tuple[Programme, ProgramLaunched]:
        self._require("launch", "draft")
        return replace(self, state="enrolling"), ProgramLaunched(
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
        )

    def require_enrolment_open(self) -> None:
        self._require("enrol participants in", "draft", "enrolling", "matching", "running")

    def begin_matching(self) -> Programme:
        self._require("run matching for", "enrolling", "matching", "running")
        return self if self.state == "running" else replace(self, state="matching")

    def begin_running(self) -> Programme:
        self._require("accept pairs in", "enrolling", "matching", "running")
        return replace(self, state="running")

    def close(self) -> tuple[Programme, ProgramClosed]:
        self._require("close", "enrolling", "matching", "running")
        return replace(self, state="closed"), ProgramClosed(programme_id=self.programme_id)


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
) -> Programme:
    if ends_on <= starts_on:
        raise InvalidInput("the programme must end after it starts", field="ends_on")
    if not focus_topics:
        raise InvalidInput("name at least one focus AI topic", field="focus_topics")
    if len(set(focus_topics)) != len(focus_topics):
        raise InvalidInput("focus topics must not repeat", field="focus_topics")
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
    )
