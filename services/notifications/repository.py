"""SQL of the notifications API: recipients, preferences, history, resend and the chat webhook hosts, every
query within one tenant (the caller's)."""

from __future__ import annotations

import uuid
from datetime import time
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
