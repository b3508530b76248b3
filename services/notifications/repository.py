"""SQL of the notifications service: recipients, preferences, history, resend and the chat webhook hosts for the
API (every query within one tenant, the caller's); what the dispatcher reads of the projection to make a message
(domain/content.py) and to plan the time-based ones; and the delivery state the dispatcher keeps: claims,
attempts, receipts and outcomes (see domain/delivery.py for what each step means)."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from typing import Any

from services.notifications.domain import content
from services.notifications.domain.model import HR, PairActivity, Planned, Preferences
from shared.db import Conn
from shared.erasure import PLACEHOLDER

# --- recipients ------------------------------------------------------------------------------------------


async def recipient(conn: Conn, tenant: str, recipient_id: str) -> Any:
    """The tenant's recipient (a participant) with this id, or None."""
    return await conn.fetchrow(
        "SELECT participant_id, employee_id, locale FROM recipients WHERE tenant = $1 AND participant_id = $2",
        tenant,
        recipient_id,
    )


async def hr_recipient_known(conn: Conn, tenant: str, recipient_id: str) -> bool:
    """Whether `hr:<programme id>` (HR's digest of a programme) names one of the tenant's programmes."""
    if not recipient_id.startswith(HR):
        return False
    found = await conn.fetchval(
        "SELECT 1 FROM programmes WHERE tenant = $1 AND programme_id = $2", tenant, recipient_id[len(HR) :]
    )
    return found is not None


# --- pairs' activity (the projection, as the time-based rules read it) -------------------------------------

#: A pair's row with its last session held as of $now (later ones do not count yet, as in the sessions service).
_ACTIVITY = (
    "SELECT p.*, (SELECT max(s.held_at) FROM sessions s WHERE s.tenant = p.tenant AND s.pair_id = p.pair_id "
    "AND s.status = 'held' AND s.held_at <= $1) AS last_held FROM pairs p"
)


def _activity(row: Any) -> PairActivity:
    return PairActivity(
        row["pair_id"], row["programme_id"], row["mentor_id"], row["mentee_id"], row["active_since"], row["last_held"]
    )


async def active_pairs(conn: Conn, now: datetime, tenants: list[str] | None) -> list[tuple[str, int, PairActivity]]:
    """The active pairs of these tenants (None: all), each with its tenant and its programme's cadence."""
    rows = await conn.fetch(
        f"SELECT a.*, g.cadence_days FROM ({_ACTIVITY}) a JOIN programmes g USING (tenant, programme_id) "
        "WHERE a.state = 'active' AND ($2::text[] IS NULL OR a.tenant = ANY($2::text[])) ORDER BY a.tenant, a.pair_id",
        now,
        tenants,
    )
    return [(r["tenant"], r["cadence_days"], _activity(r)) for r in rows]


async def programme_pairs(conn: Conn, tenant: str, programme_id: str, now: datetime) -> list[PairActivity]:
    """The programme's active pairs."""
    rows = await conn.fetch(
        f"{_ACTIVITY} WHERE p.tenant = $2 AND p.programme_id = $3 AND p.state = 'active' ORDER BY p.pair_id",
        now,
        tenant,
        programme_id,
    )
    return [_activity(r) for r in rows]


async def pair_activity(conn: Conn, tenant: str, pair_id: str, now: datetime) -> PairActivity | None:
    row = await conn.fetchrow(f"{_ACTIVITY} WHERE p.tenant = $2 AND p.pair_id = $3", now, tenant, pair_id)
    return None if row is None else _activity(row)


# --- what a message is made of (the projection) -------------------------------------------------------------


def _person(row: Any) -> content.Person:
    return content.Person(
        row["participant_id"],
        row["display_name"],
        row["email"],
        row["role"],
        row["locale"],
        row["timezone"],
        left_company=row["withdrawn_reason"] == "left_company",
        erased=row["email"] == PLACEHOLDER,
    )


def _programme(row: Any) -> content.Programme:
    return content.Programme(
        row["programme_id"], row["name"], row["cadence_days"], row["hr_contact_email"], row["hr_locale"]
    )


async def _person_by_id(conn: Conn, tenant: str, participant_id: str | None) -> content.Person | None:
    row = await conn.fetchrow(
        "SELECT * FROM recipients WHERE tenant = $1 AND participant_id = $2", tenant, participant_id
    )
    return None if row is None else _person(row)


async def programme(conn: Conn, tenant: str, programme_id: str | None) -> content.Programme | None:
    row = await conn.fetchrow("SELECT * FROM programmes WHERE tenant = $1 AND programme_id = $2", tenant, programme_id)
    return None if row is None else _programme(row)


def _preferences(row: Any, locale: str) -> Preferences:
    """The recipient's saved preferences; without any, the defaults in their language."""
    if row is None:
        return Preferences(locale="de" if locale == "de" else "en")
    return Preferences(
        channel=row["channel"],
        locale=row["locale"],
        quiet_start=row["quiet_start"],
        quiet_end=row["quiet_end"],
        opted_out=row["opted_out"],
        chat_webhook_url=row["chat_webhook_url"],
    )


async def facts(conn: Conn, job: Planned, now: datetime) -> content.Facts | None:
    """What the projection knows that the participant's notification `job` is made of; None while its recipient,
    or its session, is not known yet."""
    t = job.tenant
    me = await _person_by_id(conn, t, job.recipient_id)
    if me is None:
        return None
    prefs = _preferences(await preferences(conn, t, job.recipient_id), me.locale)
    pair = None
    if job.pair_id:
        row = await conn.fetchrow("SELECT * FROM pairs WHERE tenant = $1 AND pair_id = $2", t, job.pair_id)
        if row is not None:
            pair = content.Pair(
                row["pair_id"],
                row["mentor_id"],
                row["mentee_id"],
                row["state"],
                row["rationale"],
                row["created_at"],
                reasons=tuple(row["reasons"] or ()),
                started_on=row["started_on"],
            )
    partner = await _person_by_id(conn, t, pair.partner_of(job.recipient_id)) if pair is not None else None
    mentee_timezone = None
    if job.rule == "welcome" and pair is not None:
        mentee_timezone = await conn.fetchval(
            "SELECT timezone FROM recipients WHERE tenant = $1 AND participant_id = $2", t, pair.mentee_id
        )
    session = None
    if job.session_id is not None:
        row = await conn.fetchrow("SELECT * FROM sessions WHERE tenant = $1 AND session_id = $2", t, job.session_id)
        if row is None:
            return None
        session = content.Session(
            row["session_id"],
            row["starts_at"],
            row["duration_minutes"],
            row["sequence"],
            row["status"],
            agenda=row["agenda"],
            cancel_reason=row["reason"],
            held_at=row["held_at"],
            updated_at=row["updated_at"],
        )
    feedback_given = False
    if job.rule == "feedback_request" and job.session_id is not None:
        feedback_given = bool(await answered(conn, t, job.session_id, {job.recipient_id}))
    activity = None
    if job.rule == "nudge" and pair is not None:
        activity = await pair_activity(conn, t, pair.pair_id, now)
    return content.Facts(
        me,
        prefs,
        await programme(conn, t, job.programme_id),
        pair,
        partner,
        mentee_timezone,
        session,
        activity,
        feedback_given=feedback_given,
    )


async def digest_facts(conn: Conn, tenant: str, programme_id: str | None, now: datetime) -> content.DigestFacts | None:
    """What HR's digest of the tenant's programme reports on; None when the programme is not known."""
    found = await programme(conn, tenant, programme_id)
    if found is None:
        return None
    pairs = await programme_pairs(conn, tenant, found.programme_id, now)
    flags = await conn.fetch(
        "SELECT f.*, p.mentor_id, p.mentee_id, p.state FROM flags f JOIN pairs p USING (tenant, pair_id) "
        "WHERE f.tenant = $1 AND f.programme_id = $2 AND p.state <> 'ended' ORDER BY f.since, f.pair_id",
        tenant,
        found.programme_id,
    )
    flagged = tuple(
        content.FlaggedPair(
            r["pair_id"],
            r["mentor_id"],
            r["mentee_id"],
            r["rule"],
            r["detail"],
            tuple(r["chain"]),
            r["since"],
            r["state"] == "paused",
        )
        for r in flags
    )
    # pairs that ended because one of the two left the company, whose other one is still in the programme and
    # has had no pair since
    waiting = await conn.fetch(
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
        tenant,
        found.programme_id,
    )
    participants = {x for p in pairs for x in p.members} | {x for f in flagged for x in (f.mentor_id, f.mentee_id)}
    names = await conn.fetch(
        "SELECT participant_id, display_name FROM recipients WHERE tenant = $1 AND participant_id = ANY($2::text[])",
        tenant,
        sorted(participants),
    )
    employees = await conn.fetch(
        "SELECT DISTINCT ON (employee_id) employee_id, display_name FROM recipients "
        "WHERE tenant = $1 AND employee_id = ANY($2::text[]) ORDER BY employee_id, participant_id",
        tenant,
        sorted({e for f in flagged for e in f.chain}),
    )
    return content.DigestFacts(
        found,
        tuple(pairs),
        flagged,
        tuple(content.WaitingPartner(r["pair_id"], r["name"], r["partner_name"], r["ended_at"]) for r in waiting),
        names={r["participant_id"]: r["display_name"] for r in names},
        employees={r["employee_id"]: r["display_name"] for r in employees},
    )


async def open_programmes(conn: Conn, tenants: list[str] | None) -> list[tuple[str, str]]:
    """(tenant, programme id) of the open programmes of these tenants (None: all) that have an HR contact."""
    rows = await conn.fetch(
        "SELECT tenant, programme_id FROM programmes WHERE NOT closed AND hr_contact_email IS NOT NULL "
        "AND ($1::text[] IS NULL OR tenant = ANY($1::text[])) ORDER BY tenant, programme_id",
        tenants,
    )
    return [(r["tenant"], r["programme_id"]) for r in rows]


# --- planned notifications ----------------------------------------------------------------------------------


async def plan(conn: Conn, planned: list[Planned]) -> None:
    """Plan these notifications; one planned before under the same id stays as it is."""
    await conn.executemany(
        "INSERT INTO notifications (tenant, notification_id, rule, recipient_id, trigger, pair_id, programme_id, "
        "session_id, due_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) "
        "ON CONFLICT (tenant, notification_id) DO NOTHING",
        [
            (
                n.tenant,
                n.notification_id,
                n.rule,
                n.recipient_id,
                n.trigger,
                n.pair_id,
                n.programme_id,
                n.session_id,
                n.due_at,
            )
            for n in planned
        ],
    )


async def cancel(
    conn: Conn,
    tenant: str,
    note: str,
    *,
    session_id: str | None = None,
    pair_id: str | None = None,
    rules: tuple[str, ...] | None = None,
    recipient_id: str | None = None,
) -> None:
    """Cancel the tenant's planned notifications that match every criterion given."""
    where: list[str] = ["tenant = $2", "status = 'planned'"]
    args: list[object] = [note, tenant]
    if recipient_id is not None:
        args.append(recipient_id)
        where.append(f"recipient_id = ${len(args)}")
    if session_id is not None:
        args.append(session_id)
        where.append(f"session_id = ${len(args)}")
    if pair_id is not None:
        args.append(pair_id)
        where.append(f"pair_id = ${len(args)}")
    if rules is not None:
        args.append(list(rules))
        where.append(f"rule = ANY(${len(args)}::text[])")
    await conn.execute(
        f"UPDATE notifications SET status = 'cancelled', note = $1, updated_at = now() WHERE {' AND '.join(where)}",
        *args,
    )


async def answered(conn: Conn, tenant: str, session_id: str, ids: set[str]) -> frozenset[str]:
    """Those of `ids` who have given their feedback for the session."""
    rows = await conn.fetch(
        "SELECT author_id FROM feedback_given WHERE tenant = $1 AND session_id = $2 AND author_id = ANY($3::text[])",
        tenant,
        session_id,
        list(ids),
    )
    return frozenset(r["author_id"] for r in rows)


async def leavers(conn: Conn, tenant: str, ids: set[str]) -> frozenset[str]:
    """Those of `ids` (the tenant's) known to have left the company."""
    rows = await conn.fetch(
        "SELECT participant_id FROM recipients WHERE tenant = $1 AND participant_id = ANY($2::text[]) "
        "AND withdrawn_reason = 'left_company'",
        tenant,
        list(ids),
    )
    return frozenset(r["participant_id"] for r in rows)


async def pair_state(conn: Conn, tenant: str, pair_id: str | None) -> str | None:
    found: str | None = await conn.fetchval(
        "SELECT state FROM pairs WHERE tenant = $1 AND pair_id = $2", tenant, pair_id
    )
    return found


async def members(conn: Conn, tenant: str, pair_id: str) -> tuple[str, str] | None:
    """(mentor, mentee) of the tenant's pair; None while it is not known."""
    row = await conn.fetchrow(
        "SELECT mentor_id, mentee_id FROM pairs WHERE tenant = $1 AND pair_id = $2", tenant, pair_id
    )
    return None if row is None else (row["mentor_id"], row["mentee_id"])


async def ended_as_left(conn: Conn, tenant: str, participant_id: str) -> list[Any]:
    """The participant's pairs that ended because someone left the company (the PairEnded applied)."""
    return list(
        await conn.fetch(
            "SELECT * FROM pairs WHERE tenant = $1 AND $2 IN (mentor_id, mentee_id) AND state = 'ended' "
            "AND end_reason = 'left_company' AND ended_by IS NOT NULL",
            tenant,
            participant_id,
        )
    )


# --- preferences -----------------------------------------------------------------------------------------


async def preferences(conn: Conn, tenant: str, recipient_id: str) -> Any:
    return await conn.fetchrow(
        "SELECT * FROM preferences WHERE tenant = $1 AND recipient_id = $2", tenant, recipient_id
    )


async def save_preferences(
    conn: Conn,
    tenant: str,
    recipient_id: str,
    *,
    channel: str,
    locale: str,
    quiet_start: time | None,
    quiet_end: time | None,
    opted_out: bool,
    chat_webhook_url: str | None,
) -> None:
    await conn.execute(
        "INSERT INTO preferences (tenant, recipient_id, channel, locale, quiet_start, quiet_end, opted_out, "
        "chat_webhook_url) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (tenant, recipient_id) DO UPDATE SET "
        "channel = EXCLUDED.channel, locale = EXCLUDED.locale, quiet_start = EXCLUDED.quiet_start, "
        "quiet_end = EXCLUDED.quiet_end, opted_out = EXCLUDED.opted_out, chat_webhook_url = EXCLUDED.chat_webhook_url, "
        "updated_at = now()",
        tenant,
        recipient_id,
        channel,
        locale,
        quiet_start,
        quiet_end,
        opted_out,
        chat_webhook_url,
    )


async def release_quiet_hours(conn: Conn, tenant: str, recipient_id: str) -> int:
    """After a change of preferences: what waited for the end of the quiet hours is decided again now."""
    released: int = await conn.fetchval(
        "WITH r AS (UPDATE notifications SET next_attempt_at = now(), note = NULL, updated_at = now() "
        "WHERE tenant = $1 AND recipient_id = $2 AND status = 'planned' AND note = 'quiet hours' "
        "AND next_attempt_at > now() RETURNING 1) SELECT count(*) FROM r",
        tenant, recipient_id,
    )  # fmt: skip
    return released


# --- notifications ---------------------------------------------------------------------------------------


async def history(conn: Conn, tenant: str, recipient_id: str, limit: int, offset: int) -> list[Any]:
    return list(
        await conn.fetch(
            "SELECT * FROM notifications WHERE tenant = $1 AND recipient_id = $2 "
            "ORDER BY created_at, due_at, notification_id LIMIT $3 OFFSET $4",
            tenant,
            recipient_id,
            limit,
            offset,
        )
    )


async def resend(conn: Conn, tenant: str, notification_id: uuid.UUID) -> Any:
    """A failed notification of the tenant planned again, due now; None when there is none in that state."""
    return await conn.fetchrow(
        "UPDATE notifications SET status = 'planned', attempts = 0, next_attempt_at = now(), last_error = NULL, "
        "note = 'resent by HR', updated_at = now() WHERE tenant = $1 AND notification_id = $2 AND status = 'failed' "
        "RETURNING *",
        tenant,
        notification_id,
    )


async def notification_status(conn: Conn, tenant: str, notification_id: uuid.UUID) -> str | None:
    found: str | None = await conn.fetchval(
        "SELECT status FROM notifications WHERE tenant = $1 AND notification_id = $2", tenant, notification_id
    )
    return found


# --- chat webhook hosts ----------------------------------------------------------------------------------


async def chat_hosts(conn: Conn, tenant: str) -> list[str]:
    """The hosts the tenant's people may point their chat webhook at (normalised, sorted)."""
    rows = await conn.fetch("SELECT host FROM chat_webhook_hosts WHERE tenant = $1 ORDER BY host", tenant)
    return [r["host"] for r in rows]


async def replace_chat_hosts(conn: Conn, tenant: str, hosts: list[str], who: str) -> None:
    """The tenant's list becomes `hosts` (hosts kept keep when and by whom they were added)."""
    async with conn.transaction():
        await conn.execute(
            "DELETE FROM chat_webhook_hosts WHERE tenant = $1 AND NOT (host = ANY($2::text[]))", tenant, hosts
        )
        await conn.executemany(
            "INSERT INTO chat_webhook_hosts (tenant, host, added_by) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            [(tenant, host, who) for host in hosts],
        )


# --- delivery (the dispatcher) ---------------------------------------------------------------------------
#
# Every write of a claimed notification names its claim (worker and claimed_at): a worker that outlived its lease
# changes nothing once another has claimed the notification. Marking it sent is the exception: a server took the
# message, whoever holds the claim now.

_THIS_CLAIM = "tenant = $1 AND notification_id = $2 AND status = 'sending' AND claimed_by = $3 AND claimed_at = $4"


async def claim(conn: Conn, worker: str, lease: timedelta, batch: int, tenants: list[str] | None) -> list[Any]:
    """Claim up to `batch` due notifications: planned ones whose time has come, and `sending` ones whose claim
    lapsed. Each row comes with what the claim found: `lapsed` (it was `sending`), `attempt_recorded` (that lapsed
    claim had recorded an attempt) and `delivered` (a receipt exists)."""
    rows = await conn.fetch(
        "WITH due AS (SELECT tenant, notification_id, status AS was, claimed_at AS was_claimed_at, "
        "last_attempt_at AS was_attempt_at FROM notifications "
        "WHERE ((status = 'planned' AND next_attempt_at <= now()) OR (status = 'sending' AND claimed_until < now())) "
        "AND ($4::text[] IS NULL OR tenant = ANY($4::text[])) "
        "ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) "
        "UPDATE notifications n SET status = 'sending', claimed_by = $1, claimed_at = clock_timestamp(), "
        "claimed_until = clock_timestamp() + $2::interval, updated_at = now() "
        "FROM due WHERE n.tenant = due.tenant AND n.notification_id = due.notification_id "
        "RETURNING n.*, due.was = 'sending' AS lapsed, "
        "coalesce(due.was_attempt_at >= due.was_claimed_at, false) AS attempt_recorded, "
        "EXISTS (SELECT 1 FROM notification_receipts r WHERE r.tenant = n.tenant "
        "AND r.notification_id = n.notification_id) AS delivered",
        worker,
        lease,
        batch,
        tenants,
    )
    return list(rows)


async def release_unattempted(conn: Conn, worker: str) -> int:
    """Hand back this worker's claims on which no attempt was recorded (nothing of them can have been sent, since the
    attempt is committed before the send): planned again, due as they were. A claim with an attempt is left to lapse:
    its mail may have gone out, and only the next claim's receipt check can tell."""
    result: str = await conn.execute(
        "UPDATE notifications SET status = 'planned', claimed_by = NULL, claimed_until = NULL, updated_at = now() "
        "WHERE claimed_by = $1 AND status = 'sending' AND (last_attempt_at IS NULL OR last_attempt_at < claimed_at)",
        worker,
    )
    return int(result.rsplit(" ", 1)[-1])


async def record_attempt(
    conn: Conn,
    tenant: str,
    notification_id: uuid.UUID,
    worker: str,
    claimed_at: datetime,
    *,
    attempts: int,
    message_id: str,
    channel: str,
    lease: timedelta,
) -> bool:
    """Record (and, outside a transaction, commit) the attempt about to be made, before anything is sent; the
    Message-ID is kept from the first attempt on; the lease starts again. False when the claim is not ours any
    more (it lapsed while earlier notifications of the batch were sent): then nothing may be sent."""
    done = await conn.execute(
        "UPDATE notifications SET attempts = $5, last_attempt_at = clock_timestamp(), "
        "message_id = coalesce(message_id, $6), channel = $7, claimed_until = clock_timestamp() + $8::interval, "
        f"updated_at = now() WHERE {_THIS_CLAIM} AND claimed_until > clock_timestamp()",
        tenant,
        notification_id,
        worker,
        claimed_at,
        attempts,
        message_id,
        channel,
        lease,
    )
    return bool(done == "UPDATE 1")


async def record_receipt(
    conn: Conn,
    tenant: str,
    notification_id: uuid.UUID,
    *,
    attempt: int,
    channel: str,
    locale: str,
    message_id: str,
    reply: str,
) -> None:
    """A server took the message: from now on the send is shown to have happened."""
    await conn.execute(
        "INSERT INTO notification_receipts (tenant, notification_id, attempt, channel, locale, message_id, reply) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7)",
        tenant,
        notification_id,
        attempt,
        channel,
        locale,
        message_id,
        reply[:1000],
    )


async def last_receipt(conn: Conn, tenant: str, notification_id: uuid.UUID) -> Any:
    return await conn.fetchrow(
        "SELECT * FROM notification_receipts WHERE tenant = $1 AND notification_id = $2 "
        "ORDER BY receipt_id DESC LIMIT 1",
        tenant,
        notification_id,
    )


async def mark_sent(conn: Conn, tenant: str, notification_id: uuid.UUID, channel: str, attempts: int) -> bool:
    """`sent`, once: True only for the call that changed it (which then emits NotificationSent)."""
    done = await conn.execute(
        "UPDATE notifications SET status = 'sent', sent_at = now(), channel = $3, attempts = greatest(attempts, $4), "
        "last_error = NULL, claimed_by = NULL, updated_at = now() "
        "WHERE tenant = $1 AND notification_id = $2 AND status = 'sending'",
        tenant,
        notification_id,
        channel,
        attempts,
    )
    return bool(done == "UPDATE 1")


async def mark_failed(
    conn: Conn,
    tenant: str,
    notification_id: uuid.UUID,
    worker: str,
    claimed_at: datetime,
    *,
    attempts: int,
    reason: str,
    channel: str,
) -> bool:
    """`failed` with the reason (the claim's own notification only); True when it changed."""
    done = await conn.execute(
        "UPDATE notifications SET status = 'failed', attempts = $5, last_error = $6, channel = $7, "
        f"claimed_by = NULL, updated_at = now() WHERE {_THIS_CLAIM}",
        tenant,
        notification_id,
        worker,
        claimed_at,
        attempts,
        reason,
        channel,
    )
    return bool(done == "UPDATE 1")


async def plan_again(
    conn: Conn,
    tenant: str,
    notification_id: uuid.UUID,
    worker: str,
    claimed_at: datetime,
    *,
    attempts: int,
    at: datetime,
    error: str | None = None,
    note: str | None = None,
) -> None:
    """Back to `planned`, due at `at`: a retry (with the error) or a deferral (with a note)."""
    await conn.execute(
        "UPDATE notifications SET status = 'planned', attempts = $5, next_attempt_at = $6, "
        "last_error = coalesce($7, last_error), note = coalesce($8, note), claimed_by = NULL, updated_at = now() "
        f"WHERE {_THIS_CLAIM}",
        tenant,
        notification_id,
        worker,
        claimed_at,
        attempts,
        at,
        error,
        note,
    )


async def settle(
    conn: Conn,
    tenant: str,
    notification_id: uuid.UUID,
    worker: str,
    claimed_at: datetime,
    *,
    status: str,
    attempts: int,
    note: str,
) -> None:
    """Cancelled or skipped, with the reason as its note."""
    await conn.execute(
        "UPDATE notifications SET status = $5, attempts = $6, note = $7, claimed_by = NULL, updated_at = now() "
        f"WHERE {_THIS_CLAIM}",
        tenant,
        notification_id,
        worker,
        claimed_at,
        status,
        attempts,
        note,
    )


async def count_by_state(conn: Conn) -> dict[str, int]:
    """How many notifications are in each state, every tenant's (the metrics; the status index answers it)."""
    rows = await conn.fetch("SELECT status, count(*) AS n FROM notifications GROUP BY status")
    return {r["status"]: r["n"] for r in rows}
