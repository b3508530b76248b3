"""Loading the Mentorship aggregate and reading the sessions read model.

The write model is event-sourced from the service's own kept outbox: every sessions event of a pair
is keyed by the pair id, so `outbox WHERE key = pair_id ORDER BY position` is that pair's history.
The pair itself (who, which state) comes from the projection of pairing events.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.sessions.domain.model import Mentorship, PairView, Session
from services.sessions.domain.outcomes import (
    AchievedGoal,
    ConfidenceCheck,
    FeedbackAnswers,
    HeldSession,
    PairFact,
    ProgrammeFacts,
    active_intervals,
)
from shared.db import Conn
from shared.errors import NotFound
from shared.events import decode
from shared.events.pairing import PairEnded, PairPaused, PairResumed


async def lock_pair(conn: Conn, pair_id: str) -> None:
    """Serialise commands on one pair (their events must reach the outbox in order)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('sessions-pair:' || $1))", pair_id)


async def pair_view(conn: Conn, pair_id: str) -> PairView:
    row = await conn.fetchrow(
        "SELECT pair_id, programme_id, mentor_id, mentee_id, state FROM pairs WHERE pair_id = $1", pair_id
    )
    if row is None:
        raise NotFound(f"no pair {pair_id} (or not yet known to the sessions service)", field="pair_id")
    return PairView(row["pair_id"], row["programme_id"], row["mentor_id"], row["mentee_id"], row["state"])


async def load_mentorship(conn: Conn, pair_id: str) -> Mentorship:
    pair = await pair_view(conn, pair_id)
    focus = await conn.fetchval("SELECT focus_topics FROM programmes WHERE programme_id = $1", pair.programme_id)
    rows = await conn.fetch("SELECT headers, payload FROM outbox WHERE key = $1 ORDER BY position", pair_id)
    history = [
        decode([(name, value.encode()) for name, value in r["headers"]], r["payload"].encode()).data for r in rows
    ]
    return Mentorship.from_history(pair, history, focus_topics=focus)


def session_of(row: Any) -> Session:
    return Session(
        session_id=row["session_id"], pair_id=row["pair_id"], programme_id=row["programme_id"],
        starts_at=row["starts_at"], duration_minutes=row["duration_minutes"], agenda=row["agenda"],
        sequence=row["sequence"], status=row["status"], cancel_reason=row["cancel_reason"], held_at=row["held_at"],
        minutes=row["minutes"], topics=tuple(row["topics"]), tools=tuple(row["tools"]),
        action_items=tuple(row["action_items"]),
    )  # fmt: skip


async def session_row(conn: Conn, session_id: str) -> Any:
    row = await conn.fetchrow("SELECT * FROM sessions WHERE session_id = $1", session_id)
    if row is None:
        raise NotFound(f"no session {session_id}", field="session_id")
    return row


_CHANGE = {"paused": PairPaused, "resumed": PairResumed}


async def programme_facts(conn: Conn, programme_id: str) -> ProgrammeFacts:
    programme = await conn.fetchrow("SELECT cadence_days FROM programmes WHERE programme_id = $1", programme_id)
    if programme is None:
        raise NotFound(f"no programme {programme_id}", field="programme_id")
    changes: dict[str, list[tuple[datetime, Any]]] = {}
    for r in await conn.fetch(
        "SELECT c.pair_id, c.at, c.kind FROM pair_changes c JOIN pairs p USING (pair_id) "
        "WHERE p.programme_id = $1 ORDER BY c.at, c.event_id",
        programme_id,
    ):
        kind = r["kind"]
        event = (
            PairEnded(pair_id=r["pair_id"], programme_id=programme_id, reason="completed")
            if kind == "ended"
            else _CHANGE[kind](pair_id=r["pair_id"], programme_id=programme_id)
        )
        changes.setdefault(r["pair_id"], []).append((r["at"], event))
    pairs = [
        PairFact(
            r["pair_id"],
            programme_id,
            r["mentor_id"],
            r["mentee_id"],
            r["created_at"],
            active_intervals(r["created_at"], changes.get(r["pair_id"], [])),
        )
        for r in await conn.fetch("SELECT * FROM pairs WHERE programme_id = $1 ORDER BY pair_id", programme_id)
    ]
    sessions = [
        HeldSession(r["session_id"], r["pair_id"], programme_id, r["held_at"], r["minutes"])
        for r in await conn.fetch(
            "SELECT * FROM sessions WHERE programme_id = $1 AND status = 'held' ORDER BY session_id", programme_id
        )
    ]
    goals = [
        AchievedGoal(r["goal_id"], r["pair_id"], programme_id, r["topic"], r["achieved_at"])
        for r in await conn.fetch(
            "SELECT * FROM goals WHERE programme_id = $1 AND achieved_at IS NOT NULL ORDER BY goal_id", programme_id
        )
    ]
    feedback = [
        FeedbackAnswers(
            r["feedback_id"],
            r["pair_id"],
            programme_id,
            r["author_id"],
            r["author_role"],
            r["submitted_at"],
            r["productivity_gain"],
            r["minutes_saved_per_day"],
            r["new_business_opportunity"],
            r["team_productivity_gain"],
            r["career_benefit"],
        )
        for r in await conn.fetch("SELECT * FROM feedback WHERE programme_id = $1 ORDER BY feedback_id", programme_id)
    ]
    confidence = [
        ConfidenceCheck(r["pair_id"], programme_id, r["participant_id"], r["phase"], r["ratings"], r["rated_at"])
        for r in await conn.fetch("SELECT * FROM confidence WHERE programme_id = $1", programme_id)
    ]
    return ProgrammeFacts(
        programme_id=programme_id, cadence_days=programme["cadence_days"], pairs=pairs, sessions=sessions,
        goals=goals, feedback=feedback, confidence=confidence,
    )  # fmt: skip


async def names(conn: Conn, ids: set[str]) -> dict[str, str]:
    rows = await conn.fetch(
        "SELECT participant_id, display_name FROM participants WHERE participant_id = ANY($1::text[])", list(ids)
    )
    return {r["participant_id"]: r["display_name"] for r in rows}
