"""The sessions read model, built from the pairing and sessions topics.

Each handler writes only its own rows and uses only the event (its payload, its time and its tenant), so
the tables are the same whatever the interleaving of the two topics: replay rebuilds them identically.
Every row names the event's tenant and every key is per tenant: the same id in two tenants is two things.
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


#: The columns of a feedback row that come from the event as they are (then `submitted_at`, its time).
FEEDBACK_FIELDS = (
    "feedback_id", "pair_id", "programme_id", "session_id", "author_id", "author_role", "rating", "productivity_gain",
    "minutes_saved_per_day", "new_business_opportunity", "opportunity_text", "team_productivity_gain",
    "career_benefit", "confidential_comment",
)  # fmt: skip

PAIR_STATE = {p.PairPaused.TYPE: "paused", p.PairResumed.TYPE: "resumed", p.PairEnded.TYPE: "ended"}


def build_handlers(host: ServiceHost | None = None) -> Handlers:
    h = Handlers()

    @h.on(p.ProgramLaunched)
    async def programme(conn: Conn, env: Envelope[Any]) -> None:
        e: p.ProgramLaunched = env.data
        await conn.execute(
            "INSERT INTO programmes (tenant, programme_id, name, starts_on, ends_on, cadence_days, focus_topics, "
            "min_group_size) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (tenant, programme_id) DO UPDATE "
            "SET name = EXCLUDED.name, starts_on = EXCLUDED.starts_on, ends_on = EXCLUDED.ends_on, "
            "cadence_days = EXCLUDED.cadence_days, focus_topics = EXCLUDED.focus_topics, "
            "min_group_size = EXCLUDED.min_group_size",
            env.tenant, e.programme_id, e.name, e.starts_on, e.ends_on, e.cadence_days, e.focus_topics,
            e.min_group_size,
        )  # fmt: skip

    @h.on(p.ProgramClosed)
    async def programme_closed(conn: Conn, env: Envelope[Any]) -> None:
        await conn.execute(
            "UPDATE programmes SET closed = true WHERE tenant = $1 AND programme_id = $2", env.tenant,
            env.data.programme_id,
        )  # fmt: skip

    @h.on(p.ParticipantEnrolled, p.ParticipantUpdated)
    async def participant(conn: Conn, env: Envelope[Any]) -> None:
        e: p.ParticipantProfile = env.data
        await conn.execute(
            "INSERT INTO participants (tenant, participant_id, programme_id, role, display_name, email, employee_id) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant, participant_id) DO UPDATE SET "
            "display_name = EXCLUDED.display_name, email = EXCLUDED.email, employee_id = EXCLUDED.employee_id",
            env.tenant, e.participant_id, e.programme_id, e.role, e.display_name, str(e.email), e.employee_id,
        )  # fmt: skip

    @h.on(p.ParticipantWithdrew)
    async def withdrew(conn: Conn, env: Envelope[Any]) -> None:
        await conn.execute(
            "UPDATE participants SET withdrawn = true WHERE tenant = $1 AND participant_id = $2",
            env.tenant, env.data.participant_id,
        )  # fmt: skip

    @h.on(p.PairCreated)
    async def pair_created(conn: Conn, env: Envelope[Any]) -> None:
        e: p.PairCreated = env.data
        await conn.execute(
            "INSERT INTO pairs (tenant, pair_id, programme_id, mentor_id, mentee_id, state, created_at, updated_at) "
            "VALUES ($1, $2, $3, $4, $5, 'active', $6, $6) ON CONFLICT (tenant, pair_id) DO NOTHING",
            env.tenant, e.pair_id, e.programme_id, e.mentor_id, e.mentee_id, began(e, env),
        )  # fmt: skip

    @h.on(p.PairPaused, p.PairResumed, p.PairEnded)
    async def pair_changed(conn: Conn, env: Envelope[Any]) -> None:
        kind = PAIR_STATE[env.type]
        await conn.execute(
            "UPDATE pairs SET state = $3, updated_at = $4 WHERE tenant = $1 AND pair_id = $2",
            env.tenant, env.data.pair_id, "active" if kind == "resumed" else kind, env.time,
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO pair_changes (tenant, event_id, pair_id, at, kind) VALUES ($1, $2, $3, $4, $5)",
            env.tenant, env.id, env.data.pair_id, env.time, kind,
        )  # fmt: skip

    # after pair_changed, so that the pair is ended when its sessions are called off
    h.include(pair_ended.build_handlers(host))

    @h.on(s.AgreementConfirmed)
    async def agreement(conn: Conn, env: Envelope[Any]) -> None:
        e: s.AgreementConfirmed = env.data
        await conn.execute(
            "INSERT INTO agreements (tenant, pair_id, participant_id, role, meeting_rhythm, confidentiality, "
            "learning_focus, confirmed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            env.tenant, e.pair_id, e.participant_id, e.role, e.meeting_rhythm, e.confidentiality, e.learning_focus,
            env.time,
        )  # fmt: skip

    @h.on(s.GoalSet)
    async def goal_set(conn: Conn, env: Envelope[Any]) -> None:
        e: s.GoalSet = env.data
        await conn.execute(
            "INSERT INTO goals (tenant, goal_id, pair_id, programme_id, topic, description, set_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant, goal_id) DO UPDATE SET topic = EXCLUDED.topic, "
            "description = EXCLUDED.description, set_at = EXCLUDED.set_at",
            env.tenant, e.goal_id, e.pair_id, e.programme_id, e.topic, e.description, env.time,
        )  # fmt: skip

    @h.on(s.GoalAchieved)
    async def goal_achieved(conn: Conn, env: Envelope[Any]) -> None:
        e: s.GoalAchieved = env.data
        # the goal's row may not exist yet only if the two events were reordered, which one partition prevents
        await conn.execute(
            "UPDATE goals SET achieved_at = $3 WHERE tenant = $1 AND goal_id = $2", env.tenant, e.goal_id, env.time
        )

    @h.on(s.ConfidenceRated)
    async def confidence(conn: Conn, env: Envelope[Any]) -> None:
        e: s.ConfidenceRated = env.data
        await conn.execute(
            "INSERT INTO confidence (tenant, pair_id, programme_id, participant_id, phase, ratings, rated_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7)",
            env.tenant, e.pair_id, e.programme_id, e.participant_id, e.phase, e.ratings, env.time,
        )  # fmt: skip

    @h.on(s.SessionScheduled)
    async def scheduled(conn: Conn, env: Envelope[Any]) -> None:
        e: s.SessionScheduled = env.data
        await conn.execute(
            "INSERT INTO sessions (tenant, session_id, pair_id, programme_id, starts_at, duration_minutes, agenda, "
            "sequence, status, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'scheduled', $9)",
            env.tenant, e.session_id, e.pair_id, e.programme_id, e.starts_at, e.duration_minutes, e.agenda,
            e.sequence, env.time,
        )  # fmt: skip

    @h.on(s.SessionRescheduled)
    async def rescheduled(conn: Conn, env: Envelope[Any]) -> None:
        e: s.SessionRescheduled = env.data
        await conn.execute(
            "UPDATE sessions SET starts_at = $3, duration_minutes = $4, sequence = $5, updated_at = $6 "
            "WHERE tenant = $1 AND session_id = $2",
            env.tenant, e.session_id, e.starts_at, e.duration_minutes, e.sequence, env.time,
        )  # fmt: skip

    @h.on(s.SessionCancelled)
    async def cancelled(conn: Conn, env: Envelope[Any]) -> None:
        e: s.SessionCancelled = env.data
        await conn.execute(
            "UPDATE sessions SET status = 'cancelled', cancel_reason = $3, sequence = $4, updated_at = $5 "
            "WHERE tenant = $1 AND session_id = $2",
            env.tenant, e.session_id, e.reason, e.sequence, env.time,
        )  # fmt: skip

    @h.on(s.SessionLogged)
    async def logged(conn: Conn, env: Envelope[Any]) -> None:
        e: s.SessionLogged = env.data
        await conn.execute(
            "UPDATE sessions SET status = 'held', held_at = $3, minutes = $4, topics = $5, tools = $6, "
            "action_items = $7, updated_at = $8 WHERE tenant = $1 AND session_id = $2",
            env.tenant, e.session_id, e.held_at, e.minutes, e.topics, e.tools, e.action_items, env.time,
        )  # fmt: skip

    @h.on(s.FeedbackSubmitted)
    async def feedback(conn: Conn, env: Envelope[Any]) -> None:
        e: s.FeedbackSubmitted = env.data
        await conn.execute(
            f"INSERT INTO feedback (tenant, {', '.join(FEEDBACK_FIELDS)}, submitted_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
            env.tenant, *(getattr(e, f) for f in FEEDBACK_FIELDS), env.time,
        )  # fmt: skip

    from services.sessions.bulk import SessionsBulk
    from services.sessions.learning import build_learning_handlers

    h.include(build_learning_handlers(host))

    h.bulk = SessionsBulk
    return h
