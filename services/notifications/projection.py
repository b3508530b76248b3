"""What notifications consumes: a projection of people, programmes, pairs and sessions (replayable),
and the rules that plan notifications (side effects, never replayed).

Everything is per tenant: a handler writes and reads only rows of its event's tenant (`env.tenant`), and the
rules plan within it, so one tenant's events never reach another tenant's people, whatever ids they share.
Planning only writes rows keyed by the deterministic notification id: a redelivered event plans nothing new.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.notifications.domain import model
from shared.consumer import Handlers, WaitFor
from shared.db import Conn
from shared.events import Envelope
from shared.events import pairing as p
from shared.events import sessions as s
from shared.runtime import ServiceHost

REMINDERS = ("reminder_24h", "reminder_1h")


async def store(conn: Conn, planned: list[model.Planned]) -> None:
    """Plan these notifications (all of one tenant), but none to someone who left the company, and for an
    ended pair only what still goes out after the end (model.AFTER_END)."""
    if not planned:
        return
    tenant = planned[0].tenant
    if any(n.tenant != tenant for n in planned):
        raise ValueError("notifications of several tenants planned together")
    left = await leavers(conn, tenant, {n.recipient_id for n in planned})
    state = await conn.fetchval("SELECT state FROM pairs WHERE tenant = $1 AND pair_id = $2", tenant,
                                planned[0].pair_id)  # fmt: skip
    planned = [n for n in planned if n.recipient_id not in left and (state != "ended" or n.rule in model.AFTER_END)]
    if not planned:
        return
    await conn.executemany(
        "INSERT INTO notifications (tenant, notification_id, rule, recipient_id, trigger, pair_id, programme_id, "
        "session_id, due_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) "
        "ON CONFLICT (tenant, notification_id) DO NOTHING",
        [(n.tenant, n.notification_id, n.rule, n.recipient_id, n.trigger, n.pair_id, n.programme_id, n.session_id,
          n.due_at) for n in planned],
    )  # fmt: skip


async def cancel(conn: Conn, tenant: str, note: str, *, session_id: str | None = None, pair_id: str | None = None,
                 rules: tuple[str, ...] | None = None, recipient_id: str | None = None) -> None:  # fmt: skip
    """Cancel the tenant's planned notifications that match every criterion given."""
    where: list[str] = ["tenant = $2", "status = 'planned'"]
    args: list[object] = [note, tenant]
    if recipient_id is not None:
        args.append(recipient_id)
        where.append(f"recipient_id = ${len(args)}")
    if session_id is not None:
        args.append(session_id)
        where.append(f"session_id = ${len(args)}")
    if pair_id is not None:
        args.append(pair_id)
        where.append(f"pair_id = ${len(args)}")
    if rules is not None:
        args.append(list(rules))
        where.append(f"rule = ANY(${len(args)}::text[])")
    await conn.execute(
        f"UPDATE notifications SET status = 'cancelled', note = $1, updated_at = now() WHERE {' AND '.join(where)}",
        *args,
    )


async def leavers(conn: Conn, tenant: str, ids: set[str]) -> frozenset[str]:
    """Those of `ids` (the tenant's) known to have left the company."""
    rows = await conn.fetch(
        "SELECT participant_id FROM recipients WHERE tenant = $1 AND participant_id = ANY($2::text[]) "
        "AND withdrawn_reason = 'left_company'",
        tenant, list(ids),
    )  # fmt: skip
    return frozenset(r["participant_id"] for r in rows)


async def members(conn: Conn, tenant: str, pair_id: str) -> tuple[str, str]:
    row = await conn.fetchrow("SELECT mentor_id, mentee_id FROM pairs WHERE tenant = $1 AND pair_id = $2",
                              tenant, pair_id)  # fmt: skip
    if row is None:  # the pair's PairCreated (other topic) is not applied yet: park the event until it is
        raise WaitFor(pair_id, f"pair {pair_id} not known yet")
    return row["mentor_id"], row["mentee_id"]


def build_handlers(host: ServiceHost | None = None) -> Handlers:
    h = Handlers()

    # --- projection (replayable) -----------------------------------------------------------------

    @h.on(p.ProgramLaunched)
    async def programme(conn: Conn, env: Envelope[Any]) -> None:
        e: p.ProgramLaunched = env.data
        await conn.execute(
            "INSERT INTO programmes (tenant, programme_id, name, cadence_days, hr_contact_email) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant, programme_id) DO UPDATE SET name = EXCLUDED.name, "
            "cadence_days = EXCLUDED.cadence_days, hr_contact_email = EXCLUDED.hr_contact_email",
            env.tenant, e.programme_id, e.name, e.cadence_days, e.hr_contact_email,
        )  # fmt: skip

    @h.on(p.ProgramClosed)
    async def closed(conn: Conn, env: Envelope[Any]) -> None:
        await conn.execute("UPDATE programmes SET closed = true WHERE tenant = $1 AND programme_id = $2",
                           env.tenant, env.data.programme_id)  # fmt: skip

    @h.on(p.ParticipantEnrolled, p.ParticipantUpdated)
    async def recipient(conn: Conn, env: Envelope[Any]) -> None:
        e: p.ParticipantProfile = env.data
        await conn.execute(
            "INSERT INTO recipients (tenant, participant_id, programme_id, role, display_name, email, locale, "
            "timezone, employee_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (tenant, participant_id) "
            "DO UPDATE SET display_name = EXCLUDED.display_name, email = EXCLUDED.email, locale = EXCLUDED.locale, "
            "timezone = EXCLUDED.timezone, employee_id = EXCLUDED.employee_id",
            env.tenant, e.participant_id, e.programme_id, e.role, e.display_name, str(e.email), e.locale, e.timezone,
            e.employee_id,
        )  # fmt: skip

    @h.on(p.ParticipantWithdrew)
    async def withdrew(conn: Conn, env: Envelope[Any]) -> None:
        await conn.execute("UPDATE recipients SET withdrawn = true, withdrawn_reason = $3 "
                           "WHERE tenant = $1 AND participant_id = $2",
                           env.tenant, env.data.participant_id, env.data.reason)  # fmt: skip

    @h.on(p.PairCreated)
    async def pair(conn: Conn, env: Envelope[Any]) -> None:
        e: p.PairCreated = env.data
        await conn.execute(
            "INSERT INTO pairs (tenant, pair_id, programme_id, mentor_id, mentee_id, state, rationale, created_at, "
            "updated_at) VALUES ($1, $2, $3, $4, $5, 'active', $6, $7, $7) ON CONFLICT (tenant, pair_id) DO NOTHING",
            env.tenant, e.pair_id, e.programme_id, e.mentor_id, e.mentee_id, e.rationale, env.time,
        )  # fmt: skip

    @h.on(p.PairPaused, p.PairResumed, p.PairEnded)
    async def pair_state(conn: Conn, env: Envelope[Any]) -> None:
        state = {p.PairPaused.TYPE: "paused", p.PairResumed.TYPE: "active", p.PairEnded.TYPE: "ended"}[env.type]
        await conn.execute("UPDATE pairs SET state = $3, updated_at = $4 WHERE tenant = $1 AND pair_id = $2",
                           env.tenant, env.data.pair_id, state, env.time)  # fmt: skip

    @h.on(p.PairEnded)
    async def pair_end(conn: Conn, env: Envelope[Any]) -> None:
        await conn.execute("UPDATE pairs SET end_reason = $3, ended_by = $4 WHERE tenant = $1 AND pair_id = $2",
                           env.tenant, env.data.pair_id, env.data.reason, env.id)  # fmt: skip

    @h.on(p.PairFlagged)
    async def flagged(conn: Conn, env: Envelope[Any]) -> None:
        e: p.PairFlagged = env.data
        await conn.execute(
            "INSERT INTO flags (tenant, pair_id, programme_id, rule, detail, chain, since, directory_revision, action, "
            "flagged_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (tenant, pair_id) DO UPDATE SET "
            "rule = EXCLUDED.rule, detail = EXCLUDED.detail, chain = EXCLUDED.chain, since = EXCLUDED.since, "
            "directory_revision = EXCLUDED.directory_revision, action = EXCLUDED.action, "
            "flagged_at = EXCLUDED.flagged_at",
            env.tenant, e.pair_id, e.programme_id, e.rule, e.detail, e.chain, e.since, e.directory_revision, e.action,
            env.time,
        )  # fmt: skip

    @h.on(p.PairFlagResolved)
    async def flag_resolved(conn: Conn, env: Envelope[Any]) -> None:
        await conn.execute("DELETE FROM flags WHERE tenant = $1 AND pair_id = $2", env.tenant, env.data.pair_id)

    @h.on(s.SessionScheduled)
    async def session(conn: Conn, env: Envelope[Any]) -> None:
        e: s.SessionScheduled = env.data
        await conn.execute(
            "INSERT INTO sessions (tenant, session_id, pair_id, programme_id, starts_at, duration_minutes, agenda, "
            "sequence, status, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'scheduled', $9) "
            "ON CONFLICT (tenant, session_id) DO NOTHING",
            env.tenant, e.session_id, e.pair_id, e.programme_id, e.starts_at, e.duration_minutes, e.agenda, e.sequence,
            env.time,
        )  # fmt: skip

    @h.on(s.SessionRescheduled)
    async def session_moved(conn: Conn, env: Envelope[Any]) -> None:
        e: s.SessionRescheduled = env.data
        await conn.execute(
            "UPDATE sessions SET starts_at = $3, duration_minutes = $4, sequence = $5, updated_at = $6 "
            "WHERE tenant = $1 AND session_id = $2",
            env.tenant, e.session_id, e.starts_at, e.duration_minutes, e.sequence, env.time,
        )  # fmt: skip

    @h.on(s.SessionCancelled)
    async def session_cancelled(conn: Conn, env: Envelope[Any]) -> None:
        e: s.SessionCancelled = env.data
        await conn.execute(
            "UPDATE sessions SET status = 'cancelled', reason = $3, sequence = $4, updated_at = $5 "
            "WHERE tenant = $1 AND session_id = $2",
            env.tenant, e.session_id, e.reason, e.sequence, env.time,
        )  # fmt: skip

    @h.on(s.SessionLogged)
    async def session_held(conn: Conn, env: Envelope[Any]) -> None:
        e: s.SessionLogged = env.data
        await conn.execute("UPDATE sessions SET status = 'held', held_at = $3, updated_at = $4 "
                           "WHERE tenant = $1 AND session_id = $2",
                           env.tenant, e.session_id, e.held_at, env.time)  # fmt: skip

    # --- rules (side effects: plan notifications; never replayed) ---------------------------------

    @h.on(p.PairCreated, side_effects=True)
    async def welcome(conn: Conn, env: Envelope[Any]) -> None:
        e: p.PairCreated = env.data
        await store(conn, model.plan("welcome", env.id, (e.mentor_id, e.mentee_id), env.time, tenant=env.tenant,
                                     pair_id=e.pair_id, programme_id=e.programme_id))  # fmt: skip

    @h.on(s.SessionScheduled, side_effects=True)
    async def remind(conn: Conn, env: Envelope[Any]) -> None:
        e: s.SessionScheduled = env.data
        who = await members(conn, env.tenant, e.pair_id)
        await store(conn, model.reminders(env.id, e.session_id, e.pair_id, e.programme_id, who, e.starts_at,
                                          datetime.now(UTC), tenant=env.tenant))  # fmt: skip

    @h.on(s.SessionRescheduled, side_effects=True)
    async def re_remind(conn: Conn, env: Envelope[Any]) -> None:
        e: s.SessionRescheduled = env.data
        await cancel(conn, env.tenant, "session rescheduled", session_id=e.session_id, rules=REMINDERS)
        who = await members(conn, env.tenant, e.pair_id)
        await store(conn, model.reminders(env.id, e.session_id, e.pair_id, e.programme_id, who, e.starts_at,
                                          datetime.now(UTC), tenant=env.tenant))  # fmt: skip

    @h.on(s.SessionCancelled, side_effects=True)
    async def call_off(conn: Conn, env: Envelope[Any]) -> None:
        e: s.SessionCancelled = env.data
        await cancel(conn, env.tenant, "session cancelled", session_id=e.session_id, rules=REMINDERS)
        who = await members(conn, env.tenant, e.pair_id)
        await store(conn, model.plan("session_cancelled", env.id, who, env.time, tenant=env.tenant, pair_id=e.pair_id,
                                     programme_id=e.programme_id, session_id=e.session_id))  # fmt: skip

    @h.on(s.SessionLogged, side_effects=True)
    async def ask_feedback(conn: Conn, env: Envelope[Any]) -> None:
        e: s.SessionLogged = env.data
        await cancel(conn, env.tenant, "session held", session_id=e.session_id, rules=REMINDERS)
        who = await members(conn, env.tenant, e.pair_id)
        await store(conn, model.plan("feedback_request", env.id, who, env.time, tenant=env.tenant, pair_id=e.pair_id,
                                     programme_id=e.programme_id, session_id=e.session_id))  # fmt: skip

    @h.on(p.PairEnded, side_effects=True)
    async def farewell(conn: Conn, env: Envelope[Any]) -> None:
        e: p.PairEnded = env.data
        await cancel(conn, env.tenant, "pair ended", pair_id=e.pair_id, rules=DROPPED_AT_END)
        who = await members(conn, env.tenant, e.pair_id)
        await store(conn, model.farewell(env.id, e.pair_id, e.programme_id, who, e.reason,
                                         await leavers(conn, env.tenant, set(who)), env.time,
                                         tenant=env.tenant))  # fmt: skip

    @h.on(p.PairPaused, side_effects=True)
    async def hush(conn: Conn, env: Envelope[Any]) -> None:
        await cancel(conn, env.tenant, "pair paused", pair_id=env.data.pair_id, rules=tuple(model.NOT_WHILE_PAUSED))

    @h.on(p.ParticipantWithdrew, side_effects=True)
    async def left_company(conn: Conn, env: Envelope[Any]) -> None:
        """Nothing more goes to someone who left the company; the partner of each pair that ended because they
        left hears of it (unless the PairEnded came first and planned it already: the same notification)."""
        e: p.ParticipantWithdrew = env.data
        if e.reason != "left_company":
            return
        await cancel(conn, env.tenant, "the recipient left the company", recipient_id=e.participant_id)
        for pair in await conn.fetch(
            "SELECT * FROM pairs WHERE tenant = $1 AND $2 IN (mentor_id, mentee_id) AND state = 'ended' "
            "AND end_reason = 'left_company' AND ended_by IS NOT NULL",
            env.tenant, e.participant_id,
        ):  # fmt: skip
            who = (pair["mentor_id"], pair["mentee_id"])
            await store(conn, model.farewell(pair["ended_by"], pair["pair_id"], pair["programme_id"], who,
                                             "left_company", await leavers(conn, env.tenant, set(who)), env.time,
                                             tenant=env.tenant))  # fmt: skip

    return h


#: What the end of a pair cancels of what it had planned (a cancellation or farewell planned already stays).
DROPPED_AT_END = tuple(r for r in model.RULES if r not in model.AFTER_END)
