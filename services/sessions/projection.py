"""The sessions service's projection of pairing events: which pairs exist and their state."""

from __future__ import annotations

from typing import Any

from shared.consumer import Handlers
from shared.db import Conn
from shared.events import Envelope
from shared.events.pairing import PairCreated, PairEnded, PairPaused, PairResumed
from shared.runtime import ServiceHost


def build_handlers(host: ServiceHost) -> Handlers:
    handlers = Handlers()

    @handlers.on(PairCreated)
    async def pair_created(conn: Conn, env: Envelope[Any]) -> None:
        e: PairCreated = env.data
        await conn.execute(
            "INSERT INTO pairs (pair_id, programme_id, mentor_id, mentee_id, state, created_at, updated_at) "
            "VALUES ($1, $2, $3, $4, 'active', $5, $5) ON CONFLICT (pair_id) DO NOTHING",
            e.pair_id,
            e.programme_id,
            e.mentor_id,
            e.mentee_id,
            env.time,
        )

    @handlers.on(PairPaused, PairResumed, PairEnded)
    async def pair_state(conn: Conn, env: Envelope[Any]) -> None:
        state = {PairPaused.TYPE: "paused", PairResumed.TYPE: "active", PairEnded.TYPE: "ended"}[env.type]
        await conn.execute(
            "UPDATE pairs SET state = $2, updated_at = $3 WHERE pair_id = $1", env.data.pair_id, state, env.time
        )

    return handlers
