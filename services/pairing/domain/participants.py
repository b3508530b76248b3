"""Participants: enrol, update, withdraw. Pure: commands in, events out.

Decide/evolve (see the README's "Domain style"): `enrol` and the command methods validate and return the
event; a participant changes only through `evolve`.

A participant is an employee of the directory enrolled in a programme. Their profile has two owners:
the directory (name, e-mail, locale, department, grade, manager, location, time zone, languages) and the
enrolment (role, topics, goal, capacity, availability). HR enrols by employee id; a directory change
reaches every live enrolment as ParticipantUpdated.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.pairing.domain.directory import PROFILE_FIELDS
from shared.errors import Conflict, InvalidInput
from shared.events.pairing import ParticipantEnrolled, ParticipantUpdated, ParticipantWithdrew

ParticipantStatus = Literal["enrolled", "withdrawn"]
ParticipantEvent = ParticipantEnrolled | ParticipantUpdated | ParticipantWithdrew
WithdrawReason = Literal["withdrawn", "left_company", "by_hr"]

#: Profile fields the enrolment owns: a participant (or HR) may change them; ids and role are fixed.
PROGRAMME_FIELDS = frozenset({"availability", "capacity", "teach_topics", "learn_topics", "goal"})


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

    @property
    def capacity(self) -> int:
        """How many mentees a mentor takes at once (1 unless the enrolment says otherwise)."""
        return int(self.profile.get("capacity", 1))

    def check_capacity(self, live_pairs: int, field: str = "mentor_id") -> None:
        """A mentor with `live_pairs` live pairs takes one more mentee only below their capacity."""
        if live_pairs >= self.capacity:
            raise Conflict(
                f"{self.display_name} already mentors {live_pairs} of {self.capacity} possible mentee(s)",
                field=field,
                code="capacity_exhausted",
            )

    def check_unpaired(self, live_pairs: int, field: str = "mentee_id", *, since: str | None = None) -> None:
        """A mentee is in one live pair at most: one with `live_pairs` live pairs cannot be paired again.
        `since` names what they were paired after (a match run), for the message."""
        if live_pairs:
            message = f"was paired since {since}" if since else "already has a live pair"
            raise Conflict(f"{self.display_name} {message}", field=field, code="already_paired")

    def update(self, changes: dict[str, Any]) -> ParticipantUpdated:
        self._require_enrolled("update")
        from_directory = sorted(set(changes) & set(PROFILE_FIELDS))
        if from_directory:
            raise InvalidInput(
                f"{from_directory[0]} comes from the employee directory: change it in the HR platform",
                field=from_directory[0],
            )
        unknown = set(changes) - PROGRAMME_FIELDS
        if unknown:
            field = sorted(unknown)[0]
            raise InvalidInput(f"{field} cannot be changed after enrolment", field=field)
        return self._updated(changes)

    def refresh(self, directory_profile: dict[str, Any]) -> ParticipantUpdated | None:
        """The directory changed the person: take its fields over; None when nothing the profile holds changed."""
        changes = {k: v for k, v in directory_profile.items() if k in PROFILE_FIELDS and self.profile.get(k) != v}
        if not changes or self.status != "enrolled":
            return None
        return self._updated(changes)

    def renumbered(self, employee_id: str) -> ParticipantUpdated:
        """The directory gave the employee a new id: the enrolment follows."""
        self._require_enrolled("renumber")
        return self._updated({"employee_id": employee_id})

    def _updated(self, changes: dict[str, Any]) -> ParticipantUpdated:
        profile = {**self.profile, **changes}
        event = ParticipantUpdated.model_validate(profile)  # validates the whole new profile
        _check_profile(event)
        return event

    def withdraw(self, reason: WithdrawReason = "withdrawn") -> ParticipantWithdrew:
        self._require_enrolled("withdraw")
        return ParticipantWithdrew(participant_id=self.participant_id, programme_id=self.programme_id, reason=reason)

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
    for window in profile.availability:
        if window.end <= window.start:
            raise InvalidInput(
                f"availability window {window.start}-{window.end} ends before it starts", field="availability"
            )


def enrol(enrolment: dict[str, Any], directory_profile: dict[str, Any]) -> ParticipantEnrolled:
    """Enrol an employee: the enrolment's fields (carrying participant_id and programme_id) and the profile
    the directory holds. A directory field in the enrolment is refused: the directory owns it."""
    from_directory = sorted(set(enrolment) & set(PROFILE_FIELDS))
    if from_directory:
        raise InvalidInput(
            f"{from_directory[0]} comes from the employee directory; enrol by employee id", field=from_directory[0]
        )
    event = ParticipantEnrolled.model_validate({**enrolment, **directory_profile})
    _check_profile(event)
    return event


def evolve(participant: Participant | None, event: ParticipantEvent) -> Participant:
    """The participant after one of their events (no checks: the event already happened). The only place a
    participant changes: an enrolment or an update carries the whole profile, a withdrawal only the status."""
    if isinstance(event, ParticipantWithdrew):
        if participant is None:
            raise ValueError(f"participant {event.participant_id} withdrew before they enrolled")
        return replace(participant, status="withdrawn")
    return Participant(
        event.participant_id, event.programme_id, event.employee_id, event.role, event.model_dump(mode="json")
    )
