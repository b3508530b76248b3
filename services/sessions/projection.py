"""The sessions read model, built from the pairing and sessions topics.

Each handler writes only its own rows and uses only the event (its payload, its time and its tenant), so
the tables are the same whatever the interleaving of the two topics: replay rebuilds them identically.
Every row names the event's tenant and every key is per tenant: the same id in two tenants is two things.
A pair's rows (the pair, its agreement, goals, confidence checks, sessions, feedback) are the sessions
domain's entities, evolved by the domain's own `evolve_*` (rows.py maps them to rows), as the bulk path,
the aggregate and the audit evolve them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from services.sessions import projection_repository as repo
from services.sessions import rows
from services.sessions.domain import model as m
from services.sessions.domain import references as r
from shared.consumer import Handlers
from shared.db import Conn
from shared.events import Envelope
from shared.events import pairing as p
from shared.events import sessions as s
from shared.runtime import ServiceHost

PAIR_STATE = {p.PairPaused.TYPE: "paused", p.PairResumed.TYPE: "resumed", p.PairEnded.TYPE: "ended"}

_E = TypeVar("_E")


async def _evolve(
    conn: Conn,
    table: str,
    key: tuple[str, ...],
    of: Callable[[Any], _E],
    step: Callable[[_E | None], _E | None],
    row: Callable[[str, _E], dict[str, Any]],
) -> None:
    """Read the entity under `key` (tenant first), evolve it by the domain's step, write it if it changed."""
    found = await repo.find(conn, table, key)
    before = None if found is None else of(found)
    after = step(before)
    if after is not None and after != before:
        await repo.upsert(conn, table, row(key[0], after))


def build_handlers(host: ServiceHost | None = None) -> Handlers:
    """The read model's handlers (replayable); the service's whole table is handler_table.py."""
    h = Handlers()

    @h.on(p.ProgramLaunched, p.ProgramClosed)
    async def programme(conn: Conn, env: Envelope[Any]) -> None:
        e: p.ProgramLaunched | p.ProgramClosed = env.data
        await _evolve(
            conn,
            "programmes",
            (env.tenant, e.programme_id),
            rows.programme_of,
            lambda programme: r.evolve_programme(programme, e),
            rows.programme_row,
        )

    @h.on(p.ParticipantEnrolled, p.ParticipantUpdated, p.ParticipantWithdrew)
    async def participant(conn: Conn, env: Envelope[Any]) -> None:
        e: p.ParticipantEnrolled | p.ParticipantUpdated | p.ParticipantWithdrew = env.data
        await _evolve(
            conn,
            "participants",
            (env.tenant, e.participant_id),
            rows.participant_of,
            lambda participant: r.evolve_participant(participant, e),
            rows.participant_row,
        )

    @h.on(p.PairCreated)
    async def pair_created(conn: Conn, env: Envelope[Any]) -> None:
        e: p.PairCreated = env.data
        await _evolve(
            conn,
            "pairs",
            (env.tenant, e.pair_id),
            rows.pair_of,
            lambda pair: m.evolve_pair(pair, e, env.time),
            rows.pair_row,
        )

    @h.on(p.PairPaused, p.PairResumed, p.PairEnded)
    async def pair_changed(conn: Conn, env: Envelope[Any]) -> None:
        e: p.PairPaused | p.PairResumed | p.PairEnded = env.data
        await _evolve(
            conn,
            "pairs",
            (env.tenant, e.pair_id),
            rows.pair_of,
            lambda pair: m.evolve_pair(pair, e, env.time),
            rows.pair_row,
        )
        await repo.pair_change(conn, env.tenant, env.id, e.pair_id, env.time, PAIR_STATE[env.type])

    @h.on(s.AgreementConfirmed)
    async def agreement(conn: Conn, env: Envelope[Any]) -> None:
        agreed = m.record(None, env.data, env.time, "agreement", env.id)  # a second one breaks the table's key
        await repo.insert(conn, "agreements", rows.agreement_row(env.tenant, agreed))

    @h.on(s.GoalSet, s.GoalAchieved)
    async def goal(conn: Conn, env: Envelope[Any]) -> None:
        e: s.GoalSet | s.GoalAchieved = env.data
        await _evolve(
            conn,
            "goals",
            (env.tenant, e.goal_id),
            rows.goal_of,
            lambda goal: m.evolve_goal(goal, e, env.time),
            rows.goal_row,
        )

    @h.on(s.ConfidenceRated)
    async def confidence(conn: Conn, env: Envelope[Any]) -> None:
        rated = m.record(None, env.data, env.time, "confidence", env.id)
        await repo.insert(conn, "confidence", rows.confidence_row(env.tenant, rated))

    @h.on(s.SessionScheduled)
    async def scheduled(conn: Conn, env: Envelope[Any]) -> None:
        session = m.evolve_session(None, env.data, env.time)  # a second one breaks the table's key
        assert session is not None
        await repo.insert(conn, "sessions", rows.session_row(env.tenant, session))

    @h.on(s.SessionRescheduled, s.SessionCancelled, s.SessionLogged)
    async def session_changed(conn: Conn, env: Envelope[Any]) -> None:
        e: s.SessionRescheduled | s.SessionCancelled | s.SessionLogged = env.data
        await _evolve(
            conn,
            "sessions",
            (env.tenant, e.session_id),
            rows.session_of,
            lambda session: m.evolve_session(session, e, env.time),
            rows.session_row,
        )

    @h.on(s.FeedbackSubmitted)
    async def feedback(conn: Conn, env: Envelope[Any]) -> None:
        given = m.record(None, env.data, env.time, "feedback", env.id)
        await repo.insert(conn, "feedback", rows.feedback_row(env.tenant, given))

    return h
