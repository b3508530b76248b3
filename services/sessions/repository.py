"""Loading the Mentorship aggregate and reading the sessions read model; every query is within one tenant.

The write model is event-sourced from the service's own kept outbox: every sessions event of a pair
is keyed by the pair id, so `outbox WHERE tenant = t AND key = pair_id ORDER BY position` is that pair's
history. The pair itself (who, which state) comes from the projection of pairing events.

Tenants: every function takes the tenant it reads in (the caller's, or the event's). An id of another
tenant is unknown here, and answers exactly as an id nobody has (404), so nothing tells them apart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, get_args

from services.sessions.domain.model import Mentorship, PairView, Session, SessionsEvent
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

#: The event types a pair's Mentorship is rebuilt from (others keyed by the pair, such as a record that
#: someone read its confidential comments, are not part of its history).
HISTORY_TYPES = [event.TYPE for event in get_args(SessionsEvent)]

#: A pair's history, oldest first: the event-store lookup (index outbox_tenant_key: tenant, key, position).
#: Parameters: tenant, pair id, HISTORY_TYPES.
HISTORY_QUERY = (
    "SELECT headers, payload FROM outbox WHERE tenant = $1 AND key = $2 AND event_type = ANY($3::text[]) "
    "ORDER BY position"
)

#: What a pair's, a session's and a feedback's answers show (never the tenant column).
PAIR_COLUMNS = "pair_id, programme_id, mentor_id, mentee_id, state, created_at, updated_at"
SESSION_COLUMNS = (
    "session_id, pair_id, programme_id, starts_at, duration_minutes, agenda, sequence, status, cancel_reason, "
    "held_at, minutes, topics, tools, action_items, updated_at"
)
FEEDBACK_COLUMNS = (
    "feedback_id, pair_id, programme_id, session_id, author_id, author_role, rating, productivity_gain, "
    "minutes_saved_per_day, new_business_opportunity, opportunity_text, team_productivity_gain, career_benefit, "
    "confidential_comment, submitted_at"
)


def no_pair(pair_id: str) -> NotFound:
    """The one answer for a pair that does not exist, is another tenant's, or is not the caller's."""
    return NotFound(f"no pair {pair_id} (or not yet known to the sessions service)", field="pair_id")


def no_session(session_id: str) -> NotFound:
    return NotFound(f"no session {session_id}", field="session_id")


def no_programme(programme_id: str) -> NotFound:
    return NotFound(f"no programme {programme_id}", field="programme_id")


async def lock_pair(conn: Conn, tenant: str, pair_id: str) -> None:
    """Serialise commands on one pair (their events must reach the outbox in order)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('sessions-pair:' || $1 || ':' || $2))", tenant, pair_id)


async def pair_view(conn: Conn, tenant: str, pair_id: str) -> PairView:
    row = await conn.fetchrow(
        "SELECT pair_id, programme_id, mentor_id, mentee_id, state FROM pairs WHERE tenant = $1 AND pair_id = $2",
        tenant, pair_id,
    )  # fmt: skip
    if row is None:
        raise no_pair(pair_id)
    return PairView(row["pair_id"], row["programme_id"], row["mentor_id"], row["mentee_id"], row["state"])


async def load_mentorship(conn: Conn, tenant: str, pair_id: str) -> Mentorship:
    pair = await pair_view(conn, tenant, pair_id)
    focus = await conn.fetchval(
        "SELECT focus_topics FROM programmes WHERE tenant = $1 AND programme_id = $2", tenant, pair.programme_id
    )
    rows = await conn.fetch(HISTORY_QUERY, tenant, pair_id, HISTORY_TYPES)
    history = [
        decode([(name, value.encode()) for name, value in r["headers"]], r["payload"].encode()).data for r in rows
    ]
    return Mentorship.from_history(pair, history, focus_topics=focus)


async def pair_detail(conn: Conn, tenant: str, pair_id: str) -> dict[str, Any]:
    """The pair with its agreement, goals and sessions (404 when unknown in this tenant)."""
    pair = await conn.fetchrow(f"SELECT {PAIR_COLUMNS} FROM pairs WHERE tenant = $1 AND pair_id = $2", tenant, pair_id)
    if pair is None:
        raise no_pair(pair_id)
    agreement = await conn.fetch(
        "SELECT role, meeting_rhythm, confidentiality, confirmed_at FROM agreements WHERE tenant = $1 AND pair_id = $2",
        tenant, pair_id,
    )  # fmt: skip
    goals = await conn.fetch(
        "SELECT goal_id, topic, description, set_at, achieved_at FROM goals WHERE tenant = $1 AND pair_id = $2 "
        "ORDER BY set_at, goal_id",
        tenant, pair_id,
    )  # fmt: skip
    sessions = await conn.fetch(
        f"SELECT {SESSION_COLUMNS} FROM sessions WHERE tenant = $1 AND pair_id = $2 ORDER BY starts_at, session_id",
        tenant, pair_id,
    )  # fmt: skip
    return {
        **dict(pair),
        "agreement": {r["role"]: dict(r) for r in agreement},
        "agreement_complete": len(agreement) == 2,
        "goals": [dict(g) for g in goals],
        "sessions": [{**dict(s), "ics_url": f"/sessions/{s['session_id']}.ics"} for s in sessions],
    }


def session_of(row: Any) -> Session:
    return Session(
        session_id=row["session_id"], pair_id=row["pair_id"], programme_id=row["programme_id"],
        starts_at=row["starts_at"], duration_minutes=row["duration_minutes"], agenda=row["agenda"],
        sequence=row["sequence"], status=row["status"], cancel_reason=row["cancel_reason"], held_at=row["held_at"],
        minutes=row["minutes"], topics=tuple(row["topics"]), tools=tuple(row["tools"]),
        action_items=tuple(row["action_items"]),
    )  # fmt: skip


async def session_row(conn: Conn, tenant: str, session_id: str) -> Any:
    row = await conn.fetchrow(
        f"SELECT {SESSION_COLUMNS} FROM sessions WHERE tenant = $1 AND session_id = $2", tenant, session_id
    )
    if row is None:
        raise no_session(session_id)
    return row


async def calendar_people(conn: Conn, tenant: str, pair_id: str) -> list[Any]:
    """The two people of a pair, for a calendar invitation: name, address, role."""
    return list(
        await conn.fetch(
            "SELECT p.display_name, p.email, p.role FROM participants p JOIN pairs x ON x.tenant = p.tenant "
            "AND p.participant_id IN (x.mentor_id, x.mentee_id) WHERE x.tenant = $1 AND x.pair_id = $2 "
            "ORDER BY p.role",
            tenant,
            pair_id,
        )
    )


async def participant_ids(conn: Conn, tenant: str, employee_id: str | None) -> frozenset[str]:
    """The participant ids of one employee in this tenant (one per programme they are enrolled in)."""
    if employee_id is None:
        return frozenset()
    rows = await conn.fetch(
        "SELECT participant_id FROM participants WHERE tenant = $1 AND employee_id = $2", tenant, employee_id
    )
    return frozenset(r["participant_id"] for r in rows)


async def feedback(conn: Conn, tenant: str, pair_id: str, *, limit: int, offset: int) -> list[dict[str, Any]]:
    """A pair's feedback, oldest first, confidential comments included: the caller decides what is shown."""
    rows = await conn.fetch(
        f"SELECT {FEEDBACK_COLUMNS} FROM feedback WHERE tenant = $1 AND pair_id = $2 "
        "ORDER BY submitted_at, feedback_id LIMIT $3 OFFSET $4",
        tenant, pair_id, limit, offset,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def programmes(conn: Conn, tenant: str, *, limit: int, offset: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT p.programme_id, p.name, p.starts_on, p.ends_on, p.cadence_days, p.focus_topics, p.closed, "
        "p.min_group_size, (SELECT count(*) FROM pairs x WHERE x.tenant = p.tenant "
        "AND x.programme_id = p.programme_id) AS pairs FROM programmes p WHERE p.tenant = $1 "
        "ORDER BY p.starts_on DESC, p.name, p.programme_id LIMIT $2 OFFSET $3",
        tenant, limit, offset,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def programme(conn: Conn, tenant: str, programme_id: str) -> dict[str, Any]:
    """A programme's name, dates and small-group floor (404 when unknown in this tenant)."""
    row = await conn.fetchrow(
        "SELECT programme_id, name, starts_on, ends_on, cadence_days, min_group_size FROM programmes "
        "WHERE tenant = $1 AND programme_id = $2",
        tenant, programme_id,
    )  # fmt: skip
    if row is None:
        raise no_programme(programme_id)
    return dict(row)


_CHANGE = {"paused": PairPaused, "resumed": PairResumed}


async def programme_facts(conn: Conn, tenant: str, programme_id: str) -> ProgrammeFacts:
    programme = await conn.fetchrow(
        "SELECT cadence_days FROM programmes WHERE tenant = $1 AND programme_id = $2", tenant, programme_id
    )
    if programme is None:
        raise no_programme(programme_id)
    changes: dict[str, list[tuple[datetime, Any]]] = {}
    for r in await conn.fetch(
        "SELECT c.pair_id, c.at, c.kind FROM pair_changes c JOIN pairs p ON p.tenant = c.tenant "
        "AND p.pair_id = c.pair_id WHERE c.tenant = $1 AND p.programme_id = $2 ORDER BY c.at, c.event_id",
        tenant, programme_id,
    ):  # fmt: skip
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
        for r in await conn.fetch(
            f"SELECT {PAIR_COLUMNS} FROM pairs WHERE tenant = $1 AND programme_id = $2 ORDER BY pair_id",
            tenant,
            programme_id,
        )
    ]
    sessions = [
        HeldSession(r["session_id"], r["pair_id"], programme_id, r["held_at"], r["minutes"])
        for r in await conn.fetch(
            "SELECT session_id, pair_id, held_at, minutes FROM sessions WHERE tenant = $1 AND programme_id = $2 "
            "AND status = 'held' ORDER BY session_id",
            tenant,
            programme_id,
        )
    ]
    goals = [
        AchievedGoal(r["goal_id"], r["pair_id"], programme_id, r["topic"], r["achieved_at"])
        for r in await conn.fetch(
            "SELECT goal_id, pair_id, topic, achieved_at FROM goals WHERE tenant = $1 AND programme_id = $2 "
            "AND achieved_at IS NOT NULL ORDER BY goal_id",
            tenant,
            programme_id,
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
        for r in await conn.fetch(
            f"SELECT {FEEDBACK_COLUMNS} FROM feedback WHERE tenant = $1 AND programme_id = $2 ORDER BY feedback_id",
            tenant,
            programme_id,
        )
    ]
    confidence = [
        ConfidenceCheck(r["pair_id"], programme_id, r["participant_id"], r["phase"], r["ratings"], r["rated_at"])
        for r in await conn.fetch(
            "SELECT pair_id, participant_id, phase, ratings, rated_at FROM confidence WHERE tenant = $1 "
            "AND programme_id = $2",
            tenant,
            programme_id,
        )
    ]
    return ProgrammeFacts(
        programme_id=programme_id, cadence_days=programme["cadence_days"], pairs=pairs, sessions=sessions,
        goals=goals, feedback=feedback, confidence=confidence,
    )  # fmt: skip


async def names(conn: Conn, tenant: str, ids: set[str]) -> dict[str, str]:
    rows = await conn.fetch(
        "SELECT participant_id, display_name FROM participants WHERE tenant = $1 AND participant_id = ANY($2::text[])",
        tenant, list(ids),
    )  # fmt: skip
    return {r["participant_id"]: r["display_name"] for r in rows}
