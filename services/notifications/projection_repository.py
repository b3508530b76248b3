"""SQL of the notifications read model's writes: people, programmes, pairs, flags and sessions as the pairing
and sessions topics tell them (projection.py calls one function per event; each writes rows of its tenant only).
What the rules and the dispatcher read of these tables is in repository.py."""

from __future__ import annotations

from datetime import datetime

from shared.db import Conn
from shared.events import pairing as p
from shared.events import sessions as s

# --- programmes and recipients ------------------------------------------------------------------------------


async def programme_launched(conn: Conn, tenant: str, e: p.ProgramLaunched) -> None:
    await conn.execute(
        "INSERT INTO programmes (tenant, programme_id, name, cadence_days, hr_contact_email, hr_locale) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant, programme_id) DO UPDATE SET name = EXCLUDED.name, "
        "cadence_days = EXCLUDED.cadence_days, hr_contact_email = EXCLUDED.hr_contact_email, "
        "hr_locale = EXCLUDED.hr_locale",
        tenant,
        e.programme_id,
        e.name,
        e.cadence_days,
        e.hr_contact_email,
        e.hr_locale,
    )


async def programme_closed(conn: Conn, tenant: str, programme_id: str) -> None:
    await conn.execute(
        "UPDATE programmes SET closed = true WHERE tenant = $1 AND programme_id = $2", tenant, programme_id
    )


async def recipient(conn: Conn, tenant: str, e: p.ParticipantProfile) -> None:
    await conn.execute(
        "INSERT INTO recipients (tenant, participant_id, programme_id, role, display_name, email, locale, "
        "timezone, employee_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (tenant, participant_id) "
        "DO UPDATE SET display_name = EXCLUDED.display_name, email = EXCLUDED.email, locale = EXCLUDED.locale, "
        "timezone = EXCLUDED.timezone, employee_id = EXCLUDED.employee_id",
        tenant,
        e.participant_id,
        e.programme_id,
        e.role,
        e.display_name,
        str(e.email),
        e.locale,
        e.timezone,
        e.employee_id,
    )


async def recipient_withdrew(conn: Conn, tenant: str, participant_id: str, reason: str) -> None:
    await conn.execute(
        "UPDATE recipients SET withdrawn = true, withdrawn_reason = $3 WHERE tenant = $1 AND participant_id = $2",
        tenant,
        participant_id,
        reason,
    )


# --- pairs and flags ----------------------------------------------------------------------------------------


async def pair_created(conn: Conn, tenant: str, e: p.PairCreated, at: datetime) -> None:
    await conn.execute(
        "INSERT INTO pairs (tenant, pair_id, programme_id, mentor_id, mentee_id, state, rationale, created_at, "
        "updated_at, active_since, reasons, started_on) VALUES ($1, $2, $3, $4, $5, 'active', $6, $7, $7, $8, $9, $10) "
        "ON CONFLICT (tenant, pair_id) DO NOTHING",
        tenant,
        e.pair_id,
        e.programme_id,
        e.mentor_id,
        e.mentee_id,
        e.rationale,
        at,
        e.began(at),
        [r.model_dump() for r in e.reasons],
        e.started_on,
    )


async def pair_state(conn: Conn, tenant: str, pair_id: str, state: str, at: datetime) -> None:
    """A pair resumed after a pause is active again from then on (its quiet clock starts no earlier)."""
    await conn.execute(
        "UPDATE pairs SET state = $3, updated_at = $4, "
        "active_since = CASE WHEN $3 = 'active' AND state = 'paused' THEN $4 ELSE active_since END "
        "WHERE tenant = $1 AND pair_id = $2",
        tenant,
        pair_id,
        state,
        at,
    )


async def pair_end(conn: Conn, tenant: str, pair_id: str, reason: str, ended_by: str) -> None:
    await conn.execute(
        "UPDATE pairs SET end_reason = $3, ended_by = $4 WHERE tenant = $1 AND pair_id = $2",
        tenant,
        pair_id,
        reason,
        ended_by,
    )


async def flag(conn: Conn, tenant: str, e: p.PairFlagged, at: datetime) -> None:
    await conn.execute(
        "INSERT INTO flags (tenant, pair_id, programme_id, rule, detail, chain, since, directory_revision, action, "
        "flagged_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (tenant, pair_id) DO UPDATE SET "
        "rule = EXCLUDED.rule, detail = EXCLUDED.detail, chain = EXCLUDED.chain, since = EXCLUDED.since, "
        "directory_revision = EXCLUDED.directory_revision, action = EXCLUDED.action, "
        "flagged_at = EXCLUDED.flagged_at",
        tenant,
        e.pair_id,
        e.programme_id,
        e.rule,
        e.detail,
        e.chain,
        e.since,
        e.directory_revision,
        e.action,
        at,
    )


async def unflag(conn: Conn, tenant: str, pair_id: str) -> None:
    await conn.execute("DELETE FROM flags WHERE tenant = $1 AND pair_id = $2", tenant, pair_id)


# --- sessions -----------------------------------------------------------------------------------------------


async def session_scheduled(conn: Conn, tenant: str, e: s.SessionScheduled, at: datetime) -> None:
    await conn.execute(
        "INSERT INTO sessions (tenant, session_id, pair_id, programme_id, starts_at, duration_minutes, agenda, "
        "sequence, status, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'scheduled', $9) "
        "ON CONFLICT (tenant, session_id) DO NOTHING",
        tenant,
        e.session_id,
        e.pair_id,
        e.programme_id,
        e.starts_at,
        e.duration_minutes,
        e.agenda,
        e.sequence,
        at,
    )


async def session_rescheduled(conn: Conn, tenant: str, e: s.SessionRescheduled, at: datetime) -> bool:
    """False when the session is not known (yet)."""
    done = await conn.execute(
        "UPDATE sessions SET starts_at = $3, duration_minutes = $4, sequence = $5, updated_at = $6 "
        "WHERE tenant = $1 AND session_id = $2",
        tenant,
        e.session_id,
        e.starts_at,
        e.duration_minutes,
        e.sequence,
        at,
    )
    return bool(done != "UPDATE 0")


async def session_cancelled(conn: Conn, tenant: str, e: s.SessionCancelled, at: datetime) -> bool:
    """False when the session is not known (yet)."""
    done = await conn.execute(
        "UPDATE sessions SET status = 'cancelled', reason = $3, sequence = $4, updated_at = $5 "
        "WHERE tenant = $1 AND session_id = $2",
        tenant,
        e.session_id,
        e.reason,
        e.sequence,
        at,
    )
    return bool(done != "UPDATE 0")


async def session_held(conn: Conn, tenant: str, e: s.SessionLogged, at: datetime) -> bool:
    """False when the session is not known (yet)."""
    done = await conn.execute(
        "UPDATE sessions SET status = 'held', held_at = $3, updated_at = $4 WHERE tenant = $1 AND session_id = $2",
        tenant,
        e.session_id,
        e.held_at,
        at,
    )
    return bool(done != "UPDATE 0")


# --- feedback given -------------------------------------------------------------------------------------------


async def feedback_given(conn: Conn, tenant: str, e: s.FeedbackSubmitted) -> None:
    """The author answered for the session (a feedback at the programme's end, with no session, is not kept)."""
    if e.session_id is None:
        return
    await conn.execute(
        "INSERT INTO feedback_given (tenant, session_id, author_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        tenant,
        e.session_id,
        e.author_id,
    )
