"""The durable scheduler: claims due notifications (several replicas never take the same one), renders
and sends them, records NotificationSent / NotificationFailed through the outbox; and the scan that plans
nudges for quiet pairs and the weekly at-risk digest for HR.

Every notification is sent within its tenant: what it says comes from that tenant's projection rows only, its
chat webhook must be on that tenant's list of hosts, and its NotificationSent/Failed carry that tenant.

One mail per notification, as the recipient sees it (domain/delivery.py has the rules, repository.py the SQL):

1. claim it with a lease; a claim that finds a receipt completes it without sending (it went out before);
2. gather its data, render it and address it. Anything wrong there (a template error, an address that cannot
   take mail) fails it with the reason, resendable once the data is fixed; nothing stays `sending`;
3. record the attempt and commit it, with the notification's Message-ID (kept from the first attempt on);
4. send it, with that Message-ID (a chat message with it as Idempotency-Key);
5. once the server took it (SMTP 250, a 2xx), write the receipt, then mark it `sent` and put NotificationSent (its
   id derived from the notification's) in the outbox. Both writes are retried for as long as the lease lasts, so
   a database that restarts meanwhile costs no second mail.

A process that dies between 4 and 5 leaves no receipt: the send cannot be shown, and the next claim (once the
lease lapsed) sends it again with the same Message-ID, which the receiving side de-duplicates by.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import asyncpg

from services.notifications import repository as repo
from services.notifications.channels import (
    Channel,
    Outgoing,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from services.notifications.channels.chat import WebhookChannel, check_before_send
from services.notifications.channels.email import SmtpChannel, SmtpSettings
from services.notifications.domain import content, delivery, mail, model
from services.notifications.domain.rendering import TEMPLATES, Templates
from services.notifications.domain.webhooks import RetryPolicy
from services.notifications.projection import store
from services.notifications.webhooks.config import WebhookSettings
from shared.auth import ANY_TENANT
from shared.calendar import CalendarPerson
from shared.config import ConfigError
from shared.events.notifications import NotificationFailed, NotificationSent
from shared.runtime import ServiceHost

log = logging.getLogger(__name__)
HR = model.HR
#: What a database that is down or restarting raises: the batch stops, claims lapse, nothing is failed for it.
DATABASE_DOWN = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)
T = TypeVar("T")


@dataclass(frozen=True)
class DispatchSettings:
    smtp: SmtpSettings
    #: The sessions service's public address (SESSIONS_URL): participants' links open its portal there.
    sessions_url: str = "http://127.0.0.1:8002"
    #: The pairing service's public address (PAIRING_URL): HR's digest links its console (`/console`).
    pairing_url: str = "http://127.0.0.1:8001"
    interval: float = 1.0
    scan_interval: float = 60.0
    batch: int = 20
    #: How long a claim reserves a notification for its sender; renewed when its attempt is recorded. A claim
    #: that lapses (its sender died or lost its database) is taken again after it, and counts as an attempt.
    claim: timedelta = timedelta(minutes=2)
    #: One send's time budget on either channel (SMTP per step, the chat webhook in all); shorter than the claim.
    send_timeout: float = 15.0
    retry: RetryPolicy = field(default_factory=lambda: delivery.DEFAULT_RETRY)
    #: A folder of templates laid out as the service's own (templates/<locale>/<rule>.txt.j2).
    templates: Path = TEMPLATES

    @classmethod
    def from_extra(cls, extra: Any, urls: Mapping[str, str] | None = None) -> DispatchSettings:
        """From the service's own variables (NOTIFICATIONS_*, prefix removed) and the services' public URLs
        (ServiceSettings.public_urls: SESSIONS_URL, PAIRING_URL), where the mails' links point."""
        e = dict(extra)
        urls = urls or {}
        default = delivery.DEFAULT_RETRY
        try:
            timeout = float(e.get("SEND_TIMEOUT", "15"))
            settings = cls(
                smtp=SmtpSettings(
                    host=e.get("SMTP_HOST", "127.0.0.1"),
                    port=int(e.get("SMTP_PORT", "1025")),
                    starttls=e.get("SMTP_STARTTLS", "false").lower() == "true",
                    username=e.get("SMTP_USERNAME") or None,
                    password=e.get("SMTP_PASSWORD") or None,
                    sender=e.get("SMTP_FROM", "Tandem <tandem@localhost>"),
                    timeout=timeout,
                ),
                sessions_url=urls.get("sessions", cls.sessions_url).rstrip("/"),
                pairing_url=urls.get("pairing", cls.pairing_url).rstrip("/"),
                interval=float(e.get("DISPATCH_INTERVAL", "1.0")),
                scan_interval=float(e.get("SCAN_INTERVAL", "60")),
                batch=int(e.get("DISPATCH_BATCH", "20")),
                claim=timedelta(seconds=float(e.get("CLAIM_SECONDS", "120"))),
                send_timeout=timeout,
                retry=RetryPolicy(
                    max_attempts=int(e.get("RETRY_MAX_ATTEMPTS", str(default.max_attempts))),
                    base=timedelta(seconds=float(e.get("RETRY_BASE", str(default.base.total_seconds())))),
                    factor=float(e.get("RETRY_FACTOR", str(default.factor))),
                    cap=timedelta(seconds=float(e.get("RETRY_CAP", str(default.cap.total_seconds())))),
                ),
                templates=Path(e["TEMPLATES"]) if e.get("TEMPLATES") else TEMPLATES,
            )
            mail.sender(settings.smtp.sender)
        except ValueError as exc:  # AddressError too: a sender that is no address
            raise ConfigError(f"bad notifications setting (NOTIFICATIONS_*): {exc}") from exc
        if settings.claim.total_seconds() <= settings.send_timeout:
            raise ConfigError("NOTIFICATIONS_CLAIM_SECONDS must be longer than NOTIFICATIONS_SEND_TIMEOUT")
        if settings.batch < 1 or settings.interval <= 0:
            raise ConfigError("NOTIFICATIONS_DISPATCH_BATCH must be at least 1, the interval positive")
        if not (settings.templates / "en").is_dir():
            raise ConfigError(f"NOTIFICATIONS_TEMPLATES: {settings.templates} has no en/ folder of templates")
        return settings


class Dispatcher:
    def __init__(self, host: ServiceHost, settings: DispatchSettings, channels: dict[str, Channel] | None = None):
        self.host = host
        self.settings = settings
        self.channels: dict[str, Channel] = channels or {
            "email": SmtpChannel(settings.smtp),
            "chat": WebhookChannel(timeout=settings.send_timeout),
        }
        #: Message-IDs are `<notification id@the sender's domain>`
        self.sender = mail.sender(settings.smtp.sender)
        #: the ORGANIZER of the calendar entries mails carry: the programme's sender address (it sends them)
        self.organizer = CalendarPerson(self.sender.addr_spec, self.sender.display_name or "Tandem")
        self.templates = Templates(settings.templates)
        #: Development only (NOTIFICATIONS_WEBHOOK_ALLOW_INSECURE): chat webhooks on http and private addresses.
        self.allow_insecure = WebhookSettings.from_extra(host.settings.extra).allow_insecure
        #: The tenants whose notifications this deployment sends (None: any).
        self.tenants: list[str] | None = None if ANY_TENANT in host.settings.tenants else sorted(host.settings.tenants)
        self.worker = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"

    # --- the loop --------------------------------------------------------------------------------

    async def run(self) -> None:
        last_scan = 0.0
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    if loop.time() - last_scan >= self.settings.scan_interval:
                        await self.scan(datetime.now(UTC))
                        last_scan = loop.time()
                    while await self.dispatch_due():
                        pass
                except DATABASE_DOWN as exc:
                    log.warning("notification dispatch: %s; retrying", exc)
                await asyncio.sleep(self.settings.interval)
        except asyncio.CancelledError:  # the service stops
            await self.release()
            raise

    async def release(self) -> None:
        """On a graceful stop: hand back the claims not acted on (the rest of a batch), so that another worker sends
        them now rather than after the lease (NOTIFICATIONS_CLAIM_SECONDS). After a crash the lease still lapses."""
        try:
            async with self.host.pool.acquire() as conn:
                n = await asyncio.wait_for(repo.release_unattempted(conn, self.worker), 5)
        except Exception as exc:  # the database is away: the claims lapse as after a crash
            log.warning("notification dispatch: claims not handed back on stopping (%s); they lapse", exc)
            return
        if n:
            log.info("notification dispatch: %d claimed notifications handed back on stopping", n)

    async def claim(self) -> list[Any]:
        return await repo.claim(self.host.pool, self.worker, self.settings.claim, self.settings.batch, self.tenants)

    async def dispatch_due(self) -> int:
        jobs = await self.claim()
        for job in jobs:
            try:
                await self.deliver(job)
            except DATABASE_DOWN:
                raise  # the rest of the batch would fail alike: their claims lapse and they are taken again
            except Exception:  # a bug: the claim lapses, is counted as an attempt, and the bound applies
                log.exception("notification %s failed unexpectedly", job["notification_id"])
        return len(jobs)

    # --- one notification ------------------------------------------------------------------------

    async def deliver(self, job: Any) -> None:
        now = datetime.now(UTC)
        planned = model.Planned(
            job["notification_id"],
            job["rule"],
            job["recipient_id"],
            job["due_at"],
            job["trigger"],
            job["pair_id"],
            job["programme_id"],
            job["session_id"],
            tenant=job["tenant"],
        )
        found = delivery.resume(
            delivery.Claimed(
                job["attempts"],
                lapsed=job["lapsed"],
                attempt_recorded=job["attempt_recorded"],
                delivered=job["delivered"],
            ),
            self.settings.retry,
        )
        if found.action == "complete":  # a server took it before; only the bookkeeping was left undone
            await self.complete(job, planned)
            return
        if found.action == "give_up":
            await self.fail(job, found.reason, job["channel"] or "email", attempts=found.attempts)
            return
        attempts = found.attempts
        try:
            async with self.host.pool.acquire() as conn:
                draft = await self.draft(conn, planned, now)
        except DATABASE_DOWN:
            raise
        except Exception as exc:  # data the message cannot be made of (an unknown time zone, ...): say so
            await self.fail(
                job, f"could not gather the message's data: {type(exc).__name__}: {exc}", "email", attempts=attempts + 1
            )
            return
        if draft is None:
            await self.retry(job, "recipient not known yet", now, attempts=attempts + 1)
            return
        decision = draft.decide(planned, now)
        if decision.action in ("cancel", "skip"):
            await self.finish(
                job, "cancelled" if decision.action == "cancel" else "skipped", decision.reason, attempts=attempts
            )
            return
        if decision.action == "defer":
            assert decision.until is not None
            async with self.host.pool.acquire() as conn:
                await repo.plan_again(
                    conn,
                    job["tenant"],
                    job["notification_id"],
                    self.worker,
                    job["claimed_at"],
                    attempts=attempts,
                    at=decision.until,
                    note=decision.reason,
                )
            return
        channel, locale = draft.channel, draft.preferences.locale
        message_id = job["message_id"] or mail.message_id(job["notification_id"], self.sender.domain)
        try:  # everything that can be wrong with the message itself, before any attempt
            message = self.templates.render(planned.rule, locale, dict(draft.values))
            out = Outgoing(
                str(job["notification_id"]),
                message_id,
                draft.to_address,
                draft.name,
                message.subject,
                message.text,
                draft.attachments_on(channel),
            )
            prepared = self.channels[channel].prepare(out)
        except Exception as exc:  # RenderError, PermanentDeliveryError (address, headers), anything alike
            await self.fail(job, str(exc) if str(exc) else type(exc).__name__, channel, attempts=attempts + 1)
            return
        attempt = attempts + 1
        async with self.host.pool.acquire() as conn:
            if not await repo.record_attempt(
                conn,
                job["tenant"],
                job["notification_id"],
                self.worker,
                job["claimed_at"],
                attempts=attempt,
                message_id=message_id,
                channel=channel,
                lease=self.settings.claim,
            ):
                log.info("notification %s: claim lapsed before sending", planned.notification_id)
                return
        deadline = asyncio.get_running_loop().time() + self.settings.claim.total_seconds()
        try:
            if channel == "chat":  # the URL passes the rules now, not only when it was saved
                await self.check_chat_target(planned.tenant, out.to_address)
            reply = await self.channels[channel].send(prepared)
        except TransientDeliveryError as exc:
            await self.retry(job, str(exc), now, channel=channel, attempts=attempt)
            return
        except PermanentDeliveryError as exc:
            await self.fail(job, str(exc), channel, attempts=attempt)
            return
        # taken by the server: the receipt first (from now on the send is shown), then the bookkeeping
        await self.persist(lambda: self.write_receipt(job, attempt, channel, locale, message_id, reply), deadline)
        await self.persist(lambda: self.succeed(job, planned, channel, locale, attempt), deadline)

    async def write_receipt(
        self, job: Any, attempt: int, channel: str, locale: str, message_id: str, reply: str
    ) -> None:
        async with self.host.pool.acquire() as conn:
            await repo.record_receipt(
                conn,
                job["tenant"],
                job["notification_id"],
                attempt=attempt,
                channel=channel,
                locale=locale,
                message_id=message_id,
                reply=reply,
            )

    async def persist(self, write: Callable[[], Awaitable[T]], deadline: float) -> T:
        """`write` once it succeeds, tried again while the database is down until `deadline` (the lease's end: then
        another claim may take the notification, and without the receipt it will send it again)."""
        loop = asyncio.get_running_loop()
        pause = 0.1
        while True:
            try:
                return await write()
            except DATABASE_DOWN as exc:
                if loop.time() + pause >= deadline:
                    raise
                log.warning("notification outcome not recorded yet (%s); trying again", exc)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 2.0)

    async def check_chat_target(self, tenant: str, url: str) -> None:
        """The chat webhook URL is https, its host on the tenant's list (as it is now) and public right now; else
        the notification fails with the reason (channels/chat.py)."""
        async with self.host.pool.acquire() as conn:
            allowed = await repo.chat_hosts(conn, tenant)
        await check_before_send(url, allowed, allow_insecure=self.allow_insecure)

    async def draft(self, conn: Any, job: model.Planned, now: datetime) -> content.Draft | None:
        """The notification made of what the projection knows now; None while its recipient is not known."""
        base = self.settings.sessions_url
        if job.recipient_id.startswith(HR):
            digest = await repo.digest_facts(conn, job.tenant, job.programme_id, now)
            dashboard = f"{base}/dashboard?programme={job.programme_id}"
            console = f"{self.settings.pairing_url}/console"
            return (
                None
                if digest is None
                else content.hr_draft(digest, now=now, dashboard_url=dashboard, console_url=console)
            )
        facts = await repo.facts(conn, job, now)
        if facts is None:
            return None
        return content.participant_draft(job, facts, now=now, sessions_url=base, organizer=self.organizer)

    # --- outcomes --------------------------------------------------------------------------------

    async def succeed(self, job: Any, planned: model.Planned, channel: str, locale: str, attempts: int) -> None:
        """`sent` and NotificationSent, once: the event's id is the notification's, and only the call that moves
        it from `sending` to `sent` emits it."""
        async with self.host.uow(causation_id=job["trigger"], tenant=job["tenant"]) as uow:
            if await repo.mark_sent(uow.conn, job["tenant"], job["notification_id"], channel, attempts):
                uow.emit_as(
                    delivery.sent_event_id(job["tenant"], job["notification_id"]),
                    NotificationSent(
                        notification_id=str(job["notification_id"]),
                        rule=planned.rule,
                        recipient_id=planned.recipient_id,
                        channel=channel,
                        programme_id=planned.programme_id,
                        pair_id=planned.pair_id,
                        triggering_event_id=planned.trigger,
                        attempts=attempts,
                        template=planned.rule,
                        locale=locale,
                    ),
                )
            await uow.commit()

    async def complete(self, job: Any, planned: model.Planned) -> None:
        """A notification whose receipt exists but that was never marked sent (its sender stopped in between)."""
        async with self.host.pool.acquire() as conn:
            receipt = await repo.last_receipt(conn, job["tenant"], job["notification_id"])
        log.info(
            "notification %s was delivered before (%s); marking it sent", planned.notification_id, receipt["reply"]
        )
        await self.succeed(job, planned, receipt["channel"], receipt["locale"], receipt["attempt"])

    async def retry(self, job: Any, reason: str, now: datetime, channel: str | None = None, *, attempts: int) -> None:
        next_at = delivery.next_attempt(self.settings.retry, attempts, now, random.random())
        if next_at is None:
            await self.fail(job, reason, channel or "email", attempts=attempts)
            return
        async with self.host.pool.acquire() as conn:
            await repo.plan_again(
                conn,
                job["tenant"],
                job["notification_id"],
                self.worker,
                job["claimed_at"],
                attempts=attempts,
                at=next_at,
                error=reason,
            )

    async def fail(self, job: Any, reason: str, channel: str, *, attempts: int) -> None:
        """`failed` with the reason, visible in the history; HR can resend it (it is rendered again from the data
        as it is then)."""
        log.info("notification %s failed: %s", job["notification_id"], reason)
        async with self.host.uow(causation_id=job["trigger"], tenant=job["tenant"]) as uow:
            if await repo.mark_failed(
                uow.conn,
                job["tenant"],
                job["notification_id"],
                self.worker,
                job["claimed_at"],
                attempts=attempts,
                reason=reason,
                channel=channel,
            ):
                uow.emit(
                    NotificationFailed(
                        notification_id=str(job["notification_id"]),
                        rule=job["rule"],
                        recipient_id=job["recipient_id"],
                        channel=channel,
                        programme_id=job["programme_id"],
                        pair_id=job["pair_id"],
                        triggering_event_id=job["trigger"],
                        attempts=attempts,
                        reason=reason[:2000],
                    )
                )
            await uow.commit()

    async def finish(self, job: Any, status: str, note: str, *, attempts: int) -> None:
        async with self.host.pool.acquire() as conn:
            await repo.settle(
                conn,
                job["tenant"],
                job["notification_id"],
                self.worker,
                job["claimed_at"],
                status=status,
                attempts=attempts,
                note=note,
            )

    # --- time-based rules ------------------------------------------------------------------------

    async def scan(self, now: datetime) -> None:
        """Plan nudges for quiet pairs and the weekly at-risk digest (ids make both once per period)."""
        async with self.host.pool.acquire() as conn, conn.transaction():
            for tenant, cadence_days, pair in await repo.active_pairs(conn, now, self.tenants):
                trigger = pair.nudge_trigger(now, cadence_days)
                if trigger is not None:
                    planned = model.plan(
                        "nudge",
                        trigger,
                        pair.members,
                        now,
                        tenant=tenant,
                        pair_id=pair.pair_id,
                        programme_id=pair.programme_id,
                    )
                    await store(conn, planned)
            for tenant, programme_id in await repo.open_programmes(conn, self.tenants):
                digest = await repo.digest_facts(conn, tenant, programme_id, now)
                if digest is not None and content.has_news(digest, now):
                    await repo.plan(
                        conn,
                        model.plan(
                            "hr_digest",
                            model.digest_trigger(programme_id, now),
                            (HR + programme_id,),
                            now,
                            tenant=tenant,
                            programme_id=programme_id,
                        ),
                    )


async def run_dispatcher(host: ServiceHost) -> None:
    dispatcher = Dispatcher(host, DispatchSettings.from_extra(host.settings.extra, host.settings.public_urls))
    host.app.state.dispatcher = dispatcher
    with contextlib.suppress(asyncio.CancelledError):
        await dispatcher.run()
