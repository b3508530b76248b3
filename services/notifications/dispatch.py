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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
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
from services.notifications.domain import delivery, mail, model
from services.notifications.domain.rendering import TEMPLATES, Templates, day, when
from services.notifications.domain.webhooks import RetryPolicy
from services.notifications.webhooks.config import WebhookSettings
from services.sessions.domain.calendar import CalendarPerson, session_ics
from services.sessions.domain.model import Session
from shared.auth import ANY_TENANT
from shared.config import ConfigError
from shared.events.notifications import NotificationFailed, NotificationSent
from shared.runtime import ServiceHost

log = logging.getLogger(__name__)
#: preferences, time zone, (address, name), template context, attachments, session start
Context = tuple[
    model.Preferences, str, tuple[str, str], dict[str, Any], tuple[tuple[str, str, bytes], ...], datetime | None
]
HR = model.HR
#: What a database that is down or restarting raises: the batch stops, claims lapse, nothing is failed for it.
DATABASE_DOWN = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)
T = TypeVar("T")


@dataclass(frozen=True)
class DispatchSettings:
    smtp: SmtpSettings
    sessions_url: str = "http://127.0.0.1:8002"
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
    def from_extra(cls, extra: Any) -> DispatchSettings:
        e = dict(extra)
        default = delivery.DEFAULT_RETRY
        try:
            timeout = float(e.get("SEND_TIMEOUT", "15"))
            settings = cls(
                smtp=SmtpSettings(
                    host=e.get("SMTP_HOST", "127.0.0.1"), port=int(e.get("SMTP_PORT", "1025")),
                    starttls=e.get("SMTP_STARTTLS", "false").lower() == "true",
                    username=e.get("SMTP_USERNAME") or None, password=e.get("SMTP_PASSWORD") or None,
                    sender=e.get("SMTP_FROM", "Tandem <tandem@localhost>"), timeout=timeout,
                ),
                sessions_url=e.get("SESSIONS_URL", "http://127.0.0.1:8002"),
                interval=float(e.get("DISPATCH_INTERVAL", "1.0")), scan_interval=float(e.get("SCAN_INTERVAL", "60")),
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
            )  # fmt: skip
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
        self.templates = Templates(settings.templates)
        #: Development only (NOTIFICATIONS_WEBHOOK_ALLOW_INSECURE): chat webhooks on http and private addresses.
        self.allow_insecure = WebhookSettings.from_extra(host.settings.extra).allow_insecure
        #: The tenants whose notifications this deployment sends (None: any).
        self.tenants: list[str] | None = None if ANY_TENANT in host.settings.tenants else sorted(host.settings.tenants)
        self.worker = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.sent = 0

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
        planned = model.Planned(job["notification_id"], job["rule"], job["recipient_id"], job["due_at"],
                                job["trigger"], job["pair_id"], job["programme_id"], job["session_id"],
                                tenant=job["tenant"])  # fmt: skip
        found = delivery.resume(
            delivery.Claimed(job["attempts"], lapsed=job["lapsed"], attempt_recorded=job["attempt_recorded"],
                             delivered=job["delivered"]),
            self.settings.retry,
        )  # fmt: skip
        if found.action == "complete":  # a server took it before; only the bookkeeping was left undone
            await self.complete(job, planned)
            return
        if found.action == "give_up":
            await self.fail(job, found.reason, job["channel"] or "email", attempts=found.attempts)
            return
        attempts = found.attempts
        try:
            async with self.host.pool.acquire() as conn:
                ctx = await self.context(conn, planned)
        except DATABASE_DOWN:
            raise
        except Exception as exc:  # data the message cannot be made of (an unknown time zone, ...): say so
            await self.fail(job, f"could not gather the message's data: {type(exc).__name__}: {exc}", "email",
                            attempts=attempts + 1)  # fmt: skip
            return
        if ctx is None:
            await self.retry(job, "recipient not known yet", now, attempts=attempts + 1)
            return
        prefs, timezone, address_name, context, attachments, session_start = ctx
        decision = model.decide(planned, now, prefs, timezone, pair_ended=context.pop("_pair_ended"),
                                session_starts_at=session_start, recipient_left=context.pop("_recipient_left"),
                                pair_paused=context.pop("_pair_paused"))  # fmt: skip
        if decision.action in ("cancel", "skip"):
            await self.finish(job, "cancelled" if decision.action == "cancel" else "skipped", decision.reason,
                              attempts=attempts)  # fmt: skip
            return
        if decision.action == "defer":
            assert decision.until is not None
            async with self.host.pool.acquire() as conn:
                await repo.plan_again(conn, job["tenant"], job["notification_id"], self.worker, job["claimed_at"],
                                      attempts=attempts, at=decision.until, note=decision.reason)  # fmt: skip
            return
        channel = prefs.channel if prefs.channel == "email" or prefs.chat_webhook_url else "email"
        address = prefs.chat_webhook_url if channel == "chat" else address_name[0]
        message_id = job["message_id"] or mail.message_id(job["notification_id"], self.sender.domain)
        try:  # everything that can be wrong with the message itself, before any attempt
            message = self.templates.render(planned.rule, prefs.locale, context)
            out = Outgoing(str(job["notification_id"]), message_id, address or "", address_name[1], message.subject,
                           message.text, attachments if channel == "email" else ())  # fmt: skip
            prepared = self.channels[channel].prepare(out)
        except Exception as exc:  # RenderError, PermanentDeliveryError (address, headers), anything alike
            await self.fail(job, str(exc) if str(exc) else type(exc).__name__, channel, attempts=attempts + 1)
            return
        attempt = attempts + 1
        async with self.host.pool.acquire() as conn:
            if not await repo.record_attempt(conn, job["tenant"], job["notification_id"], self.worker,
                                             job["claimed_at"], attempts=attempt, message_id=message_id,
                                             channel=channel, lease=self.settings.claim):  # fmt: skip
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
        await self.persist(lambda: self.write_receipt(job, attempt, channel, prefs.locale, message_id, reply),
                           deadline)  # fmt: skip
        await self.persist(lambda: self.succeed(job, planned, channel, prefs.locale, attempt), deadline)

    async def write_receipt(self, job: Any, attempt: int, channel: str, locale: str, message_id: str,
                            reply: str) -> None:  # fmt: skip
        async with self.host.pool.acquire() as conn:
            await repo.record_receipt(conn, job["tenant"], job["notification_id"], attempt=attempt, channel=channel,
                                      locale=locale, message_id=message_id, reply=reply)  # fmt: skip

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

    async def context(self, conn: Any, job: model.Planned) -> Context | None:
        if job.recipient_id.startswith(HR):
            return await self.hr_context(conn, job)
        t = job.tenant
        me = await conn.fetchrow("SELECT * FROM recipients WHERE tenant = $1 AND participant_id = $2", t,
                                 job.recipient_id)  # fmt: skip
        if me is None:
            return None
        prefs = _preferences(await repo.preferences(conn, t, job.recipient_id), me["locale"])
        lang = prefs.locale
        pair = None
        if job.pair_id:
            pair = await conn.fetchrow("SELECT * FROM pairs WHERE tenant = $1 AND pair_id = $2", t, job.pair_id)
        partner_id = None
        if pair is not None:
            partner_id = pair["mentee_id"] if pair["mentor_id"] == job.recipient_id else pair["mentor_id"]
        partner = await conn.fetchrow("SELECT * FROM recipients WHERE tenant = $1 AND participant_id = $2", t,
                                      partner_id)  # fmt: skip
        programme = await conn.fetchrow("SELECT * FROM programmes WHERE tenant = $1 AND programme_id = $2", t,
                                        job.programme_id)  # fmt: skip
        ctx: dict[str, Any] = {
            "recipient_name": me["display_name"],
            "partner_name": partner["display_name"] if partner else ("Ihr Tandem" if lang == "de" else "your partner"),
            "role": me["role"],
            "programme_name": programme["name"] if programme else "Tandem",
            "cadence_days": programme["cadence_days"] if programme else 14,
            "_pair_ended": bool(pair is not None and pair["state"] == "ended"),
            "_pair_paused": bool(pair is not None and pair["state"] == "paused"),
            "_recipient_left": me["withdrawn_reason"] == "left_company",
        }
        attachments: tuple[tuple[str, str, bytes], ...] = ()
        session_start = None
        if job.rule == "welcome" and pair is not None:
            mentee = await conn.fetchrow("SELECT timezone FROM recipients WHERE tenant = $1 AND participant_id = $2",
                                         t, pair["mentee_id"])  # fmt: skip
            first = model.suggested_first_meeting(pair["created_at"], mentee["timezone"] if mentee else "UTC")
            ctx["first_meeting"] = when(first, lang, me["timezone"])
            ctx["rationale"] = pair["rationale"] or ("von HR gebildet" if lang == "de" else "paired by HR")
        if job.session_id is not None:
            row = await conn.fetchrow("SELECT * FROM sessions WHERE tenant = $1 AND session_id = $2", t,
                                      job.session_id)  # fmt: skip
            if row is None:
                return None
            session_start = row["starts_at"]
            moment = row["held_at"] if job.rule == "feedback_request" and row["held_at"] else row["starts_at"]
            ctx["session_time"] = when(moment, lang, me["timezone"])
            ctx["duration_minutes"] = row["duration_minutes"]
            ctx["agenda"] = row["agenda"] or ("wird noch vereinbart" if lang == "de" else "to be agreed")
            ctx["reason"] = row["reason"] or ("kein Grund angegeben" if lang == "de" else "no reason given")
            if job.rule in ("reminder_24h", "reminder_1h", "session_cancelled"):
                attachments = (self.invitation(row, me, partner),)
        ctx["feedback_url"] = f"{self.settings.sessions_url}/pairs/{job.pair_id}/feedback"
        ctx["survey_url"] = f"{self.settings.sessions_url}/pairs/{job.pair_id}/feedback"
        if job.rule == "partner_left":
            ctx["hr_contact"] = programme["hr_contact_email"] if programme else None
        if job.rule == "nudge" and pair is not None:
            quiet_since = await _quiet_since(conn, t, pair)
            ctx["days_quiet"] = (datetime.now(UTC) - quiet_since).days
        return prefs, me["timezone"], (me["email"], me["display_name"]), ctx, attachments, session_start

    async def hr_context(self, conn: Any, job: model.Planned) -> Context | None:
        programme = await conn.fetchrow("SELECT * FROM programmes WHERE tenant = $1 AND programme_id = $2",
                                        job.tenant, job.programme_id)  # fmt: skip
        if programme is None or not programme["hr_contact_email"]:
            return None
        prefs = model.Preferences(locale="en", quiet_start=None, quiet_end=None)
        ctx = {"programme_name": programme["name"], "cadence_days": programme["cadence_days"],
               **await digest(conn, job.tenant, programme["programme_id"], datetime.now(UTC), prefs.locale),
               "dashboard_url": f"{self.settings.sessions_url}/dashboard?programme={job.programme_id}",
               "_pair_ended": False, "_pair_paused": False, "_recipient_left": False}  # fmt: skip
        return prefs, "UTC", (programme["hr_contact_email"], "HR"), ctx, (), None

    def invitation(self, row: Any, me: Any, partner: Any) -> tuple[str, str, bytes]:
        session = Session(
            session_id=row["session_id"], pair_id=row["pair_id"], programme_id=row["programme_id"],
            starts_at=row["starts_at"], duration_minutes=row["duration_minutes"], agenda=row["agenda"],
            sequence=row["sequence"], status=row["status"], cancel_reason=row["reason"],
        )  # fmt: skip
        people = [CalendarPerson(me["email"], me["display_name"])]
        if partner is not None:
            people.append(CalendarPerson(partner["email"], partner["display_name"]))
        data = session_ics(session, dtstamp=row["updated_at"], summary="Tandem reverse mentoring", attendees=people)
        method = "CANCEL" if row["status"] == "cancelled" else "REQUEST"
        return ("tandem-session.ics", f"text/calendar; method={method}", data)

    # --- outcomes --------------------------------------------------------------------------------

    async def succeed(self, job: Any, planned: model.Planned, channel: str, locale: str, attempts: int) -> None:
        """`sent` and NotificationSent, once: the event's id is the notification's, and only the call that moves
        it from `sending` to `sent` emits it."""
        async with self.host.uow(causation_id=job["trigger"], tenant=job["tenant"]) as uow:
            if await repo.mark_sent(uow.conn, job["tenant"], job["notification_id"], channel, attempts):
                uow.emit_as(delivery.sent_event_id(job["tenant"], job["notification_id"]), NotificationSent(
                    notification_id=str(job["notification_id"]), rule=planned.rule, recipient_id=planned.recipient_id,
                    channel=channel, programme_id=planned.programme_id, pair_id=planned.pair_id,
                    triggering_event_id=planned.trigger, attempts=attempts, template=planned.rule, locale=locale,
                ))  # fmt: skip
            await uow.commit()
        self.sent += 1

    async def complete(self, job: Any, planned: model.Planned) -> None:
        """A notification whose receipt exists but that was never marked sent (its sender stopped in between)."""
        async with self.host.pool.acquire() as conn:
            receipt = await repo.last_receipt(conn, job["tenant"], job["notification_id"])
        log.info("notification %s was delivered before (%s); marking it sent", planned.notification_id,
                 receipt["reply"])  # fmt: skip
        await self.succeed(job, planned, receipt["channel"], receipt["locale"], receipt["attempt"])

    async def retry(self, job: Any, reason: str, now: datetime, channel: str | None = None, *, attempts: int) -> None:
        next_at = delivery.next_attempt(self.settings.retry, attempts, now, random.random())
        if next_at is None:
            await self.fail(job, reason, channel or "email", attempts=attempts)
            return
        async with self.host.pool.acquire() as conn:
            await repo.plan_again(conn, job["tenant"], job["notification_id"], self.worker, job["claimed_at"],
                                  attempts=attempts, at=next_at, error=reason)  # fmt: skip

    async def fail(self, job: Any, reason: str, channel: str, *, attempts: int) -> None:
        """`failed` with the reason, visible in the history; HR can resend it (it is rendered again from the data
        as it is then)."""
        log.info("notification %s failed: %s", job["notification_id"], reason)
        async with self.host.uow(causation_id=job["trigger"], tenant=job["tenant"]) as uow:
            if await repo.mark_failed(uow.conn, job["tenant"], job["notification_id"], self.worker, job["claimed_at"],
                                      attempts=attempts, reason=reason, channel=channel):  # fmt: skip
                uow.emit(NotificationFailed(
                    notification_id=str(job["notification_id"]), rule=job["rule"], recipient_id=job["recipient_id"],
                    channel=channel, programme_id=job["programme_id"], pair_id=job["pair_id"],
                    triggering_event_id=job["trigger"], attempts=attempts, reason=reason[:2000],
                ))  # fmt: skip
            await uow.commit()

    async def finish(self, job: Any, status: str, note: str, *, attempts: int) -> None:
        async with self.host.pool.acquire() as conn:
            await repo.settle(conn, job["tenant"], job["notification_id"], self.worker, job["claimed_at"],
                              status=status, attempts=attempts, note=note)  # fmt: skip

    # --- time-based rules ------------------------------------------------------------------------

    async def scan(self, now: datetime) -> None:
        """Plan nudges for quiet pairs and the weekly at-risk digest (ids make both once per period)."""
        from services.notifications.projection import store

        async with self.host.pool.acquire() as conn, conn.transaction():
            for pair in await conn.fetch(
                "SELECT p.*, g.cadence_days FROM pairs p JOIN programmes g USING (tenant, programme_id) "
                "WHERE p.state = 'active' AND ($1::text[] IS NULL OR p.tenant = ANY($1::text[]))",
                self.tenants,
            ):
                tenant = pair["tenant"]
                trigger = model.nudge_trigger(
                    pair["pair_id"], await _quiet_since(conn, tenant, pair), now, pair["cadence_days"]
                )
                if trigger is not None:
                    who = (pair["mentor_id"], pair["mentee_id"])
                    planned = model.plan("nudge", trigger, who, now, tenant=tenant, pair_id=pair["pair_id"],
                                         programme_id=pair["programme_id"])  # fmt: skip
                    await store(conn, planned)
            for programme in await conn.fetch(
                "SELECT * FROM programmes WHERE NOT closed AND hr_contact_email IS NOT NULL "
                "AND ($1::text[] IS NULL OR tenant = ANY($1::text[]))",
                self.tenants,
            ):
                tenant = programme["tenant"]
                if any((await digest(conn, tenant, programme["programme_id"], now, "en")).values()):
                    planned = model.plan("hr_digest", model.digest_trigger(programme["programme_id"], now),
                                         (HR + programme["programme_id"],), now, tenant=tenant,
                                         programme_id=programme["programme_id"])  # fmt: skip
                    await conn.executemany(
                        "INSERT INTO notifications (tenant, notification_id, rule, recipient_id, trigger, "
                        "programme_id, due_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) "
                        "ON CONFLICT DO NOTHING",
                        [(n.tenant, n.notification_id, n.rule, n.recipient_id, n.trigger, n.programme_id, n.due_at)
                         for n in planned],
                    )  # fmt: skip


async def _quiet_since(conn: Any, tenant: str, pair: Any) -> datetime:
    last = await conn.fetchval("SELECT max(held_at) FROM sessions WHERE tenant = $1 AND pair_id = $2 "
                               "AND status = 'held'", tenant, pair["pair_id"])  # fmt: skip
    quiet: datetime = max(pair["created_at"], last) if last else pair["created_at"]
    return quiet


async def at_risk_pairs(conn: Any, tenant: str, programme_id: str, now: datetime) -> list[dict[str, Any]]:
    programme = await conn.fetchrow("SELECT cadence_days FROM programmes WHERE tenant = $1 AND programme_id = $2",
                                    tenant, programme_id)  # fmt: skip
    out = []
    for pair in await conn.fetch("SELECT * FROM pairs WHERE tenant = $1 AND programme_id = $2 AND state = 'active' "
                                 "ORDER BY pair_id", tenant, programme_id):  # fmt: skip
        quiet_since = await _quiet_since(conn, tenant, pair)
        if now - quiet_since > timedelta(days=2 * programme["cadence_days"]):
            names = await _names(conn, tenant, [pair["mentor_id"], pair["mentee_id"]])
            out.append({"pair_id": pair["pair_id"], "mentor_name": names.get(pair["mentor_id"], pair["mentor_id"]),
                        "mentee_name": names.get(pair["mentee_id"], pair["mentee_id"]),
                        "days_quiet": (now - quiet_since).days})  # fmt: skip
    return out


async def digest(
    conn: Any, tenant: str, programme_id: str, now: datetime, locale: str
) -> dict[str, list[dict[str, Any]]]:
    """What HR's weekly digest of a tenant's programme lists: quiet pairs, pairs a reorganisation flagged, and
    people whose partner left the company and who wait for a new one. Nothing in any list: no digest that week."""
    return {
        "at_risk": await at_risk_pairs(conn, tenant, programme_id, now),
        "flagged": await flagged_pairs(conn, tenant, programme_id, locale),
        "waiting": await waiting_for_rematch(conn, tenant, programme_id, locale),
    }


async def _names(conn: Any, tenant: str, participant_ids: list[str]) -> dict[str, str]:
    rows = await conn.fetch(
        "SELECT participant_id, display_name FROM recipients WHERE tenant = $1 AND participant_id = ANY($2::text[])",
        tenant, participant_ids,
    )  # fmt: skip
    return {r["participant_id"]: r["display_name"] for r in rows}


async def flagged_pairs(conn: Any, tenant: str, programme_id: str, locale: str) -> list[dict[str, Any]]:
    """Live pairs with an open reorganisation flag: the rule, its detail, the reporting chain (by name where the
    person is known here), since when, and whether the pair is paused."""
    rows = await conn.fetch(
        "SELECT f.*, p.mentor_id, p.mentee_id, p.state FROM flags f JOIN pairs p USING (tenant, pair_id) "
        "WHERE f.tenant = $1 AND f.programme_id = $2 AND p.state <> 'ended' ORDER BY f.since, f.pair_id",
        tenant, programme_id,
    )  # fmt: skip
    employees = {e for r in rows for e in r["chain"]}
    known = await conn.fetch(
        "SELECT DISTINCT ON (employee_id) employee_id, display_name FROM recipients "
        "WHERE tenant = $1 AND employee_id = ANY($2::text[]) ORDER BY employee_id, participant_id",
        tenant, list(employees),
    )  # fmt: skip
    by_employee = {r["employee_id"]: r["display_name"] for r in known}
    names = await _names(conn, tenant, [x for r in rows for x in (r["mentor_id"], r["mentee_id"])])
    return [
        {"pair_id": r["pair_id"], "mentor_name": names.get(r["mentor_id"], r["mentor_id"]),
         "mentee_name": names.get(r["mentee_id"], r["mentee_id"]), "rule": r["rule"], "detail": r["detail"],
         "chain": [by_employee.get(e, e) for e in r["chain"]], "since": day(r["since"], locale),
         "paused": r["state"] == "paused"}
        for r in rows
    ]  # fmt: skip


async def waiting_for_rematch(conn: Any, tenant: str, programme_id: str, locale: str) -> list[dict[str, Any]]:
    """Pairs that ended because one of the two left the company, whose other one is still in the programme and
    has had no pair since: they wait for HR to propose a new partner (a rematch)."""
    rows = await conn.fetch(
        "SELECT p.pair_id, p.updated_at AS ended_at, stayer.participant_id AS stayer_id, "
        "stayer.display_name AS name, leaver.display_name AS partner_name "
        "FROM pairs p "
        "JOIN recipients leaver ON leaver.tenant = p.tenant AND leaver.participant_id IN (p.mentor_id, p.mentee_id) "
        "AND leaver.withdrawn_reason = 'left_company' "
        "JOIN recipients stayer ON stayer.tenant = p.tenant AND stayer.participant_id IN (p.mentor_id, p.mentee_id) "
        "AND stayer.participant_id <> leaver.participant_id AND NOT stayer.withdrawn "
        "WHERE p.tenant = $1 AND p.programme_id = $2 AND p.state = 'ended' AND p.end_reason = 'left_company' "
        "AND NOT EXISTS (SELECT 1 FROM pairs q WHERE q.tenant = p.tenant AND q.pair_id <> p.pair_id "
        "AND stayer.participant_id IN (q.mentor_id, q.mentee_id) "
        "AND (q.state <> 'ended' OR q.created_at >= p.updated_at)) "
        "ORDER BY p.updated_at, p.pair_id",
        tenant, programme_id,
    )  # fmt: skip
    return [
        {"pair_id": r["pair_id"], "name": r["name"], "partner_name": r["partner_name"],
         "ended_on": day(r["ended_at"], locale)}
        for r in rows
    ]  # fmt: skip


def _preferences(row: Any, locale: str) -> model.Preferences:
    if row is None:
        return model.Preferences(locale="de" if locale == "de" else "en")
    return model.Preferences(
        channel=row["channel"], locale=row["locale"], quiet_start=row["quiet_start"], quiet_end=row["quiet_end"],
        opted_out=row["opted_out"], chat_webhook_url=row["chat_webhook_url"],
    )  # fmt: skip


def default_quiet_hours() -> tuple[time, time]:
    return time(20, 0), time(8, 0)


async def run_dispatcher(host: ServiceHost) -> None:
    dispatcher = Dispatcher(host, DispatchSettings.from_extra(host.settings.extra))
    host.app.state.dispatcher = dispatcher
    with contextlib.suppress(asyncio.CancelledError):
        await dispatcher.run()
