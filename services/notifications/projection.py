"""The notifications service's projection: pairs, and the notifications their events call for."""

from __future__ import annotations

import uuid
from typing import Any

from shared.consumer import Handlers
from shared.db import Conn
from shared.events import Envelope
from shared.events.pairing import PairCreated, PairEnded, PairPaused, PairResumed
from shared.runtime import ServiceHost

NAMESPACE = uuid.UUID("0b7c3a53-6f0e-4c1b-9a57-7d1f3f2b9e10")


def notification_id(rule: str, event_id: str, recipient_id: str) -> uuid.UUID:
    """The same rule, event and recipient always give the same id: nothing is planned or sent twice."""
    return uuid.uuid5(NAMESPACE, f"{rule}|{event_id}|{recipient_id}")


def build_handlers(host: ServiceHost) -> Handlers:
    handlers = Handlers()

    @handlers.on(PairCreated)
    async def pair_created(conn: Conn, env: Envelope[Any]) -> None:
        e: PairCreated = env.data
        await conn.execute(
            "INSERT INTO pairs (pair_id, programme_id, mentor_id, mentee_id, state, updated_at) "
            "VALUES ($1, $2, $3, $4, 'active', $5) ON CONFLICT (pair_id) DO NOTHING",
            e.pair_id,
            e.programme_id,
            e.mentor_id,
            e.mentee_id,
            env.time,
        )
        await conn.executemany(
            "INSERT INTO notifications (notification_id, rule, recipient_id, programme_id, pair_id, "
            "triggering_event_id, due_at) VALUES ($1, 'welcome', $2, $3, $4, $5, $6) "
            "ON CONFLICT (notification_id) DO NOTHING",
            [
                (notification_id("welcome", env.id, who), who, e.programme_id, e.pair_id, env.id, env.time)
                for who in (e.mentor_id, e.mentee_id)
            ],
        )

    @handlers.on(PairPaused, PairResumed, PairEnded)
    async def pair_state(conn: Conn, env: Envelope[Any]) -> None:
        state = {PairPaused.TYPE: "paused", PairResumed.TYPE: "active", PairEnded.TYPE: "ended"}[env.type]
        await conn.execute(
            "UPDATE pairs SET state = $2, updated_at = $3 WHERE pair_id = $1", env.data.pair_id, state, env.time
        )

    return handlers
