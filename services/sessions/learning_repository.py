"""SQL of the learning records: the facts from the read model, and the service's own record of what it recorded.
Every query is within the tenant of the event that triggers the record."""

from __future__ import annotations

from services.sessions.domain.learning import Outcome, Participation
from shared.db import Conn

LIVE = ("active", "paused")


async def participation(conn: Conn, tenant: str, participant_id: str, programme_id: str) -> Participation | None:
    """The read model's facts of one participant in one programme; None while their enrolment is not known."""
    person = await conn.fetchrow(
        "SELECT p.participant_id, p.employee_id, p.role, g.name FROM participants p "
        "JOIN programmes g ON g.tenant = p.tenant AND g.programme_id = p.programme_id "
        "WHERE p.tenant = $1 AND p.participant_id = $2 AND p.programme_id = $3",
        tenant,
        participant_id,
        programme_id,
    )
    if person is None:
        return None
    pairs = await conn.fetch(
        "SELECT pair_id, created_at FROM pairs WHERE tenant = $1 AND programme_id = $2 "
        "AND $3 IN (mentor_id, mentee_id) ORDER BY pair_id",
        tenant,
        programme_id,
        participant_id,
    )
    pair_ids = [r["pair_id"] for r in pairs]
    held = await conn.fetch(
        "SELECT minutes FROM sessions WHERE tenant = $1 AND pair_id = ANY($2::text[]) AND status = 'held' "
        "ORDER BY session_id",
        tenant,
        pair_ids,
    )
    goals = await conn.fetchrow(
        "SELECT count(*) AS set, count(achieved_at) AS achieved FROM goals WHERE tenant = $1 "
        "AND pair_id = ANY($2::text[])",
        tenant,
        pair_ids,
    )
    assert goals is not None  # an aggregate always yields a row
    return Participation(
        tenant=tenant,
        participant_id=person["participant_id"],
        employee_id=person["employee_id"],
        programme_id=programme_id,
        programme_name=person["name"],
        role=person["role"],
        pair_starts=tuple(r["created_at"] for r in pairs),
        held_minutes=tuple(r["minutes"] or 0 for r in held),
        goals_set=goals["set"],
        goals_achieved=goals["achieved"],
    )


async def pair_members(conn: Conn, tenant: str, pair_id: str) -> tuple[str, str] | None:
    row = await conn.fetchrow(
        "SELECT mentor_id, mentee_id FROM pairs WHERE tenant = $1 AND pair_id = $2", tenant, pair_id
    )
    return (row["mentor_id"], row["mentee_id"]) if row is not None else None


async def other_live_pairs(conn: Conn, tenant: str, participant_id: str, programme_id: str, pair_id: str) -> int:
    """How many pairs of theirs in the programme, other than this one, are still active or paused."""
    count: int = await conn.fetchval(
        "SELECT count(*) FROM pairs WHERE tenant = $1 AND programme_id = $2 AND $3 IN (mentor_id, mentee_id) "
        "AND pair_id <> $4 AND state = ANY($5::text[])",
        tenant,
        programme_id,
        participant_id,
        pair_id,
        list(LIVE),
    )
    return count


async def enrolled_without_record(conn: Conn, tenant: str, programme_id: str) -> list[str]:
    """Participants still enrolled in the programme who have no learning record yet."""
    rows = await conn.fetch(
        "SELECT participant_id FROM participants p WHERE tenant = $1 AND programme_id = $2 AND NOT withdrawn "
        "AND NOT EXISTS (SELECT 1 FROM public.learning_records r WHERE r.tenant = p.tenant "
        "AND r.participant_id = p.participant_id AND r.programme_id = p.programme_id) ORDER BY participant_id",
        tenant,
        programme_id,
    )
    return [r["participant_id"] for r in rows]


async def claim_record(
    conn: Conn,
    *,
    record_id: str,
    event_id: str,
    participant_id: str,
    programme_id: str,
    tenant: str,
    outcome: Outcome,
    trigger_event_id: str,
) -> bool:
    """Note that this record is being published; False when it was already (nothing is to be emitted then).

    A concurrent transaction inserting the same record waits on the primary key and then inserts nothing."""
    inserted = await conn.fetchval(
        "INSERT INTO public.learning_records (record_id, event_id, participant_id, programme_id, tenant, outcome, "
        "trigger_event_id) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING record_id",
        record_id,
        event_id,
        participant_id,
        programme_id,
        tenant,
        outcome,
        trigger_event_id,
    )
    return inserted is not None
