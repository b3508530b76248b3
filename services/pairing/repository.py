"""Loading and saving pairing aggregates (SQL lives here, not in handlers)."""

from __future__ import annotations

from typing import Any

from services.pairing.domain.pairs import Pair
from shared.db import Conn
from shared.errors import NotFound

_PAIR_COLUMNS = "pair_id, programme_id, mentor_id, mentee_id, state, score, rationale, origin, match_run_id, end_reason"


def _pair(row: Any) -> Pair:
    return Pair(**{k: row[k] for k in _PAIR_COLUMNS.split(", ")})


async def get_pair(conn: Conn, pair_id: str, *, for_update: bool = False) -> Pair:
    sql = f"SELECT {_PAIR_COLUMNS} FROM pairs WHERE pair_id = $1" + (" FOR UPDATE" if for_update else "")
    row = await conn.fetchrow(sql, pair_id)
    if row is None:
        raise NotFound(f"no pair {pair_id}", field="pair_id")
    return _pair(row)


async def insert_pair(conn: Conn, pair: Pair, tenant: str) -> None:
    await conn.execute(
        "INSERT INTO pairs (pair_id, tenant, programme_id, mentor_id, mentee_id, state, score, rationale, origin, "
        "match_run_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        pair.pair_id,
        tenant,
        pair.programme_id,
        pair.mentor_id,
        pair.mentee_id,
        pair.state,
        pair.score,
        pair.rationale,
        pair.origin,
        pair.match_run_id,
    )


async def update_pair(conn: Conn, pair: Pair) -> None:
    await conn.execute(
        "UPDATE pairs SET state = $2, end_reason = $3, updated_at = now() WHERE pair_id = $1",
        pair.pair_id,
        pair.state,
        pair.end_reason,
    )


async def list_pairs(
    conn: Conn, *, programme_id: str | None, state: str | None, limit: int, offset: int
) -> tuple[list[Pair], int]:
    where, args = [], []
    if programme_id:
        args.append(programme_id)
        where.append(f"programme_id = ${len(args)}")
    if state:
        args.append(state)
        where.append(f"state = ${len(args)}")
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    total = await conn.fetchval(f"SELECT count(*) FROM pairs{clause}", *args)
    rows = await conn.fetch(
        f"SELECT {_PAIR_COLUMNS} FROM pairs{clause} ORDER BY created_at, pair_id "
        f"LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}",
        *args,
        limit,
        offset,
    )
    return [_pair(r) for r in rows], int(total)
