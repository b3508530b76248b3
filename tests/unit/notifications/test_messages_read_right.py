"""Messages that read right (issue 15): the rationale and every sentence in the recipient's language, no "now
formed" welcome for a pair that met before Tandem recorded it, no feedback request once the feedback is given, an
ORGANIZER in the .ics, and every link on the participant portal's page. Pure: domain/content.py, wording.py."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from icalendar import Calendar

from services.notifications.domain import content, model, wording
from services.notifications.domain.rendering import render
from services.pairing.domain import matching
from shared.calendar import CalendarPerson

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
BASE = "https://sessions.example"
LENA = content.Person("m1", "Lena Yilmaz", "lena@acme.example", "mentor", "de", "Europe/Berlin")
ANNA = content.Person("e1", "Anna Kowalska", "anna@acme.example", "mentee", "en", "Europe/Warsaw")
PROGRAMME = content.Programme("g1", "KI-Tandem 2026", 14, "hr@acme.example")
REASONS = (
    {"code": "covers_goals", "covered": 1, "goals": 2, "topics": ["prompt-writing"], "mentee": "Anna"},
    {"code": "shared_languages", "languages": ["de", "en"]},
    {"code": "weekly_overlap", "minutes": 90},
    {"code": "different_departments", "mentee_department": "Sales", "mentor_department": "Finance"},
    {"code": "grade_gap", "gap": 9},
)
ENGLISH = "Covers 1 of Anna's 2 goals: prompt writing; both speak English; 1.5 h weekly overlap."
PAIR = content.Pair("p1", "m1", "e1", "active", ENGLISH, NOW - timedelta(hours=1), reasons=REASONS)
SESSION = content.Session(
    "s1", NOW + timedelta(days=1), 45, 0, "scheduled", agenda="Prompts", updated_at=NOW - timedelta(hours=2)
)
GERMAN = model.Preferences(locale="de", quiet_start=None, quiet_end=None)
ENGLISH_PREFS = model.Preferences(locale="en", quiet_start=None, quiet_end=None)
#: English words that must not appear in a German message (names, the programme's, links and codes aside)
ENGLISH_WORDS = re.compile(r"\b(covers|goals?|both|speak|weekly|overlap|different|departments|grade|gap|the|and|of)\b")


def job(rule: model.Rule, recipient: str = "m1", session_id: str | None = None) -> model.Planned:
    return model.plan(
        rule, "event-1", (recipient,), NOW, tenant="acme", pair_id="p1", programme_id="g1", session_id=session_id
    )[0]


def facts(**changes: object) -> content.Facts:
    base: dict[str, object] = {
        "me": LENA,
        "preferences": GERMAN,
        "programme": PROGRAMME,
        "pair": PAIR,
        "partner": ANNA,
        "mentee_timezone": "Europe/Warsaw",
    }
    return content.Facts(**{**base, **changes})  # type: ignore[arg-type]


def message(rule: model.Rule, f: content.Facts, session_id: str | None = None) -> str:
    draft = content.participant_draft(job(rule, session_id=session_id), f, now=NOW, sessions_url=BASE)
    m = render(rule, f.preferences.locale, dict(draft.values))
    return m.subject + "\n" + m.text


def without_links(text: str) -> str:
    return re.sub(r"https?://\S+", "", text)


# --- the rationale ---------------------------------------------------------------------------------------------


def test_a_german_rationale_is_german_through_and_through() -> None:
    text = wording.rationale(REASONS, ENGLISH, "de")
    assert text == (
        "Deckt 1 von Annas 2 Zielen ab: Prompting; beide sprechen Deutsch und Englisch; 1,5 h gemeinsame Zeit pro "
        "Woche; verschiedene Abteilungen (Sales / Finance); 9 Karrierestufen Abstand."
    )
    assert not ENGLISH_WORDS.search(text.replace("Sales", "").replace("Finance", ""))


def test_the_english_rationale_of_the_reasons_is_the_sentence_matching_stores() -> None:
    assert wording.rationale(REASONS, "", "en") == matching.rationale_text(REASONS)
    assert wording.rationale(REASONS, "", "en").startswith("Covers 1 of Anna's 2 goals: prompt writing; both speak")


@pytest.mark.parametrize(
    ("reason", "german"),
    [
        ({"code": "covers_goals", "covered": 1, "goals": 1, "topics": ["ai-agents"], "mentee": "Klaus"},
         "deckt Klaus' Ziel ab: KI-Agenten"),
        ({"code": "covers_no_goals", "goals": 2, "mentee": "Anna"}, "deckt keines von Annas Zielen ab"),
        ({"code": "weekly_overlap", "minutes": 120}, "2 h gemeinsame Zeit pro Woche"),
        ({"code": "no_common_slot"}, "noch kein gemeinsames Zeitfenster"),
        ({"code": "availability_unknown"}, "Verfügbarkeit nicht angegeben"),
        ({"code": "same_department", "department": "Legal"}, "gleiche Abteilung (Legal)"),
        ({"code": "no_seniority_gap"}, "kein Abstand in der Karrierestufe"),
        ({"code": "shared_languages", "languages": ["fr"]}, "beide sprechen Französisch"),
    ],
)  # fmt: skip
def test_every_reason_code_has_german_words(reason: dict[str, object], german: str) -> None:
    assert wording.reason_text(reason, "de") == german
    assert wording.reason_text(reason, "en")


def test_a_pair_from_before_reasons_shows_its_stored_sentence_and_an_unknown_code_is_left_out() -> None:
    assert wording.rationale((), ENGLISH, "de") == ENGLISH
    assert wording.rationale([{"code": "from_the_future", "x": 1}], ENGLISH, "de") == ENGLISH
    mixed = wording.rationale([{"code": "from_the_future"}, {"code": "no_seniority_gap"}], ENGLISH, "de")
    assert mixed == "Kein Abstand in der Karrierestufe."
    assert wording.rationale([{"code": "grade_gap"}], ENGLISH, "de") == ENGLISH  # a parameter missing


def test_the_german_welcome_says_why_in_german() -> None:
    text = message("welcome", facts())
    assert "Warum Sie beide: Deckt 1 von Annas 2 Zielen ab: Prompting" in text
    assert "Covers" not in text


# --- no "now formed" welcome for a pair that began before it was recorded --------------------------------------


def test_a_pair_that_met_before_tandem_recorded_it_is_told_where_its_tandem_lives_not_that_it_now_formed() -> None:
    moved = content.Pair(
        "p1", "m1", "e1", "active", ENGLISH, NOW - timedelta(hours=1), reasons=REASONS, started_on=date(2026, 10, 5)
    )
    assert moved.moved_in
    for prefs, now_formed, first_meeting, since in (
        (GERMAN, "Sie bilden jetzt ein Tandem", "erstes Treffen", "seit 5. Oktober 2026"),
        (ENGLISH_PREFS, "you are now a Tandem pair", "first meeting", "since 5 October 2026"),
    ):
        text = message("welcome", facts(pair=moved, preferences=prefs))
        assert now_formed not in text
        assert first_meeting not in text
        assert since in text
        assert f"{BASE}/me/pairs/p1" in text
        new = message("welcome", facts(preferences=prefs))
        assert now_formed in new
        assert first_meeting in new
    assert not content.Pair("p", "m", "e", "active", "", NOW, started_on=NOW.date()).moved_in


# --- feedback only from who has not answered ----------------------------------------------------------------------


def test_a_feedback_request_to_someone_who_answered_for_the_session_is_cancelled_when_due() -> None:
    held = content.Session("s1", NOW - timedelta(days=1), 45, 0, "scheduled", held_at=NOW - timedelta(days=1),
                           updated_at=NOW)  # fmt: skip
    answered = content.participant_draft(
        job("feedback_request", session_id="s1"), facts(session=held, feedback_given=True), now=NOW, sessions_url=BASE
    )
    decision = answered.decide(job("feedback_request", session_id="s1"), NOW)
    assert (decision.action, decision.reason) == ("cancel", "feedback already given for the session")
    waiting = content.participant_draft(
        job("feedback_request", session_id="s1"), facts(session=held), now=NOW, sessions_url=BASE
    )
    assert waiting.decide(job("feedback_request", session_id="s1"), NOW).action == "send"


# --- the .ics ------------------------------------------------------------------------------------------------------


def test_the_calendar_entry_has_the_programme_sender_as_organizer_and_both_people_as_attendees() -> None:
    organizer = CalendarPerson("tandem@acme.example", "Tandem")
    draft = content.participant_draft(
        job("reminder_24h", session_id="s1"), facts(session=SESSION), now=NOW, sessions_url=BASE, organizer=organizer
    )
    [(_, _, data)] = draft.attachments_on("email")
    calendar = Calendar.from_ical(data)
    assert str(calendar["METHOD"]) == "REQUEST"
    [event] = calendar.walk("VEVENT")
    assert str(event["ORGANIZER"]) == "mailto:tandem@acme.example"
    assert event["ORGANIZER"].params["CN"] == "Tandem"
    attendees = event["ATTENDEE"]
    assert sorted(str(a) for a in attendees) == ["mailto:anna@acme.example", "mailto:lena@acme.example"]
    assert {a.params["CN"] for a in attendees} == {"Lena Yilmaz", "Anna Kowalska"}
    assert all(a.params["ROLE"] == "REQ-PARTICIPANT" and a.params["RSVP"] == "TRUE" for a in attendees)
    # a local stack's sender has a one-label domain (Tandem <tandem@localhost>): still an organizer, not a failure
    local = content.participant_draft(
        job("session_cancelled", session_id="s1"),
        facts(session=SESSION),
        now=NOW,
        sessions_url=BASE,
        organizer=CalendarPerson("tandem@localhost", "Tandem"),
    )
    [(_, _, data)] = local.attachments_on("email")
    [event] = Calendar.from_ical(data).walk("VEVENT")
    assert str(event["ORGANIZER"]) == "mailto:tandem@localhost"


# --- links -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", ["de", "en"])
def test_every_link_in_every_participant_mail_lands_on_its_portal_page(locale: str) -> None:
    prefs = GERMAN if locale == "de" else ENGLISH_PREFS
    held = content.Session("s1", NOW - timedelta(days=1), 45, 0, "scheduled", held_at=NOW - timedelta(days=1),
                           updated_at=NOW)  # fmt: skip
    activity = model.PairActivity("p1", "g1", "m1", "e1", NOW - timedelta(days=40))
    expected: dict[model.Rule, tuple[content.Facts, str | None, set[str]]] = {
        "welcome": (facts(preferences=prefs), None, {f"{BASE}/me/pairs/p1"}),
        "reminder_24h": (facts(preferences=prefs, session=SESSION), "s1", {f"{BASE}/me/pairs/p1/sessions/s1"}),
        "reminder_1h": (facts(preferences=prefs, session=SESSION), "s1", {f"{BASE}/me/pairs/p1/sessions/s1"}),
        "session_cancelled": (facts(preferences=prefs, session=SESSION), "s1", {f"{BASE}/me/pairs/p1"}),
        "feedback_request": (facts(preferences=prefs, session=held), "s1", {f"{BASE}/me/pairs/p1/feedback?session=s1"}),
        "nudge": (facts(preferences=prefs, activity=activity), None, {f"{BASE}/me/pairs/p1"}),
        "closing_survey": (facts(preferences=prefs), None, {f"{BASE}/me/pairs/p1/feedback"}),
        "partner_left": (facts(preferences=prefs), None, {f"{BASE}/me/pairs/p1/feedback"}),
    }
    for rule, (f, session_id, links) in expected.items():
        text = message(rule, f, session_id)
        found = set(re.findall(r"https?://\S+", text))
        assert found == links | {f"{BASE}/me/preferences"}, rule
        footer = "Wie wir Sie erreichen" if locale == "de" else "Change how we reach you"
        assert footer in text, rule


def test_the_hr_digest_links_the_outcomes_dashboard_and_the_hr_console() -> None:
    values = {
        "programme_name": "P",
        "cadence_days": 14,
        "at_risk": [{"mentee_name": "A", "mentor_name": "B", "days_quiet": 30}],
        "flagged": [],
        "waiting": [],
        "dashboard_url": f"{BASE}/dashboard?programme=g1",
        "console_url": "https://pairing.example/console",
    }
    for locale in ("de", "en"):
        text = render("hr_digest", locale, values).text
        assert set(re.findall(r"https?://\S+", text)) == {
            f"{BASE}/dashboard?programme=g1",
            "https://pairing.example/console",
        }


# --- every other sentence of a German mail ---------------------------------------------------------------------


def test_dates_and_system_written_cancellation_reasons_read_german() -> None:
    why = "the pair ended: Lena Yilmaz left the company"
    start = datetime(2026, 12, 8, 13, 0, tzinfo=UTC)
    cancelled = content.Session("s1", start, 45, 1, "cancelled", cancel_reason=why, updated_at=NOW)
    text = message("session_cancelled", facts(session=cancelled), "s1")
    assert "Dienstag, 8. Dezember 2026, 14:00 Uhr" in text
    assert "Grund: das Tandem wurde beendet (Lena Yilmaz hat das Unternehmen verlassen)" in text
    assert not ENGLISH_WORDS.search(without_links(text))
    draft = content.participant_draft(job("session_cancelled", session_id="s1"), facts(session=cancelled), now=NOW,
                                      sessions_url=BASE)  # fmt: skip
    [(_, _, data)] = draft.attachments_on("email")
    [event] = Calendar.from_ical(data).walk("VEVENT")
    assert str(event["COMMENT"]) == "das Tandem wurde beendet (Lena Yilmaz hat das Unternehmen verlassen)"
    assert wording.cancel_reason("the pair ended: HR ended it", "de") == "das Tandem wurde beendet (HR hat es beendet)"
    assert wording.cancel_reason("Krank", "de") == "Krank"
    assert wording.cancel_reason("the pair ended: HR ended it", "en") == "the pair ended: HR ended it"


@pytest.mark.parametrize("rule", model.RULES)
def test_no_english_sentence_in_a_german_participant_mail(rule: model.Rule) -> None:
    if rule == "hr_digest":
        return
    held = content.Session("s1", NOW - timedelta(days=1), 45, 0, "scheduled", held_at=NOW - timedelta(days=1),
                           agenda="Prompts", updated_at=NOW)  # fmt: skip
    activity = model.PairActivity("p1", "g1", "m1", "e1", NOW - timedelta(days=40))
    session_id = "s1" if rule in ("reminder_24h", "reminder_1h", "session_cancelled", "feedback_request") else None
    f = facts(session=held if session_id else None, activity=activity)
    text = without_links(message(rule, f, session_id))
    assert not ENGLISH_WORDS.search(text), (rule, ENGLISH_WORDS.search(text))


def test_the_feedback_grace_is_ten_minutes_unless_set_and_a_bad_value_is_named() -> None:
    from services.notifications.projection import feedback_grace
    from shared.config import ConfigError

    assert feedback_grace({}) == timedelta(minutes=10)
    assert feedback_grace({"FEEDBACK_GRACE_SECONDS": "0"}) == timedelta(0)
    assert feedback_grace({"FEEDBACK_GRACE_SECONDS": "90"}) == timedelta(seconds=90)
    for bad in ("soon", "-1", "999999999"):
        with pytest.raises(ConfigError, match="NOTIFICATIONS_FEEDBACK_GRACE_SECONDS"):
            feedback_grace({"FEEDBACK_GRACE_SECONDS": bad})
