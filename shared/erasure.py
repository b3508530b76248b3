"""Erasure and retention mechanics every service shares: destroying a service's data keys (the crypto core,
shared.personal) and scrubbing what its delivery tables quote (dead letters keep the raw record and the error).

What each service scrubs in its own tables is its own (its repository); this is only what every service has.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from shared.events import Envelope
from shared.events.pairing import FreeTextExpired, SubjectErased
from shared.personal import KINDS, PLACEHOLDER, destroy_keys
from shared.topics import Topics

__all__ = [
    "KINDS",
    "PLACEHOLDER",
    "destroy_keys",
    "destroy_keys_for",
    "drop_replaced_projections",
    "needles",
    "scrub_dead_letters",
]

#: The projections `tandem replay` kept when it swapped a rebuilt one in (shared.replay: for diff or rollback).
REPLACED_PROJECTIONS = r"projection\_old\_%"


async def drop_replaced_projections(conn: Any) -> list[str]:
    """Drop the projections a replay kept beside the live one: they were built before this erasure or expiry, and
    a rollback to one would bring back what was just erased. (A rebuild in progress is not touched: it reads the
    erasure from the log and rebuilds without the person.)"""
    names = [
        r["nspname"]
        for r in await conn.fetch("SELECT nspname FROM pg_namespace WHERE nspname LIKE $1", REPLACED_PROJECTIONS)
    ]
    for name in names:
        await conn.execute(f'DROP SCHEMA "{name}" CASCADE')
    return names


async def destroy_keys_for(conn: Any, topics: Topics, *, service: str, env: Envelope[Any]) -> list[str]:
    """What a consuming service destroys of its keys (its own and its mirrored copies) for pairing's
    `SubjectErased` (the keys of the person, their enrolments and their pairs) or `FreeTextExpired` (the 'text'
    keys of the programme), in the caller's transaction; the projections a replay kept go too (they still hold
    what is being erased)."""
    await drop_replaced_projections(conn)
    data = env.data
    if isinstance(data, SubjectErased):
        scopes = {data.employee_id, *data.participant_ids, *data.pair_ids}
        return await destroy_keys(
            conn, topics, service=service, tenant=env.tenant, reason=data.reason, scope_ids=scopes
        )
    if isinstance(data, FreeTextExpired):
        return await destroy_keys(
            conn, topics, service=service, tenant=env.tenant, reason="retention", programme_id=data.programme_id,
            kinds=("text",),
        )  # fmt: skip
    raise TypeError(f"{env.type} destroys no keys")


def needles(values: Iterable[str | None]) -> list[str]:
    """The strings worth searching for: the non-empty ones, not the placeholder, at least three characters."""
    return sorted({v for v in values if v and len(v) >= 3 and v != PLACEHOLDER})


async def scrub_dead_letters(conn: Any, quoted: Iterable[str | None]) -> int:
    """Dead letters that quote any of these strings (a name, an address) in their error or their kept record:
    the error's quotes become the placeholder and the record is dropped (the row stays, as for a record too large
    to keep: topic, partition and offset still say where it was). Returns how many rows changed."""
    found = needles(quoted)
    if not found:
        return 0
    rows = await conn.fetch(
        "SELECT id, error FROM dead_letters WHERE EXISTS (SELECT 1 FROM unnest($1::text[]) AS q(s) "
        "WHERE strpos(dead_letters.error, q.s) > 0 OR position(convert_to(q.s, 'UTF8') IN dead_letters.value) > 0)",
        found,
    )
    for row in rows:
        error = str(row["error"])
        for s in found:
            error = error.replace(s, PLACEHOLDER)
        await conn.execute("UPDATE dead_letters SET error = $2, value = NULL WHERE id = $1", row["id"], error)
    return len(rows)
