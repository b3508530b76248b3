"""People leaving, going on leave, and reorganisations, end to end: the HR platform publishes on the inbound
topic; pairing, sessions and notifications run together over the real broker and Postgres, and the mail goes
to a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.message import Message
from typing import Any

import httpx
import icalendar
import pytest

from shared.events import Envelope, EventPayload, encode, hr
from tests import auth, builders
from tests.conftest import Running, ServeAllFactory
from tests.directory import employee, enrol
from tests.integration.notifications.servers import SmtpServer
from tests.integration.sessions.flows import agree
from tests.kafka_helpers import eventually, produce


@dataclass
class System:
    pairing: Running
    sessions: Running
    notifications: Running
    smtp: SmtpServer

    def mail(self, address: str) -> list[Message]:
        return self.smtp.mailbox.to(address)

    async def hr_says(self, payload: EventPayload) -> None:
        """The HR platform publishes an event on the inbound topic, in the pairing service's tenant."""
        host = self.pairing.host
        record = encode(Envelope.new(payload, tenant=host.settings.tenant))
        await produce(
            host.settings.kafka_bootstrap_servers, host.topics.hr_inbound, [(record.key, record.value, record.headers)]
        )

    async def history(self, who: str) -> list[dict[str, Any]]:
        async with auth.client(base_url=self.notifications.url) as client:
            data: list[dict[str, Any]] = (await client.get(f"/recipients/{who}/notifications")).json()
            return data

    async def rules(self, who: str, status: str) -> list[str]:
        return sorted(n["rule"] for n in await self.history(who) if n["status"] == status)

    async def scan(self, now: datetime) -> None:
        await self.notifications.host.app.state.dispatcher.scan(now)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
async def system(serve_all: ServeAllFactory, smtp: SmtpServer) -> System:
    extra = {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
        "DISPATCH_INTERVAL": "0.05",
        "SCAN_INTERVAL": "3600",
    }
    running = await serve_all(notifications={"extra": extra})
    return System(running["pairing"], running["sessions"], running["notifications"], smtp=smtp)


async def paired(system: System, **programme: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A launched programme, a mentor and a mentee from the directory, their pair known to all three services,
    their agreement confirmed, quiet hours off, both welcomed. Returns (mentor, mentee, pair)."""
    mentor, mentee = builders.mentor(), builders.mentee()
    async with auth.client(base_url=system.pairing.url) as client:
        r = await client.post("/programmes", json=builders.programme(**programme))
        assert r.status_code == 201, r.text
        programme_id = r.json()["programme_id"]
        r = await enrol(client, system.pairing.url, system.pairing.host, programme_id, [mentor, mentee])
        assert r.status_code == 201, r.text
        # each turns quiet hours off themselves, with their own token, before the pair (and its welcome) exists:
        # else, between 20:00 and 08:00 in their time zone, the welcome waits for the morning
        for person in (mentor, mentee):
            async with httpx.AsyncClient(base_url=system.notifications.url, headers=auth.of(person)) as own:
                body = {"locale": person["locale"], "quiet_start": None, "quiet_end": None}
                await eventually(
                    lambda own=own, person=person, body=body: _ok(
                        own.put(f"/recipients/{person['participant_id']}/preferences", json=body)
                    )
                )
        r = await client.post(
            "/pairs",
            json={
                "programme_id": programme_id,
                "mentor_id": mentor["participant_id"],
                "mentee_id": mentee["participant_id"],
            },
        )
        assert r.status_code == 201, r.text
        pair: dict[str, Any] = r.json()
    async with auth.client(base_url=system.sessions.url) as client:
        await eventually(lambda: _ok(client.get(f"/pairs/{pair['pair_id']}")))
        await agree(client, pair)
    for person in (mentor, mentee):
        await eventually(lambda person=person: _true(system.mail(person["email"])))
    return mentor, mentee, pair


async def test_a_mentor_who_leaves_the_company(system: System) -> None:
    mentor, mentee, pair = await paired(system)
    pid = pair["pair_id"]
    now = datetime.now(UTC).replace(microsecond=0)
    session_ids = []
    async with auth.client(base_url=system.sessions.url) as client:
        for days in (3, 10):
            r = await client.post(
                f"/pairs/{pid}/sessions",
                json={"starts_at": (now + timedelta(days=days)).isoformat(), "agenda": "Agents"},
            )
            assert r.status_code == 201, r.text
            session_ids.append(r.json()["events"][0]["data"]["session_id"])
    reminders = ["reminder_1h", "reminder_1h", "reminder_24h", "reminder_24h"]
    for person in (mentor, mentee):
        await eventually(lambda person=person: _equals(system.rules(person["participant_id"], "planned"), reminders))
    before = len(system.mail(mentor["email"]))
    assert before == 1  # the welcome

    await system.hr_says(hr.EmployeeLeft(employee_id=mentor["employee_id"], left_on=date.today()))

    async with auth.client(base_url=system.pairing.url) as client:
        ended = await eventually(lambda: _json_if(client.get(f"/pairs/{pid}"), lambda p: p["state"] == "ended"))
        assert ended["end_reason"] == "left_company"
        withdrawn = (await client.get(f"/participants/{mentor['participant_id']}")).json()
        assert withdrawn["status"] == "withdrawn"

    async with auth.client(base_url=system.sessions.url) as client:
        view = await eventually(
            lambda: _json_if(
                client.get(f"/pairs/{pid}"), lambda v: all(s["status"] == "cancelled" for s in v["sessions"])
            )
        )
    reason = "the pair ended: Lena Yilmaz left the company"
    assert sorted(s["session_id"] for s in view["sessions"]) == sorted(session_ids)
    assert [s["cancel_reason"] for s in view["sessions"]] == [reason, reason]

    def to_mentee() -> list[Message]:
        return system.mail(mentee["email"])

    await eventually(lambda: _true(len(to_mentee()) >= 4))  # welcome, two cancellations, partner_left
    for person in (mentor, mentee):
        await eventually(lambda person=person: _equals(system.rules(person["participant_id"], "cancelled"), reminders))
    await asyncio.sleep(1.5)  # anything still on its way would arrive now
    mails = to_mentee()
    assert len(mails) == 4, [m["Subject"] for m in mails]
    cancellations = [m for m in mails if m["Subject"].startswith("Abgesagt")]  # she reads German
    assert len(cancellations) == 2
    uids = set()
    for message in cancellations:
        [ics] = [part for part in message.walk() if part.get_content_type() == "text/calendar"]
        calendar = icalendar.Calendar.from_ical(ics.get_payload(decode=True))
        assert str(calendar["METHOD"]) == "CANCEL"
        uids.add(str(calendar.walk("VEVENT")[0]["UID"]))
        assert "das Tandem wurde beendet (Lena Yilmaz hat das Unternehmen verlassen)" in _text(message)  # German
    assert uids == {f"{sid}@tandem" for sid in session_ids}
    [left] = [m for m in mails if "verlassen" in m["Subject"]]
    assert left["Subject"] == "Lena Yilmaz hat das Unternehmen verlassen: Ihr Tandem ist beendet"
    assert "mentoring@acme.example" in _text(left)
    assert len(system.mail(mentor["email"])) == before  # the leaver got nothing after leaving
    assert await system.rules(mentor["participant_id"], "sent") == ["welcome"]
    assert await system.rules(mentee["participant_id"], "sent") == [
        "partner_left",
        "session_cancelled",
        "session_cancelled",
        "welcome",
    ]

    # HR's weekly digest: the mentee waits for a new partner
    await system.scan(datetime.now(UTC))
    [digest] = await eventually(lambda: _true(system.mail("mentoring@acme.example")))
    assert f"- Dr. Ingrid Hoffmann (pair {pid}): Lena Yilmaz left the company on" in _text(digest)


async def test_a_leave_of_absence_pauses_the_pair_and_the_return_resumes_it(system: System) -> None:
    mentor, mentee, pair = await paired(system)
    pid = pair["pair_id"]
    record = employee(mentee)

    async def state_everywhere(state: str) -> bool:
        async with auth.client() as client:
            pairing = (await client.get(f"{system.pairing.url}/pairs/{pid}")).json()
            sessions = (await client.get(f"{system.sessions.url}/pairs/{pid}")).json()
        known = await system.notifications.host.pool.fetchval("SELECT state FROM pairs WHERE pair_id = $1", pid)
        return pairing["state"] == sessions["state"] == known == state

    await system.hr_says(hr.EmployeeUpdated(**record, status="on_leave"))
    await eventually(lambda: state_everywhere("paused"))
    async with auth.client(base_url=system.pairing.url) as client:
        paused = (await client.get(f"/pairs/{pid}")).json()
    assert paused["pause_cause"] == "leave"
    quiet = datetime.now(UTC) + timedelta(days=40)  # silent for more than twice the 14-day cadence
    await system.scan(quiet)
    for person in (mentor, mentee):
        assert "nudge" not in [n["rule"] for n in await system.history(person["participant_id"])]

    await system.hr_says(hr.EmployeeUpdated(**record, status="active"))
    await eventually(lambda: state_everywhere("active"))
    await system.scan(quiet)
    for person in (mentor, mentee):
        assert await system.rules(person["participant_id"], "planned") == ["nudge"]


async def test_a_reorganisation_flags_a_pair_for_the_digest_until_hr_keeps_it(system: System) -> None:
    mentor, mentee, pair = await paired(system)
    pid = pair["pair_id"]
    # the mentor moves into the mentee's team: a reporting line the programme forbids
    moved = {**employee(mentor), "department": "Finance", "manager_employee_id": mentee["employee_id"]}
    await system.hr_says(hr.EmployeeUpdated(**moved))
    async with auth.client(base_url=system.pairing.url) as client:
        flagged = await eventually(lambda: _json_if(client.get(f"/pairs/{pid}"), lambda p: p["flag"] is not None))
    assert (flagged["state"], flagged["flag"]["rule"]) == ("paused", "reporting_line")
    pool = system.notifications.host.pool
    await eventually(lambda: pool.fetchval("SELECT 1 FROM flags WHERE pair_id = $1", pid))
    await system.scan(datetime.now(UTC))
    [digest] = await eventually(lambda: _true(system.mail("mentoring@acme.example")))
    text = _text(digest)
    assert 'Dr. Ingrid Hoffmann with Lena Yilmaz break the rule "no reporting line within the programme\'s limit"' in (
        text
    )
    assert f"{flagged['flag']['detail']}." in text
    assert "Reporting chain: Lena Yilmaz → Dr. Ingrid Hoffmann." in text
    assert "; paused." in text

    async with auth.client(base_url=system.pairing.url) as client:
        r = await client.post(f"/pairs/{pid}/flag/resolve", json={"decision": "keep", "reason": "different divisions"})
        assert r.status_code == 200, r.text
    await eventually(lambda: _none(pool.fetchval("SELECT 1 FROM flags WHERE pair_id = $1", pid)))
    await eventually(lambda: _equals(pool.fetchval("SELECT state FROM pairs WHERE pair_id = $1", pid), "active"))
    await system.scan(datetime.now(UTC) + timedelta(days=7))  # nothing to report next week: no digest
    digests = [n for n in await system.history(f"hr:{pair['programme_id']}") if n["rule"] == "hr_digest"]
    assert len(digests) == 1


def _text(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return str(part.get_payload(decode=True).decode())
    raise AssertionError("no text part")


async def _ok(response: Any) -> bool:
    return bool((await response).status_code == 200)


async def _json_if(response: Any, check: Any) -> Any:
    r = await response
    return r.json() if r.status_code == 200 and check(r.json()) else None


async def _true(value: Any) -> Any:
    return value


async def _equals(value: Any, expected: Any) -> bool:
    return bool(await value == expected)


async def _none(value: Any) -> bool:
    return await value is None


async def test_a_new_address_from_the_hr_platform_is_where_the_next_mail_goes(system: System) -> None:
    _, mentee, pair = await paired(system)
    old = mentee["email"]
    new = old.replace("@", ".moved@")  # (the mailbox matches addresses as substrings: keep old out of new)
    record = {**employee(mentee), "email": new}
    await system.hr_says(hr.EmployeeUpdated(**record))

    async def both_know() -> bool:  # the new address reached both services' projections (ParticipantUpdated)
        who = mentee["participant_id"]
        query = "SELECT email FROM participants WHERE participant_id = $1"
        in_sessions = await system.sessions.host.pool.fetchval(query, who)
        in_notifications = await system.notifications.host.pool.fetchval(
            "SELECT email FROM recipients WHERE participant_id = $1", who
        )
        return bool(in_sessions == in_notifications == new)

    await eventually(both_know)
    async with auth.client(base_url=system.sessions.url) as client:
        # a session is cancelled: the mentee's METHOD:CANCEL mail goes to the new address only
        starts = (datetime.now(UTC) + timedelta(days=5)).replace(microsecond=0).isoformat()
        r = await client.post(f"/pairs/{pair['pair_id']}/sessions", json={"starts_at": starts, "agenda": "Copilot"})
        assert r.status_code == 201, r.text
        session_id = r.json()["events"][0]["data"]["session_id"]
        before_old = len(system.mail(old))
        r = await client.post(f"/pairs/{pair['pair_id']}/sessions/{session_id}/cancel", json={"reason": "ill"})
        assert r.status_code == 200, r.text

    def cancellations(address: str) -> list[str]:
        return [
            str(icalendar.Calendar.from_ical(part.get_payload(decode=True))["METHOD"])
            for message in system.mail(address)
            for part in message.walk()
            if part.get_content_type() == "text/calendar"
        ]

    assert await eventually(lambda: _true(cancellations(new))) == ["CANCEL"]
    assert len(system.mail(old)) == before_old, [(m["Subject"], m["Date"]) for m in system.mail(old)]
