"""iCalendar invitations: parsed back with icalendar, checked field by field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from icalendar import Calendar

from services.sessions.domain.commands import (
    CancelSession,
    ConfirmAgreement,
    LogSession,
    RescheduleSession,
    ScheduleSession,
)
from services.sessions.domain.errors import InvalidInput
from services.sessions.domain.model import Mentorship, PairView, Session
from shared.calendar import (
    PRODID,
    CalendarPerson,
    ics_method,
    session_ics,
    session_uid,
)

P, G = "p1", "g1"
BERLIN = timezone(timedelta(hours=1))
START = datetime(2026, 3, 2, 10, 0, tzinfo=BERLIN)  # 09:00 UTC
STAMP = datetime(2026, 2, 20, 8, 30, tzinfo=UTC)
AGENDA = "Prompting basics; then Copilot in Outlook, Excel\nBring: one real e-mail thread"


def mentorship() -> Mentorship:
    m = Mentorship(PairView(P, G, "mentor-1", "mentee-1"))
    for who in ("mentor-1", "mentee-1"):
        m.confirm_agreement(ConfirmAgreement(P, who, "every two weeks", True))
    m.schedule_session(ScheduleSession(P, "s-42", START, 45, AGENDA))
    return m


def parse(data: bytes) -> tuple[Calendar, Any]:
    calendar = Calendar.from_ical(data)
    [event] = calendar.walk("VEVENT")
    return calendar, event


def test_a_scheduled_session_is_a_request() -> None:
    session = mentorship().sessions["s-42"]
    data = session_ics(session, dtstamp=STAMP)
    assert isinstance(data, bytes)
    calendar, event = parse(data)
    assert str(calendar["prodid"]) == PRODID == "-//Tandem//Reverse Mentoring//EN"
    assert str(calendar["version"]) == "2.0"
    assert str(calendar["method"]) == "REQUEST"
    assert str(event["uid"]) == "s-42@tandem" == session_uid("s-42")
    assert int(event["sequence"]) == 0
    assert str(event["status"]) == "CONFIRMED"
    assert str(event["summary"]) == "Tandem reverse-mentoring session"
    assert str(event["description"]) == AGENDA
    assert event.decoded("dtstart") == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert event.decoded("dtend") == datetime(2026, 3, 2, 9, 45, tzinfo=UTC)
    assert event.decoded("dtstamp") == STAMP
    assert event.decoded("dtstart").utcoffset() == timedelta(0)
    assert "organizer" not in event
    assert "attendee" not in event
    text = data.decode()
    assert "DTSTART:20260302T090000Z\r\n" in text
    assert "DTEND:20260302T094500Z\r\n" in text
    assert "DTSTAMP:20260220T083000Z\r\n" in text
    assert "TZID" not in text


def test_organizer_and_attendees_are_mailto_addresses() -> None:
    session = mentorship().sessions["s-42"]
    data = session_ics(
        session,
        dtstamp=STAMP,
        summary="Reverse mentoring: Anna & Dr. Berg",
        organizer=CalendarPerson("hr-tandem@example.com", "Tandem HR"),
        attendees=[CalendarPerson("anna@example.com", "Anna Schmidt"), CalendarPerson(" berg@example.com ")],
    )
    _, event = parse(data)
    assert str(event["summary"]) == "Reverse mentoring: Anna & Dr. Berg"
    organizer = event["organizer"]
    assert (str(organizer), organizer.params["CN"]) == ("mailto:hr-tandem@example.com", "Tandem HR")
    anna, berg = event["attendee"]
    assert str(anna) == "mailto:anna@example.com"
    assert (anna.params["CN"], anna.params["ROLE"], anna.params["RSVP"], anna.params["PARTSTAT"]) == (
        "Anna Schmidt",
        "REQ-PARTICIPANT",
        "TRUE",
        "NEEDS-ACTION",
    )
    assert str(berg) == "mailto:berg@example.com"
    assert "CN" not in berg.params


def test_rescheduling_keeps_the_uid_and_raises_the_sequence() -> None:
    m = mentorship()
    first = parse(session_ics(m.sessions["s-42"], dtstamp=STAMP))[1]
    m.reschedule_session(RescheduleSession(P, "s-42", datetime(2026, 3, 3, 16, 0, tzinfo=UTC), 60))
    m.reschedule_session(RescheduleSession(P, "s-42", datetime(2026, 3, 4, 16, 0, tzinfo=UTC), 60))
    calendar, second = parse(session_ics(m.sessions["s-42"], dtstamp=STAMP + timedelta(days=1)))
    assert str(calendar["method"]) == "REQUEST"
    assert str(second["uid"]) == str(first["uid"])
    assert int(second["sequence"]) == 2
    assert second.decoded("dtstart") == datetime(2026, 3, 4, 16, 0, tzinfo=UTC)
    assert second.decoded("dtend") == datetime(2026, 3, 4, 17, 0, tzinfo=UTC)
    assert str(second["description"]) == AGENDA


def test_a_cancelled_session_is_a_cancel() -> None:
    m = mentorship()
    m.reschedule_session(RescheduleSession(P, "s-42", START + timedelta(days=1), 45))
    m.cancel_session(CancelSession(P, "s-42", "Board meeting moved"))
    session = m.sessions["s-42"]
    assert ics_method(session) == "CANCEL"
    calendar, event = parse(
        session_ics(session, dtstamp=STAMP, attendees=[CalendarPerson("anna@example.com", "Anna Schmidt")])
    )
    assert str(calendar["method"]) == "CANCEL"
    assert str(event["status"]) == "CANCELLED"
    assert int(event["sequence"]) == 2
    assert str(event["uid"]) == "s-42@tandem"
    assert str(event["comment"]) == "Board meeting moved"
    assert event.decoded("dtstart") == datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    attendee = event["attendee"]
    assert "RSVP" not in attendee.params


def test_a_held_session_keeps_its_last_request() -> None:
    m = mentorship()
    m.log_session(LogSession(P, "s-42", START, 45), now=START + timedelta(hours=1))
    calendar, event = parse(session_ics(m.sessions["s-42"], dtstamp=STAMP))
    assert (str(calendar["method"]), str(event["status"]), int(event["sequence"])) == ("REQUEST", "CONFIRMED", 0)


def test_the_output_is_reproducible_and_round_trips() -> None:
    session = mentorship().sessions["s-42"]
    people: dict[str, Any] = {
        "organizer": CalendarPerson("hr@example.com"),
        "attendees": [CalendarPerson("a@example.com", 'Ä, "quoted"; name')],
    }
    data = session_ics(session, dtstamp=STAMP, **people)
    assert data == session_ics(session, dtstamp=STAMP, **people)
    calendar = Calendar.from_ical(data)
    assert calendar.to_ical() == data
    assert calendar.walk("VEVENT")[0]["attendee"].params["CN"] == 'Ä, "quoted"; name'  # RFC 6868 escaping


def test_a_session_without_agenda_has_no_description() -> None:
    session = Session("s", P, G, datetime(2026, 3, 2, 9, tzinfo=UTC), 30)
    _, event = parse(session_ics(session, dtstamp=STAMP, summary="   "))
    assert "description" not in event
    assert str(event["summary"]) == "Tandem reverse-mentoring session"


def test_calendar_errors() -> None:
    session = mentorship().sessions["s-42"]
    with pytest.raises(InvalidInput) as err:
        session_ics(session, dtstamp=datetime(2026, 2, 20, 8, 30))
    assert err.value.field == "dtstamp"
    with pytest.raises(InvalidInput) as err:
        session_ics(session, dtstamp=STAMP, organizer=CalendarPerson("not an address"))
    assert err.value.field == "organizer"
    with pytest.raises(InvalidInput) as err:
        session_ics(
            session,
            dtstamp=STAMP,
            attendees=[CalendarPerson("a@example.com"), CalendarPerson("b@example.com\r\nX-EVIL:1")],
        )
    assert err.value.field == "attendees.1"
    assert "not an e-mail address" in err.value.message
