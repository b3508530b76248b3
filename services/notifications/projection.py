"""What notifications consumes: a projection of people, programmes, pairs and sessions (replayable),
and the rules that plan notifications (side effects, never replayed).

Everything is per tenant: a handler writes and reads only rows of its event's tenant (`env.tenant`), and the
rules plan within it, so one tenant's events never reach another tenant's people, whatever ids they share.
Planning only writes rows keyed by the deterministic notification id: a redelivered event plans nothing new.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from services.notifications import projection_repository as projection_repo
from services.notifications import repository as repo
from services.notifications.domain import model
from shared.config import ConfigError
from shared.consumer import Handlers, WaitFor
from shared.db import Conn
from shared.events import Envelope
from shared.events import pairing as p
from shared.events import sessions as s
from shared.runtime import ServiceHost

REMINDERS = ("reminder_24h", "reminder_1h")
#: How long after a session is logged its feedback request goes out (NOTIFICATIONS_FEEDBACK_GRACE_SECONDS): who logs
#: it in the portal mostly answers right away, and is not asked again (the answer cancels the request).
FEEDBACK_GRACE = timedelta(minutes=10)


def feedback_grace(extra: Mapping[str, str]) -> timedelta:
    raw = extra.get("FEEDBACK_GRACE_SECONDS")
    if raw is None or raw == "":
        return FEEDBACK_GRACE
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 7 * 24 * 3600:
        raise ConfigError(f"NOTIFICATIONS_FEEDBACK_GRACE_SECONDS must be 0 to 604800 seconds (got {raw!r})")
    return timedelta(seconds=seconds)


async def store(conn: Conn, planned: list[model.Planned]) -> None:
    """Plan these notifications (all of one tenant), but none to someone who left the company, and for an
    ended pair only what still goes out after the end (model.still_planned)."""
    if not planned:
        return
    tenant = planned[0].tenant
    if any(n.tenant != tenant for n in planned):
        raise ValueError("notifications of several tenants planned together")
    left = await repo.leavers(conn, tenant, {n.recipient_id for n in planned})
    planned = model.still_planned(planned, left, await repo.pair_state(conn, tenant, planned[0].pair_id))
    if planned:
        await repo.plan(conn, planned)


async def members(conn: Conn, tenant: str, pair_id: str) -> tuple[str, str]:
    found = await repo.members(conn, tenant, pair_id)
    if found is None:  # the pair's PairCreated (other topic) is not applied yet: park the event until it is
        raise WaitFor(pair_id, f"pair {pair_id} not known yet")
    return found


def build_handlers(host: ServiceHost | None = None) -> Handlers:
    h = Handlers()
    grace = feedback_grace(host.settings.extra) if host is not None else FEEDBACK_GRACE

    # --- projection (replayable; the SQL is in projection_repository.py) -------------------------------

    @h.on(p.ProgramLaunched)
    async def programme(conn: Conn, env: Envelope[Any]) -> None:
        await projection_repo.programme_launched(conn, env.tenant, env.data)

    @h.on(p.ProgramClosed)
    async def closed(conn: Conn, env: Envelope[Any]) -> None:
        await projection_repo.programme_closed(conn, env.tenant, env.data.programme_id)

    @h.on(p.ParticipantEnrolled, p.ParticipantUpdated)
    async def recipient(conn: Conn, env: Envelope[Any]) -> None:
        await projection_repo.recipient(conn, env.tenant, env.data)

    @h.on(p.ParticipantWithdrew)
    async def withdrew(conn: Conn, env: Envelope[Any]) -> None:
        await projection_repo.recipient_withdrew(conn, env.tenant, env.data.participant_id, env.data.reason)

    @h.on(p.PairCreated)
    async def pair(conn: Conn, env: Envelope[Any]) -> None:
        await projection_repo.pair_created(conn, env.tenant, env.data, env.time)

    @h.on(p.PairPaused, p.PairResumed, p.PairEnded)
    async def pair_state(conn: Conn, env: Envelope[Any]) -> None:
        state = {p.PairPaused.TYPE: "paused", p.PairResumed.TYPE: "active", p.PairEnded.TYPE: "ended"}[env.type]
        await projection_repo.pair_state(conn, env.tenant, env.data.pair_id, state, env.time)

    @h.on(p.PairEnded)
    async def pair_end(conn: Conn, env: Envelope[Any]) -> None:
        await projection_repo.pair_end(conn, env.tenant, env.data.pair_id, env.data.reason, env.id)

    @h.on(p.PairFlagged)
    async def flagged(conn: Conn, env: Envelope[Any]) -> None:
        await projection_repo.flag(conn, env.tenant, env.data, env.time)

    @h.on(p.PairFlagResolved)
    async def flag_resolved(conn: Conn, env: Envelope[Any]) -> None:
        await projection_repo.unflag(conn, env.tenant, env.data.pair_id)

    @h.on(s.SessionScheduled)
    async def session(conn: Conn, env: Envelope[Any]) -> None:
        await projection_repo.session_scheduled(conn, env.tenant, env.data, env.time)

    # A session's later events come after its SessionScheduled on the same topic and key; only a log rebuilt
    # after a broker loss can hold one first. Then it waits for its session (shared/parking.py applies the
    # SessionScheduled as its predecessor when it comes), instead of changing nothing and planning reminders.
    @h.on(s.SessionRescheduled)
    async def session_moved(conn: Conn, env: Envelope[Any]) -> None:
        if not await projection_repo.session_rescheduled(conn, env.tenant, env.data, env.time):
            raise WaitFor(env.data.session_id, f"session {env.data.session_id} not known yet")

    @h.on(s.SessionCancelled)
    async def session_cancelled(conn: Conn, env: Envelope[Any]) -> None:
        if not await projection_repo.session_cancelled(conn, env.tenant, env.data, env.time):
            raise WaitFor(env.data.session_id, f"session {env.data.session_id} not known yet")

    @h.on(s.SessionLogged)
    async def session_held(conn: Conn, env: Envelope[Any]) -> None:
        if not await projection_repo.session_held(conn, env.tenant, env.data, env.time):
            raise WaitFor(env.data.session_id, f"session {env.data.session_id} not known yet")

    @h.on(s.FeedbackSubmitted)
    async def feedback_given(conn: Conn, env: Envelope[Any]) -> None:
        await projection_repo.feedback_given(conn, env.tenant, env.data)

    # --- rules (side effects: plan notifications; never replayed) ---------------------------------

    @h.on(p.PairCreated, side_effects=True)
    async def welcome(conn: Conn, env: Envelope[Any]) -> None:
        e: p.PairCreated = env.data
        await store(
            conn,
            model.plan(
                "welcome",
                env.id,
                (e.mentor_id, e.mentee_id),
                env.time,
                tenant=env.tenant,
                pair_id=e.pair_id,
                programme_id=e.programme_id,
            ),
        )

    @h.on(s.SessionScheduled, side_effects=True)
    async def remind(conn: Conn, env: Envelope[Any]) -> None:
        e: s.SessionScheduled = env.data
        who = await members(conn, env.tenant, e.pair_id)
        await store(
            conn,
            model.reminders(
                env.id, e.session_id, e.pair_id, e.programme_id, who, e.starts_at, datetime.now(UTC), tenant=env.tenant
            ),
        )

    @h.on(s.SessionRescheduled, side_effects=True)
    async def re_remind(conn: Conn, env: Envelope[Any]) -> None:
        e: s.SessionRescheduled = env.data
        await repo.cancel(conn, env.tenant, "session rescheduled", session_id=e.session_id, rules=REMINDERS)
        who = await members(conn, env.tenant, e.pair_id)
        await store(
            conn,
            model.reminders(
                env.id, e.session_id, e.pair_id, e.programme_id, who, e.starts_at, datetime.now(UTC), tenant=env.tenant
            ),
        )

    @h.on(s.SessionCancelled, side_effects=True)
    async def call_off(conn: Conn, env: Envelope[Any]) -> None:
        e: s.SessionCancelled = env.data
        await repo.cancel(conn, env.tenant, "session cancelled", session_id=e.session_id, rules=REMINDERS)
        who = await members(conn, env.tenant, e.pair_id)
        await store(
            conn,
            model.plan(
                "session_cancelled",
                env.id,
                who,
                env.time,
                tenant=env.tenant,
                pair_id=e.pair_id,
                programme_id=e.programme_id,
                session_id=e.session_id,
            ),
        )

    @h.on(s.SessionLogged, side_effects=True)
    async def ask_feedback(conn: Conn, env: Envelope[Any]) -> None:
        e: s.SessionLogged = env.data
        await repo.cancel(conn, env.tenant, "session held", session_id=e.session_id, rules=REMINDERS)
        both = await members(conn, env.tenant, e.pair_id)
        # a feedback request only to who has not answered for the session yet (an answer that came first, e.g.
        # given in the portal before the log arrived here, or the log delivered again after a replay)
        done = await repo.answered(conn, env.tenant, e.session_id, set(both))
        who = tuple(m for m in both if m not in done)
        await store(
            conn,
            model.plan(
                "feedback_request",
                env.id,
                who,
                env.time + grace,
                tenant=env.tenant,
                pair_id=e.pair_id,
                programme_id=e.programme_id,
                session_id=e.session_id,
            ),
        )

    @h.on(s.FeedbackSubmitted, side_effects=True)
    async def answered(conn: Conn, env: Envelope[Any]) -> None:
        """The author answered: their feedback request for the session, if still planned, is not sent (the
        other side's stays). The dispatcher checks again when one falls due (content.participant_draft)."""
        e: s.FeedbackSubmitted = env.data
        if e.session_id is None:
            return
        await repo.cancel(
            conn,
            env.tenant,
            "feedback already given for the session",
            session_id=e.session_id,
            rules=("feedback_request",),
            recipient_id=e.author_id,
        )

    @h.on(p.PairEnded, side_effects=True)
    async def farewell(conn: Conn, env: Envelope[Any]) -> None:
        e: p.PairEnded = env.data
        await repo.cancel(conn, env.tenant, "pair ended", pair_id=e.pair_id, rules=DROPPED_AT_END)
        who = await members(conn, env.tenant, e.pair_id)
        await store(
            conn,
            model.farewell(
                env.id,
                e.pair_id,
                e.programme_id,
                who,
                e.reason,
                await repo.leavers(conn, env.tenant, set(who)),
                env.time,
                tenant=env.tenant,
            ),
        )

    @h.on(p.PairPaused, side_effects=True)
    async def hush(conn: Conn, env: Envelope[Any]) -> None:
        paused = env.data.pair_id
        await repo.cancel(conn, env.tenant, "pair paused", pair_id=paused, rules=tuple(model.NOT_WHILE_PAUSED))

    @h.on(p.ParticipantWithdrew, side_effects=True)
    async def left_company(conn: Conn, env: Envelope[Any]) -> None:
        """Nothing more goes to someone who left the company; the partner of each pair that ended because they
        left hears of it (unless the PairEnded came first and planned it already: the same notification)."""
        e: p.ParticipantWithdrew = env.data
        if e.reason != "left_company":
            return
        await repo.cancel(conn, env.tenant, "the recipient left the company", recipient_id=e.participant_id)
        for pair in await repo.ended_as_left(conn, env.tenant, e.participant_id):
            who = (pair["mentor_id"], pair["mentee_id"])
            await store(
                conn,
                model.farewell(
                    pair["ended_by"],
                    pair["pair_id"],
                    pair["programme_id"],
                    who,
                    "left_company",
                    await repo.leavers(conn, env.tenant, set(who)),
                    env.time,
                    tenant=env.tenant,
                ),
            )

    return h


#: What the end of a pair cancels of what it had planned (a cancellation or farewell planned already stays).
DROPPED_AT_END = tuple(r for r in model.RULES if r not in model.AFTER_END)
