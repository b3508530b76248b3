"""Notifications when people leave, pairs end or pause, and a reorganisation flags a pair: over the real broker
and Postgres, to a real SMTP server."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.message import Message
from typing import Any

import icalendar
import pytest

from services.notifications.app import SPEC as NOTIFICATIONS
from services.notifications.domain import model
from services.notifications.projection import build_handlers
from shared.db import service_migrations
from shared.events import Envelope
from shared.events import pairing as p
from shared.events import sessions as s
from shared.infra import Infra
from shared.replay import Rebuild, diff
from tests import auth
from tests.integration.notifications.test_delivery import Rig, until


def another(rig: Rig, tenant: str | None = None) -> Rig:
    """A second programme, pair and two people on the same running notifications service (of the same tenant,
    or of `tenant`)."""
    other = Rig(rig.infra, rig.start, rig.smtp, tenant or rig.tenant)
    other.host, other.url = rig.host, rig.url
    return other


async def ready(rig: Rig) -> None:
    """People and their pair known, quiet hours off, both welcomed."""
    await rig.emit(*rig.people())
    await rig.no_quiet_hours()
    await rig.emit(rig.created())
    await until(
        lambda: rig.smtp.mailbox.to(f"{rig.mentor}@acme.example") and rig.smtp.mailbox.to(f"{rig.mentee}@acme.example")
    )


def mail(rig: Rig, who: str) -> list[Message]:
    return rig.smtp.mailbox.to(f"{who}@acme.example")


def method(message: Message) -> str:
    [ics] = [part for part in message.walk() if part.get_content_type() == "text/calendar"]
    return str(icalendar.Calendar.from_ical(ics.get_payload(decode=True))["METHOD"])


async def rules(rig: Rig, who: str, status: str | None = None) -> list[str]:
    return sorted(n["rule"] for n in await rig.history(who) if status is None or n["status"] == status)


async def test_the_end_of_a_pair_drops_its_reminders_and_nudges_but_sends_its_calendar_cancellations(
    rig: Rig,
) -> None:
    host = await rig.run()
    await ready(rig)
    starts = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    await rig.emit(
        s.SessionScheduled(
            pair_id=rig.pair,
            programme_id=rig.prog,
            session_id="s1",
            starts_at=starts,
            duration_minutes=45,
            agenda="Agents",
        )
    )
    await until(lambda: _has(rules(rig, rig.mentee, "planned"), ["reminder_1h", "reminder_24h"]))
    await host.app.state.dispatcher.scan(datetime.now(UTC) + timedelta(days=30))  # planned, due in 30 days
    for who in (rig.mentor, rig.mentee):
        assert await rules(rig, who, "planned") == ["nudge", "reminder_1h", "reminder_24h"]

    await rig.emit(p.PairEnded(pair_id=rig.pair, programme_id=rig.prog, reason="completed"))
    for who in (rig.mentor, rig.mentee):
        await until(lambda who=who: _has(rules(rig, who, "cancelled"), ["nudge", "reminder_1h", "reminder_24h"]))
    # the sessions service calls the session off for the ended pair: both still get the calendar cancellation
    await rig.emit(
        s.SessionCancelled(
            pair_id=rig.pair,
            programme_id=rig.prog,
            session_id="s1",
            sequence=1,
            reason="the pair ended: it completed the programme",
        )
    )
    # the reason the system wrote, in each one's language (the mentor reads English, the mentee German)
    for who, why in (
        (rig.mentor, "the pair ended: it completed the programme"),
        (rig.mentee, "das Tandem wurde beendet (es hat das Programm abgeschlossen)"),
    ):
        cancelled = await until(
            lambda who=who: [m for m in mail(rig, who) if "Cancelled" in m["Subject"] or "Abgesagt" in m["Subject"]]
        )
        assert method(cancelled[0]) == "CANCEL"
        assert why in _body(cancelled[0])
    await until(lambda: len(rig.smtp.mailbox.messages) == 6)  # 2 welcome, 2 closing surveys, 2 cancellations
    await asyncio.sleep(0.5)
    assert len(rig.smtp.mailbox.messages) == 6
    for who in (rig.mentor, rig.mentee):
        assert await rules(rig, who, "sent") == ["closing_survey", "session_cancelled", "welcome"]


async def test_a_paused_pair_gets_no_nudges_and_a_resumed_one_does_again(rig: Rig) -> None:
    host = await rig.run()
    await ready(rig)
    scan = host.app.state.dispatcher.scan
    await scan(datetime.now(UTC) + timedelta(days=30))  # planned for both, due then
    assert await rules(rig, rig.mentee, "planned") == ["nudge"]
    await rig.emit(p.PairPaused(pair_id=rig.pair, programme_id=rig.prog, reason="Lena Yilmaz is on leave of absence"))
    await until(lambda: _has(rules(rig, rig.mentee, "cancelled"), ["nudge"]))  # the planned one is dropped
    await until(lambda: _has(rules(rig, rig.mentor, "cancelled"), ["nudge"]))
    await scan(datetime.now(UTC) + timedelta(days=60))  # a new period of silence: still nothing while paused
    assert "nudge" not in await rules(rig, rig.mentee, "planned")
    digests = [n for n in await rig.history(f"hr:{rig.prog}") if n["rule"] == "hr_digest"]
    assert len(digests) == 1  # the first scan's week; a paused pair is not at risk the weeks after

    await rig.emit(p.PairResumed(pair_id=rig.pair, programme_id=rig.prog))

    async def nudged_again() -> bool:
        await scan(datetime.now(UTC) + timedelta(days=60))
        return "nudge" in await rules(rig, rig.mentee, "planned")

    await until(nudged_again)


@pytest.mark.parametrize("withdrawal_first", [False, True], ids=["pair_ended_first", "withdrawal_first"])
async def test_a_leaver_gets_nothing_more_and_their_partner_one_partner_left(rig: Rig, withdrawal_first: bool) -> None:
    host = await rig.run()
    await ready(rig)
    starts = datetime.now(UTC) + timedelta(days=3)
    await rig.emit(
        s.SessionScheduled(
            pair_id=rig.pair, programme_id=rig.prog, session_id="s1", starts_at=starts, duration_minutes=45
        )
    )
    await until(lambda: _has(rules(rig, rig.mentor, "planned"), ["reminder_1h", "reminder_24h"]))
    withdrew = Envelope.new(
        p.ParticipantWithdrew(participant_id=rig.mentor, programme_id=rig.prog, reason="left_company")
    )
    ended = Envelope.new(
        p.PairEnded(pair_id=rig.pair, programme_id=rig.prog, reason="left_company", note="Lena Yilmaz left the company")
    )
    # they travel on different partitions (keyed by participant and by pair): either may be applied first
    applied = {
        withdrew.id: ("SELECT withdrawn_reason FROM recipients WHERE participant_id = $1", rig.mentor),
        ended.id: ("SELECT end_reason FROM pairs WHERE pair_id = $1", rig.pair),
    }
    for env in [withdrew, ended] if withdrawal_first else [ended, withdrew]:
        await rig.send([env])
        await until(lambda env=env: host.pool.fetchval(*applied[env.id]))
    await rig.emit(
        s.SessionCancelled(
            pair_id=rig.pair,
            programme_id=rig.prog,
            session_id="s1",
            sequence=1,
            reason="the pair ended: Lena Yilmaz left the company",
        )
    )
    await until(lambda: len(mail(rig, rig.mentee)) == 3)  # welcome, partner_left, the cancellation
    await rig.send([ended, withdrew])  # redelivered
    await asyncio.sleep(1.0)
    to_mentee = mail(rig, rig.mentee)
    assert len(to_mentee) == 3
    [left] = [m for m in to_mentee if "verlassen" in m["Subject"]]  # she reads German
    assert left["Subject"] == "Lena Yilmaz hat das Unternehmen verlassen: Ihr Tandem ist beendet"
    body = _body(left)
    assert "hr@acme.example" in body
    assert "neues Tandem" in body
    [cancelled] = [m for m in to_mentee if m["Subject"].startswith("Abgesagt")]
    assert method(cancelled) == "CANCEL"
    assert "Grund: das Tandem wurde beendet (Lena Yilmaz hat das Unternehmen verlassen)" in _body(cancelled)
    assert [m["Subject"] for m in mail(rig, rig.mentor)] == [
        "Welcome to KI-Tandem 2026: you are paired with Ingrid Hoffmann"
    ]
    assert await rules(rig, rig.mentor, "sent") == ["welcome"]
    assert await rules(rig, rig.mentor) == ["reminder_1h", "reminder_24h", "welcome"]  # no survey, no cancel
    assert await rules(rig, rig.mentee, "sent") == ["partner_left", "session_cancelled", "welcome"]
    assert "closing_survey" not in await rules(rig, rig.mentee)
    assert await rules(rig, rig.mentee, "cancelled") == ["reminder_1h", "reminder_24h"]


async def test_the_digest_lists_flagged_pairs_until_resolved_and_partners_of_leavers_until_rematched(
    rig: Rig,
) -> None:
    host = await rig.run()
    await ready(rig)
    leaver = another(rig)
    leaver.prog = rig.prog  # the same programme: the pair whose mentor left
    await leaver.emit(*leaver.people()[1:])
    await leaver.emit(leaver.created())
    since = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    await rig.emit(
        p.PairFlagged(
            pair_id=rig.pair,
            programme_id=rig.prog,
            rule="reporting_line",
            detail="Lena Yilmaz reports to Ingrid Hoffmann within 1 management level (the programme allows "
            "none within 2)",
            chain=[f"E{rig.mentor}", "E-boss", f"E{rig.mentee}"],
            since=since,
            directory_revision=7,
            action="paused",
        ),
        p.PairPaused(pair_id=rig.pair, programme_id=rig.prog, reason="reorganisation"),
    )
    await leaver.emit(
        p.ParticipantWithdrew(participant_id=leaver.mentor, programme_id=rig.prog, reason="left_company"),
        p.PairEnded(pair_id=leaver.pair, programme_id=rig.prog, reason="left_company", note="Lena Yilmaz left"),
    )
    async with host.pool.acquire() as conn:
        await until(lambda: conn.fetchval("SELECT count(*) FROM flags WHERE pair_id = $1", rig.pair))
        await until(lambda: conn.fetchval("SELECT end_reason FROM pairs WHERE pair_id = $1", leaver.pair))
    dispatcher = host.app.state.dispatcher
    await dispatcher.scan(datetime.now(UTC))  # nobody is quiet: the flag and the waiting partner make the digest
    [digest] = await until(lambda: [m for m in rig.smtp.mailbox.to("hr@acme.example")])
    text = _body(digest)
    assert digest["Subject"] == "KI-Tandem 2026: 2 pair(s) need your attention this week"
    assert 'Ingrid Hoffmann with Lena Yilmaz break the rule "no reporting line within the programme\'s limit"' in text
    assert "Lena Yilmaz reports to Ingrid Hoffmann within 1 management level" in text
    assert "Reporting chain: Lena Yilmaz → E-boss → Ingrid Hoffmann." in text
    assert "Since 2 March 2026; paused." in text
    assert f"- Ingrid Hoffmann (pair {leaver.pair}): Lena Yilmaz left the company on" in text

    await rig.emit(
        p.PairFlagResolved(
            pair_id=rig.pair,
            programme_id=rig.prog,
            decision="keep",
            reason="different divisions",
            resolved_by="hr@acme.example",
        ),
        p.PairResumed(pair_id=rig.pair, programme_id=rig.prog),
    )
    rematched = another(rig)
    rematched.prog, rematched.mentee = rig.prog, leaver.mentee
    await rematched.emit(rematched.people()[1], rematched.created())  # the partner has a new pair
    async with host.pool.acquire() as conn:
        await until(lambda: _zero(conn.fetchval("SELECT count(*) FROM flags WHERE pair_id = $1", rig.pair)))
        await until(lambda: conn.fetchval("SELECT 1 FROM pairs WHERE pair_id = $1", rematched.pair))
        after = await _digest_now(dispatcher, conn, rig.prog)
    assert after == {"at_risk": [], "flagged": [], "waiting": []}
    next_week = datetime.now(UTC) + timedelta(days=7)
    await dispatcher.scan(next_week)  # nothing to report that week: no digest planned
    assert len([n for n in await rig.history(f"hr:{rig.prog}") if n["rule"] == "hr_digest"]) == 1

    # flagged again, left running: next week's digest lists it once more, as running
    await rig.emit(
        p.PairFlagged(
            pair_id=rig.pair,
            programme_id=rig.prog,
            rule="shared_language",
            detail="Lena Yilmaz and Ingrid Hoffmann no longer share a language",
            since=since,
            directory_revision=9,
            action="left_running",
        )
    )
    async with host.pool.acquire() as conn:
        await until(lambda: conn.fetchval("SELECT count(*) FROM flags WHERE pair_id = $1", rig.pair))
        again = await _digest_now(dispatcher, conn, rig.prog)
    assert [(f["rule"], f["paused"], f["chain"]) for f in again["flagged"]] == [("shared_language", False, [])]
    await dispatcher.scan(next_week)
    assert len([n for n in await rig.history(f"hr:{rig.prog}") if n["rule"] == "hr_digest"]) == 2


async def test_replay_rebuilds_recipients_pairs_and_flags_identically(rig: Rig, infra: Infra) -> None:
    host = await rig.run()
    await ready(rig)
    second = another(rig)
    await second.emit(*second.people())
    await second.emit(second.created())
    since = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    await rig.emit(
        p.PairFlagged(
            pair_id=rig.pair,
            programme_id=rig.prog,
            rule="reporting_line",
            detail="d1",
            chain=["a", "b"],
            since=since,
            directory_revision=3,
            action="paused",
        ),
        p.PairFlagged(
            pair_id=rig.pair,
            programme_id=rig.prog,
            rule="shared_language",
            detail="d2",
            since=since,
            directory_revision=4,
            action="left_running",
        ),
    )
    await second.emit(
        p.PairFlagged(
            pair_id=second.pair,
            programme_id=second.prog,
            rule="shared_language",
            detail="d3",
            since=since,
            directory_revision=4,
            action="left_running",
        ),
        p.PairFlagResolved(pair_id=second.pair, programme_id=second.prog, decision="cleared", resolved_by="directory"),
        p.ParticipantWithdrew(participant_id=second.mentor, programme_id=second.prog, reason="left_company"),
        p.PairEnded(pair_id=second.pair, programme_id=second.prog, reason="left_company", note="left"),
    )
    # another tenant with the very same ids: its rows are its own, and the rebuild keeps them apart too
    twin = another(second, tenant="globex")
    twin.prog, twin.mentor, twin.mentee, twin.pair = second.prog, second.mentor, second.mentee, second.pair
    await twin.emit(*twin.people())
    await twin.emit(twin.created())
    await twin.emit(
        p.PairFlagged(
            pair_id=twin.pair,
            programme_id=twin.prog,
            rule="reporting_line",
            detail="d4",
            chain=["x"],
            since=since,
            directory_revision=1,
            action="paused",
        )
    )
    pool = host.pool
    await until(lambda: pool.fetchval("SELECT end_reason FROM pairs WHERE pair_id = $1", second.pair))
    await until(
        lambda: pool.fetchval("SELECT withdrawn_reason FROM recipients WHERE participant_id = $1", second.mentor)
    )
    await until(
        lambda: _equals(pool.fetchval("SELECT rule FROM flags WHERE pair_id = $1", rig.pair), "shared_language")
    )
    await until(lambda: pool.fetchval("SELECT 1 FROM flags WHERE tenant = 'globex' AND pair_id = $1", twin.pair))
    assert await pool.fetchval("SELECT count(*) FROM flags WHERE tenant = 'default' AND pair_id = $1", second.pair) == 0
    assert (
        await pool.fetchval("SELECT state FROM pairs WHERE tenant = 'globex' AND pair_id = $1", twin.pair) == "active"
    )
    assert (
        await pool.fetchval(
            "SELECT withdrawn FROM recipients WHERE tenant = 'globex' AND participant_id = $1", twin.mentor
        )
        is False
    )
    rebuild = Rebuild(
        "notifications",
        dsn=host.settings.dsn,
        bootstrap=infra.kafka_bootstrap,
        topics=[host.topics.pairing, host.topics.sessions],
        handlers=build_handlers(),
        migrations=service_migrations("notifications", NOTIFICATIONS.migrations),
        schema="rebuilt",
    )
    await rebuild.prepare()
    await rebuild.run_to_end()
    await rebuild.close()
    assert await diff(host.settings.dsn, "rebuilt") == []
    assert await pool.fetchval("SELECT count(*) FROM rebuilt.flags") == 2
    assert (
        await pool.fetchval(
            "SELECT withdrawn_reason FROM rebuilt.recipients WHERE tenant = 'default' AND participant_id = $1",
            second.mentor,
        )
        == "left_company"
    )
    assert (
        await pool.fetchval(
            "SELECT withdrawn_reason FROM rebuilt.recipients WHERE tenant = 'globex' AND participant_id = $1",
            twin.mentor,
        )
        is None
    )
    assert await pool.fetchval("SELECT count(*) FROM rebuilt.pairs WHERE pair_id = $1", twin.pair) == 2


async def _digest_now(dispatcher: Any, conn: Any, programme_id: str) -> dict[str, Any]:
    """The digest's context as the dispatcher builds it when it sends one (rendered from the projection)."""
    job = model.plan(
        "hr_digest",
        "t",
        (f"hr:{programme_id}",),
        datetime.now(UTC),
        tenant=auth.DEFAULT_TENANT,
        programme_id=programme_id,
    )[0]
    draft = await dispatcher.draft(conn, job, datetime.now(UTC))
    assert draft is not None
    return {k: draft.values[k] for k in ("at_risk", "flagged", "waiting")}


def _body(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return str(part.get_payload(decode=True).decode())
    raise AssertionError("no text part")


async def _has(found: Any, expected: list[str]) -> bool:
    got = await found
    return all(rule in got for rule in expected)


async def _zero(value: Any) -> bool:
    return await value == 0


async def _equals(value: Any, expected: Any) -> bool:
    return await value == expected
