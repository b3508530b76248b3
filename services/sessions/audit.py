"""The sessions service's view of a pair for `tandem audit`: its agreement, goals, sessions and feedback,
folded by the sessions domain's own `evolve` (the very fold of the aggregate and the read model)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, get_args

from services.sessions.domain import model as m
from services.sessions.domain.errors import Conflict
from shared import audit
from shared.audit import Logged
from shared.events import Envelope
from shared.events import pairing as p
from shared.events import sessions as s

_FOLDED = (*get_args(m.SessionsEvent), p.PairCreated, p.PairPaused, p.PairResumed, p.PairEnded)


def when(env: Envelope[Any]) -> datetime | None:
    """When a sessions event happened in business time, where it says so: a pair from the day it began, a
    session put on the calendar after it started (an ad hoc one) from its start, a held one from when it was
    held. Else None: it happened when it was recorded."""
    d = env.data
    if isinstance(d, p.PairCreated):
        return d.began(env.time)
    if isinstance(d, s.SessionScheduled):
        return min(env.time, d.starts_at)
    if isinstance(d, s.SessionLogged):
        return min(env.time, d.held_at)
    return None


def history(events: Sequence[Logged], pair_id: str) -> list[tuple[m.SessionsEvent | m.PairLifeEvent, datetime]]:
    """The pair's events this service folds, with their times, in the order given."""
    return [
        (e.env.data, e.env.time) for e in events if isinstance(e.env.data, _FOLDED) and e.env.data.pair_id == pair_id
    ]


def view(state: m.MentorshipState) -> dict[str, Any]:
    """What the audit shows of a pair's state in this service."""
    sessions: dict[str, dict[str, Any]] = {}
    for sid, x in state.sessions.items():
        sessions[sid] = {"starts_at": x.starts_at.isoformat(), "status": x.status}
        if x.status == "held":
            sessions[sid]["minutes"] = x.minutes
    return {
        "sessions": sessions,
        "goals": {gid: {"topic": g.topic, "achieved": g.achieved} for gid, g in state.goals.items()},
        "feedback": len(state.feedback),
        "agreement": sorted(state.agreement),
        "sessions_held": sum(1 for x in state.sessions.values() if x.status == "held"),
        "goals_achieved": sum(1 for g in state.goals.values() if g.achieved),
    }


@dataclass(frozen=True)
class MentorshipKind:
    """The sessions service's part of a pair's audit (the pairing service's part says who and which state)."""

    name: str = "pair"

    def claims(self, env: Envelope[Any], subject: str) -> bool:
        return isinstance(env.data, p.PairCreated) and env.data.pair_id == subject

    def when(self, env: Envelope[Any]) -> datetime | None:
        return when(env)

    def fold(self, events: Sequence[Logged], subject: str) -> dict[str, Any]:
        state = m.MentorshipState(subject)
        for event, at in history(events, subject):
            try:
                state = m.evolve(state, event, at)
            except Conflict:  # recorded twice under another id: the read model refused it too
                continue
        return view(state)


def kinds(tenant: str | None = None) -> list[audit.Kind]:
    """The kinds of subject this service's audit folds."""
    return [MentorshipKind()]


audit.register("sessions", kinds)
