"""SQL of the outbound webhooks: subscriptions, planning deliveries, claiming and settling attempts."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from services.notifications.domain.webhooks import Status
from shared.db import Conn

# --- subscriptions -----------------------------------------------------------------------------------

_PUBLIC = "subscription_id, tenant, url, event_types, description, created_at"


async def create_subscription(
    conn: Conn, *, tenant: str, url: str, event_types: list[str], description: str, secret: str
) -> Any:
    return await conn.fetchrow(
        "INSERT INTO webhook_subscriptions (subscription_id, tenant, url, event_types, description, secret) "
        f"VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_PUBLIC}",
        uuid.uuid4(),
        tenant,
        url,
        event_types,
        description,
        secret,
    )


async def subscriptions(conn: Conn, tenant: str) -> list[Any]:
    return list(
        await conn.fetch(
            f"SELECT {_PUBLIC} FROM webhook_subscriptions WHERE tenant = $1 ORDER BY created_at, subscription_id",
            tenant,
        )
    )


async def subscription(conn: Conn, tenant: str, subscription_id: uuid.UUID) -> Any:
    return await conn.fetchrow(
        f"SELECT {_PUBLIC} FROM webhook_subscriptions WHERE tenant = $1 AND subscription_id = $2",
        tenant,
        subscription_id,
    )


async def delete_subscription(conn: Conn, tenant: str, subscription_id: uuid.UUID) -> bool:
    """Removes the subscription and its deliveries (pending ones are not sent any more)."""
    done = await conn.execute(
        "DELETE FROM webhook_subscriptions WHERE tenant = $1 AND subscription_id = $2", tenant, subscription_id
    )
    return bool(done == "DELETE 1")


# --- planning (in the consumer's transaction) --------------------------------------------------------


async def subscribers(conn: Conn, tenant: str, event_type: str) -> list[uuid.UUID]:
    """The tenant's subscriptions that list this event type."""
    rows = await conn.fetch(
        "SELECT subscription_id FROM webhook_subscriptions WHERE tenant = $1 AND $2 = ANY(event_types) "
        "ORDER BY subscription_id",
        tenant,
        event_type,
    )
    return [r["subscription_id"] for r in rows]


async def plan_deliveries(conn: Conn, rows: list[tuple[uuid.UUID, uuid.UUID, str, str, str, str]]) -> None:
    """(delivery id, subscription id, tenant, event id, event type, body): one row each, never two."""
    await conn.executemany(
        "INSERT INTO webhook_deliveries (delivery_id, subscription_id, tenant, event_id, event_type, body, "
        "next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, now()) ON CONFLICT DO NOTHING",
        rows,
    )


# --- deliveries over HTTP ----------------------------------------------------------------------------

_DELIVERY = (
    "delivery_id, subscription_id, event_id, event_type, status, attempts, last_attempt_at, last_status_code, "
    "last_error, next_attempt_at, delivered_at, created_at"
)


async def deliveries(conn: Conn, tenant: str, subscription_id: uuid.UUID, limit: int, offset: int = 0) -> list[Any]:
    return list(
        await conn.fetch(
            f"SELECT {_DELIVERY} FROM webhook_deliveries WHERE tenant = $1 AND subscription_id = $2 "
            "ORDER BY created_at DESC, delivery_id LIMIT $3 OFFSET $4",
            tenant,
            subscription_id,
            limit,
            offset,
        )
    )


async def delivery(conn: Conn, tenant: str, delivery_id: uuid.UUID) -> Any:
    return await conn.fetchrow(
        f"SELECT {_DELIVERY}, claimed_until FROM webhook_deliveries WHERE tenant = $1 AND delivery_id = $2",
        tenant,
        delivery_id,
    )


async def requeue(conn: Conn, tenant: str, delivery_id: uuid.UUID) -> Any:
    """A failed or dead delivery, not being attempted right now, goes back to pending with a fresh round of
    attempts; returns it, or None when it is in no state to be resent."""
    return await conn.fetchrow(
        "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = now(), claimed_by = NULL, "
        "claimed_until = NULL, updated_at = now() WHERE tenant = $1 AND delivery_id = $2 "
        "AND status IN ('failed', 'dead') AND (claimed_until IS NULL OR claimed_until < now()) "
        f"RETURNING {_DELIVERY}",
        tenant,
        delivery_id,
    )


# --- the worker --------------------------------------------------------------------------------------


async def claim(pool: asyncpg.Pool, worker: str, lease: timedelta, limit: int, max_attempts: int) -> list[Any]:
    """Due deliveries, reserved for this worker for `lease`; the attempt is counted here, before anything is
    sent, so a worker dying mid-send leaves an attempt on record and the claim lapses for another to retry."""
    return list(
        await pool.fetch(
            "UPDATE webhook_deliveries d SET attempts = d.attempts + 1, last_attempt_at = now(), claimed_by = $1, "
            "claimed_until = now() + $2::interval, updated_at = now() FROM webhook_subscriptions s "
            "WHERE s.subscription_id = d.subscription_id AND d.delivery_id IN (SELECT delivery_id "
            "FROM webhook_deliveries WHERE status IN ('pending', 'failed') AND next_attempt_at <= now() "
            "AND (claimed_until IS NULL OR claimed_until < now()) AND attempts < $4 "
            "ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) "
            "RETURNING d.delivery_id, d.body, d.attempts, s.url, s.secret",
            worker,
            lease,
            limit,
            max_attempts,
        )
    )


async def bury_abandoned(pool: asyncpg.Pool, max_attempts: int) -> int:
    """Deliveries whose last allowed attempt was claimed by a worker that never reported back (or that ran out
    of attempts under a lower bound set since): dead."""
    done = await pool.execute(
        "UPDATE webhook_deliveries SET status = 'dead', next_attempt_at = NULL, claimed_by = NULL, "
        "claimed_until = NULL, updated_at = now(), "
        "last_error = coalesce(last_error || '; ', '') || 'the last attempt never reported back' "
        "WHERE status IN ('pending', 'failed') AND attempts >= $1 "
        "AND (claimed_until IS NULL OR claimed_until < now())",
        max_attempts,
    )
    return int(done.split()[-1])


async def delivered(pool: asyncpg.Pool, delivery_id: uuid.UUID, worker: str, attempts: int, status_code: int) -> None:
    await pool.execute(
        "UPDATE webhook_deliveries SET status = 'delivered', delivered_at = now(), last_status_code = $4, "
        "last_error = NULL, next_attempt_at = NULL, claimed_by = NULL, claimed_until = NULL, updated_at = now() "
        "WHERE delivery_id = $1 AND claimed_by = $2 AND attempts = $3",
        delivery_id,
        worker,
        attempts,
        status_code,
    )


async def attempt_failed(
    pool: asyncpg.Pool,
    delivery_id: uuid.UUID,
    worker: str,
    attempts: int,
    *,
    status: Status,
    next_attempt_at: datetime | None,
    status_code: int | None,
    error: str,
) -> None:
    """Settle a failed attempt; a claim that lapsed meanwhile (or a resend) makes this a no-op."""
    await pool.execute(
        "UPDATE webhook_deliveries SET status = $4, next_attempt_at = $5, last_status_code = $6, last_error = $7, "
        "claimed_by = NULL, claimed_until = NULL, updated_at = now() "
        "WHERE delivery_id = $1 AND claimed_by = $2 AND attempts = $3",
        delivery_id,
        worker,
        attempts,
        status,
        next_attempt_at,
        status_code,
        error[:2000],
    )
