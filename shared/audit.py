"""Audit from the log alone: what happened to a subject (a pair, a participant, a programme), when, caused
by what, and how it stood at any time.

Mechanics only: reading, deduplicating and ordering the log, the timeline, redaction, CSV. What a subject
is and how its events change it is each service's own (`Kind`, registered with `register`, folded by its
domain's `evolve`).

Pure: the functions take decoded events (with where they were read) and fold them; the same log gives the
same answer every time. Reading the log is `read_log`, the only I/O here.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from shared.csvsafe import cell
from shared.events import Envelope, UndecodableEvent, decode
from shared.kafka_security import PLAINTEXT, KafkaSecurity
from shared.personal import KeyLookup, KeyNotFound

log = logging.getLogger(__name__)

#: What a confidential field shows to a reader who may not see it.
REDACTED = "[confidential]"

#: Payload fields that name an aggregate or a person an event is about.
ID_FIELDS = (
    "pair_id",
    "programme_id",
    "participant_id",
    "mentor_id",
    "mentee_id",
    "recipient_id",
    "author_id",
    "employee_id",
    "session_id",
    "goal_id",
    "match_run_id",
)

#: Payload fields that list the aggregates an event is about (an erasure's pairs, an expiry's pairs).
ID_LIST_FIELDS = ("participant_ids", "pair_ids")


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
            "time": self.time.isoformat(),
            "type": self.type,
            "source": self.source,
            "event_id": self.event_id,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id or "",
            "where": self.where,
            "summary": self.summary,
            "changes": self.changes,
        }


def about(env: Envelope[Any], subject: str) -> bool:
    if env.subject == subject:
        return True
    data = env.data
    for name in ID_FIELDS:
        if getattr(data, name, None) == subject:
            return True
    for name in ID_LIST_FIELDS:
        if subject in (getattr(data, name, None) or ()):
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
        if key and type(e.env.data).WHOLE_RECORD:
            before = profiles.get(key)
            if before is not None:
                changes = {k: {"from": before.get(k), "to": v} for k, v in data.items() if before.get(k) != v}
            profiles[key] = data
        entries.append(
            Entry(
                e.env.time,
                e.env.type,
                e.env.source,
                e.env.id,
                e.env.correlationid,
                e.env.causationid,
                f"{e.topic}/{e.partition}/{e.offset}",
                _short(data),
                changes,
            )
        )
    return entries


class Kind(Protocol):
    """A kind of subject a service's domain knows how to fold (e.g. the pairing service's pairs and
    employees, the sessions service's view of a pair). Several kinds may share a name: each folds its own
    part of the subject's state (the pairing service says who and which state a pair is in, the sessions
    service what it did)."""

    name: str

    def claims(self, env: Envelope[Any], subject: str) -> bool:
        """True when this event makes `subject` one of this kind."""
        ...

    def when(self, env: Envelope[Any]) -> datetime | None:
        """When the event happened in business time, if its payload says so and this kind knows it (a pair
        that began before it was recorded); None to leave it at the time it was recorded."""
        ...

    def fold(self, events: Sequence[Logged], subject: str) -> dict[str, Any]:
        """The subject's state after these events (oldest first)."""
        ...


_REGISTERED: dict[str, Callable[[str | None], Sequence[Kind]]] = {}


def register(service: str, kinds: Callable[[str | None], Sequence[Kind]]) -> None:
    """A service offers its kinds of subject (given the tenant read in; None for any) to the audit."""
    _REGISTERED[service] = kinds


def registered(tenant: str | None = None) -> list[Kind]:
    """Every kind the services registered, in the order they registered."""
    return [kind for kinds in _REGISTERED.values() for kind in kinds(tenant)]


def kind_of(events: Sequence[Logged], subject: str, kinds: Sequence[Kind]) -> str:
    for e in events:
        for kind in kinds:
            if kind.claims(e.env, subject):
                return kind.name
    return "unknown"


def happened(env: Envelope[Any], kinds: Sequence[Kind]) -> datetime:
    """When an event happened: in business time where a kind knows it, else when it was recorded."""
    for kind in kinds:
        at = kind.when(env)
        if at is not None:
            return at
    return env.time


def state_as_of(
    events: Iterable[Logged], subject: str, as_of: datetime | None = None, kinds: Sequence[Kind] | None = None
) -> dict[str, Any]:
    """The subject as it stood at `as_of` (all of the log when None), from the log alone. An event counts from
    when it happened (`happened`: a pair from the day it began, even when it was recorded later), and the
    events are folded in the order they were recorded. `kinds` are the services' subject kinds (by default
    those they registered)."""
    kinds = registered() if kinds is None else kinds
    relevant = [e for e in _dedup(events) if as_of is None or happened(e.env, kinds) <= as_of]
    kind = kind_of(relevant, subject, kinds)
    state: dict[str, Any] = {"subject": subject, "kind": kind, "as_of": as_of.isoformat() if as_of else None}
    folds = [k for k in kinds if k.name == kind]
    for k in folds:
        state.update(k.fold(relevant, subject))
    if not folds:
        state["known"] = False
    return state


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


async def read_log(
    bootstrap: str,
    topics: list[str],
    *,
    security: KafkaSecurity = PLAINTEXT,
    keys: Callable[[list[bytes | None]], Awaitable[KeyLookup]] | None = None,
    keys_topic: str | None = None,
) -> list[Logged]:
    """Every decodable event on `topics`, read from the beginning to the end as it is now, its personal fields
    decrypted with the keys `keys` gives for the values read (a service: its own table), or else with the key
    topic `keys_topic` read to its end (a tool); a field whose key was destroyed reads as the placeholder."""
    from shared.replay import LogReader, read_keys

    records: list[Any] = []
    async with LogReader(bootstrap, security=security) as reader:
        tps = await reader.partitions(topics)
        async for batch in reader.read_to_end(tps):
            records.extend(batch)
    lookup: KeyLookup
    if keys is not None:
        lookup = await keys([r.value for r in records])
    elif keys_topic is not None:
        lookup = await read_keys(bootstrap, keys_topic, security=security)
    else:
        raise ValueError("read_log needs keys or keys_topic to decrypt personal fields")
    out: list[Logged] = []
    for r in records:
        try:
            out.append(Logged(decode(r.headers, r.value, lookup), r.topic, r.partition, r.offset))
        except UndecodableEvent:
            continue
        except KeyNotFound as exc:
            log.warning("audit: %s:%s@%s left out: %s", r.topic, r.partition, r.offset, exc)
    return out
