"""Participants: enrol, update, withdraw. Pure: commands in, events out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.errors import Conflict, InvalidInput
from shared.events.pairing import ParticipantEnrolled, ParticipantUpdated, ParticipantWithdrew

ParticipantStatus = Literal["enrolled", "withdrawn"]
WithdrawReason = Literal["withdrawn", "left_company", "by_hr"]

#: Profile fields a participant (or HR) may change after enrolment; ids and role are fixed.
MUTABLE_FIELDS = frozenset(
    {
        "display_name", "email", "locale", "department", "grade", "manager_employee_id", "location",
        "timezone", "languages", "availability", "capacity", "teach_topics", "learn_topics", "goal",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Participant:
    participant_id: str
    programme_id: str
    employee_id: str
    role: Literal["mentor", "mentee"]
    profile: dict[str, Any]
    status: ParticipantStatus = "enrolled"

    @property
    def display_name(self) -> str:
        return str(self.profile["display_name"])

    def update(self, changes: dict[str, Any]) -> tuple[Participant, ParticipantUpdated]:
        self._require_enrolled("update")
        unknown = set(changes) - MUTABLE_FIELDS
        if unknown:
            field = sorted(unknown)[0]
            raise InvalidInput(f"{field} cannot be changed after enrolment", field=field)
        profile = {**self.profile, **changes}
        event = ParticipantUpdated.model_validate(profile)  # validates the whole new profile
        _check_profile(event)
        return Participant(
            self.participant_id, self.programme_id, self.employee_id, self.role, event.model_dump(mode="json")
        ), event

    def withdraw(self, reason: WithdrawReason = "withdrawn") -> tuple[Participant, ParticipantWithdrew]:
        self._require_enrolled("withdraw")
        return Participant(
            self.participant_id, self.programme_id, self.employee_id, self.role, self.profile, "withdrawn"
        ), ParticipantWithdrew(participant_id=self.participant_id, programme_id=self.programme_id, reason=reason)

    def _require_enrolled(self, action: str) -> None:
        if self.status != "enrolled":
            raise Conflict(
                f"cannot {action} participant {self.participant_id}: they have withdrawn",
                field="status",
                code="illegal_transition",
            )


def _check_profile(profile: ParticipantEnrolled | ParticipantUpdated) -> None:
    try:
        ZoneInfo(profile.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"unknown time zone {profile.timezone!r}", field="timezone") from None
    if profile.role == "mentor" and not profile.teach_topics:
        raise InvalidInput("a mentor names at least one AI topic they can teach", field="teach_topics")
    if profile.role == "mentee" and not profile.learn_topics:
        raise InvalidInput("a mentee names at least one AI topic they want to learn", field="learn_topics")
    if profile.role == "mentor" and profile.capacity < 1:
        raise InvalidInput("a mentor takes at least one mentee", field="capacity")
    if profile.manager_employee_id == profile.employee_id:
        raise InvalidInput("nobody is their own manager", field="manager_employee_id")
    for window in profile.availability:
        if window.end <= window.start:
            raise InvalidInput(
                f"availability window {window.start}-{window.end} ends before it starts", field="availability"
            )


def enrol(data: dict[str, Any]) -> tuple[Participant, ParticipantEnrolled]:
    """Enrol from a full profile (already carrying participant_id and programme_id)."""
    event = ParticipantEnrolled.model_validate(data)
    _check_profile(event)
    return Participant(
        event.participant_id, event.programme_id, event.employee_id, event.role, event.model_dump(mode="json")
    ), event
