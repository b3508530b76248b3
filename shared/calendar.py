"""iCalendar (RFC 5545, with the iTIP methods of RFC 5546) invitations for sessions. Pure: bytes out.

Mechanics, no business rule: the sessions service serves a session's entry, notifications attaches it to
reminders and cancellations; each passes its own view of the session (anything with the attributes of
`CalendarSession`), so neither imports the other.

One VEVENT per session. Its UID ("<session_id>@tandem") stays the same across versions, so a
calendar replaces the entry instead of adding one; SEQUENCE is the session's sequence (0 when
scheduled, +1 per reschedule or cancellation), so the newest version wins.

* scheduled or rescheduled: METHOD:REQUEST, STATUS:CONFIRMED.
* cancelled: METHOD:CANCEL, STATUS:CANCELLED (the cancellation reason, if any, as COMMENT).
* held (logged): still the last REQUEST; logging does not change the calendar entry.

SUMMARY is the only text the entry itself words: `session_summary` gives it in the recipient's language (German or
English; the LANGUAGE parameter says which). DESCRIPTION (the agenda) and COMMENT (the cancellation reason) are
passed in as the caller words them.

Times are written in UTC ("...Z"); DTSTAMP is passed in (the domain has no clock), which also
makes the output reproducible byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol

from icalendar import Calendar, Event, vCalAddress

from shared.errors import InvalidInput

PRODID = "-//Tandem//Reverse Mentoring//EN"
UID_DOMAIN = "tandem"
DEFAULT_SUMMARY = "Tandem reverse-mentoring session"
#: What a session's calendar entry is called, by language (`session_summary`).
SUMMARIES: dict[str, str] = {"en": "Tandem reverse mentoring", "de": "Tandem-Treffen (Reverse Mentoring)"}
ICS_CONTENT_TYPE = "text/calendar; charset=utf-8"

Method = Literal["REQUEST", "CANCEL"]

#: local@domain, no white space; the domain may be a single label ("tandem@localhost", a local stack's sender)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)*$")


class CalendarSession(Protocol):
    """What a calendar entry is made of: a session as its service sees it."""

    @property
    def session_id(self) -> str: ...
    @property
    def starts_at(self) -> datetime: ...
    @property
    def ends_at(self) -> datetime: ...
    @property
    def sequence(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def agenda(self) -> str: ...
    @property
    def cancel_reason(self) -> str: ...


@dataclass(frozen=True)
class CalendarPerson:
    """An organizer or attendee: an e-mail address and optionally the name to show (CN)."""

    email: str
    name: str | None = None


def session_uid(session_id: str) -> str:
    return f"{session_id}@{UID_DOMAIN}"


def session_summary(locale: str, names: Sequence[str] = ()) -> str:
    """What the session's entry is called in the language `locale` ("de" or "en"), followed by the two people's
    names when given: "Tandem-Treffen (Reverse Mentoring): Anna Berg & Lena Yilmaz"."""
    if locale not in SUMMARIES:
        raise InvalidInput(f"locale must be one of {', '.join(sorted(SUMMARIES))}, not {locale!r}", field="locale")
    title = SUMMARIES[locale]
    shown = [n.strip() for n in names if n.strip()]
    return f"{title}: {' & '.join(shown)}" if shown else title


def ics_method(session: CalendarSession) -> Method:
    return "CANCEL" if session.status == "cancelled" else "REQUEST"


def session_ics(
    session: CalendarSession,
    *,
    dtstamp: datetime,
    summary: str = DEFAULT_SUMMARY,
    organizer: CalendarPerson | None = None,
    attendees: Sequence[CalendarPerson] = (),
    language: str | None = None,
) -> bytes:
    """The session as an iCalendar object (VCALENDAR with one VEVENT), CRLF-separated UTF-8 bytes. `language`
    (a language tag such as "de") is the SUMMARY's LANGUAGE parameter (RFC 5545 3.2.10)."""
    if dtstamp.tzinfo is None or dtstamp.utcoffset() is None:
        raise InvalidInput(f"dtstamp must carry a time zone (got {dtstamp.isoformat()})", field="dtstamp")
    method = ics_method(session)
    cancelled = method == "CANCEL"

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)

    event = Event()
    event.add("uid", session_uid(session.session_id))
    event.add("dtstamp", dtstamp.astimezone(UTC))
    event.add("dtstart", session.starts_at.astimezone(UTC))
    event.add("dtend", session.ends_at.astimezone(UTC))
    event.add("sequence", session.sequence)
    event.add("summary", summary.strip() or DEFAULT_SUMMARY, parameters={"LANGUAGE": language} if language else {})
    if session.agenda:
        event.add("description", session.agenda)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    if cancelled and session.cancel_reason:
        event.add("comment", session.cancel_reason)
    if organizer is not None:
        event.add("organizer", _address("organizer", organizer))
    for i, person in enumerate(attendees):
        address = _address(f"attendees.{i}", person)
        address.params["ROLE"] = "REQ-PARTICIPANT"
        if not cancelled:
            address.params["PARTSTAT"] = "NEEDS-ACTION"
            address.params["RSVP"] = "TRUE"
        event.add("attendee", address)
    calendar.add_component(event)
    data: bytes = calendar.to_ical()
    return data


def _address(field: str, person: CalendarPerson) -> vCalAddress:
    email = person.email.strip()
    if not _EMAIL.match(email):
        raise InvalidInput(f"{field}: {person.email!r} is not an e-mail address", field=field)
    address = vCalAddress(f"mailto:{email}")
    name = (person.name or "").strip()
    if name:
        address.params["CN"] = name
    return address


__all__ = [
    "DEFAULT_SUMMARY",
    "ICS_CONTENT_TYPE",
    "PRODID",
    "SUMMARIES",
    "UID_DOMAIN",
    "CalendarPerson",
    "CalendarSession",
    "Method",
    "ics_method",
    "session_ics",
    "session_summary",
    "session_uid",
]
