"""Notifications domain: ids, reminders, quiet hours, opt-out, retries, nudges; every template in both languages."""

from __future__ import annotations

import os
import re
import shutil
import uuid
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from time import time as time_now

import pytest

from services.notifications.domain import model
from services.notifications.domain.rendering import RULES, TEMPLATES, RenderError, Templates, day, render, when

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday


T = "acme"


def test_the_same_rule_trigger_and_recipient_always_give_the_same_id() -> None:
    a = model.notification_id("welcome", "event-1", "p1", tenant=T)
    assert a == model.notification_id("welcome", "event-1", "p1", tenant=T)
    assert a != model.notification_id("welcome", "event-2", "p1", tenant=T)
    assert a != model.notification_id("welcome", "event-1", "p2", tenant=T)


def test_the_same_ids_in_two_tenants_are_two_notifications() -> None:
    # a nudge's trigger is made of the pair id: two tenants may both have a pair "pair-1"
    trigger = model.nudge_trigger("pair-1", NOW - timedelta(days=40), NOW, 14)
    assert trigger is not None
    ours = model.plan("nudge", trigger, ("p1",), NOW, tenant="acme", pair_id="pair-1")
    theirs = model.plan("nudge", trigger, ("p1",), NOW, tenant="globex", pair_id="pair-1")
    assert ours[0].notification_id != theirs[0].notification_id
    assert (ours[0].tenant, theirs[0].tenant) == ("acme", "globex")
    trigger = model.digest_trigger("prog", NOW)
    digests = {
        model.plan("hr_digest", trigger, ("hr:prog",), NOW, tenant=t)[0].notification_id
        for t in ("acme", "globex", "default")
    }
    assert len(digests) == 3


def test_the_default_tenant_keeps_the_ids_planned_before_tenants_were_kept_apart() -> None:
    before = uuid.uuid5(model.NAMESPACE, "welcome|event-1|p1")  # the formula of every id planned until then
    assert model.notification_id("welcome", "event-1", "p1", tenant="default") == before
    assert model.notification_id("welcome", "event-1", "p1", tenant="acme") != before


def test_reminders_24h_and_1h_before_and_none_in_the_past() -> None:
    starts = NOW + timedelta(days=2)
    planned = model.reminders("ev", "s1", "pair", "prog", ("m", "e"), starts, NOW, tenant=T)
    assert sorted((p.rule, p.recipient_id, p.due_at) for p in planned) == sorted(
        [("reminder_24h", r, starts - timedelta(hours=24)) for r in ("m", "e")]
        + [("reminder_1h", r, starts - timedelta(hours=1)) for r in ("m", "e")]
    )
    soon = model.reminders("ev", "s1", "pair", "prog", ("m",), NOW + timedelta(hours=5), NOW, tenant=T)
    assert [p.rule for p in soon] == ["reminder_1h"]
    assert model.reminders("ev", "s1", "pair", "prog", ("m",), NOW + timedelta(minutes=30), NOW, tenant=T) == []


def test_quiet_hours_wrap_midnight_in_the_recipients_zone() -> None:
    prefs = model.Preferences(quiet_start=time(20, 0), quiet_end=time(8, 0))
    late = datetime(2026, 3, 2, 21, 30, tzinfo=UTC)  # 22:30 in Berlin
    assert model.in_quiet_hours(late, prefs, "Europe/Berlin") == datetime(2026, 3, 3, 7, 0, tzinfo=UTC)
    early = datetime(2026, 3, 3, 5, 0, tzinfo=UTC)  # 06:00 in Berlin
    assert model.in_quiet_hours(early, prefs, "Europe/Berlin") == datetime(2026, 3, 3, 7, 0, tzinfo=UTC)
    assert model.in_quiet_hours(NOW, prefs, "Europe/Berlin") is None
    lunch = model.Preferences(quiet_start=time(12, 0), quiet_end=time(13, 0))
    assert model.in_quiet_hours(datetime(2026, 3, 2, 11, 30, tzinfo=UTC), lunch, "Europe/Berlin") == datetime(
        2026, 3, 2, 12, 0, tzinfo=UTC
    )
    assert model.in_quiet_hours(late, model.Preferences(quiet_start=None, quiet_end=None), "UTC") is None


def test_decisions_opt_out_quiet_hours_and_ended_pairs() -> None:
    def job(rule: model.Rule) -> model.Planned:
        return model.plan(rule, "t", ("p",), NOW, tenant=T, pair_id="pair")[0]

    calm = model.Preferences(quiet_start=None, quiet_end=None)
    assert model.decide(job("nudge"), NOW, calm, "UTC", pair_ended=False).action == "send"
    out = model.Preferences(opted_out=True, quiet_start=None, quiet_end=None)
    assert model.decide(job("nudge"), NOW, out, "UTC", pair_ended=False).action == "skip"
    assert model.decide(job("welcome"), NOW, out, "UTC", pair_ended=False).action == "send"  # mandatory
    assert model.decide(job("reminder_1h"), NOW, calm, "UTC", pair_ended=True).action == "cancel"
    assert model.decide(job("closing_survey"), NOW, calm, "UTC", pair_ended=True).action == "send"
    # the end of a pair still sends the calendar cancellations it caused and the word to a leaver's partner
    assert model.decide(job("session_cancelled"), NOW, calm, "UTC", pair_ended=True).action == "send"
    assert model.decide(job("partner_left"), NOW, out, "UTC", pair_ended=True).action == "send"  # mandatory
    assert model.decide(job("nudge"), NOW, calm, "UTC", pair_ended=True).action == "cancel"
    night = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)
    quiet = model.Preferences()
    deferred = model.decide(job("feedback_request"), night, quiet, "UTC", pair_ended=False)
    assert (deferred.action, deferred.until) == ("defer", datetime(2026, 3, 3, 8, 0, tzinfo=UTC))
    useless = model.decide(
        job("reminder_1h"), night, quiet, "UTC", pair_ended=False, session_starts_at=night + timedelta(hours=1)
    )
    assert useless.action == "skip"


def test_nothing_goes_to_someone_who_left_the_company_and_no_nudge_to_a_paused_pair() -> None:
    calm = model.Preferences(quiet_start=None, quiet_end=None)
    for rule in model.RULES:
        job = model.plan(rule, "t", ("p",), NOW, tenant=T, pair_id="pair")[0]
        gone = model.decide(job, NOW, calm, "UTC", pair_ended=True, recipient_left=True)
        assert (gone.action, gone.reason) == ("cancel", "the recipient left the company: nothing more is sent to them")
        paused = model.decide(job, NOW, calm, "UTC", pair_ended=False, pair_paused=True).action
        assert paused == ("cancel" if rule == "nudge" else "send"), rule


def test_the_end_of_a_pair_plans_a_closing_survey_or_the_word_to_the_partner_of_a_leaver() -> None:
    members = ("mentor", "mentee")

    def farewell(reason: str, left: set[str], trigger: str = "ended-1") -> list[tuple[str, str]]:
        planned = model.farewell(trigger, "pair", "prog", members, reason, frozenset(left), NOW, tenant=T)
        assert all((n.pair_id, n.programme_id, n.trigger, n.due_at) == ("pair", "prog", trigger, NOW) for n in planned)
        return [(n.rule, n.recipient_id) for n in planned]

    assert farewell("completed", set()) == [("closing_survey", "mentor"), ("closing_survey", "mentee")]
    assert farewell("withdrawn", set()) == [("closing_survey", "mentor"), ("closing_survey", "mentee")]
    assert farewell("left_company", {"mentor"}) == [("partner_left", "mentee")]
    assert farewell("left_company", {"mentee"}) == [("partner_left", "mentor")]
    assert farewell("left_company", {"mentor", "mentee"}) == []
    assert farewell("left_company", set()) == []  # who left is not known yet: planned with the withdrawal
    assert farewell("by_hr", {"mentee"}) == [("closing_survey", "mentor")]  # a leaver gets no survey either
    # the PairEnded and the withdrawal plan the same message for the partner, whichever comes second
    first = model.farewell("ended-1", "pair", "prog", members, "left_company", frozenset({"mentor"}), NOW, tenant=T)
    second = model.farewell(
        "ended-1", "pair", "prog", members, "left_company", frozenset({"mentor"}), NOW + timedelta(seconds=3), tenant=T
    )
    assert [n.notification_id for n in first] == [n.notification_id for n in second]


def test_every_rule_has_its_templates() -> None:
    assert set(RULES) == set(model.RULES)
    assert set(model.RULES) >= model.AFTER_END
    assert set(model.RULES) >= model.MANDATORY


def test_nudges_once_per_period_of_silence() -> None:
    since = NOW - timedelta(days=20)
    assert model.nudge_trigger("p", since, NOW, 14) is None  # 20 days < 28
    first = model.nudge_trigger("p", since, NOW + timedelta(days=9), 14)
    assert first == model.nudge_trigger("p", since, NOW + timedelta(days=12), 14)  # same period, same trigger
    assert first != model.nudge_trigger("p", since, NOW + timedelta(days=40), 14)
    assert model.digest_trigger("prog", NOW) == "prog@2026-W10"


def test_the_first_meeting_is_two_working_days_later_at_ten_in_the_mentees_zone() -> None:
    friday = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)
    first = model.suggested_first_meeting(friday, "Europe/Berlin")
    assert (first.date().isoformat(), first.hour) == ("2026-03-10", 10)  # Tuesday


CONTEXT = {
    "recipient_name": "Ingrid Hoffmann",
    "partner_name": "Lena Yilmaz",
    "role": "mentee",
    "programme_name": "AI reverse mentoring 2026",
    "cadence_days": 14,
    "first_meeting": "Tuesday, 10 March 2026, 10:00 (Europe/Berlin)",
    "rationale": "Covers 2 of 3 goals",
    "session_time": "Wednesday, 11 March 2026, 10:00 (Europe/Berlin)",
    "duration_minutes": 45,
    "agenda": "Prompts for board memos",
    "reason": "Board meeting",
    "feedback_url": "http://x/pairs/p/feedback",
    "survey_url": "http://x/survey",
    "pair_url": "http://x/me/pairs/p",
    "session_url": "http://x/me/pairs/p/sessions/s",
    "preferences_url": "http://x/me/preferences",
    "console_url": "http://pairing/console",
    "role_name": "mentee",
    "moved_in": False,
    "began_on": "1 October 2026",
    "days_quiet": 31,
    "dashboard_url": "http://x/dashboard",
    "at_risk": [{"mentee_name": "Claire Dubois", "mentor_name": "Hugo Lefèvre", "days_quiet": 35}],
    "flagged": [
        {
            "pair_id": "p7",
            "mentee_name": "Dr. Ingrid Hoffmann",
            "mentor_name": "Jonas Weber",
            "rule": "reporting_line",
            "detail": "Jonas Weber reports to Dr. Ingrid Hoffmann within 2 management levels "
            "(the programme allows none within 2)",
            "chain": ["Jonas Weber", "E-1002", "Dr. Ingrid Hoffmann"],
            "since": "2 March 2026",
            "paused": True,
        },
        {
            "pair_id": "p8",
            "mentee_name": "Anna Novak",
            "mentor_name": "Tom Berg",
            "rule": "shared_language",
            "detail": "Tom Berg and Anna Novak no longer share a language",
            "chain": [],
            "since": "3 March 2026",
            "paused": False,
        },
    ],
    "waiting": [{"pair_id": "p9", "name": "Marc Keller", "partner_name": "Sofia Rossi", "ended_on": "4 March 2026"}],
    "hr_contact": "mentoring@acme.example",
}


@pytest.mark.parametrize("locale", ["de", "en"])
@pytest.mark.parametrize("rule", RULES)
def test_every_template_renders_with_every_field_filled(rule: str, locale: str) -> None:
    for role, moved_in in (("mentee", False), ("mentor", False), ("mentee", True)):
        message = render(rule, locale, {**CONTEXT, "role": role, "moved_in": moved_in})
        text = message.subject + "\n" + message.text
        assert message.subject
        assert "{{" not in text
        assert "{%" not in text
        assert "None" not in text
        assert not re.search(r"\S  \S", text)  # no hole where a value went missing
        assert "Lena Yilmaz" in text or rule == "hr_digest"


@pytest.mark.parametrize("locale", ["de", "en"])
def test_the_digest_lists_quiet_flagged_and_waiting_pairs_and_only_the_sections_that_have_any(locale: str) -> None:
    full = render("hr_digest", locale, CONTEXT)
    text = full.text
    assert full.subject.startswith(f"AI reverse mentoring 2026: 4 {'Tandem(s)' if locale == 'de' else 'pair(s)'}")
    for name in ("Claire Dubois", "Hugo Lefèvre", "Jonas Weber", "Anna Novak", "Marc Keller", "Sofia Rossi"):
        assert name in text
    assert "Jonas Weber reports to Dr. Ingrid Hoffmann within 2 management levels" in text
    assert "Jonas Weber → E-1002 → Dr. Ingrid Hoffmann" in text
    assert "2 March 2026" in text
    words = {
        "de": ("pausiert", "läuft weiter", "Berichtslinie", "gemeinsame Sprache", "neues Tandem"),
        "en": ("paused", "still running", "reporting line", "shared language", "new partner"),
    }[locale]
    for word in words:
        assert word in text, word
    only_flags = render("hr_digest", locale, {**CONTEXT, "at_risk": [], "waiting": []}).text
    assert "Claire Dubois" not in only_flags
    assert "Marc Keller" not in only_flags
    assert "Anna Novak" in only_flags
    nothing_flagged = render("hr_digest", locale, {**CONTEXT, "flagged": []}).text
    assert "Jonas Weber" not in nothing_flagged
    assert words[2] not in nothing_flagged


@pytest.mark.parametrize("locale", ["de", "en"])
def test_the_partner_of_a_leaver_hears_that_the_pair_ended_sessions_are_off_and_a_new_partner_comes(
    locale: str,
) -> None:
    message = render("partner_left", locale, CONTEXT)
    text = message.text
    expected = {
        "de": ("Lena Yilmaz hat das Unternehmen verlassen", "beendet", "abgesagt", "neues Tandem", "neues Matching"),
        "en": ("Lena Yilmaz has left the company", "has ended", "cancelled", "new partner", "rematch"),
    }[locale]
    assert message.subject.startswith(expected[0])
    for words in expected[1:]:
        assert words in text, words
    assert "(mentoring@acme.example)" in text
    assert "http://x/survey" in text
    without = render("partner_left", locale, {**CONTEXT, "hr_contact": None}).text
    assert "mentoring@acme.example" not in without
    assert "None" not in without


def test_dates_in_the_digest_read_as_each_language_writes_them() -> None:
    assert day(NOW, "de") == "2. März 2026"
    assert day(NOW, "en") == "2 March 2026"
    assert day(datetime(2026, 3, 1, 23, 30, tzinfo=UTC), "en", "Europe/Berlin") == "2 March 2026"


def test_a_missing_field_is_an_error_not_an_empty_placeholder() -> None:
    with pytest.raises(RenderError, match=r"template en/welcome.txt.j2: UndefinedError: 'partner_name' is undefined"):
        render("welcome", "en", {k: v for k, v in CONTEXT.items() if k != "partner_name"})
    with pytest.raises(RenderError, match="no template for rule 'birthday'"):
        render("birthday", "en", CONTEXT)


def test_a_name_with_a_line_break_cannot_cut_the_subject() -> None:
    message = render("welcome", "en", {**CONTEXT, "partner_name": "Chloé\r\nBcc: x@evil.example\n Müller"})
    assert message.subject.endswith("you are paired with Chloé Bcc: x@evil.example Müller")
    assert "\n" not in message.subject
    assert "\r" not in message.subject
    assert message.text.startswith("Hello ")  # the body is the body, nothing of the subject spilled into it


def test_templates_from_another_folder_are_read_again_when_they_change(tmp_path: Path) -> None:
    shutil.copytree(TEMPLATES, tmp_path / "t")
    templates = Templates(tmp_path / "t")
    welcome = tmp_path / "t" / "en" / "welcome.txt.j2"
    good = welcome.read_text()
    welcome.write_text(good.replace("Why you two:", "Why you two: {{ rationale_text }}"))
    with pytest.raises(RenderError, match="'rationale_text' is undefined"):
        templates.render("welcome", "en", CONTEXT)
    welcome.write_text("Hello {{ recipient_name }}\n")
    os.utime(welcome, (time_now() + 5, time_now() + 5))  # a newer file, whatever the clock's resolution
    with pytest.raises(RenderError, match="first line must start with 'Subject: '"):
        templates.render("welcome", "en", CONTEXT)
    welcome.write_text(good)
    os.utime(welcome, (time_now() + 10, time_now() + 10))
    assert templates.render("welcome", "en", CONTEXT) == render("welcome", "en", CONTEXT)


def test_german_is_german_and_english_is_english() -> None:
    de = render("reminder_24h", "de", CONTEXT)
    en = render("reminder_24h", "en", CONTEXT)
    assert de.subject.startswith("Morgen")
    assert "Ihre Tandem-Sitzung" in de.text
    assert en.subject.startswith("Tomorrow")
    assert render("welcome", "fr", CONTEXT).subject.startswith("Welcome")  # unknown locale: English
    assert when(NOW, "de", "Europe/Berlin") == "Montag, 2. März 2026, 11:00 Uhr (Europe/Berlin)"
    assert when(NOW, "en", "Europe/Berlin") == "Monday, 2 March 2026, 11:00 (Europe/Berlin)"


def test_nothing_goes_to_someone_erased_whatever_the_rule() -> None:
    calm = model.Preferences(quiet_start=None, quiet_end=None)
    for rule in model.RULES:
        job = model.plan(rule, "t", ("p",), NOW, tenant=T, pair_id="pair")[0]
        erased = model.decide(job, NOW, calm, "UTC", pair_ended=False, recipient_erased=True)
        assert (erased.action, erased.reason) == ("cancel", "the recipient was erased: nothing is sent to them")
        assert model.decide(job, NOW, calm, "UTC", pair_ended=False).action == "send"
