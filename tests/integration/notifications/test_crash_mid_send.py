"""One mail per notification when the sender dies between the send and the mark, or its database restarts mid-batch.

The notifications service runs as its own process (`python -m services.notifications`), over the real broker and
Postgres, sending to a real SMTP server (aiosmtpd). The server signals when a mail's data has arrived and holds
its answer (the 250) until the test lets it go: so the test kills the process with SIGKILL, or stops Postgres, at
that moment, before the service can know the mail was taken, let alone mark it. Then, for every notification: the
server got it once or twice, but always with the same Message-ID; it ends `sent`; NotificationSent is in the outbox
once, with the id derived from the notification.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from services.notifications.domain import delivery
from shared.db import ensure_database
from shared.events import Envelope, EventPayload, encode
from shared.events import pairing as p
from shared.infra import Infra
from shared.localstack import EmbeddedPostgres, free_port
from shared.topics import Topics
from tests import auth
from tests.integration.notifications.servers import SmtpServer
from tests.kafka_helpers import produce

ROOT = Path(__file__).resolve().parents[3]
SENDER_DOMAIN = "mentoring.acme.example"
SENT = "tandem.notifications.NotificationSent"
PAIRS = 3  # six welcomes in flight at once


@dataclass
class Service:
    """The notifications service as a child process on `dsn`; `start()` again after `kill()` is a restart."""

    infra: Infra
    topics: Topics
    dsn: str
    smtp: SmtpServer
    log: Path
    extra: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        env = {
            **os.environ,
            "NOTIFICATIONS_DATABASE_URL": self.dsn,
            "NOTIFICATIONS_HTTP_PORT": str(self.port),
            "KAFKA_BOOTSTRAP_SERVERS": self.infra.kafka_bootstrap,
            "KAFKA_ENABLE_IDEMPOTENCE": str(self.infra.kafka_idempotence).lower(),
            "KAFKA_SESSION_TIMEOUT_MS": str(self.infra.session_timeout_ms),
            "KAFKA_HEARTBEAT_INTERVAL_MS": str(self.infra.heartbeat_interval_ms),
            "KAFKA_FETCH_MAX_WAIT_MS": str(self.infra.fetch_max_wait_ms),
            "TANDEM_TOPIC_NAMESPACE": self.topics.namespace,
            "TANDEM_TOPIC_PARTITIONS": str(self.topics.partitions),
            "TANDEM_OIDC_ISSUER": auth.provider().issuer,
            "NOTIFICATIONS_SMTP_HOST": "127.0.0.1",
            "NOTIFICATIONS_SMTP_PORT": str(self.smtp.port),
            "NOTIFICATIONS_SMTP_FROM": f"Tandem <tandem@{SENDER_DOMAIN}>",
            "NOTIFICATIONS_DISPATCH_INTERVAL": "0.05",
            "NOTIFICATIONS_SCAN_INTERVAL": "3600",
            "NOTIFICATIONS_SEND_TIMEOUT": "2",
            **{f"NOTIFICATIONS_{k}": v for k, v in self.extra.items()},
        }
        self.proc = self.spawn(env)
        async with httpx.AsyncClient() as client:
            for _ in range(600):
                assert self.proc.poll() is None, f"the service exited: {self.tail()}"
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(f"{self.url}/health/live")).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise AssertionError(f"the service did not come up: {self.tail()}")

    def spawn(self, env: dict[str, str]) -> subprocess.Popen[bytes]:
        with open(self.log, "ab") as out:
            return subprocess.Popen([sys.executable, "-m", "services.notifications"], cwd=ROOT, env=env, stdout=out,
                                    stderr=subprocess.STDOUT)  # fmt: skip

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed or marked."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


@dataclass
class Programme:
    """A programme of the default tenant with PAIRS pairs, as pairing's events."""

    prog: str = field(default_factory=lambda: f"prog-{uuid.uuid4().hex[:6]}")
    mentors: list[str] = field(default_factory=lambda: [f"mentor-{uuid.uuid4().hex[:6]}" for _ in range(PAIRS)])
    mentees: list[str] = field(default_factory=lambda: [f"mentee-{uuid.uuid4().hex[:6]}" for _ in range(PAIRS)])

    @property
    def people(self) -> list[str]:
        return self.mentors + self.mentees

    def launched(self) -> list[EventPayload]:
        common: dict[str, Any] = {"programme_id": self.prog, "department": "D", "grade": 5, "languages": ["en"],
                                  "timezone": "Europe/Berlin", "locale": "en"}  # fmt: skip
        events: list[EventPayload] = [
            p.ProgramLaunched(programme_id=self.prog, name="KI-Tandem 2026", starts_on=date(2026, 1, 1),
                              ends_on=date(2026, 12, 31), cadence_days=14, focus_topics=["ai-agents"],
                              hr_contact_email="hr@acme.example"),
        ]  # fmt: skip
        for who in self.mentors:
            events.append(p.ParticipantEnrolled(participant_id=who, employee_id=f"E{who}", role="mentor",
                                                display_name=f"Mentor {who}", email=f"{who}@acme.example",
                                                teach_topics={"ai-agents": 3}, **common))  # fmt: skip
        for who in self.mentees:
            events.append(p.ParticipantEnrolled(participant_id=who, employee_id=f"E{who}", role="mentee",
                                                display_name=f"Mentee {who}", email=f"{who}@acme.example",
                                                learn_topics={"ai-agents": 3}, **common))  # fmt: skip
        return events

    def pairs(self) -> list[EventPayload]:
        return [
            p.PairCreated(pair_id=f"pair-{uuid.uuid4().hex[:6]}", programme_id=self.prog, mentor_id=m, mentee_id=e,
                          rationale="Covers 1 of 1 goal: AI agents")
            for m, e in zip(self.mentors, self.mentees, strict=True)
        ]  # fmt: skip


async def emit(infra: Infra, topics: Topics, payloads: list[EventPayload]) -> None:
    for payload in payloads:
        record = encode(Envelope.new(payload, tenant=auth.DEFAULT_TENANT))
        await produce(infra.kafka_bootstrap, topics.for_source(payload.SOURCE),
                      [(record.key, record.value, record.headers)])  # fmt: skip


async def known_without_quiet_hours(service: Service, programme: Programme) -> None:
    """Each person turns quiet hours off themselves, once the service knows them."""
    for who in programme.people:
        async with auth.client("participant", employee_id=f"E{who}", base_url=service.url) as c:
            for _ in range(400):
                with contextlib.suppress(httpx.TransportError):
                    r = await c.put(f"/recipients/{who}/preferences",
                                    json={"locale": "en", "quiet_start": None, "quiet_end": None})  # fmt: skip
                    if r.status_code == 200:
                        break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError(f"{who} never became known: {service.tail()}")


async def arrival(smtp: SmtpServer, service: Service, timeout: float = 60) -> None:
    """Until a mail's data has reached the server (whose answer is held)."""
    if not await asyncio.to_thread(smtp.mailbox.arrived.wait, timeout):
        raise AssertionError(f"no mail arrived: {service.tail()}")


async def query(dsn: str, sql: str, *args: Any) -> list[Any]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def all_sent(dsn: str, service: Service, expected: int, timeout: float = 90) -> list[Any]:
    rows: list[Any] = []
    for _ in range(int(timeout / 0.2)):
        with contextlib.suppress(OSError, asyncpg.PostgresError):
            rows = await query(dsn, "SELECT * FROM notifications WHERE rule = 'welcome' ORDER BY notification_id")
            if len(rows) == expected and all(r["status"] == "sent" for r in rows):
                return rows
        await asyncio.sleep(0.2)
    raise AssertionError(f"not all sent: {[(r['recipient_id'], r['status']) for r in rows]}\n{service.tail()}")


async def exactly_one_mail_each(dsn: str, smtp: SmtpServer, rows: list[Any]) -> Counter[str]:
    """Every notification: received at least once, every copy with its one Message-ID; sent; NotificationSent once
    in the outbox, with the notification's event id. Returns how many copies of each the server got."""
    copies: Counter[str] = Counter()
    ids: dict[str, set[str]] = defaultdict(set)
    for mail in smtp.mailbox.messages:
        nid = str(mail["X-Tandem-Notification"])
        copies[nid] += 1
        ids[nid].add(str(mail["Message-ID"]))
    assert sorted(copies) == sorted(str(r["notification_id"]) for r in rows)
    for row in rows:
        nid = str(row["notification_id"])
        assert ids[nid] == {f"<{nid}@{SENDER_DOMAIN}>"}, ids[nid]  # one Message-ID, however many copies
        assert row["message_id"] == f"<{nid}@{SENDER_DOMAIN}>"
        assert row["status"] == "sent"
        assert 1 <= copies[nid] <= row["attempts"]  # no copy without a recorded attempt
    sent = await query(dsn, "SELECT subject, event_id FROM outbox WHERE event_type = $1", SENT)
    assert sorted((r["subject"], r["event_id"]) for r in sent) == sorted(
        (str(r["notification_id"]), delivery.sent_event_id(r["tenant"], r["notification_id"])) for r in rows
    )
    receipts = await query(dsn, "SELECT DISTINCT notification_id FROM notification_receipts")
    assert {r["notification_id"] for r in receipts} == {r["notification_id"] for r in rows}
    return copies


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
async def services() -> AsyncIterator[list[Service]]:
    started: list[Service] = []
    yield started
    for service in started:
        service.stop()


async def test_killed_between_send_and_mark_every_notification_goes_out_with_one_message_id(
    infra: Infra, created_topics: Topics, new_database: Any, smtp: SmtpServer, services: list[Service], tmp_path: Path
) -> None:
    dsn = await new_database("notifications")
    service = Service(infra, created_topics, dsn, smtp, tmp_path / "service.log", extra={"CLAIM_SECONDS": "3"})
    services.append(service)
    programme = Programme()
    await service.start()
    await emit(infra, created_topics, programme.launched())
    await known_without_quiet_hours(service, programme)

    smtp.mailbox.hold()
    await emit(infra, created_topics, programme.pairs())
    await arrival(smtp, service)
    service.kill()  # the mail is on the server; the service never heard the 250
    first = str(smtp.mailbox.messages[0]["X-Tandem-Notification"])
    smtp.mailbox.let_go()

    smtp.mailbox.hold()  # and once more, after a restart: killed at its first mail again
    await service.start()
    await arrival(smtp, service)
    service.kill()
    smtp.mailbox.let_go()

    await service.start()
    rows = await all_sent(dsn, service, expected=2 * PAIRS)
    copies = await exactly_one_mail_each(dsn, smtp, rows)
    assert copies[first] >= 2  # the crash window was hit: it went again, with the same Message-ID
    assert sum(copies.values()) <= 2 * PAIRS + 2  # at most one more copy per crash
    [row] = [r for r in rows if str(r["notification_id"]) == first]
    assert row["attempts"] >= 2


@pytest.mark.parametrize(
    ("outage", "claim"),
    [
        pytest.param(2.0, "15", id="back-within-the-lease"),  # the receipt is written once it is back: one copy
        pytest.param(6.0, "3", id="back-after-the-lease"),  # no receipt: sent again, same Message-ID
    ],
)
async def test_postgres_restarting_mid_batch_costs_at_most_a_copy_with_the_same_message_id(
    infra: Infra, created_topics: Topics, smtp: SmtpServer, services: list[Service], tmp_path: Path, outage: float,
    claim: str,
) -> None:  # fmt: skip
    pg = EmbeddedPostgres(tmp_path / "pg", fast_unsafe=True).start()
    try:
        dsn = await ensure_database(pg.dsn, "tandem_notifications")
        service = Service(infra, created_topics, dsn, smtp, tmp_path / "service.log", extra={"CLAIM_SECONDS": claim})
        services.append(service)
        programme = Programme()
        await service.start()
        await emit(infra, created_topics, programme.launched())
        await known_without_quiet_hours(service, programme)

        smtp.mailbox.hold()
        await emit(infra, created_topics, programme.pairs())
        await arrival(smtp, service)
        await asyncio.to_thread(pg.stop)  # mid-batch: the first mail is on the server, its 250 not yet sent
        first = str(smtp.mailbox.messages[0]["X-Tandem-Notification"])
        smtp.mailbox.let_go()
        await asyncio.sleep(outage)
        await asyncio.to_thread(pg.start)

        rows = await all_sent(dsn, service, expected=2 * PAIRS)
        copies = await exactly_one_mail_each(dsn, smtp, rows)
        assert service.proc is not None
        assert service.proc.poll() is None  # it lived through it
        if float(claim) > outage + 5:
            assert set(copies.values()) == {1}  # the receipt waited for the database: no second copy at all
        else:
            assert copies[first] == 2  # the lease ran out without a receipt: once more, the same Message-ID
    finally:
        for service in services:
            service.stop()
        pg.stop()
