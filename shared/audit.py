"""Audit from the log alone: what happened to a subject (a pair, a participant, a programme), when, caused
by what, and what the system knew about it at any time.

Pure: the functions take decoded events (with where they were read) and fold them; the same log gives the
same answer every time. Reading the log is `read_log`, the only I/O here.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from shared.csvsafe import cell
from shared.events import Envelope, UndecodableEvent, decode
from shared.kafka_security import PLAINTEXT, KafkaSecurity

#: What a confidential field shows to a reader who may not see it.
REDACTED = "[confidential]"

#: Payload fields that name an aggregate or a person an event is about.
ID_FIELDS = (
    "pair_id", "programme_id", "participant_id", "mentor_id", "mentee_id", "recipient_id", "author_id",
    "employee_id", "session_id", "goal_id", "match_run_id",
)  # fmt: skip


@dataclass(frozen=True)
class Logged:
    """An event as read from the log, with where it was read."""

    env: Envelope[Any]
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True)
class Entry:
    time: datetime
    type: str
    source: str
    event_id: str
    correlation_id: str
    causation_id: str | None
    where: str
    summary: dict[str, Any]
    changes: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        return {
            "time": self.time.isoformat(), "type": self.type, "source": self.source, "event_id": self.event_id,
            "correlation_id": self.correlation_id, "causation_id": self.causation_id or "", "where": self.where,
            "summary": self.summary, "changes": self.changes,
        }  # fmt: skip


def about(env: Envelope[Any], subject: str) -> bool:
    if env.subject == subject:
        return True
    data = env.data
    for name in ID_FIELDS:
        if getattr(data, name, None) == subject:
            return True
    proposals: list[Any] = getattr(data, "proposals", None) or []
    return any(subject in (p.mentor_id, p.mentee_id) for p in proposals)


def _ordered(events: Iterable[Logged]) -> list[Logged]:
    return sorted(events, key=lambda e: (e.env.time, e.topic, e.partition, e.offset))


def _dedup(events: Iterable[Logged]) -> list[Logged]:
    seen: set[str] = set()
    out = []
    for e in _ordered(events):
        if e.env.id not in seen:
            seen.add(e.env.id)
            out.append(e)
    return out


def _short(data: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in data.items():
        if v in (None, "", [], {}):
            continue
        if k == "proposals":
            out[k] = f"{len(v)} proposal(s)"
        elif k == "unmatched":
            out[k] = f"{len(v)} unmatched"
        elif k == "policy":
            continue
        else:
            out[k] = v
    return out


def timeline(events: Iterable[Logged], subject: str) -> list[Entry]:
    """Every event about `subject`, oldest first (each event once, however often it was delivered), and the
    match run that proposed it: why a pair was formed is part of its history."""
    events = list(events)
    runs = {getattr(e.env.data, "match_run_id", None) for e in events if about(e.env, subject)} - {None}
    entries = []
    profiles: dict[str, dict[str, Any]] = {}
    for e in _dedup(e for e in events if about(e.env, subject) or e.env.subject in runs):
        data = e.env.data.model_dump(mode="json")
        changes: dict[str, Any] = {}
        key = data.get("participant_id") or data.get("employee_id")
        if key and e.env.type.endswith(("Enrolled", "Updated", "Hired")):
            before = profiles.get(key)
            if before is not None:
                changes = {k: {"from": before.get(k), "to": v} for k, v in data.items() if before.get(k) != v}
            profiles[key] = data
        entries.append(Entry(
            e.env.time, e.env.type, e.env.source, e.env.id, e.env.correlationid, e.env.causationid,
            f"{e.topic}/{e.partition}/{e.offset}", _short(data), changes,
        ))  # fmt: skip
    return entries


class Kind(Protocol):
    """A kind of subject a service's domain knows how to fold (e.g. the pairing service's employees)."""

    name: str

    def claims(self, env: Envelope[Any], subject: str) -> bool:
        """True when this event makes `subject` one of this kind."""
        ...

    def fold(self, events: Sequence[Logged], subject: str) -> dict[str, Any]:
        """The subject's state after these events (oldest first)."""
        ...


def kind_of(events: Sequence[Logged], subject: str, kinds: Sequence[Kind] = ()) -> str:
    for e in events:
        for kind in kinds:
            if kind.claims(e.env, subject):
                return kind.name
        d = e.env.data
        if (e.env.type.endswith("PairCreated") or e.env.type.endswith("PairProposed")) and d.pair_id == subject:
            return "pair"
        if e.env.type.endswith("ParticipantEnrolled") and d.participant_id == subject:
            return "participant"
        if e.env.type.endswith("ProgramLaunched") and d.programme_id == subject:
            return "programme"
    return "unknown"


def state_as_of(
    events: Iterable[Logged], subject: str, as_of: datetime | None = None, kinds: Sequence[Kind] = ()
) -> dict[str, Any]:
    """The subject as the system knew it at `as_of` (all of the log when None), from the log alone.
    `kinds` are the services' own subject kinds, tried before the built-in ones."""
    relevant = [e for e in _dedup(events) if as_of is None or e.env.time <= as_of]
    kind = kind_of(relevant, subject, kinds)
    state: dict[str, Any] = {"subject": subject, "kind": kind, "as_of": as_of.isoformat() if as_of else None}
    extra = {k.name: k for k in kinds}
    if kind in extra:
        state.update(extra[kind].fold(relevant, subject))
    elif kind == "pair":
        state.update(_pair(relevant, subject))
    elif kind == "participant":
        state.update(_participant(relevant, subject))
    elif kind == "programme":
        state.update(_programme(relevant, subject))
    else:
        state["known"] = False
    return state


def _name(e: Logged) -> str:
    return e.env.type.rsplit(".", 1)[-1]


def _pair(events: list[Logged], pair_id: str) -> dict[str, Any]:
    s: dict[str, Any] = {"sessions": {}, "goals": {}, "feedback": 0, "agreement": []}
    for e in events:
        d, n = e.env.data, _name(e)
        if getattr(d, "pair_id", None) != pair_id:
            continue
        if n in ("PairProposed", "PairCreated"):
            s.update(programme_id=d.programme_id, mentor_id=d.mentor_id, mentee_id=d.mentee_id, score=d.score,
                     rationale=d.rationale, state="proposed" if n == "PairProposed" else "active",
                     created_at=e.env.time.isoformat())  # fmt: skip
        elif n == "PairDeclined":
            s["state"] = "declined"
        elif n == "PairPaused":
            s["state"] = "paused"
        elif n == "PairResumed":
            s["state"] = "active"
        elif n == "PairExtended":
            s["extended_until"] = d.until.isoformat()
        elif n == "PairEnded":
            s.update(state="ended", end_reason=d.reason, ended_at=e.env.time.isoformat())
        elif n == "AgreementConfirmed":
            s["agreement"] = sorted({*s["agreement"], d.role})
        elif n == "GoalSet":
            s["goals"][d.goal_id] = {"topic": d.topic, "achieved": False}
        elif n == "GoalAchieved" and d.goal_id in s["goals"]:
            s["goals"][d.goal_id]["achieved"] = True
        elif n == "SessionScheduled":
            s["sessions"][d.session_id] = {"starts_at": d.starts_at.isoformat(), "status": "scheduled"}
        elif n == "SessionRescheduled" and d.session_id in s["sessions"]:
            s["sessions"][d.session_id]["starts_at"] = d.starts_at.isoformat()
        elif n == "SessionCancelled" and d.session_id in s["sessions"]:
            s["sessions"][d.session_id]["status"] = "cancelled"
        elif n == "SessionLogged" and d.session_id in s["sessions"]:
            s["sessions"][d.session_id].update(status="held", minutes=d.minutes)
        elif n == "FeedbackSubmitted":
            s["feedback"] += 1
    s["sessions_held"] = sum(1 for x in s["sessions"].values() if x["status"] == "held")
    s["goals_achieved"] = sum(1 for x in s["goals"].values() if x["achieved"])
    return s


def _participant(events: list[Logged], participant_id: str) -> dict[str, Any]:
    s: dict[str, Any] = {"pairs": {}}
    for e in events:
        d, n = e.env.data, _name(e)
        if n in ("ParticipantEnrolled", "ParticipantUpdated") and d.participant_id == participant_id:
            s["profile"] = d.model_dump(mode="json")
            s.setdefault("status", "enrolled")
        elif n == "ParticipantWithdrew" and d.participant_id == participant_id:
            s.update(status="withdrawn", withdrawal_reason=d.reason)
        elif n in ("PairCreated", "PairProposed") and participant_id in (d.mentor_id, d.mentee_id):
            s["pairs"][d.pair_id] = "proposed" if n == "PairProposed" else "active"
        elif n in ("PairPaused", "PairResumed", "PairEnded", "PairDeclined") and d.pair_id in s["pairs"]:
            s["pairs"][d.pair_id] = {"PairPaused": "paused", "PairResumed": "active", "PairEnded": "ended",
                                     "PairDeclined": "declined"}[n]  # fmt: skip
    return s


def _programme(events: list[Logged], programme_id: str) -> dict[str, Any]:
    s: dict[str, Any] = {"participants": {}, "pairs": {}, "match_runs": 0}
    for e in events:
        d, n = e.env.data, _name(e)
        if getattr(d, "programme_id", None) != programme_id:
            continue
        if n == "ProgramLaunched":
            s.update(name=d.name, starts_on=d.starts_on.isoformat(), ends_on=d.ends_on.isoformat(),
                     cadence_days=d.cadence_days, focus_topics=d.focus_topics, state="running")  # fmt: skip
        elif n == "ProgramClosed":
            s["state"] = "closed"
        elif n == "ParticipantEnrolled":
            s["participants"][d.participant_id] = d.role
        elif n == "ParticipantWithdrew":
            s["participants"].pop(d.participant_id, None)
        elif n == "MatchRunCompleted":
            s["match_runs"] += 1
        elif n in ("PairCreated", "PairResumed"):
            s["pairs"][d.pair_id] = "active"
        elif n in ("PairPaused", "PairEnded"):
            s["pairs"][d.pair_id] = "paused" if n == "PairPaused" else "ended"
    roles = list(s.pop("participants").values())
    states = list(s.pop("pairs").values())
    s["participants"] = {"mentors": roles.count("mentor"), "mentees": roles.count("mentee")}
    s["pairs"] = {k: states.count(k) for k in ("active", "paused", "ended")}
    return s


def to_csv(rows: list[dict[str, Any]]) -> str:
    """Timeline rows as CSV; nested summaries and changes as JSON cells; every cell safe to open in a
    spreadsheet (a value starting with =, +, -, @, tab or CR is neutralised)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["time"])
    writer.writeheader()
    for row in rows:
        writer.writerow({k: cell(json.dumps(v, sort_keys=True) if isinstance(v, dict) else v) for k, v in row.items()})
    return buf.getvalue()


def for_reader(events: Iterable[Logged], tenant: str, *, confidential: bool) -> list[Logged]:
    """The events a reader of `tenant` may see: that tenant's only, with every confidential field (see
    EventPayload.CONFIDENTIAL_FIELDS) replaced by a marker unless `confidential` (HR of that tenant)."""
    out = []
    for e in events:
        if e.env.tenant != tenant:
            continue
        fields = type(e.env.data).CONFIDENTIAL_FIELDS
        hidden = {f: REDACTED for f in fields if getattr(e.env.data, f, None)}
        if hidden and not confidential:
            e = replace(e, env=e.env.model_copy(update={"data": e.env.data.model_copy(update=hidden)}))
        out.append(e)
    return out


def shows_confidential(events: Iterable[Logged], subject: str) -> bool:
    """Whether the subject's timeline holds confidential text (reading it is recorded)."""
    return any(
        about(e.env, subject) and any(getattr(e.env.data, f, None) for f in type(e.env.data).CONFIDENTIAL_FIELDS)
        for e in events
    )


async def read_log(bootstrap: str, topics: list[str], *, security: KafkaSecurity = PLAINTEXT) -> list[Logged]:
    """Every decodable event on `topics`, read from the beginning to the end as it is now."""
    from shared.replay import LogReader

    out: list[Logged] = []
    async with LogReader(bootstrap, security=security) as reader:
        tps = await reader.partitions(topics)
        async for batch in reader.read_to_end(tps):
            for r in batch:
                try:
                    out.append(Logged(decode(r.headers, r.value), r.topic, r.partition, r.offset))
                except UndecodableEvent:
                    continue
    return out
