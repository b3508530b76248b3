"""SQL of erasure and retention in the notifications service: the read model (schema `projection`: recipients,
pairs, sessions, flags) and the service's own history (notifications, delivery receipts, preferences, outbound
webhook deliveries). Names, addresses and free text become the placeholder; ids, states, dates and counts stay."""

from __future__ import annotations

from collections.abc import Sequence

from shared.db import Conn
from shared.erasure import PLACEHOLDER, needles

#: What a list field of an event reads as once its key is destroyed (shared.personal): empty. The read models
#: write the same, so that a replay rebuilds exactly what the live scrub left.
ERASED_LIST = "'[]'::jsonb"


# --- the read model (replayable) ------------------------------------------------------------------------------


async def quoted_names(conn: Conn, tenant: str, participant_ids: Sequence[str]) -> list[str]:
    """The names and addresses the read model knows these participants by (what the history may quote)."""
    rows = await conn.fetch(
        "SELECT display_name, email FROM recipients WHERE tenant = $1 AND participant_id = ANY($2::text[])",
        tenant,
        list(participant_ids),
    )
    return needles(v for r in rows for v in (r["display_name"], r["email"]))


async def scrub_subject(conn: Conn, tenant: str, participant_ids: Sequence[str], pair_ids: Sequence[str]) -> None:
    await conn.execute(
        "UPDATE recipients SET display_name = $3, email = $3 WHERE tenant = $1 AND participant_id = ANY($2::text[])",
        tenant,
        list(participant_ids),
        PLACEHOLDER,
    )
    await conn.execute(
        "UPDATE pairs SET rationale = CASE WHEN rationale = '' THEN '' ELSE $3 END, "
        f"reasons = {ERASED_LIST} WHERE tenant = $1 AND pair_id = ANY($2::text[])",
        tenant,
        list(pair_ids),
        PLACEHOLDER,
    )
    await conn.execute(
        "UPDATE sessions SET agenda = CASE WHEN agenda = '' THEN '' ELSE $3 END, "
        "reason = CASE WHEN reason = '' THEN '' ELSE $3 END WHERE tenant = $1 AND pair_id = ANY($2::text[])",
        tenant,
        list(pair_ids),
        PLACEHOLDER,
    )
    await conn.execute(
        "UPDATE flags SET detail = $3 WHERE tenant = $1 AND pair_id = ANY($2::text[])",
        tenant,
        list(pair_ids),
        PLACEHOLDER,
    )


async def scrub_programme_text(conn: Conn, tenant: str, programme_id: str) -> None:
    """A programme whose free text expired: the agendas and cancellation reasons of its sessions."""
    await conn.execute(
        "UPDATE sessions SET agenda = CASE WHEN agenda = '' THEN '' ELSE $3 END, "
        "reason = CASE WHEN reason = '' THEN '' ELSE $3 END WHERE tenant = $1 AND programme_id = $2",
        tenant,
        programme_id,
        PLACEHOLDER,
    )


# --- the history (live only) ---------------------------------------------------------------------------------


async def scrub_history(conn: Conn, tenant: str, participant_ids: Sequence[str], quoted: Sequence[str]) -> int:
    """The person's notifications still planned are cancelled; their preferences lose the chat address; every
    note, error, delivery receipt and outbound webhook delivery that quotes their name or address has the quote
    replaced by the placeholder. Returns how many planned notifications were cancelled."""
    cancelled: int = await conn.fetchval(
        "WITH c AS (UPDATE notifications SET status = 'cancelled', note = 'erased', updated_at = now() "
        "WHERE tenant = $1 AND recipient_id = ANY($2::text[]) AND status IN ('planned', 'sending') RETURNING 1) "
        "SELECT count(*) FROM c",
        tenant,
        list(participant_ids),
    )
    await conn.execute(
        "UPDATE preferences SET chat_webhook_url = NULL, channel = 'email', updated_at = now() "
        "WHERE tenant = $1 AND recipient_id = ANY($2::text[])",
        tenant,
        list(participant_ids),
    )
    if not quoted:
        return cancelled
    for table, columns in (
        ("notifications", ("note", "last_error")),
        ("notification_receipts", ("reply",)),
        ("webhook_deliveries", ("body", "last_error")),
    ):
        for column in columns:
            for quote in quoted:
                await conn.execute(
                    f"UPDATE {table} SET {column} = replace({column}, $2, $3) "
                    f"WHERE tenant = $1 AND strpos({column}, $2) > 0",
                    tenant,
                    quote,
                    PLACEHOLDER,
                )
    return cancelled


async def webhook_bodies_naming(conn: Conn, tenant: str, ids: Sequence[str]) -> list[tuple[object, str]]:
    """(delivery id, body) of the tenant's outbound webhook deliveries whose body names any of these ids."""
    rows = await conn.fetch(
        "SELECT delivery_id, body FROM webhook_deliveries WHERE tenant = $1 "
        "AND EXISTS (SELECT 1 FROM unnest($2::text[]) AS q WHERE strpos(body, q) > 0)",
        tenant,
        [i for i in ids if i],
    )
    return [(r["delivery_id"], r["body"]) for r in rows]


async def set_webhook_body(conn: Conn, delivery_id: object, body: str) -> None:
    await conn.execute("UPDATE webhook_deliveries SET body = $2 WHERE delivery_id = $1", delivery_id, body)
