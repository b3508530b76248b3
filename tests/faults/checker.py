"""After healing: what the databases, the broker and the SMTP sink say, against what the load and the faults did.

The producers' outboxes are the truth of what happened (a state change and its events commit together). Every
accepted command (2xx) must be there; a command without an answer or with a 5xx counts once if it is there
anyway. Then every event must have reached every consumer of its topic exactly once and each projection must
agree with the producer; every notification those events plan must have reached the SMTP sink with exactly one
Message-ID; each consumer's dead-letter topic must hold, once each and of the right kind, exactly the injected poison
that consumer must dead-letter (`expected_dead_letter` states the rule), and the poison it must apply is applied;
and nothing may be left behind (unpublished outbox rows, consumer groups short of a topic's end, events still
parked, mails stuck in `sending`).

Each problem is a Finding in one of three categories: lost, duplicated, stalled.
"""

from __future__ import annotations

import base64
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from services.notifications.domain.model import notification_id
from shared.localstack import EmbeddedKafka
from shared.personal import KEY_RECORD_TYPE
from tests.faults.faults import MARKER, Injector, Poison, stop
from tests.faults.load import Ledger
from tests.faults.system import TENANT, System

LOST, DUPLICATED, STALLED = "lost", "duplicated", "stalled"
CATEGORIES = (LOST, DUPLICATED, STALLED)
CONSUMES = {"pairing": ("hr_inbound",), "sessions": ("pairing", "sessions"), "notifications": ("pairing", "sessions")}
SESSION_TYPES = {
    "tandem.sessions.SessionScheduled": "schedule",
    "tandem.sessions.SessionRescheduled": "reschedule",
    "tandem.sessions.SessionCancelled": "cancel",
    "tandem.sessions.SessionLogged": "log",
    "tandem.sessions.FeedbackSubmitted": "feedback",
}
Conns = dict[str, asyncpg.Connection]
PAIR_TYPES = {"tandem.pairing.PairPaused": "pause", "tandem.pairing.PairResumed": "resume"}


@dataclass(frozen=True)
class Finding:
    category: str  # lost | duplicated | stalled
    what: str
    detail: str


@dataclass
class Verdict:
    findings: list[Finding] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    def add(self, category: str, what: str, detail: str) -> None:
        self.findings.append(Finding(category, what, detail))

    @property
    def counts(self) -> dict[str, int]:
        c = Counter(f.category for f in self.findings)
        return {k: c.get(k, 0) for k in CATEGORIES}

    @property
    def clean(self) -> bool:
        return not self.findings

    def summary(self, limit: int = 6) -> list[str]:
        """One line per kind of finding: how many, and the first few."""
        groups: dict[tuple[str, str], list[str]] = defaultdict(list)
        for f in self.findings:
            groups[(f.category, f.what)].append(f.detail)
        out = []
        for (category, what), details in sorted(groups.items()):
            more = f" (+{len(details) - limit} more)" if len(details) > limit else ""
            out.append(f"{category} {what} x{len(details)}: " + "; ".join(details[:limit]) + more)
        return out


@dataclass
class Event:
    event_id: str
    type: str
    topic: str
    key: str
    position: int
    data: dict[str, Any]
    published: bool


Outbox = dict[str, list[Event]]


class Checker:
    def __init__(self, system: System, ledger: Ledger, injector: Injector) -> None:
        self.system = system
        self.ledger = ledger
        self.injector = injector

    async def check(self) -> Verdict:
        v = Verdict()
        conns = {s: await asyncpg.connect(self.system.dsn(s)) for s in ("pairing", "sessions", "notifications")}
        try:
            outbox = {s: await _outbox(c) for s, c in conns.items()}
            log = await Log.read(self.system)
            self._commands(v, outbox["pairing"], outbox["sessions"])
            count = "SELECT count(*) FROM parked WHERE consumer = $1"
            parked = {c: int(await conns[c].fetchval(count, c)) for c in CONSUMES}
            self._stalls(v, outbox, log, parked)
            await self._consumers(v, conns, outbox, log)
            await self._projections(v, conns, outbox, log)
            await self._notifications(v, conns["notifications"], outbox)
            await self._dead_letters(v, conns)
        finally:
            for c in conns.values():
                await c.close()
        return v

    # --- 1. every accepted command is in its producer's outbox, and nothing else is ----------------------------

    def _commands(self, v: Verdict, pairing: list[Event], sessions: list[Event]) -> None:
        commands = self.ledger.commands
        v.facts.update(commands=len(commands), accepted=sum(c.accepted for c in commands),
                       unknown=sum(c.unknown for c in commands),
                       rejected=sum(not c.accepted and not c.unknown for c in commands))  # fmt: skip
        visible = 0
        for pair_id in self.ledger.pairs:
            for etype, kind in PAIR_TYPES.items():
                n_out = sum(1 for e in pairing if e.type == etype and e.data.get("pair_id") == pair_id)
                mine = [c for c in self.ledger.of_pair(pair_id) if c.kind == kind]
                n_acc = sum(c.accepted for c in mine)
                n_unk = sum(c.unknown for c in mine)
                if n_out < n_acc:
                    v.add(LOST, "command", f"{n_acc - n_out} accepted {kind} of pair {pair_id} not in pairing's outbox")
                if n_out > n_acc + n_unk:
                    v.add(DUPLICATED, "command", f"pair {pair_id}: {n_out} {kind} events for {n_acc} accepted and "
                                                 f"{n_unk} unanswered commands")  # fmt: skip
                visible += max(0, min(n_out - n_acc, n_unk))
        by_key: Counter[tuple[str, ...]] = Counter(_session_key(e.type, e.data) for e in sessions
                                                   if e.type in SESSION_TYPES)  # fmt: skip
        claimed: Counter[tuple[str, ...]] = Counter()
        for c in commands:
            if c.kind in PAIR_TYPES.values():
                continue
            if c.accepted:
                for ev in c.events:
                    key = _session_key(_full_type(ev["type"]), ev["data"])
                    claimed[key] += 1
                    if by_key[key] == 0:
                        v.add(LOST, "command", f"accepted {c.describe()}: its event is not in sessions' outbox")
                    elif by_key[key] > 1:
                        v.add(DUPLICATED, "command", f"{c.describe()}: {by_key[key]} events {key}")
        for c in commands:
            if c.kind in PAIR_TYPES.values() or not c.unknown:
                continue
            candidates = [k for k in by_key if k[1] == (c.feedback_id if c.kind == "feedback" else c.session_id)
                          and SESSION_TYPES[k[0]] == c.kind and by_key[k] > claimed[k]]  # fmt: skip
            if candidates:
                claimed[candidates[0]] += 1
                visible += 1
        for key, n in by_key.items():
            if n > claimed[key]:
                v.add(DUPLICATED, "command", f"sessions' outbox has {key} that no command asked for")
        v.facts["visible_anyway"] = visible

    # --- 2. every event reached every consumer of its topic, once, and was applied ----------------------------------

    async def _consumers(self, v: Verdict, conns: Conns, outbox: Outbox, log: Log) -> None:
        """An event a consumer has not applied is stalled while the consumer is short of its place in the log (the
        lag is reported once per partition, under stalls) or while it is parked, and lost when the consumer is past
        it, when it was dead-lettered, or when it is not in the log at all (published to a broker that lost it)."""
        events = [e for s in ("pairing", "sessions") for e in outbox[s]]
        v.facts["events"] = len(events)
        for consumer in ("sessions", "notifications"):
            inbox = {r["event_id"]: r["outcome"] for r in await conns[consumer].fetch(
                "SELECT event_id, outcome FROM inbox WHERE consumer = $1", consumer)}  # fmt: skip
            reads = {getattr(self.system.topics, t) for t in CONSUMES[consumer]}
            for e in events:
                if e.topic not in reads or not e.published:
                    continue  # an unpublished row is reported once, as stalled
                outcome = inbox.get(e.event_id)
                where = log.where.get(e.event_id)
                if outcome == "dead_lettered":
                    v.add(LOST, f"event->{consumer}", f"{_short(e)} was dead-lettered by {consumer}")
                elif outcome == "parked":  # waits for something that must come: not applied yet
                    v.add(STALLED, f"event->{consumer}", f"{_short(e)} is parked by {consumer}")
                elif outcome is not None:
                    continue
                elif where is None:
                    v.add(LOST, f"event->{consumer}", f"{_short(e)} is published but not in the log, and {consumer} "
                                                      "never applied it")  # fmt: skip
                elif where[1] < log.committed.get((consumer, e.topic, where[0]), 0):
                    v.add(LOST, f"event->{consumer}", f"{_short(e)} at {e.topic}/{where[0]}@{where[1]}: {consumer} "
                                                      "moved past it without applying it")  # fmt: skip

    # --- 3. each projection agrees with its producer ----------------------------------------------------------------

    async def _projections(self, v: Verdict, conns: Conns, outbox: Outbox, log: Log) -> None:
        """Compared only for a consumer that has reached the end of everything it reads (else: stalled) and has lost
        no event (else that loss is the finding, not each state it leaves behind)."""
        truth = {r["pair_id"]: r["state"] for r in await conns["pairing"].fetch(
            "SELECT pair_id, state FROM pairs WHERE tenant = $1 AND pair_id = ANY($2::text[])", TENANT,
            list(self.ledger.pairs))}  # fmt: skip
        lost_events = {f.what.split("->")[1] for f in v.findings if f.what.startswith("event->")}
        caught_up = [c for c in ("sessions", "notifications") if not log.behind(c) and c not in lost_events]
        for consumer in caught_up:
            seen = {r["pair_id"]: r["state"] for r in await conns[consumer].fetch(
                "SELECT pair_id, state FROM projection.pairs WHERE tenant = $1", TENANT)}  # fmt: skip
            for pair_id, state in truth.items():
                if seen.get(pair_id) != state:
                    v.add(LOST, f"state->{consumer}", f"pair {pair_id} is {state} in pairing, "
                                                      f"{seen.get(pair_id)} in {consumer}")  # fmt: skip
        sessions = _fold_sessions(outbox["sessions"])
        for consumer in caught_up:
            rows = {
                r["session_id"]: r
                for r in await conns[consumer].fetch(
                    "SELECT session_id, status, sequence, starts_at FROM projection.sessions WHERE tenant = $1", TENANT
                )
            }
            for sid, want in sessions.items():
                row = rows.get(sid)
                got = None if row is None else (row["status"], row["sequence"], row["starts_at"])
                if got != want:
                    v.add(LOST, f"state->{consumer}", f"session {sid}: {want} in the outbox, {got} in {consumer}")
        feedback = {e.data["feedback_id"] for e in outbox["sessions"] if e.type == "tandem.sessions.FeedbackSubmitted"}
        if "sessions" not in caught_up:
            return
        have = Counter(r["feedback_id"] for r in await conns["sessions"].fetch(
            "SELECT feedback_id FROM projection.feedback WHERE tenant = $1", TENANT))  # fmt: skip
        for fid in sorted(feedback):
            if have[fid] != 1:
                v.add(LOST if have[fid] == 0 else DUPLICATED, "state->sessions", f"feedback {fid}: {have[fid]} rows")

    # --- 4. notifications: planned, sent, and received exactly once --------------------------------------------------

    async def _notifications(self, v: Verdict, conn: asyncpg.Connection, outbox: dict[str, list[Event]]) -> None:
        members = {p.pair_id: (p.mentor.participant_id, p.mentee.participant_id) for p in self.ledger.pairs.values()}
        rule_of = {"tandem.pairing.PairCreated": "welcome", "tandem.sessions.SessionCancelled": "session_cancelled",
                   "tandem.sessions.SessionLogged": "feedback_request"}  # fmt: skip
        applied = {r["event_id"] for r in await conn.fetch(
            "SELECT event_id FROM inbox WHERE consumer = 'notifications' AND outcome = 'applied'")}  # fmt: skip
        # who answered for a session is not asked for feedback on it (never planned, or cancelled when the answer came)
        answered = {(e.data.get("session_id"), e.data["author_id"]) for e in outbox["sessions"]
                    if e.type == "tandem.sessions.FeedbackSubmitted"}  # fmt: skip
        expected: dict[str, str] = {}
        for e in (*outbox["pairing"], *outbox["sessions"]):
            rule = rule_of.get(e.type)
            pair = members.get(e.data.get("pair_id", ""))
            if rule is None or pair is None or e.event_id not in applied:
                continue  # an event notifications never applied is reported once, under consumers
            for recipient in pair:
                if rule == "feedback_request" and (e.data.get("session_id"), recipient) in answered:
                    continue
                expected[str(notification_id(rule, e.event_id, recipient, tenant=TENANT))] = f"{rule} to {recipient}"
        rows = {str(r["notification_id"]): r for r in await conn.fetch(
            "SELECT notification_id, status, next_attempt_at, due_at, attempts, last_error FROM notifications "
            "WHERE tenant = $1", TENANT)}  # fmt: skip
        mails: dict[str, set[str]] = defaultdict(set)
        deliveries: Counter[str] = Counter()
        for m in self.system.sink.mails:
            mails[m.notification_id].add(m.message_id)
            deliveries[m.notification_id] += 1
        now = datetime.now(UTC)
        for nid, what in expected.items():
            row = rows.get(nid)
            if row is None:
                v.add(LOST, "notification", f"{what} ({nid}) was never planned")
            elif row["status"] in ("sending", "planned"):
                pass  # reported below with every other notification left behind
            elif row["status"] != "sent":
                v.add(LOST, "notification", f"{what} ({nid}) is {row['status']}: {row['last_error']}")
            elif not mails.get(nid):
                v.add(LOST, "mail", f"{what} ({nid}) is sent but no mail reached the sink")
        for nid, ids in mails.items():
            if len(ids) > 1:
                v.add(DUPLICATED, "mail", f"{expected.get(nid, nid)} ({nid}): {len(ids)} mails with distinct "
                                          f"Message-IDs")  # fmt: skip
            if nid not in rows:
                v.add(DUPLICATED, "mail", f"a mail for notification {nid!r} that nobody planned")
        for nid, r in rows.items():
            due = r["due_at"] <= now and r["next_attempt_at"] <= now
            if r["status"] == "sending" or (r["status"] == "planned" and (due or nid in expected)):
                v.add(STALLED, "notification", f"{expected.get(nid, nid)} is {r['status']} (attempts {r['attempts']}, "
                                               f"next {r['next_attempt_at']:%H:%M:%S}, {r['last_error']})")  # fmt: skip
        v.facts.update(
            notifications_expected=len(expected),
            mails=len(self.system.sink.mails),
            mails_redelivered_same_id=sum(deliveries.values()) - sum(len(i) for i in mails.values()),
        )

    # --- 5. each dead-letter topic holds exactly the injected poison it must, as it must ------------------------

    async def _dead_letters(self, v: Verdict, conns: Conns) -> None:
        """Each consumer's dead-letter topic against `expected_dead_letter`: a poison record it must dead-letter is
        there exactly once, of the expected kind (an oversized one as a reference); one it must apply is applied
        (inbox) and not there; nothing else is there (a real event in a dead-letter topic is a lost event).

        A poison record injected before the broker last lost its log is expected only if the consumer had
        dead-lettered it by then (its `dead_letters` table keeps it, and recovery republishes it): otherwise it went
        with the log before anyone read it."""
        since = self.system.broker_starts[-1]
        v.facts["poison"] = len(self.injector.poison)
        key_of = {getattr(self.system.topics, t): t for t in ("pairing", "sessions", "hr_inbound")}
        for consumer, reads in CONSUMES.items():
            conn = conns[consumer]
            topics = {getattr(self.system.topics, t) for t in reads}
            kept = {bytes(r["key"] or b"").decode(errors="replace"): r["kind"] for r in await conn.fetch(
                "SELECT key, kind FROM dead_letters WHERE consumer = $1", consumer)}  # fmt: skip
            got: dict[str, list[DeadRecord]] = defaultdict(list)
            strays: list[str] = []
            records = await read_topic(self.system.bootstrap, self.system.topics.dead_letter(consumer))
            for r in (r for part in records.values() for r in part):
                dead = DeadRecord.of(r)
                if dead.marker is None:
                    strays.append(f"{dead.kind} {dead.ce_type} {dead.ce_id} ({dead.error[:120]})")
                else:
                    got[dead.marker].append(dead)
            for poison in (p for p in self.injector.poison if p.topic in topics):
                want = expected_dead_letter(consumer, poison.kind, key_of[poison.topic])
                mine = got.pop(poison.marker, [])
                if want is None:
                    await self._applied_poison(v, conn, consumer, poison, mine, since)
                    continue
                if not mine:
                    fate = await _fate(conn, consumer, poison.marker)
                    if poison.at < since and poison.marker not in kept and fate.startswith("not in the inbox"):
                        continue  # went with the broker's log before this consumer read it
                    category = STALLED if fate.startswith("parked") else LOST
                    v.add(category, f"dlq.{consumer}", f"{poison.kind} into {poison.topic} ({poison.marker}) is not "
                                                       f"in the dead-letter topic: {fate}")  # fmt: skip
                    continue
                if len(mine) > 1:
                    v.add(DUPLICATED, f"dlq.{consumer}", f"{poison.kind} ({poison.marker}) dead-lettered {len(mine)} "
                                                         "times")  # fmt: skip
                dead = mine[0]
                if dead.kind != want:
                    v.add(LOST, f"dlq.{consumer}", f"{poison.kind} ({poison.marker}) dead-lettered as {dead.kind!r}, "
                                                   f"expected {want!r}: {dead.error[:200]}")  # fmt: skip
                if poison.kind == "2mb-record" and not dead.reference:
                    v.add(LOST, f"dlq.{consumer}", f"{poison.kind} ({poison.marker}) dead-lettered without "
                                                   "dlq_reference: true")  # fmt: skip
            for marker, extra in got.items():  # dead letters of poison injected into another consumer's topics
                strays.append(f"{extra[0].kind} poison {marker}")
            for stray in strays:
                v.add(LOST, f"dlq.{consumer}", f"a dead letter that is no injected poison: {stray}")
            v.facts[f"dlq_{consumer}"] = sum(len(part) for part in records.values())

    async def _applied_poison(self, v: Verdict, conn: asyncpg.Connection, consumer: str, poison: Poison,
                              dead: list[DeadRecord], since: float) -> None:  # fmt: skip
        """A poison record the consumer must apply (a no-op, or a row of its own projection), not dead-letter."""
        if dead:
            what = f"{poison.kind} into {poison.topic} ({poison.marker})"
            v.add(LOST, f"dlq.{consumer}", f"{what} was dead-lettered ({dead[0].kind}: {dead[0].error[:200]}); "
                                           f"{consumer} must apply it")  # fmt: skip
            return
        fate = await _fate(conn, consumer, poison.marker)
        if fate.startswith(("applied", "ignored")):
            return
        if fate.startswith("not in the inbox") and poison.at < since:
            return  # went with the broker's log before this consumer read it
        category = LOST if fate.startswith("dead_lettered") else STALLED
        v.add(category, f"poison->{consumer}", f"{poison.kind} into {poison.topic} ({poison.marker}) must be "
                                               f"applied by {consumer}: {fate}")  # fmt: skip

    # --- 6. nothing left behind ---------------------------------------------------------------------------------------

    def _stalls(self, v: Verdict, outbox: Outbox, log: Log, parked: dict[str, int]) -> None:
        for service, events in outbox.items():
            pending = [e for e in events if not e.published]
            if pending:
                v.add(STALLED, "outbox", f"{service}: {len(pending)} rows unpublished (oldest {_short(pending[0])})")
        for service, proc in self.system.services.items():
            if not proc.running:
                v.add(STALLED, "service", f"{service} is not running (exit code {proc.proc and proc.proc.returncode})")
        for consumer, n in sorted(parked.items()):
            if n:
                v.add(STALLED, "parked", f"{consumer}: {n} events still parked")
        for (consumer, topic, partition), (position, end) in sorted(log.positions().items()):
            if position != end:
                v.add(STALLED, "consumer", f"{consumer} at {position} of {end} on {topic}/{partition}")


#: Poison that no consumer can decode: every consumer of its topic dead-letters it as `undecodable`.
UNDECODABLE = ("bad-json", "no-cloudevents-headers", "unknown-type", "2mb-record", "bad-header-bytes")
#: `unknown-pair` poison is a well-formed event about an entity nobody knows (faults._unknown_entity). Each
#: consumer of its topic does what its handlers do with it (read from services/*/projection.py and learning.py):
#: - pairing, hr_inbound (EmployeeLeft of an unknown employee): the directory refuses a leave for someone it does
#:   not have (NotFound; the EmployeeHired would have come first on the same key): dead letter `rejected`.
#: - sessions, pairing (PairPaused of an unknown pair): the projection's UPDATE matches no row and a pause is
#:   noted; nothing waits (PairCreated shares the pair's partition, so it can't still be coming): applied.
#: - sessions, sessions (SessionScheduled of an unknown pair): sessions' own topic; its projection takes it as a
#:   fact in any order (a projection handler must not wait): applied.
#: - notifications, pairing (PairPaused): cancels nothing, updates no pair; no rule needs the members: applied.
#: - notifications, sessions (SessionScheduled): the reminder rule needs the pair's members, from a PairCreated
#:   on another topic that may still come: parked, and after TANDEM_PARK_TIMEOUT_SECONDS dead letter `unresolved`.
UNKNOWN_ENTITY: dict[tuple[str, str], str | None] = {
    ("pairing", "hr_inbound"): "rejected",
    ("sessions", "pairing"): None,
    ("sessions", "sessions"): None,
    ("notifications", "pairing"): None,
    ("notifications", "sessions"): "unresolved",
}


def expected_dead_letter(consumer: str, poison_kind: str, topic_key: str) -> str | None:
    """The kind of dead letter `consumer` must make of a poison record of this kind in this topic (pairing,
    sessions, hr_inbound); None: it must apply it (no dead letter). Exactly once either way."""
    if poison_kind in UNDECODABLE:
        return "undecodable"
    if poison_kind == "unknown-pair":
        return UNKNOWN_ENTITY[(consumer, topic_key)]
    raise ValueError(f"no rule for poison {poison_kind}")


@dataclass(frozen=True)
class DeadRecord:
    """A record of a dead-letter topic: the poison marker it carries (a header, or for a reference the original
    headers inside it, or the key), its kind, and whether it is a reference to a record too large to copy."""

    marker: str | None
    kind: str
    error: str
    reference: bool
    ce_type: str
    ce_id: str

    @classmethod
    def of(cls, record: ConsumerRecord[Any, Any]) -> DeadRecord:
        headers = _text(record.headers)
        reference = headers.get("dlq_reference") == "true"
        marker = headers.get(MARKER)
        original = headers
        if reference:
            try:
                body = json.loads(record.value)
                original = {k: base64.b64decode(v or "").decode(errors="replace") for k, v in body["headers"]}
            except (ValueError, KeyError, TypeError):
                original = {}
            marker = marker or original.get(MARKER)
        return cls(marker, headers.get("dlq_kind", "?"), headers.get("dlq_error", ""), reference,
                   original.get("ce_type", "?"), original.get("ce_id", "?"))  # fmt: skip


@dataclass
class Log:
    """What the broker holds now: where each event is, the true end of each partition, and each consumer group's
    committed offsets (from the group coordinator; 0 where the group has none)."""

    where: dict[str, tuple[int, int]] = field(default_factory=dict)  # event id -> (partition, offset)
    ends: dict[tuple[str, int], int] = field(default_factory=dict)
    committed: dict[tuple[str, str, int], int] = field(default_factory=dict)
    reads: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    async def read(cls, system: System) -> Log:
        log = cls(reads={c: [getattr(system.topics, t) for t in ts] for c, ts in CONSUMES.items()})
        for topic in {t for ts in log.reads.values() for t in ts}:
            for partition, records in (await read_topic(system.bootstrap, topic)).items():
                log.ends[(topic, partition)] = max(r.offset for r in records) + 1 if records else 0
                for r in records:
                    event_id = _text(r.headers).get("ce_id")
                    if event_id is not None:
                        log.where.setdefault(event_id, (partition, r.offset))
        for consumer, topics in log.reads.items():
            group = AIOKafkaConsumer(bootstrap_servers=system.bootstrap, enable_auto_commit=False,
                                     group_id=f"{system.topics.namespace}.{consumer}")  # fmt: skip
            await group.start()
            try:
                for topic, partition in [k for k in log.ends if k[0] in topics]:
                    offset = await group.committed(TopicPartition(topic, partition))
                    log.committed[(consumer, topic, partition)] = offset if offset is not None and offset >= 0 else 0
            finally:
                await stop(group)
        return log

    def positions(self) -> dict[tuple[str, str, int], tuple[int, int]]:
        """(committed offset, end) of every consumer on every partition it reads."""
        return {
            (c, t, p): (self.committed.get((c, t, p), 0), end)
            for c, topics in self.reads.items()
            for (t, p), end in self.ends.items()
            if t in topics
        }

    def behind(self, consumer: str) -> bool:
        return any(pos != end for (c, _, _), (pos, end) in self.positions().items() if c == consumer)


# --- helpers ---------------------------------------------------------------------------------------------------------


async def _outbox(conn: asyncpg.Connection) -> list[Event]:
    rows = await conn.fetch("SELECT event_id, event_type, topic, key, position, payload, published_at IS NOT NULL "
                            "AS published FROM outbox WHERE event_type <> $1 ORDER BY position",  # events, not keys
                            KEY_RECORD_TYPE)  # fmt: skip
    return [Event(r["event_id"], r["event_type"], r["topic"], r["key"], r["position"], json.loads(r["payload"]),
                  r["published"]) for r in rows]  # fmt: skip


def _text(headers: Any) -> dict[str, str]:
    return {k: bytes(v or b"").decode(errors="replace") for k, v in headers or ()}


def _full_type(t: str) -> str:
    return t if t.startswith("tandem.") else f"tandem.sessions.{t}"


def _session_key(etype: str, data: dict[str, Any]) -> tuple[str, ...]:
    if etype == "tandem.sessions.FeedbackSubmitted":
        return (etype, str(data["feedback_id"]))
    if etype == "tandem.sessions.SessionLogged":
        return (etype, str(data["session_id"]))
    return (etype, str(data["session_id"]), str(data.get("sequence", "")))


def _fold_sessions(events: list[Event]) -> dict[str, tuple[str, int, datetime]]:
    """Each session's (status, sequence, starts_at) after its events, in outbox order."""
    out: dict[str, tuple[str, int, datetime]] = {}
    for e in events:
        d = e.data
        moved = e.type == "tandem.sessions.SessionRescheduled" and d["session_id"] in out
        if e.type == "tandem.sessions.SessionScheduled" or moved:
            out[d["session_id"]] = ("scheduled", d["sequence"], _time(d["starts_at"]))
        elif e.type == "tandem.sessions.SessionCancelled" and d["session_id"] in out:
            _, _, starts = out[d["session_id"]]
            out[d["session_id"]] = ("cancelled", d["sequence"], starts)
        elif e.type == "tandem.sessions.SessionLogged" and d["session_id"] in out:
            _, seq, starts = out[d["session_id"]]
            out[d["session_id"]] = ("held", seq, starts)
    return out


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _short(e: Event) -> str:
    return f"{e.type.rsplit('.', 1)[-1]} {e.event_id[:8]} ({e.data.get('pair_id') or e.key})"


async def _fate(conn: asyncpg.Connection, consumer: str, marker: str) -> str:
    """What the consumer did with a poison record, from its inbox (event id: uuid5 of the marker; an undecodable
    record is in the inbox under its fingerprint and is not found here): the outcome first."""
    import uuid

    event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, marker))
    row = await conn.fetchrow("SELECT outcome, topic, partition, \"offset\" FROM inbox WHERE consumer = $1 AND "
                              "event_id = $2", consumer, event_id)  # fmt: skip
    if row is None:
        return "not in the inbox (never consumed, or blocked before it)"
    where = f"{row['topic']}/{row['partition']}@{row['offset']}"
    if row["outcome"] == "parked":
        parked = await conn.fetchrow("SELECT waiting_for, parked_at, deadline, attempts FROM parked WHERE consumer = "
                                     "$1 AND event_id = $2", consumer, event_id)  # fmt: skip
        if parked is not None:
            return (f"parked ({where}) waiting for {parked['waiting_for']} since {parked['parked_at']:%H:%M:%S}, "
                    f"deadline {parked['deadline']:%H:%M:%S}, {parked['attempts']} attempts")  # fmt: skip
    return f"{row['outcome']} according to the inbox ({where})"


async def read_topic(bootstrap: str, topic: str, idle_ms: int = 300) -> dict[int, list[ConsumerRecord[Any, Any]]]:
    """Every record of a topic, by partition, from the start until nothing more comes (none if there is no such
    topic). Read to the end rather than to the broker's end offsets: Tansu answers ListOffsets (latest) with the
    base offset of the partition's last batch + 1, short of the end whenever that batch held several records."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                max_partition_fetch_bytes=8 << 20, fetch_max_bytes=16 << 20,
                                fetch_max_wait_ms=EmbeddedKafka.FETCH_MAX_WAIT_MS)  # fmt: skip
    await consumer.start()
    out: dict[int, list[ConsumerRecord[Any, Any]]] = {}
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        if not parts:
            return out
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        while batch := await consumer.getmany(timeout_ms=idle_ms):
            for tp, records in batch.items():
                out.setdefault(tp.partition, []).extend(records)
    finally:
        await stop(consumer)
    return out
