"""A mail that cannot hang: names with line breaks, internationalised addresses (SMTPUTF8, IDNA), template errors,
each failing with its reason or going out clean, and resendable once the data is fixed; and a notification whose
receipt exists completed without a second mail. Real broker, Postgres and aiosmtpd."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from services.notifications import repository as repo
from services.notifications.domain import delivery, model
from services.notifications.domain.rendering import TEMPLATES
from services.notifications.projection import store
from shared.events import EventPayload
from shared.events import pairing as p
from shared.infra import Infra
from tests.conftest import HostFactory
from tests.integration.notifications.conftest import rigged
from tests.integration.notifications.servers import SmtpServer
from tests.integration.notifications.test_delivery import Rig, until

CHLOE = "chloé.9@acme.example"  # the demo's own address: a local part that is not ASCII
SENT = "tandem.notifications.NotificationSent"
FAILED = "tandem.notifications.NotificationFailed"


@pytest.fixture
def utf8_smtp() -> Iterator[SmtpServer]:
    with SmtpServer(smtputf8=True) as server:
        yield server


@pytest.fixture
def ascii_smtp() -> Iterator[SmtpServer]:
    with SmtpServer(smtputf8=False) as server:
        yield server


@pytest.fixture
async def utf8_rig(infra: Infra, start_service: HostFactory, utf8_smtp: SmtpServer) -> AsyncIterator[Rig]:
    async for rig in rigged(infra, start_service, utf8_smtp):
        yield rig


@pytest.fixture
async def ascii_rig(infra: Infra, start_service: HostFactory, ascii_smtp: SmtpServer) -> AsyncIterator[Rig]:
    async for rig in rigged(infra, start_service, ascii_smtp):
        yield rig


def people(rig: Rig, *, mentor: dict[str, Any], mentee: dict[str, Any]) -> list[EventPayload]:
    """The rig's programme and its two people, with these fields changed (names, addresses)."""
    launched, mentor_event, mentee_event = rig.people()
    return [launched, mentor_event.model_copy(update=mentor), mentee_event.model_copy(update=mentee)]


async def notification(rig: Rig, who: str, rule: str = "welcome", status: str | None = None) -> dict[str, Any]:
    async def found() -> dict[str, Any] | None:
        for n in await rig.history(who):
            if n["rule"] == rule and (status is None or n["status"] == status):
                return n
        return None

    found_one: dict[str, Any] = await until(found)
    return found_one


async def outbox(rig: Rig, notification_id: str) -> list[Any]:
    assert rig.host is not None
    return list(
        await rig.host.pool.fetch(
            "SELECT event_id, event_type FROM outbox WHERE subject = $1 ORDER BY position", notification_id
        )
    )


async def test_a_name_with_a_line_break_and_an_internationalised_address_go_out_clean(utf8_rig: Rig) -> None:
    rig = utf8_rig
    await rig.run(SMTP_FROM="Tandem <tandem@mentoring.acme.example>")
    partner = "lena@müller.example"  # an internationalised domain: IDNA on the wire, no SMTPUTF8 needed
    await rig.emit(
        *people(
            rig,
            mentor={"display_name": "Lena\r\nBcc: spy@evil.example", "email": partner},
            mentee={"display_name": "Chloé\nMüller", "email": CHLOE},
        )
    )
    await rig.no_quiet_hours()
    await rig.emit(rig.created())
    await until(lambda: len(rig.smtp.mailbox.received) >= 2)

    [to_chloe] = [r for r in rig.smtp.mailbox.received if r.rcpt_tos == (CHLOE,)]
    assert to_chloe.smtputf8  # asked for, and the server offered it
    assert to_chloe.mail_from == "tandem@mentoring.acme.example"
    mail = to_chloe.message
    assert mail["To"] == "Chloé Müller <chloé.9@acme.example>"
    assert mail["Subject"] == "Willkommen bei KI-Tandem 2026: Ihr Tandem mit Lena Bcc: spy@evil.example"
    assert mail["Bcc"] is None  # the name's line break could not start a header
    n = await notification(rig, rig.mentee, status="sent")
    assert mail["Message-ID"] == f"<{n['notification_id']}@mentoring.acme.example>" == n["message_id"]
    # the body is no header: it keeps the name as it is
    assert mail.get_content().replace("\r\n", "\n").startswith("Hallo Chloé\nMüller,")

    [to_lena] = [r for r in rig.smtp.mailbox.received if r.rcpt_tos != (CHLOE,)]
    assert to_lena.rcpt_tos == ("lena@xn--mller-kva.example",)
    assert not to_lena.smtputf8  # an ASCII local part needs none
    assert to_lena.message["To"].addresses[0].display_name == "Lena Bcc: spy@evil.example"
    assert to_lena.message["Subject"] == "Welcome to KI-Tandem 2026: you are paired with Chloé Müller"
    for raw in (r.message.as_bytes() for r in rig.smtp.mailbox.received):
        head = raw.split(b"\n\n", 1)[0]
        assert b"\nBcc:" not in head
        assert b"spy@evil.example>" not in head  # the name stayed a name, never an address


async def test_without_smtputf8_the_notification_fails_with_the_reason_and_a_corrected_address_is_resent(
    ascii_rig: Rig,
) -> None:
    rig = ascii_rig
    host = await rig.run()
    await rig.emit(*people(rig, mentor={}, mentee={"email": CHLOE}))
    await rig.no_quiet_hours()
    await rig.emit(rig.created())

    failed = await notification(rig, rig.mentee, status="failed")
    assert "does not offer SMTPUTF8" in failed["last_error"]
    assert CHLOE in failed["last_error"]
    assert failed["attempts"] == 1  # failed at once: no retry can change what the server offers
    assert rig.smtp.mailbox.to(rig.email(rig.mentor))  # the other welcome went out
    assert [r.rcpt_tos for r in rig.smtp.mailbox.received] == [(rig.email(rig.mentor),)]

    # the directory corrects her address; HR resends: rendered and addressed from the data as it is now
    _, _, mentee = rig.people()
    await rig.emit(p.ParticipantUpdated(**{**mentee.model_dump(), "email": "chloe.9@acme.example"}))

    async def address_corrected() -> bool:
        return bool(
            await host.pool.fetchval(
                "SELECT email = 'chloe.9@acme.example' FROM recipients WHERE participant_id = $1", rig.mentee
            )
        )

    await until(address_corrected)
    async with rig.hr() as c:
        r = await c.post(f"/notifications/{failed['notification_id']}/resend")
        assert r.status_code == 200, r.text
    [mail] = await until(lambda: rig.smtp.mailbox.to("chloe.9@acme.example"))
    sent = await notification(rig, rig.mentee, status="sent")
    assert mail["Message-ID"] == failed["message_id"] == sent["message_id"]  # one notification, one Message-ID
    types = [row["event_type"] for row in await outbox(rig, failed["notification_id"])]
    assert types == [FAILED, SENT]


async def test_a_template_error_fails_the_notification_with_the_reason_and_it_can_be_resent(
    ascii_rig: Rig, tmp_path: Path
) -> None:
    rig = ascii_rig
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES, templates)
    welcome = templates / "en" / "welcome.txt.j2"
    good = welcome.read_text()
    welcome.write_text(good.replace("Why you two:", "Why you two: {{ mentoring_hours }}"))
    await rig.run(TEMPLATES=str(templates))
    await rig.emit(*rig.people())
    await rig.no_quiet_hours()
    await rig.emit(rig.created())

    failed = await notification(rig, rig.mentor, status="failed")  # the English one
    assert failed["last_error"] == "template en/welcome.txt.j2: UndefinedError: 'mentoring_hours' is undefined"
    assert await notification(rig, rig.mentee, status="sent")  # the German template is fine
    assert rig.smtp.mailbox.to(rig.email(rig.mentor)) == []
    async with rig.hr() as c:  # resend before the fix: it fails again, with the same reason
        assert (await c.post(f"/notifications/{failed['notification_id']}/resend")).status_code == 200
    await until(lambda: _status(rig, rig.mentor, "failed"))

    welcome.write_text(good)
    async with rig.hr() as c:
        r = await c.post(f"/notifications/{failed['notification_id']}/resend")
        assert r.status_code == 200, r.text
    [mail] = await until(lambda: rig.smtp.mailbox.to(rig.email(rig.mentor)))
    assert mail["Subject"] == "Welcome to KI-Tandem 2026: you are paired with Ingrid Hoffmann"

    async def recorded() -> list[str]:  # the mail is at the server a moment before `sent` commits
        types = [row["event_type"] for row in await outbox(rig, failed["notification_id"])]
        return types if len(types) == 3 else []

    assert await until(recorded) == [FAILED, FAILED, SENT]


async def _status(rig: Rig, who: str, status: str) -> bool:
    found = [n for n in await rig.history(who) if n["rule"] == "welcome"]
    return bool(found) and found[0]["status"] == status and found[0]["note"] == "resent by HR"


async def test_a_notification_whose_receipt_exists_is_marked_sent_without_a_second_mail(ascii_rig: Rig) -> None:
    """Its sender stopped after the server took the mail and the receipt was written, before it marked it sent: the
    next claim sees the receipt, marks it sent (NotificationSent once, its id the notification's) and sends
    nothing."""
    rig = ascii_rig
    host = await rig.run()
    await rig.emit(*rig.people())
    await rig.no_quiet_hours()
    trigger = f"left-over-{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    [planned] = model.plan("welcome", trigger, (rig.mentor,), now, tenant=rig.tenant, programme_id=rig.prog)
    nid = planned.notification_id
    message_id = f"<{nid}@localhost>"
    async with host.pool.acquire() as conn, conn.transaction():
        await store(conn, [planned])
        # as a sender that died right after the receipt leaves it: `sending`, its claim lapsed, one attempt
        await conn.execute(
            "UPDATE notifications SET status = 'sending', claimed_by = 'gone', attempts = 1, message_id = $3, "
            "claimed_at = now() - interval '3 minutes', last_attempt_at = now() - interval '3 minutes', "
            "claimed_until = now() - interval '1 minute' WHERE tenant = $1 AND notification_id = $2",
            rig.tenant,
            nid,
            message_id,
        )
        await repo.record_receipt(
            conn,
            rig.tenant,
            nid,
            attempt=1,
            channel="email",
            locale="en",
            message_id=message_id,
            reply="250 Message accepted for delivery",
        )

    sent = await notification(rig, rig.mentor, status="sent")
    assert sent["notification_id"] == str(nid)
    assert sent["attempts"] == 1  # completed, not tried again
    await asyncio.sleep(0.5)
    assert rig.smtp.mailbox.messages == []
    rows = await outbox(rig, str(nid))
    assert [(r["event_id"], r["event_type"]) for r in rows] == [(delivery.sent_event_id(rig.tenant, nid), SENT)]
