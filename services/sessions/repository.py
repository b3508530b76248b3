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

from services.sessions.domain.model import Mentorship, PairView, SessionsEvent
from services.sessions.domain.outcomes import (
    AchievedGoal,
    ConfidenceCheck,
    FeedbackAnswers,
    HeldSession,
    PairFact,
    ProgrammeFacts,
    active_intervals,
)
from services.sessions.rows import COLUMNS, pair_of
from services.sessions.rows import session_of as session_of  # the API reads session rows through here
from shared.db import Conn
from shared.errors import NotFound
from shared.events import decode
from shared.events.pairing import PairEnded, PairPaused, PairResumed
from shared.personal import Keyring

#: The data keys of the pairs' history in the outbox (its free text is written encrypted: shared.personal).
KEYS = Keyring()

#: The event types a pair's Mentorship is rebuilt from (others keyed by the pair, such as a record that
#: someone read its confidential comments, are not part of its history).
HISTORY_TYPES = [event.TYPE for event in get_args(SessionsEvent)]

#: A pair's history, oldest first: the event-store lookup (index outbox_tenant_key: tenant, key, position).
#: Parameters: tenant, pair id, HISTORY_TYPES.
HISTORY_QUERY = (
    "SELECT headers, payload FROM outbox WHERE tenant = $1 AND key = $2 AND event_type = ANY($3::text[]) "
    "ORDER BY position"
)

#: What a pair's, a session's and a feedback's answers show: their rows' columns but the tenant.
PAIR_COLUMNS, SESSION_COLUMNS, FEEDBACK_COLUMNS = (
    ", ".join(c for c in COLUMNS[table] if c != "tenant") for table in ("pairs", "sessions", "feedback")
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
    row = await conn.fetchrow(f"SELECT {PAIR_COLUMNS} FROM pairs WHERE tenant = $1 AND pair_id = $2", tenant, pair_id)
    if row is None:
        raise no_pair(pair_id)
    return pair_of(row)


async def load_mentorship(conn: Conn, tenant: str, pair_id: str) -> Mentorship:
    pair = await pair_view(conn, tenant, pair_id)
    focus = await conn.fetchval(
        "SELECT focus_topics FROM programmes WHERE tenant = $1 AND programme_id = $2", tenant, pair.programme_id
    )
    rows = await conn.fetch(HISTORY_QUERY, tenant, pair_id, HISTORY_TYPES)
    payloads = [r["payload"].encode() for r in rows]
    await KEYS.prepare(conn, payloads)
    envelopes = [
        decode([(name, value.encode()) for name, value in r["headers"]], payload, KEYS)
        for r, payload in zip(rows, payloads, strict=True)
    ]
    history = [(env.data, env.time) for env in envelopes]
    return Mentorship.from_history(pair, history, focus_topics=focus)


async def pair_detail(conn: Conn, tenant: str, pair_id: str) -> dict[str, Any]:
    """The pair with its agreement, goals and sessions (404 when unknown in this tenant)."""
    pair = await conn.fetchrow(f"SELECT {PAIR_COLUMNS} FROM pairs WHERE tenant = $1 AND pair_id = $2", tenant, pair_id)
    if pair is None:
        raise no_pair(pair_id)
    agreement = await conn.fetch(
        "SELECT role, meeting_rhythm, confidentiality, confirmed_at FROM agreements WHERE tenant = $1 AND pair_id = $2",
        tenant,
        pair_id,
    )
    goals = await conn.fetch(
        "SELECT goal_id, topic, description, set_at, achieved_at FROM goals WHERE tenant = $1 AND pair_id = $2 "
        "ORDER BY set_at, goal_id",
        tenant,
        pair_id,
    )
    sessions = await conn.fetch(
        f"SELECT {SESSION_COLUMNS} FROM sessions WHERE tenant = $1 AND pair_id = $2 ORDER BY starts_at, session_id",
        tenant,
        pair_id,
    )
    return {
        **dict(pair),
        "agreement": {r["role"]: dict(r) for r in agreement},
        "agreement_complete": len(agreement) == 2,
        "goals": [dict(g) for g in goals],
        "sessions": [{**dict(s), "ics_url": f"/sessions/{s['session_id']}.ics"} for s in sessions],
    }


async def session_row(conn: Conn, tenant: str, session_id: str) -> Any:
    row = await conn.fetchrow(
        f"SELECT {SESSION_COLUMNS} FROM sessions WHERE tenant = $1 AND session_id = $2", tenant, session_id
    )
    if row is None:
        raise no_session(session_id)
    return row


async def calendar_people(conn: Conn, tenant: str, pair_id: str) -> list[Any]:
    """The two people of a pair, for a calendar invitation: id, name, address, role, language."""
    return list(
        await conn.fetch(
            "SELECT p.participant_id, p.display_name, p.email, p.role, p.locale FROM participants p "
            "JOIN pairs x ON x.tenant = p.tenant AND p.participant_id IN (x.mentor_id, x.mentee_id) "
            "WHERE x.tenant = $1 AND x.pair_id = $2 "
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
        tenant,
        pair_id,
        limit,
        offset,
    )
    return [dict(r) for r in rows]


async def programmes(conn: Conn, tenant: str, *, limit: int, offset: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT p.programme_id, p.name, p.starts_on, p.ends_on, p.cadence_days, p.focus_topics, p.closed, "
        "p.min_group_size, (SELECT count(*) FROM pairs x WHERE x.tenant = p.tenant "
        "AND x.programme_id = p.programme_id) AS pairs FROM programmes p WHERE p.tenant = $1 "
        "ORDER BY p.starts_on DESC, p.name, p.programme_id LIMIT $2 OFFSET $3",
        tenant,
        limit,
        offset,
    )
    return [dict(r) for r in rows]


async def programme(conn: Conn, tenant: str, programme_id: str) -> dict[str, Any]:
    """A programme's name, dates and small-group floor (404 when unknown in this tenant)."""
    row = await conn.fetchrow(
        "SELECT programme_id, name, starts_on, ends_on, cadence_days, min_group_size FROM programmes "
        "WHERE tenant = $1 AND programme_id = $2",
        tenant,
        programme_id,
    )
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
        tenant,
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
        programme_id=programme_id,
        cadence_days=programme["cadence_days"],
        pairs=pairs,
        sessions=sessions,
        goals=goals,
        feedback=feedback,
        confidence=confidence,
    )


async def names(conn: Conn, tenant: str, ids: set[str]) -> dict[str, str]:
    rows = await conn.fetch(
        "SELECT participant_id, display_name FROM participants WHERE tenant = $1 AND participant_id = ANY($2::text[])",
        tenant,
        list(ids),
    )
    return {r["participant_id"]: r["display_name"] for r in rows}


async def my_portal(conn: Conn, tenant: str, employee_id: str) -> dict[str, Any]:
    """What the participant portal shows a signed-in person: their enrolments (one participant record per
    programme) and their pairs with the partner, the programme, the rationale and the next planned session.
    Only this employee's records in this tenant; nothing of anyone else but their partners' names and roles."""
    people = await conn.fetch(
        "SELECT p.participant_id, p.programme_id, p.role, p.display_name, p.locale, p.withdrawn, "
        "g.name AS programme_name FROM participants p LEFT JOIN programmes g ON g.tenant = p.tenant "
        "AND g.programme_id = p.programme_id WHERE p.tenant = $1 AND p.employee_id = $2 "
        "ORDER BY g.starts_on DESC NULLS LAST, p.participant_id",
        tenant,
        employee_id,
    )
    pairs = await conn.fetch(
        "SELECT x.pair_id, x.programme_id, x.state, x.created_at, x.rationale, x.reasons, g.name AS programme_name, "
        "g.focus_topics, "
        "me.participant_id AS my_id, me.role AS my_role, "
        "o.participant_id AS partner_id, o.display_name AS partner_name, o.role AS partner_role, "
        "(SELECT s.session_id FROM sessions s WHERE s.tenant = x.tenant AND s.pair_id = x.pair_id "
        " AND s.status = 'scheduled' AND s.starts_at > now() ORDER BY s.starts_at, s.session_id LIMIT 1) AS next_id, "
        "(SELECT min(s.starts_at) FROM sessions s WHERE s.tenant = x.tenant AND s.pair_id = x.pair_id "
        " AND s.status = 'scheduled' AND s.starts_at > now()) AS next_at "
        "FROM participants me JOIN pairs x ON x.tenant = me.tenant "
        "AND me.participant_id IN (x.mentor_id, x.mentee_id) "
        "LEFT JOIN participants o ON o.tenant = x.tenant AND o.participant_id = "
        "CASE WHEN x.mentor_id = me.participant_id THEN x.mentee_id ELSE x.mentor_id END "
        "LEFT JOIN programmes g ON g.tenant = x.tenant AND g.programme_id = x.programme_id "
        "WHERE me.tenant = $1 AND me.employee_id = $2 "
        "ORDER BY (x.state = 'ended'), x.created_at DESC NULLS LAST, x.pair_id",
        tenant,
        employee_id,
    )
    return {
        "participants": [dict(r) for r in people],
        "pairs": [
            {
                "pair_id": r["pair_id"],
                "programme_id": r["programme_id"],
                "programme_name": r["programme_name"],
                "focus_topics": list(r["focus_topics"] or []),
                "state": r["state"],
                "created_at": r["created_at"],
                "my_participant_id": r["my_id"],
                "my_role": r["my_role"],
                "partner": {"participant_id": r["partner_id"], "display_name": r["partner_name"],
                            "role": r["partner_role"]},
                "rationale": r["rationale"],
                "reasons": list(r["reasons"] or []),
                "next_session": None if r["next_id"] is None else {"session_id": r["next_id"],
                                                                   "starts_at": r["next_at"]},
            }
            for r in pairs
        ],
    }  # fmt: skip
