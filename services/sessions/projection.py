"""The sessions read model, built from the pairing and sessions topics.

Each handler writes only its own rows and uses only the event (its payload and its time), so the
tables are the same whatever the interleaving of the two topics: replay rebuilds them identically.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from services.sessions import pair_ended
from shared.consumer import Handlers
from shared.db import Conn
from shared.events import Envelope
from shared.events import pairing as p
from shared.events import sessions as s
from shared.runtime import ServiceHost


def began(e: p.PairCreated, env: Envelope[Any]) -> datetime:
    """When the pair began: the day it says it started on (a programme moved in), else its creation."""
    if e.started_on is not None:
        return min(env.time, datetime.combine(e.started_on, time(9, 0), tzinfo=UTC))
    return env.time


PAIR_STATE = {p.PairPaused.TYPE: "paused", p.PairResumed.TYPE: "resumed", p.PairEnded.TYPE: "ended"}


def build_handlers(host: ServiceHost | None = None) -> Handlers:
    h = Handlers()

    @h.on(p.ProgramLaunched)
    async def programme(conn: Conn, env: Envelope[Any]) -> None:
        e: p.ProgramLaunched = env.data
        await conn.execute(
            "INSERT INTO programmes (programme_id, name, starts_on, ends_on, cadence_days, focus_topics) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (programme_id) DO UPDATE SET name = EXCLUDED.name, "
            "starts_on = EXCLUDED.starts_on, ends_on = EXCLUDED.ends_on, cadence_days = EXCLUDED.cadence_days, "
            "focus_topics = EXCLUDED.focus_topics",
            e.programme_id, e.name, e.starts_on, e.ends_on, e.cadence_days, e.focus_topics,
        )  # fmt: skip

    @h.on(p.ProgramClosed)
    async def programme_closed(conn: Conn, env: Envelope[Any]) -> None:
        await conn.execute("UPDATE programmes SET closed = true WHERE programme_id = $1", env.data.programme_id)

    @h.on(p.ParticipantEnrolled, p.ParticipantUpdated)
    async def participant(conn: Conn, env: Envelope[Any]) -> None:
        e: p.ParticipantProfile = env.data
        await conn.execute(
            "INSERT INTO participants (participant_id, programme_id, role, display_name, email, employee_id) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (participant_id) DO UPDATE SET "
            "display_name = EXCLUDED.display_name, email = EXCLUDED.email, employee_id = EXCLUDED.employee_id",
            e.participant_id, e.programme_id, e.role, e.display_name, str(e.email), e.employee_id,
        )  # fmt: skip

    @h.on(p.ParticipantWithdrew)
    async def withdrew(conn: Conn, env: Envelope[Any]) -> None:
        await conn.execute(
            "UPDATE participants SET withdrawn = true WHERE participant_id = $1", env.data.participant_id
        )

    @h.on(p.PairCreated)
    async def pair_created(conn: Conn, env: Envelope[Any]) -> None:
        e: p.PairCreated = env.data
        await conn.execute(
            "INSERT INTO pairs (pair_id, programme_id, mentor_id, mentee_id, state, created_at, updated_at) "
            "VALUES ($1, $2, $3, $4, 'active', $5, $5) ON CONFLICT (pair_id) DO NOTHING",
            e.pair_id, e.programme_id, e.mentor_id, e.mentee_id, began(e, env),
        )  # fmt: skip

    @h.on(p.PairPaused, p.PairResumed, p.PairEnded)
    async def pair_changed(conn: Conn, env: Envelope[Any]) -> None:
        kind = PAIR_STATE[env.type]
        await conn.execute(
            "UPDATE pairs SET state = $2, updated_at = $3 WHERE pair_id = $1",
            env.data.pair_id, "active" if kind == "resumed" else kind, env.time,
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO pair_changes (event_id, pair_id, at, kind) VALUES ($1, $2, $3, $4)",
            env.id, env.data.pair_id, env.time, kind,
        )  # fmt: skip

    # after pair_changed, so that the pair is ended when its sessions are called off
    h.include(pair_ended.build_handlers(host))

    @h.on(s.AgreementConfirmed)
    async def agreement(conn: Conn, env: Envelope[Any]) -> None:
        e: s.AgreementConfirmed = env.data
        await conn.execute(
            "INSERT INTO agreements VALUES ($1, $2, $3, $4, $5, $6, $7)",
            e.pair_id, e.participant_id, e.role, e.meeting_rhythm, e.confidentiality, e.learning_focus, env.time,
        )  # fmt: skip

    @h.on(s.GoalSet)
    async def goal_set(conn: Conn, env: Envelope[Any]) -> None:
        e: s.GoalSet = env.data
        await conn.execute(
            "INSERT INTO goals (goal_id, pair_id, programme_id, topic, description, set_at) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (goal_id) DO UPDATE SET topic = EXCLUDED.topic, "
            "description = EXCLUDED.description, set_at = EXCLUDED.set_at",
            e.goal_id, e.pair_id, e.programme_id, e.topic, e.description, env.time,
        )  # fmt: skip

    @h.on(s.GoalAchieved)
    async def goal_achieved(conn: Conn, env: Envelope[Any]) -> None:
        e: s.GoalAchieved = env.data
        # the goal's row may not exist yet only if the two events were reordered, which one partition prevents
        await conn.execute("UPDATE goals SET achieved_at = $2 WHERE goal_id = $1", e.goal_id, env.time)

    @h.on(s.ConfidenceRated)
    async def confidence(conn: Conn, env: Envelope[Any]) -> None:
        e: s.ConfidenceRated = env.data
        await conn.execute(
            "INSERT INTO confidence VALUES ($1, $2, $3, $4, $5, $6)",
            e.pair_id, e.programme_id, e.participant_id, e.phase, e.ratings, env.time,
        )  # fmt: skip

    @h.on(s.SessionScheduled)
    async def scheduled(conn: Conn, env: Envelope[Any]) -> None:
        e: s.SessionScheduled = env.data
        await conn.execute(
            "INSERT INTO sessions (session_id, pair_id, programme_id, starts_at, duration_minutes, agenda, sequence, "
            "status, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'scheduled', $8)",
            e.session_id, e.pair_id, e.programme_id, e.starts_at, e.duration_minutes, e.agenda, e.sequence, env.time,
        )  # fmt: skip

    @h.on(s.SessionRescheduled)
    async def rescheduled(conn: Conn, env: Envelope[Any]) -> None:
        e: s.SessionRescheduled = env.data
        await conn.execute(
            "UPDATE sessions SET starts_at = $2, duration_minutes = $3, sequence = $4, updated_at = $5 "
            "WHERE session_id = $1",
            e.session_id, e.starts_at, e.duration_minutes, e.sequence, env.time,
        )  # fmt: skip

    @h.on(s.SessionCancelled)
    async def cancelled(conn: Conn, env: Envelope[Any]) -> None:
        e: s.SessionCancelled = env.data
        await conn.execute(
            "UPDATE sessions SET status = 'cancelled', cancel_reason = $2, sequence = $3, updated_at = $4 "
            "WHERE session_id = $1",
            e.session_id, e.reason, e.sequence, env.time,
        )  # fmt: skip

    @h.on(s.SessionLogged)
    async def logged(conn: Conn, env: Envelope[Any]) -> None:
        e: s.SessionLogged = env.data
        await conn.execute(
            "UPDATE sessions SET status = 'held', held_at = $2, minutes = $3, topics = $4, tools = $5, "
            "action_items = $6, updated_at = $7 WHERE session_id = $1",
            e.session_id, e.held_at, e.minutes, e.topics, e.tools, e.action_items, env.time,
        )  # fmt: skip

    @h.on(s.FeedbackSubmitted)
    async def feedback(conn: Conn, env: Envelope[Any]) -> None:
        e: s.FeedbackSubmitted = env.data
        await conn.execute(
            "INSERT INTO feedback VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
            e.feedback_id, e.pair_id, e.programme_id, e.session_id, e.author_id, e.author_role, e.rating,
            e.productivity_gain, e.minutes_saved_per_day, e.new_business_opportunity, e.opportunity_text,
            e.team_productivity_gain, e.career_benefit, e.confidential_comment, env.time,
        )  # fmt: skip

    from services.sessions.bulk import SessionsBulk
    from services.sessions.learning import build_learning_handlers

    h.include(build_learning_handlers(host))

    h.bulk = SessionsBulk
    return h
