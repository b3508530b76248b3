"""HR's weekly digest in the programme's HR language (ProgramLaunched.hr_locale), every sentence and value of it, and
the .ics SUMMARY in the recipient's language (issue 15). Pure: domain/content.py, wording.py, shared/calendar.py and
the pairing programme aggregate that carries the language."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from icalendar import Calendar

from services.notifications.domain import content, model, wording
from services.notifications.domain.rendering import render
from services.pairing.domain import matching, programmes
from shared.calendar import CalendarPerson, session_ics, session_summary
from shared.errors import InvalidInput
from shared.events.pairing import ProgramLaunched

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
BASE = "https://sessions.example"
#: English words that must not appear in a German digest (names, the programme's, links and ids aside; "Partner"
#: and "Dashboard" are German nouns too)
ENGLISH_WORDS = re.compile(
    r"\b(the|and|of|with|days?|without|session|since|paused|still|running|reports?|within|management|levels?|"
    r"programme|allows|none|share|language|left|company|pairs?|need|your|attention|week|dashboard|console|"
    r"flagged|waiting|partner|rule|chain|The|Hello|Since|Not|Flagged|Waiting|Keep|Reporting)\b"
)


def _person(pid: str, name: str, role: str, languages: set[str]) -> matching.Person:
    return matching.Person(pid, pid, name, role, "Sales", 5, frozenset(languages))  # type: ignore[arg-type]


def _conflicts() -> tuple[matching.RuleConflict, matching.RuleConflict]:
    """The two flags pairing writes, worded by pairing itself (English), so a change there shows here."""
    lena = _person("m1", "Lena Yilmaz", "mentor", {"de"})
    anna = _person("e1", "Anna Kowalska", "mentee", {"pl"})
    language = matching.hard_rule_conflict(lena, anna, matching.Policy(), {})
    max_ = _person("m2", "Max Weber", "mentor", {"de"})
    ida = _person("e2", "Ida Berg", "mentee", {"de"})
    line = matching.hard_rule_conflict(max_, ida, matching.Policy(reporting_line_levels=3), {"e2": "x", "x": "m2"})
    assert language is not None
    assert line is not None
    return language, line


def digest_facts(hr_locale: str) -> content.DigestFacts:
    programme = content.Programme("g1", "KI-Tandem 2026", 14, "hr@acme.example", hr_locale)
    language, line = _conflicts()
    since = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
    return content.DigestFacts(
        programme,
        pairs=(model.PairActivity("p1", "g1", "m1", "e1", NOW - timedelta(days=60)),),
        flagged=(
            content.FlaggedPair("p1", "m1", "e1", language.rule, language.detail, language.chain, since, True),
            content.FlaggedPair("p2", "m2", "e2", line.rule, line.detail, line.chain, since, False),
        ),
        waiting=(content.WaitingPartner("p3", "Jonas Frei", "Eva Roth", datetime(2026, 10, 12, 15, tzinfo=UTC)),),
        names={"m1": "Lena Yilmaz", "e1": "Anna Kowalska", "m2": "Max Weber", "e2": "Ida Berg"},
        employees={"m2": "Max Weber", "e2": "Ida Berg", "x": "Olga Stein"},
    )


def digest_text(hr_locale: str) -> tuple[content.Draft, str]:
    draft = content.hr_draft(
        digest_facts(hr_locale),
        now=NOW,
        dashboard_url=f"{BASE}/dashboard?programme=g1",
        console_url="https://pairing.example/console",
    )
    assert draft is not None
    message = render("hr_digest", draft.preferences.locale, dict(draft.values))
    return draft, message.subject + "\n" + message.text


def test_a_german_programme_gets_a_german_digest_every_sentence_and_value() -> None:
    draft, text = digest_text("de")
    assert draft.preferences.locale == "de"
    assert (
        draft.decide(model.plan("hr_digest", "e", ("hr:g1",), NOW, tenant="acme", programme_id="g1")[0], NOW).action
        == "send"
    )
    assert "KI-Tandem 2026: 4 Tandem(s) brauchen diese Woche Ihre Aufmerksamkeit" in text
    assert "- Anna Kowalska mit Lena Yilmaz: seit 60 Tagen keine Sitzung" in text
    # the rule broken, worded in German from what pairing wrote
    assert "Lena Yilmaz und Anna Kowalska sprechen keine gemeinsame Sprache mehr." in text
    assert (
        "Ida Berg berichtet über 2 Führungsebenen an Max Weber (das Programm erlaubt keine Berichtslinie "
        "innerhalb von 3 Führungsebenen)." in text
    )
    assert "Berichtskette: Ida Berg → Olga Stein → Max Weber." in text
    # dates as German writes them
    assert "Seit 3. November 2026; pausiert." in text
    assert "Seit 3. November 2026; läuft weiter." in text
    assert "Eva Roth hat das Unternehmen am 12. Oktober 2026 verlassen" in text
    without_links = re.sub(r"https?://\S+", "", text)
    assert not ENGLISH_WORDS.search(without_links), ENGLISH_WORDS.search(without_links)


def test_an_english_programme_keeps_the_english_digest_with_pairings_own_sentences() -> None:
    draft, text = digest_text("en")
    language, line = _conflicts()
    assert draft.preferences.locale == "en"
    assert "KI-Tandem 2026: 4 pair(s) need your attention this week" in text
    assert f": {language.detail}." in text
    assert f": {line.detail}." in text
    assert "Since 3 November 2026; paused." in text
    assert "Eva Roth left the company on 12 October 2026" in text


def test_a_programme_from_before_or_with_a_language_without_templates_gets_english() -> None:
    assert content.Programme("g1", "P", 14, "hr@acme.example").hr_locale == "en"
    draft, _ = digest_text("fr")
    assert draft.preferences.locale == "en"


def test_a_flag_sentence_this_version_does_not_know_is_worded_from_the_rule_in_german() -> None:
    assert (
        wording.flag_detail(
            "reporting_line", "something new", "de", chain=["Ida", "Max"], mentor_name="Max", mentee_name="Ida"
        )
        == "Ida berichtet direkt an Max"
    )
    assert (
        wording.flag_detail("shared_language", "x", "de", mentor_name="Max", mentee_name="Ida")
        == "Max und Ida sprechen keine gemeinsame Sprache mehr"
    )
    assert wording.flag_detail("reporting_line", "something new", "en") == "something new"
    # a session cancelled by a reorganisation's end of the pair reads German too
    _, line = _conflicts()
    assert wording.cancel_reason(f"the pair ended: reorganisation: {line.detail}", "de") == (
        "das Tandem wurde beendet (Umorganisation: Ida Berg berichtet über 2 Führungsebenen an Max Weber (das "
        "Programm erlaubt keine Berichtslinie innerhalb von 3 Führungsebenen))"
    )


# --- the .ics ----------------------------------------------------------------------------------------------------

LENA = content.Person("m1", "Lena Yilmaz", "lena@acme.example", "mentor", "de", "Europe/Berlin")
ANNA = content.Person("e1", "Anna Kowalska", "anna@acme.example", "mentee", "en", "Europe/Warsaw")
SESSION = content.Session(
    "s1", NOW + timedelta(days=1), 45, 0, "scheduled", agenda="Prompts", updated_at=NOW - timedelta(hours=2)
)


@pytest.mark.parametrize(
    ("locale", "summary"), [("de", "Tandem-Treffen (Reverse Mentoring)"), ("en", "Tandem reverse mentoring")]
)
def test_the_calendar_entry_of_a_reminder_is_named_in_the_recipients_language(locale: str, summary: str) -> None:
    me, partner = (LENA, ANNA) if locale == "de" else (ANNA, LENA)
    facts = content.Facts(
        me=me,
        preferences=model.Preferences(locale=locale, quiet_start=None, quiet_end=None),  # type: ignore[arg-type]
        programme=content.Programme("g1", "P", 14),
        pair=content.Pair("p1", "m1", "e1", "active", "", NOW - timedelta(days=3)),
        partner=partner,
        session=SESSION,
    )
    job = model.plan("reminder_24h", "e", (me.participant_id,), NOW, tenant="acme", pair_id="p1", session_id="s1")[0]
    draft = content.participant_draft(
        job, facts, now=NOW, sessions_url=BASE, organizer=CalendarPerson("tandem@acme.example", "Tandem")
    )
    [(_, _, data)] = draft.attachments_on("email")
    [event] = Calendar.from_ical(data).walk("VEVENT")
    assert str(event["SUMMARY"]) == summary
    assert event["SUMMARY"].params["LANGUAGE"] == locale


def test_the_summary_names_the_two_people_and_refuses_a_language_it_has_no_words_for() -> None:
    assert session_summary("de", ["Lena Yilmaz", " ", "Anna Kowalska"]) == (
        "Tandem-Treffen (Reverse Mentoring): Lena Yilmaz & Anna Kowalska"
    )
    assert session_summary("en") == "Tandem reverse mentoring"
    with pytest.raises(InvalidInput, match="locale must be one of de, en, not 'fr'") as caught:
        session_summary("fr")
    assert caught.value.field == "locale"
    # without a language the entry has no LANGUAGE parameter (as before)
    [event] = Calendar.from_ical(session_ics(SESSION, dtstamp=NOW, summary="x")).walk("VEVENT")
    assert "LANGUAGE" not in event["SUMMARY"].params


# --- the programme carries the language ----------------------------------------------------------------------------


def test_a_programme_launches_with_its_hr_language_and_refuses_one_without_templates() -> None:
    start, end = date(2027, 1, 1), date(2027, 6, 30)
    draft = programmes.new_programme("g1", "P", start, end, 14, ["ai-agents"], hr_locale="de")
    assert draft.launch().hr_locale == "de"
    assert programmes.new_programme("g2", "P", start, end, 14, ["ai-agents"]).launch().hr_locale == "en"
    with pytest.raises(InvalidInput, match="hr_locale must be one of de, en") as caught:
        programmes.new_programme("g3", "P", start, end, 14, ["ai-agents"], hr_locale="fr")
    assert caught.value.field == "hr_locale"


def test_a_programme_launched_before_the_field_existed_reads_english() -> None:
    old = {
        "programme_id": "g1",
        "name": "P",
        "starts_on": "2026-01-01",
        "ends_on": "2026-06-30",
        "cadence_days": 14,
        "focus_topics": ["ai-agents"],
    }
    assert ProgramLaunched.model_validate(old).hr_locale == "en"
    with pytest.raises(ValueError, match="hr_locale"):
        ProgramLaunched.model_validate({**old, "hr_locale": "fr"})
