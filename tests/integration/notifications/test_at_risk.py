"""A demo-like history (services/demo.py), recorded today: pairs that began weeks ago (PairCreated's started_on),
one of which stopped meeting after its first session. Notifications counts the quiet clock from when the pair
began, as the sessions service does, so that pair is nudged and listed in HR's digest; the pair that keeps
meeting is neither. Over the real broker and Postgres, to a real SMTP server."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from email.message import Message

from shared.events import pairing as p
from shared.events import sessions as s
from tests.integration.notifications.test_delivery import Rig, until


def _body(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return str(part.get_payload(decode=True).decode())
    raise AssertionError("no text part")


async def _history(rig: Rig, who: str, rule: str) -> list[str]:
    return [n["status"] for n in await rig.history(who) if n["rule"] == rule]


async def _sent(rig: Rig, who: str, rule: str) -> bool:
    return "sent" in await _history(rig, who, rule)


def _nudges(rig: Rig, who: str) -> list[Message]:
    return [m for m in rig.smtp.mailbox.to(f"{who}@acme.example") if m["Subject"].startswith(("Time for", "Zeit für"))]


async def test_a_pair_that_began_weeks_ago_and_stopped_meeting_is_nudged_and_in_hrs_digest(rig: Rig) -> None:
    host = await rig.run()
    now = datetime.now(UTC)
    start = now.date() - timedelta(weeks=8)  # the programme started 8 weeks ago; its pairs a week later
    steady = Rig(rig.infra, rig.start, rig.smtp, rig.tenant)  # a second pair of the same programme
    steady.host, steady.url, steady.prog = rig.host, rig.url, rig.prog
    names = {steady.mentor: "Jonas Weber", steady.mentee: "Petra Schulz"}
    await rig.emit(
        *rig.people(),
        *[
            x.model_copy(update={"display_name": names[x.participant_id]})
            for x in steady.people()[1:]
            if isinstance(x, p.ParticipantEnrolled)
        ],
    )
    await rig.no_quiet_hours()
    await steady.no_quiet_hours()

    def history(r: Rig, held: list[datetime]) -> list[p.PairCreated | s.SessionScheduled | s.SessionLogged]:
        """The pair accepted today as having started a week after the programme, and its sessions held."""
        events: list[p.PairCreated | s.SessionScheduled | s.SessionLogged] = [
            r.created().model_copy(update={"started_on": start + timedelta(days=7)})
        ]
        for k, when in enumerate(held):
            sid = f"{r.pair}-s{k}"
            events += [
                s.SessionScheduled(
                    session_id=sid,
                    pair_id=r.pair,
                    programme_id=r.prog,
                    starts_at=when,
                    duration_minutes=45,
                    agenda="Hands-on",
                ),
                s.SessionLogged(session_id=sid, pair_id=r.pair, programme_id=r.prog, held_at=when, minutes=45),
            ]
        return events

    first = datetime.combine(start + timedelta(days=9), time(10, 0), tzinfo=UTC)
    await rig.emit(*history(rig, [first]))  # met once, 7 weeks ago, then stopped
    await steady.emit(*history(steady, [first + timedelta(days=14 * k) for k in range(4)] + [now - timedelta(days=5)]))
    for r in (rig, steady):  # everything applied and sent
        for who in (r.mentor, r.mentee):
            await until(lambda r=r, who=who: _sent(r, who, "welcome"))
            await until(lambda r=r, who=who: _sent(r, who, "feedback_request"))

    await host.app.state.dispatcher.scan(datetime.now(UTC))

    quiet_days = (datetime.now(UTC) - first).days
    for who in (rig.mentor, rig.mentee):
        [nudge] = await until(lambda who=who: _nudges(rig, who))
        assert f" {quiet_days} " in _body(nudge)
    [digest] = await until(lambda: rig.smtp.mailbox.to("hr@acme.example"))
    assert digest["Subject"] == "KI-Tandem 2026: 1 pair(s) need your attention this week"
    assert f"- Ingrid Hoffmann with Lena Yilmaz: {quiet_days} days without a session" in _body(digest)
    assert "Petra Schulz" not in _body(digest)
    for who in (steady.mentor, steady.mentee):
        assert await _history(steady, who, "nudge") == []
        assert _nudges(steady, who) == []
