"""What the sessions service keeps of the pairing service's programmes and participants (for rules such as
the programme's focus topics, and for names and addresses), and how the pairing events change it. Pure.

The read model's rows of programmes and participants are these views, evolved by these functions, per
event and in bulk alike.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from shared.events.common import Role
from shared.events.pairing import (
    ParticipantEnrolled,
    ParticipantUpdated,
    ParticipantWithdrew,
    ProgramClosed,
    ProgramLaunched,
)

ProgrammeEvent = ProgramLaunched | ProgramClosed
ParticipantEvent = ParticipantEnrolled | ParticipantUpdated | ParticipantWithdrew


@dataclass(frozen=True)
class ProgrammeView:
    programme_id: str
    name: str
    starts_on: date
    ends_on: date
    cadence_days: int
    focus_topics: tuple[str, ...]
    closed: bool = False
    min_group_size: int = 5


@dataclass(frozen=True)
class ParticipantView:
    participant_id: str
    programme_id: str
    role: Role
    display_name: str
    email: str
    withdrawn: bool = False
    employee_id: str | None = None
    #: The person's language for the pages and mails (ParticipantProfile.locale).
    locale: str = "en"


def evolve_programme(programme: ProgrammeView | None, event: ProgrammeEvent) -> ProgrammeView | None:
    """A launch (again) states the programme's name, dates, cadence, focus topics and group floor; whether
    it closed stays. Closing an unknown programme changes nothing."""
    if isinstance(event, ProgramLaunched):
        return ProgrammeView(
            event.programme_id,
            event.name,
            event.starts_on,
            event.ends_on,
            event.cadence_days,
            tuple(event.focus_topics),
            programme is not None and programme.closed,
            event.min_group_size,
        )
    return None if programme is None else replace(programme, closed=True)


def evolve_participant(participant: ParticipantView | None, event: ParticipantEvent) -> ParticipantView | None:
    """An enrolment makes the participant; a later profile (enrolment or update) changes the name, address,
    employee id and locale only (the programme and role are the enrolment's). A withdrawal of an unknown one
    changes nothing."""
    if isinstance(event, ParticipantWithdrew):
        return None if participant is None else replace(participant, withdrawn=True)
    if participant is not None:
        return replace(
            participant,
            display_name=event.display_name,
            email=str(event.email),
            employee_id=event.employee_id,
            locale=event.locale,
        )
    return ParticipantView(
        event.participant_id,
        event.programme_id,
        event.role,
        event.display_name,
        str(event.email),
        False,
        event.employee_id,
        event.locale,
    )
