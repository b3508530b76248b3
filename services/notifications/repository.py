"""SQL of the notifications service: recipients, preferences, history, resend and the chat webhook hosts for the
API (every query within one tenant, the caller's); and the delivery state the dispatcher keeps: claims, attempts,
receipts and outcomes (see domain/delivery.py for what each step means)."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from typing import Any

from services.notifications.domain.model import HR
from shared.db import Conn

# --- recipients ------------------------------------------------------------------------------------------


async def recipient(conn: Conn, tenant: str, recipient_id: str) -> Any:
    """The tenant's recipient (a participant) with this id, or None."""
    return await conn.fetchrow(
        "SELECT participant_id, employee_id, locale FROM recipients WHERE tenant = $1 AND participant_id = $2",
        tenant, recipient_id,
    )  # fmt: skip


async def hr_recipient_known(conn: Conn, tenant: str, recipient_id: str) -> bool:
    """Whether `hr:<programme id>` (HR's digest of a programme) names one of the tenant's programmes."""
    if not recipient_id.startswith(HR):
        return False
    found = await conn.fetchval(
        "SELECT 1 FROM programmes WHERE tenant = $1 AND programme_id = $2", tenant, recipient_id[len(HR) :]
    )
    return found is not None


# --- preferences -----------------------------------------------------------------------------------------


async def preferences(conn: Conn, tenant: str, recipient_id: str) -> Any:
    return await conn.fetchrow(
        "SELECT * FROM preferences WHERE tenant = $1 AND recipient_id = $2", tenant, recipient_id
    )


async def save_preferences(
    conn: Conn, tenant: str, recipient_id: str, *, channel: str, locale: str, quiet_start: time | None,
    quiet_end: time | None, opted_out: bool, chat_webhook_url: str | None,
) -> None:  # fmt: skip
    await conn.execute(
        "INSERT INTO preferences (tenant, recipient_id, channel, locale, quiet_start, quiet_end, opted_out, "
        "chat_webhook_url) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (tenant, recipient_id) DO UPDATE SET "
        "channel = EXCLUDED.channel, locale = EXCLUDED.locale, quiet_start = EXCLUDED.quiet_start, "
        "quiet_end = EXCLUDED.quiet_end, opted_out = EXCLUDED.opted_out, chat_webhook_url = EXCLUDED.chat_webhook_url, "
        "updated_at = now()",
        tenant, recipient_id, channel, locale, quiet_start, quiet_end, opted_out, chat_webhook_url,
    )  # fmt: skip


# --- notifications ---------------------------------------------------------------------------------------


async def history(conn: Conn, tenant: str, recipient_id: str, limit: int, offset: int) -> list[Any]:
    return list(await conn.fetch(
        "SELECT * FROM notifications WHERE tenant = $1 AND recipient_id = $2 "
        "ORDER BY created_at, due_at, notification_id LIMIT $3 OFFSET $4",
        tenant, recipient_id, limit, offset,
    ))  # fmt: skip


async def resend(conn: Conn, tenant: str, notification_id: uuid.UUID) -> Any:
    """A failed notification of the tenant planned again, due now; None when there is none in that state."""
    return await conn.fetchrow(
        "UPDATE notifications SET status = 'planned', attempts = 0, next_attempt_at = now(), last_error = NULL, "
        "note = 'resent by HR', updated_at = now() WHERE tenant = $1 AND notification_id = $2 AND status = 'failed' "
        "RETURNING *",
        tenant, notification_id,
    )  # fmt: skip


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
    return list(await conn.fetch(
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
        worker, lease, batch, tenants,
    ))  # fmt: skip


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
    conn: Conn, tenant: str, notification_id: uuid.UUID, worker: str, claimed_at: datetime, *, attempts: int,
    message_id: str, channel: str, lease: timedelta,
) -> bool:  # fmt: skip
    """Record (and, outside a transaction, commit) the attempt about to be made, before anything is sent; the
    Message-ID is kept from the first attempt on; the lease starts again. False when the claim is not ours any
    more (it lapsed while earlier notifications of the batch were sent): then nothing may be sent."""
    done = await conn.execute(
        "UPDATE notifications SET attempts = $5, last_attempt_at = clock_timestamp(), "
        "message_id = coalesce(message_id, $6), channel = $7, claimed_until = clock_timestamp() + $8::interval, "
        f"updated_at = now() WHERE {_THIS_CLAIM} AND claimed_until > clock_timestamp()",
        tenant, notification_id, worker, claimed_at, attempts, message_id, channel, lease,
    )  # fmt: skip
    return bool(done == "UPDATE 1")


async def record_receipt(
    conn: Conn, tenant: str, notification_id: uuid.UUID, *, attempt: int, channel: str, locale: str,
    message_id: str, reply: str,
) -> None:  # fmt: skip
    """A server took the message: from now on the send is shown to have happened."""
    await conn.execute(
        "INSERT INTO notification_receipts (tenant, notification_id, attempt, channel, locale, message_id, reply) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7)",
        tenant, notification_id, attempt, channel, locale, message_id, reply[:1000],
    )  # fmt: skip


async def last_receipt(conn: Conn, tenant: str, notification_id: uuid.UUID) -> Any:
    return await conn.fetchrow(
        "SELECT * FROM notification_receipts WHERE tenant = $1 AND notification_id = $2 "
        "ORDER BY receipt_id DESC LIMIT 1",
        tenant, notification_id,
    )  # fmt: skip


async def mark_sent(conn: Conn, tenant: str, notification_id: uuid.UUID, channel: str, attempts: int) -> bool:
    """`sent`, once: True only for the call that changed it (which then emits NotificationSent)."""
    done = await conn.execute(
        "UPDATE notifications SET status = 'sent', sent_at = now(), channel = $3, attempts = greatest(attempts, $4), "
        "last_error = NULL, claimed_by = NULL, updated_at = now() "
        "WHERE tenant = $1 AND notification_id = $2 AND status = 'sending'",
        tenant, notification_id, channel, attempts,
    )  # fmt: skip
    return bool(done == "UPDATE 1")


async def mark_failed(
    conn: Conn, tenant: str, notification_id: uuid.UUID, worker: str, claimed_at: datetime, *, attempts: int,
    reason: str, channel: str,
) -> bool:  # fmt: skip
    """`failed` with the reason (the claim's own notification only); True when it changed."""
    done = await conn.execute(
        "UPDATE notifications SET status = 'failed', attempts = $5, last_error = $6, channel = $7, "
        f"claimed_by = NULL, updated_at = now() WHERE {_THIS_CLAIM}",
        tenant, notification_id, worker, claimed_at, attempts, reason, channel,
    )  # fmt: skip
    return bool(done == "UPDATE 1")


async def plan_again(
    conn: Conn, tenant: str, notification_id: uuid.UUID, worker: str, claimed_at: datetime, *, attempts: int,
    at: datetime, error: str | None = None, note: str | None = None,
) -> None:  # fmt: skip
    """Back to `planned`, due at `at`: a retry (with the error) or a deferral (with a note)."""
    await conn.execute(
        "UPDATE notifications SET status = 'planned', attempts = $5, next_attempt_at = $6, "
        "last_error = coalesce($7, last_error), note = coalesce($8, note), claimed_by = NULL, updated_at = now() "
        f"WHERE {_THIS_CLAIM}",
        tenant, notification_id, worker, claimed_at, attempts, at, error, note,
    )  # fmt: skip


async def settle(
    conn: Conn, tenant: str, notification_id: uuid.UUID, worker: str, claimed_at: datetime, *, status: str,
    attempts: int, note: str,
) -> None:  # fmt: skip
    """Cancelled or skipped, with the reason as its note."""
    await conn.execute(
        "UPDATE notifications SET status = $5, attempts = $6, note = $7, claimed_by = NULL, updated_at = now() "
        f"WHERE {_THIS_CLAIM}",
        tenant, notification_id, worker, claimed_at, status, attempts, note,
    )  # fmt: skip
