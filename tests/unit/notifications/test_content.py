"""What a due notification is made of (domain/content.py): from the projection's facts to a Draft, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

import pytest
from icalendar import Calendar

from services.notifications.domain import content, model
from services.notifications.domain.rendering import render

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
BASE = "https://tandem.example"
LENA = content.Person("m1", "Lena Yilmaz", "lena@acme.example", "mentor", "en", "Europe/Berlin")
INGRID = content.Person("e1", "Ingrid Hoffmann", "ingrid@acme.example", "mentee", "de", "Europe/Berlin")
PROGRAMME = content.Programme("g1", "KI-Tandem 2026", 14, "hr@acme.example")
PAIR = content.Pair("p1", "m1", "e1", "active", "", NOW - timedelta(days=3))
SESSION = content.Session("s1", NOW + timedelta(days=1), 45, 0, "scheduled", updated_at=NOW - timedelta(hours=1))


def job(rule: model.Rule, recipient: str = "m1", session_id: str | None = None) -> model.Planned:
    return model.plan(
        rule, "event-1", (recipient,), NOW, tenant="acme", pair_id="p1", programme_id="g1", session_id=session_id
    )[0]


def facts(**changes: object) -> content.Facts:
    base: dict[str, object] = {
        "me": LENA,
        "preferences": model.Preferences(quiet_start=None, quiet_end=None),
        "programme": PROGRAMME,
        "pair": PAIR,
        "partner": INGRID,
    }
    return content.Facts(**{**base, **changes})  # type: ignore[arg-type]


def test_a_reminder_names_the_partner_and_carries_the_calendar_entry_by_email_only() -> None:
    draft = content.participant_draft(
        job("reminder_24h", session_id="s1"), facts(session=SESSION), now=NOW, sessions_url=BASE
    )
    assert (draft.address, draft.name, draft.channel, draft.to_address) == (
        LENA.email,
        LENA.display_name,
        "email",
        LENA.email,
    )
    assert draft.values["partner_name"] == "Ingrid Hoffmann"
    assert draft.session_starts_at == SESSION.starts_at
    [(name, mime, data)] = draft.attachments_on("email")
    assert (name, mime) == ("tandem-session.ics", "text/calendar; method=REQUEST")
    assert str(Calendar.from_ical(data).walk("VEVENT")[0]["UID"]) == "s1@tandem"
    assert draft.attachments_on("chat") == ()
    assert draft.decide(job("reminder_24h", session_id="s1"), NOW).action == "send"


def test_the_state_of_the_pair_and_the_recipient_decides_what_still_goes_out() -> None:
    ended = facts(pair=content.Pair("p1", "m1", "e1", "ended", "", NOW))
    assert content.participant_draft(job("nudge"), ended, now=NOW, sessions_url=BASE).decide(
        job("nudge"), NOW
    ) == model.Decision("cancel", reason="the pair has ended: nothing more is sent for it")
    paused = facts(pair=content.Pair("p1", "m1", "e1", "paused", "", NOW))
    assert (
        content.participant_draft(job("nudge"), paused, now=NOW, sessions_url=BASE).decide(job("nudge"), NOW).action
        == "cancel"
    )
    gone = facts(me=content.Person("m1", "Lena", "lena@acme.example", "mentor", "en", "UTC", left_company=True))
    assert (
        content.participant_draft(job("welcome"), gone, now=NOW, sessions_url=BASE).decide(job("welcome"), NOW).action
        == "cancel"
    )


def test_chat_only_with_a_webhook() -> None:
    chat = model.Preferences(channel="chat", chat_webhook_url="https://hooks.example/x")
    assert (
        content.participant_draft(job("welcome"), facts(preferences=chat), now=NOW, sessions_url=BASE).to_address
        == "https://hooks.example/x"
    )
    no_hook = model.Preferences(channel="chat")
    assert (
        content.participant_draft(job("welcome"), facts(preferences=no_hook), now=NOW, sessions_url=BASE).channel
        == "email"
    )


def test_a_nudge_says_how_long_the_pair_has_been_quiet() -> None:
    activity = model.PairActivity("p1", "g1", "m1", "e1", NOW - timedelta(days=60), NOW - timedelta(days=31))
    draft = content.participant_draft(job("nudge"), facts(activity=activity), now=NOW, sessions_url=BASE)
    assert draft.values["days_quiet"] == 31


def test_hrs_digest_lists_quiet_pairs_and_is_sent_only_with_news() -> None:
    quiet = model.PairActivity("p1", "g1", "m1", "e1", NOW - timedelta(days=60))
    steady = model.PairActivity("p2", "g1", "m2", "e2", NOW - timedelta(days=60), NOW - timedelta(days=3))
    names = {"m1": "Lena Yilmaz", "e1": "Ingrid Hoffmann"}
    digest = content.DigestFacts(PROGRAMME, (quiet, steady), names=names)
    assert content.has_news(digest, NOW)
    draft = content.hr_draft(digest, now=NOW, dashboard_url=f"{BASE}/dashboard")
    assert draft is not None
    assert draft.values["at_risk"] == [
        {"pair_id": "p1", "mentor_name": "Lena Yilmaz", "mentee_name": "Ingrid Hoffmann", "days_quiet": 60}
    ]
    assert (draft.address, draft.preferences.locale, draft.decide(job("hr_digest", "hr:g1"), NOW).action) == (
        "hr@acme.example",
        "en",
        "send",
    )
    assert not content.has_news(content.DigestFacts(PROGRAMME, (steady,)), NOW)
    assert content.hr_draft(content.DigestFacts(content.Programme("g2", "x", 14)), now=NOW, dashboard_url="") is None


WORDS = {
    "en": ("your partner", "paired by HR", "to be agreed", "no reason given"),
    "de": ("Ihr Tandem", "von HR gebildet", "wird noch vereinbart", "kein Grund angegeben"),
}


@pytest.mark.parametrize("locale", list(WORDS))
def test_the_templates_word_what_the_facts_leave_out(locale: Literal["de", "en"]) -> None:
    """Unknown partner, no rationale, agenda or reason: each language's template says so, in its words."""
    partner, rationale, agenda, reason = WORDS[locale]
    bare = facts(
        preferences=model.Preferences(locale=locale),
        partner=None,
        session=content.Session("s1", NOW + timedelta(days=1), 45, 0, "cancelled", updated_at=NOW),
    )

    def text(rule: model.Rule) -> str:
        planned = job(rule, session_id=None if rule == "welcome" else "s1")
        draft = content.participant_draft(planned, bare, now=NOW, sessions_url=BASE)
        return render(rule, locale, dict(draft.values)).text

    assert partner in text("welcome")
    assert rationale in text("welcome")
    assert agenda in text("reminder_24h")
    assert reason in text("session_cancelled")
