"""The pairing service's subjects for `tandem audit`, each folded by the pairing domain's own rules: pairs
(by `pairs.evolve`, the pair's state machine), participants, programmes, and employees of the directory
(by the directory's own `evolve`, so "who was X's manager on date Y" is answered from the log exactly as
the directory applied it).

Each service answers `/audit/{subject}` with its own kinds; the sessions service's view of a pair (its
agreement, goals, sessions, feedback) is its own, and `tandem audit` puts the registered views together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.pairing.domain import directory, pairs
from shared import audit
from shared.audit import Kind, Logged
from shared.events import Envelope
from shared.events import pairing as p
from shared.events.directory import DIRECTORY_EVENTS

_TYPES = frozenset(m.TYPE for m in DIRECTORY_EVENTS)
_PAIR_EVENTS = (
    p.PairProposed,
    p.PairCreated,
    p.PairDeclined,
    p.PairPaused,
    p.PairResumed,
    p.PairEnded,
    p.PairExtended,
    p.PairFlagged,
    p.PairFlagResolved,
)


def _when(env: Envelope[Any]) -> datetime | None:
    """When a pairing event happened in business time, where it says so: a pair from the day it began."""
    if isinstance(env.data, p.PairCreated):
        return env.data.began(env.time)
    return None


@dataclass(frozen=True)
class EmployeeKind:
    """An employee of one tenant's directory (the same employee id in two tenants is two people)."""

    tenant: str | None = None
    name: str = "employee"

    def claims(self, env: Envelope[Any], subject: str) -> bool:
        """Events about the employee under this id: and the renumbering that moved them away from it."""
        return (
            env.type in _TYPES
            and subject in (env.data.employee_id, getattr(env.data, "previous_employee_id", None))
            and (self.tenant is None or env.tenant == self.tenant)
        )

    def when(self, env: Envelope[Any]) -> datetime | None:
        return None

    def fold(self, events: Sequence[Logged], subject: str) -> dict[str, Any]:
        state: directory.Employee | None = None
        for e in events:
            if self.claims(e.env, subject):
                state = directory.evolve(state, e.env.data)
        if state is None:
            return {"known": False}
        return {
            "known": True,
            **{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in state.record().items()},
            "effective_at": state.effective_at.isoformat(),
            "directory_revision": state.revision,
        }


@dataclass(frozen=True)
class PairKind:
    """A pair as the pairing service knows it: who, how matched, its state, extension and end."""

    name: str = "pair"

    def claims(self, env: Envelope[Any], subject: str) -> bool:
        return isinstance(env.data, p.PairCreated | p.PairProposed) and env.data.pair_id == subject

    def when(self, env: Envelope[Any]) -> datetime | None:
        return _when(env)

    def fold(self, events: Sequence[Logged], subject: str) -> dict[str, Any]:
        pair: pairs.Pair | None = None
        created_at = ended_at = None
        for e in events:
            d = e.env.data
            if not isinstance(d, _PAIR_EVENTS) or d.pair_id != subject:
                continue
            after = pairs.evolve(pair, d)
            if after is not pair and isinstance(d, p.PairProposed | p.PairCreated):
                created_at = _when(e.env) or e.env.time
            if after is not pair and isinstance(d, p.PairEnded):
                ended_at = e.env.time
            pair = after
        if pair is None:
            return {}
        out: dict[str, Any] = {
            "programme_id": pair.programme_id,
            "mentor_id": pair.mentor_id,
            "mentee_id": pair.mentee_id,
            "score": pair.score,
            "rationale": pair.rationale,
            "state": pair.state,
            "created_at": created_at and created_at.isoformat(),
        }
        if pair.extended_until is not None:
            out["extended_until"] = pair.extended_until.isoformat()
        if pair.state == "ended":
            out.update(end_reason=pair.end_reason, ended_at=ended_at and ended_at.isoformat())
        return out


def _pair_states(events: Sequence[Logged], keep: Any) -> dict[str, pairs.PairState]:
    """The state of every pair whose first event `keep` accepts, by the pair's state machine."""
    known: dict[str, pairs.Pair] = {}
    for e in events:
        d = e.env.data
        if not isinstance(d, _PAIR_EVENTS) or (d.pair_id not in known and not keep(d)):
            continue
        after = pairs.evolve(known.get(d.pair_id), d)
        if after is not None:
            known[d.pair_id] = after
    return {pair_id: pair.state for pair_id, pair in known.items()}


@dataclass(frozen=True)
class ParticipantKind:
    name: str = "participant"

    def claims(self, env: Envelope[Any], subject: str) -> bool:
        return isinstance(env.data, p.ParticipantEnrolled) and env.data.participant_id == subject

    def when(self, env: Envelope[Any]) -> datetime | None:
        return _when(env)

    def fold(self, events: Sequence[Logged], subject: str) -> dict[str, Any]:
        s: dict[str, Any] = {}
        for e in events:
            d = e.env.data
            if isinstance(d, p.ParticipantEnrolled | p.ParticipantUpdated) and d.participant_id == subject:
                s["profile"] = d.model_dump(mode="json")
                s.setdefault("status", "enrolled")
            elif isinstance(d, p.ParticipantWithdrew) and d.participant_id == subject:
                s.update(status="withdrawn", withdrawal_reason=d.reason)
        theirs = _pair_states(
            events, lambda d: isinstance(d, p.PairCreated | p.PairProposed) and subject in (d.mentor_id, d.mentee_id)
        )
        return {"pairs": dict(theirs), **s}


@dataclass(frozen=True)
class ProgrammeKind:
    name: str = "programme"

    def claims(self, env: Envelope[Any], subject: str) -> bool:
        return isinstance(env.data, p.ProgramLaunched) and env.data.programme_id == subject

    def when(self, env: Envelope[Any]) -> datetime | None:
        return _when(env)

    def fold(self, events: Sequence[Logged], subject: str) -> dict[str, Any]:
        s: dict[str, Any] = {"match_runs": 0}
        roles: dict[str, str] = {}
        for e in events:
            d = e.env.data
            if getattr(d, "programme_id", None) != subject:
                continue
            if isinstance(d, p.ProgramLaunched):
                s.update(
                    name=d.name,
                    starts_on=d.starts_on.isoformat(),
                    ends_on=d.ends_on.isoformat(),
                    cadence_days=d.cadence_days,
                    focus_topics=d.focus_topics,
                    state="running",
                )
            elif isinstance(d, p.ProgramClosed):
                s["state"] = "closed"
            elif isinstance(d, p.ParticipantEnrolled):
                roles[d.participant_id] = d.role
            elif isinstance(d, p.ParticipantWithdrew):
                roles.pop(d.participant_id, None)
            elif isinstance(d, p.MatchRunCompleted):
                s["match_runs"] += 1
        states = list(
            _pair_states(events, lambda d: isinstance(d, p.PairCreated) and d.programme_id == subject).values()
        )
        s["participants"] = {
            "mentors": list(roles.values()).count("mentor"),
            "mentees": list(roles.values()).count("mentee"),
        }
        s["pairs"] = {k: states.count(k) for k in ("active", "paused", "ended")}
        return s


def _kinds(tenant: str | None) -> list[Kind]:
    return [EmployeeKind(tenant), PairKind(), ParticipantKind(), ProgrammeKind()]


audit.register("pairing", _kinds)


def kinds(tenant: str | None = None) -> list[Kind]:
    """The kinds of subject this service's audit folds (the other services answer for theirs)."""
    return _kinds(tenant)
