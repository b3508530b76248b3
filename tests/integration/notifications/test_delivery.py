"""Notifications over the real broker and Postgres, to a real SMTP server and a real webhook."""

from __future__ import annotations

import asyncio
import inspect
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import icalendar

from services.notifications.app import SPEC as NOTIFICATIONS
from shared.events import Envelope, EventPayload, encode
from shared.events import pairing as p
from shared.events import sessions as s
from shared.infra import Infra
from shared.localstack import free_port
from shared.runtime import ServiceHost
from tests import auth
from tests.conftest import HostFactory
from tests.integration.notifications.servers import SmtpServer, Webhook
from tests.kafka_helpers import produce, read_topic


class Rig:
    """One programme, a mentor and a mentee of one tenant, and the notifications service they are known to."""

    def __init__(self, infra: Infra, start: HostFactory, smtp: SmtpServer, tenant: str = auth.DEFAULT_TENANT) -> None:
        self.infra, self.start, self.smtp, self.tenant = infra, start, smtp, tenant
        self.prog = f"prog-{uuid.uuid4().hex[:6]}"
        self.mentor, self.mentee = f"mentor-{uuid.uuid4().hex[:6]}", f"mentee-{uuid.uuid4().hex[:6]}"
        self.pair = f"pair-{uuid.uuid4().hex[:6]}"
        self.host: ServiceHost | None = None
        self.url = ""
        self.extra: dict[str, str] = {}
        #: the organisation's mail domain: people's and HR's addresses
        self.domain = "acme.example"

    async def run(self, database_url: str | None = None, **extra: str) -> ServiceHost:
        self.extra = {**self.extra, **extra}
        host = await self.start(
            NOTIFICATIONS,
            database_url=database_url,
            # where the mails' links point (SESSIONS_URL, PAIRING_URL)
            public_urls={
                "pairing": "http://pairing.example",
                "sessions": "http://sessions.example",
                "notifications": "http://notifications.example",
            },
            extra={
                "SMTP_HOST": "127.0.0.1",
                "SMTP_PORT": str(self.smtp.port),
                "DISPATCH_INTERVAL": "0.05",
                "SCAN_INTERVAL": "3600",
                "FEEDBACK_GRACE_SECONDS": "0",
                **self.extra,
            },
        )
        port = free_port()
        server = host.http_server(port)
        task = asyncio.create_task(server.serve())
        host.app.state.test_server = (server, task)
        self.host, self.url = host, f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                async with auth.client() as c:
                    if (await c.get(f"{self.url}/health/live")).status_code == 200:
                        break
            except httpx.TransportError:
                await asyncio.sleep(0.05)
        return host

    async def restart(self, **extra: str) -> ServiceHost:
        """Stop the service and start it again on the same database (with these settings changed)."""
        assert self.host is not None
        server, task = self.host.app.state.test_server
        server.should_exit = True
        await task
        dsn = self.host.settings.dsn
        await self.host.stop()
        return await self.run(dsn, **extra)

    async def emit(self, *payloads: EventPayload, at: datetime | None = None) -> list[Envelope[Any]]:
        envs = [Envelope.new(x, time=at, tenant=self.tenant) for x in payloads]
        await self.send(envs)
        return envs

    async def send(self, envs: list[Envelope[Any]]) -> None:
        assert self.host is not None
        for env in envs:
            topic = self.host.topics.for_source(env.source)
            rec = encode(env)
            await produce(self.infra.kafka_bootstrap, topic, [(rec.key, rec.value, rec.headers)])

    def employee_id(self, who: str) -> str:
        return f"E{who}"

    def email(self, who: str) -> str:
        return f"{who}@{self.domain}"

    def hr(self) -> httpx.AsyncClient:
        """HR of the rig's tenant, on the notifications API."""
        return auth.client("hr", tenant=self.tenant, base_url=self.url)

    def person(self, who: str) -> httpx.AsyncClient:
        """The participant `who` themselves (their own token), on the notifications API."""
        return auth.client("participant", tenant=self.tenant, employee_id=self.employee_id(who), base_url=self.url)

    def people(self) -> list[EventPayload]:
        common: dict[str, Any] = {
            "programme_id": self.prog,
            "department": "D",
            "grade": 5,
            "languages": ["de", "en"],
            "timezone": "Europe/Berlin",
        }
        return [
            p.ProgramLaunched(
                programme_id=self.prog,
                name="KI-Tandem 2026",
                starts_on=date(2026, 1, 1),
                ends_on=date(2026, 12, 31),
                cadence_days=14,
                focus_topics=["ai-agents"],
                hr_contact_email=f"hr@{self.domain}",
            ),
            p.ParticipantEnrolled(
                participant_id=self.mentor,
                employee_id=self.employee_id(self.mentor),
                role="mentor",
                display_name="Lena Yilmaz",
                email=self.email(self.mentor),
                locale="en",
                teach_topics={"ai-agents": 3},
                **common,
            ),
            p.ParticipantEnrolled(
                participant_id=self.mentee,
                employee_id=self.employee_id(self.mentee),
                role="mentee",
                display_name="Ingrid Hoffmann",
                email=self.email(self.mentee),
                locale="de",
                learn_topics={"ai-agents": 3},
                **common,
            ),
        ]

    def created(self) -> p.PairCreated:
        return p.PairCreated(
            pair_id=self.pair,
            programme_id=self.prog,
            mentor_id=self.mentor,
            mentee_id=self.mentee,
            rationale="Covers 1 of 1 goal: AI agents",
        )

    async def no_quiet_hours(self) -> None:
        """Each of the two turns quiet hours off themselves (once the service knows them)."""
        for who in (self.mentor, self.mentee):
            async with self.person(who) as c:
                for _ in range(100):
                    r = await c.put(
                        f"/recipients/{who}/preferences",
                        json={"locale": "de" if who == self.mentee else "en", "quiet_start": None, "quiet_end": None},
                    )
                    if r.status_code == 200:
                        break
                    await asyncio.sleep(0.05)
                assert r.status_code == 200, r.text

    async def history(self, who: str) -> list[dict[str, Any]]:
        """`who`'s notifications, as HR of the rig's tenant sees them (an empty list for someone not known)."""
        async with self.hr() as c:
            r = await c.get(f"/recipients/{who}/notifications")
            if r.status_code == 404:
                return []
            assert r.status_code == 200, r.text
            data: list[dict[str, Any]] = r.json()
            return data


async def until(check: Any, timeout: float = 20.0) -> Any:
    for _ in range(int(timeout / 0.05)):
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def test_exactly_one_welcome_per_recipient_under_duplicates_and_a_restart(rig: Rig) -> None:
    await rig.run()
    await rig.emit(*rig.people())
    await rig.no_quiet_hours()
    created = Envelope.new(rig.created())
    await rig.send([created, created])  # delivered twice
    await until(lambda: len(rig.smtp.mailbox.messages) >= 2)
    await rig.restart()
    await rig.send([created])  # and again after a restart
    await asyncio.sleep(1.0)
    mentor_mail = rig.smtp.mailbox.to(f"{rig.mentor}@acme.example")
    mentee_mail = rig.smtp.mailbox.to(f"{rig.mentee}@acme.example")
    assert len(mentor_mail) == 1
    assert len(mentee_mail) == 1
    assert mentor_mail[0]["Subject"] == "Welcome to KI-Tandem 2026: you are paired with Ingrid Hoffmann"
    assert mentee_mail[0]["Subject"].startswith("Willkommen bei KI-Tandem 2026")  # her language
    body = mentee_mail[0].get_payload(decode=True).decode()
    assert "Vertraulichkeit" in body
    assert "Vorschlag für ein erstes Treffen" in body
    assert rig.host is not None
    sent = await read_topic(rig.infra.kafka_bootstrap, rig.host.topics.notifications, expect=2)
    assert [dict(r.headers)["ce_type"] for r in sent].count(b"tandem.notifications.NotificationSent") == 2


async def test_reminders_move_with_a_reschedule_carry_the_ics_and_vanish_on_cancel(rig: Rig) -> None:
    await rig.run()
    await rig.emit(*rig.people())
    await rig.no_quiet_hours()
    await rig.emit(rig.created())
    await until(lambda: len(rig.smtp.mailbox.messages) >= 2)
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

    async def reminders(status: str) -> list[dict[str, Any]]:
        return [n for n in await rig.history(rig.mentee) if n["rule"].startswith("reminder") and n["status"] == status]

    planned = await until(lambda: _n(reminders("planned"), 2))
    assert sorted(n["due_at"] for n in planned) == sorted(
        [
            (starts - timedelta(hours=24)).isoformat().replace("+00:00", "Z"),
            (starts - timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
        ]
    )

    # moved to start in 1 h and 3 s: the 24 h reminder is gone, the 1 h one is due in 3 s
    soon = datetime.now(UTC) + timedelta(hours=1, seconds=3)
    await rig.emit(
        s.SessionRescheduled(
            pair_id=rig.pair, programme_id=rig.prog, session_id="s1", starts_at=soon, duration_minutes=45, sequence=1
        )
    )
    await until(lambda: _n(reminders("cancelled"), 2))
    await until(lambda: [m for m in rig.smtp.mailbox.messages if "einer Stunde" in m["Subject"]])
    [mail] = [m for m in rig.smtp.mailbox.to(f"{rig.mentee}@acme.example") if "einer Stunde" in m["Subject"]]
    [ics] = [part for part in mail.walk() if part.get_content_type() == "text/calendar"]
    event = icalendar.Calendar.from_ical(ics.get_payload(decode=True)).walk("VEVENT")[0]
    assert int(event["SEQUENCE"]) == 1
    assert str(event["UID"]) == "s1@tandem"
    assert len([n for n in await rig.history(rig.mentee) if n["rule"] == "reminder_24h"]) == 1  # never re-planned

    later = datetime.now(UTC) + timedelta(days=5)
    await rig.emit(
        s.SessionRescheduled(
            pair_id=rig.pair, programme_id=rig.prog, session_id="s1", starts_at=later, duration_minutes=45, sequence=2
        )
    )
    await until(lambda: _n(reminders("planned"), 2))
    await rig.emit(
        s.SessionCancelled(pair_id=rig.pair, programme_id=rig.prog, session_id="s1", reason="Board", sequence=3)
    )

    async def none_planned() -> bool:
        return not await reminders("planned")

    await until(none_planned)
    cancel_mail = await until(
        lambda: [m for m in rig.smtp.mailbox.to(f"{rig.mentor}@acme.example") if m["Subject"].startswith("Cancelled")]
    )
    [ics] = [part for part in cancel_mail[0].walk() if part.get_content_type() == "text/calendar"]
    assert str(icalendar.Calendar.from_ical(ics.get_payload(decode=True))["METHOD"]) == "CANCEL"


async def test_nothing_is_sent_for_a_pair_after_it_ended_but_the_closing_survey(rig: Rig) -> None:
    await rig.run()
    await rig.emit(*rig.people())
    await rig.no_quiet_hours()
    await rig.emit(rig.created())
    soon = datetime.now(UTC) + timedelta(days=2)
    await rig.emit(
        s.SessionScheduled(
            pair_id=rig.pair, programme_id=rig.prog, session_id="s9", starts_at=soon, duration_minutes=45
        )
    )
    await until(lambda: len(rig.smtp.mailbox.messages) >= 2)
    await rig.emit(p.PairEnded(pair_id=rig.pair, programme_id=rig.prog, reason="completed"))
    await until(
        lambda: len([m for m in rig.smtp.mailbox.messages if "ended" in m["Subject"] or "beendet" in m["Subject"]]) == 2
    )
    await rig.emit(
        s.SessionLogged(pair_id=rig.pair, programme_id=rig.prog, session_id="s9", held_at=datetime.now(UTC), minutes=30)
    )
    await asyncio.sleep(1.0)
    rules = {n["rule"]: n["status"] for n in await rig.history(rig.mentor)}
    assert rules["reminder_24h"] == "cancelled"
    assert "feedback_request" not in rules
    assert len(rig.smtp.mailbox.messages) == 4  # 2 welcome, 2 closing surveys


async def test_quiet_hours_defer_and_a_refused_mailbox_fails_with_the_reason(rig: Rig) -> None:
    host = await rig.run()
    await rig.emit(*rig.people())
    await rig.no_quiet_hours()
    now_berlin = datetime.now(UTC).astimezone(__import__("zoneinfo").ZoneInfo("Europe/Berlin"))
    start = (now_berlin - timedelta(minutes=5)).time().replace(second=0, microsecond=0)
    end = (now_berlin + timedelta(minutes=30)).time().replace(second=0, microsecond=0)
    async with rig.person(rig.mentee) as c:
        r = await c.put(
            f"/recipients/{rig.mentee}/preferences",
            json={"locale": "de", "quiet_start": start.isoformat(), "quiet_end": end.isoformat()},
        )
        assert r.status_code == 200, r.text
    rig.smtp.mailbox.refuse.add(f"{rig.mentor}@acme.example")
    await rig.emit(rig.created())

    async def mentee_deferred() -> Any:
        return [n for n in await rig.history(rig.mentee) if n["note"] == "quiet hours" and n["status"] == "planned"]

    deferred = await until(mentee_deferred)
    assert deferred[0]["next_attempt_at"] > datetime.now(UTC).isoformat()  # after the quiet hours
    assert rig.smtp.mailbox.to(f"{rig.mentee}@acme.example") == []
    async with rig.person(rig.mentee) as c:  # she turns them off: what waited goes now, not tomorrow
        r = await c.put(
            f"/recipients/{rig.mentee}/preferences", json={"locale": "de", "quiet_start": None, "quiet_end": None}
        )
        assert r.status_code == 200, r.text
    await until(lambda: rig.smtp.mailbox.to(f"{rig.mentee}@acme.example"))

    async def mentor_failed() -> Any:
        return [n for n in await rig.history(rig.mentor) if n["status"] == "failed"]

    [failed] = await until(mentor_failed)
    assert "550" in failed["last_error"]
    events = await read_topic(rig.infra.kafka_bootstrap, host.topics.notifications, expect=2)
    assert sorted(dict(e.headers)["ce_type"] for e in events) == [
        b"tandem.notifications.NotificationFailed",
        b"tandem.notifications.NotificationSent",
    ]

    rig.smtp.mailbox.refuse.clear()
    async with rig.hr() as c:
        r = await c.post(f"/notifications/{failed['notification_id']}/resend")
        assert r.status_code == 200
        again = await c.post(f"/notifications/{failed['notification_id']}/resend")
    await until(lambda: rig.smtp.mailbox.to(f"{rig.mentor}@acme.example"))
    assert again.status_code == 409


async def test_chat_webhook_gets_json_with_an_idempotency_key(rig: Rig) -> None:
    hook = await Webhook().start()
    try:
        await rig.run(WEBHOOK_ALLOW_INSECURE="true")  # the development setting: a receiver on http://127.0.0.1
        await rig.emit(*rig.people())
        await rig.no_quiet_hours()
        async with rig.hr() as c:
            r = await c.put("/chat-webhook-hosts", json={"hosts": ["127.0.0.1"]})
            assert r.status_code == 200, r.text
        async with rig.person(rig.mentor) as c:
            bad = await c.put(f"/recipients/{rig.mentor}/preferences", json={"channel": "chat"})
            assert bad.status_code == 422
            assert bad.json()["error"]["field"] == "chat_webhook_url"
            r = await c.put(
                f"/recipients/{rig.mentor}/preferences",
                json={"channel": "chat", "chat_webhook_url": hook.url, "quiet_start": None, "quiet_end": None},
            )
            assert r.status_code == 200, r.text
        await rig.emit(rig.created())
        await until(lambda: hook.received)
        headers, body = hook.received[0]
        assert "idempotency-key" in headers
        assert "Ingrid Hoffmann" in body["text"]
        assert body["blocks"][0]["type"] == "header"
        history = await until(lambda: _sent(rig, rig.mentor))
        assert history[0]["channel"] == "chat"
        # the notification's Message-ID without its angle brackets: the same on every attempt
        assert history[0]["message_id"] == f"<{history[0]['notification_id']}@localhost>"
        assert headers["idempotency-key"] == f"{history[0]['notification_id']}@localhost"
    finally:
        await hook.stop()


async def _sent(rig: Rig, who: str) -> list[dict[str, Any]]:
    return [n for n in await rig.history(who) if n["status"] == "sent"]


async def _n(items: Any, n: int) -> Any:
    got = await items
    return got if len(got) >= n else None


async def test_a_quiet_pair_is_nudged_once_per_period_and_hr_gets_a_weekly_digest(rig: Rig) -> None:
    host = await rig.run()
    await rig.emit(*rig.people())
    await rig.no_quiet_hours()
    await rig.emit(rig.created())
    await until(lambda: len(rig.smtp.mailbox.messages) >= 2)
    dispatcher = host.app.state.dispatcher
    later = datetime.now(UTC) + timedelta(days=30)  # no session for more than twice the 14-day cadence
    await dispatcher.scan(later)
    await dispatcher.scan(later + timedelta(days=2))  # same period of silence, same week: nothing new
    nudges = [n for n in await rig.history(rig.mentee) if n["rule"] == "nudge"]
    assert len(nudges) == 1
    digests = [n for n in await rig.history(f"hr:{rig.prog}") if n["rule"] == "hr_digest"]
    assert len(digests) == 1
    await dispatcher.scan(later + timedelta(days=30))  # a new period and a new week
    assert len([n for n in await rig.history(rig.mentee) if n["rule"] == "nudge"]) == 2
    assert len([n for n in await rig.history(f"hr:{rig.prog}") if n["rule"] == "hr_digest"]) == 2


async def test_a_graceful_stop_hands_back_the_claims_it_did_not_act_on(rig: Rig) -> None:
    """A stopping service releases what it claimed but never attempted (nothing of it can have gone out): the next
    worker takes it at once, not after the lease. A claim with an attempt recorded is left to lapse."""
    host = await rig.run()
    worker = host.app.state.dispatcher.worker
    untouched, attempted = uuid.uuid4(), uuid.uuid4()
    async with host.pool.acquire() as conn:  # claimed by the running worker (not due again for an hour)
        await conn.executemany(
            "INSERT INTO notifications (tenant, notification_id, rule, recipient_id, trigger, due_at, next_attempt_at, "
            "status, claimed_by, claimed_at, claimed_until, last_attempt_at) VALUES ($1, $2, 'welcome', 'nobody', 't', "
            "now(), now() + interval '1 hour', 'sending', $3, now(), now() + interval '2 minutes', "
            "CASE WHEN $4 THEN clock_timestamp() END)",
            [(rig.tenant, untouched, worker, False), (rig.tenant, attempted, worker, True)],
        )
    await rig.restart()
    assert rig.host is not None
    rows = {r["notification_id"]: r for r in await rig.host.pool.fetch(
        "SELECT notification_id, status, claimed_by FROM notifications WHERE notification_id = ANY($1::uuid[])",
        [untouched, attempted])}  # fmt: skip
    assert (rows[untouched]["status"], rows[untouched]["claimed_by"]) == ("planned", None)
    assert (rows[attempted]["status"], rows[attempted]["claimed_by"]) == ("sending", worker)


async def test_a_reschedule_that_comes_before_its_schedule_waits_for_it_and_the_session_ends_where_it_moved(
    rig: Rig,
) -> None:
    """A log rebuilt after a broker loss can hold a session's SessionRescheduled before its SessionScheduled
    (fault suite, seed 1043). The reschedule waits for its session; the schedule, its predecessor, is applied
    as it comes, then the reschedule: reminders only for the time it moved to, no mail for the old one."""
    host = await rig.run()
    await rig.emit(*rig.people())
    await rig.no_quiet_hours()
    await rig.emit(rig.created())
    old = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    new = (datetime.now(UTC) + timedelta(days=4)).replace(microsecond=0)
    moved = s.SessionRescheduled(pair_id=rig.pair, programme_id=rig.prog, session_id="s-early", starts_at=new,
                                 duration_minutes=45, sequence=1)  # fmt: skip
    scheduled = s.SessionScheduled(pair_id=rig.pair, programme_id=rig.prog, session_id="s-early", starts_at=old,
                                   duration_minutes=45, agenda="Agents")  # fmt: skip
    await rig.emit(moved)
    assert host.consumer is not None
    await until(lambda: host.consumer.stats.parked >= 1)  # type: ignore[union-attr]
    await rig.emit(scheduled)
    await until(lambda: host.consumer.stats.unparked >= 1)  # type: ignore[union-attr]
    async with host.pool.acquire() as conn:
        row = await conn.fetchrow("SELECT starts_at, sequence, status FROM sessions WHERE session_id = 's-early'")
        assert (row["starts_at"], row["sequence"], row["status"]) == (new, 1, "scheduled")
        assert await conn.fetchval("SELECT count(*) FROM parked") == 0

    async def reminders() -> list[dict[str, Any]]:
        return [
            n for n in await rig.history(rig.mentee) if n["rule"].startswith("reminder") and n["status"] == "planned"
        ]

    planned = await until(lambda: _n(reminders(), 2))
    assert sorted(n["due_at"] for n in planned) == sorted(
        [(new - timedelta(hours=h)).isoformat().replace("+00:00", "Z") for h in (24, 1)]
    )
