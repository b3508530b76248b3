"""Load through the HTTP APIs with real tokens, every command remembered with what it should cause.

Setup (before any fault): the HR platform uploads the directory as a CSV file (client-credentials token), HR
launches a programme, enrols everyone, pairs them by hand; each participant confirms the agreement with their
own token. Then a steady stream of commands at a few per second: pause and resume pairs; schedule, reschedule,
cancel and log sessions; feedback given by the participants themselves. One command is in flight per pair at a
time, so a pair's commands are ordered. Every session starts in the past (so it can be logged, and no reminder
is planned), and everyone lives in a time zone where it is midday now (so no message waits for quiet hours).
"""

from __future__ import annotations

import asyncio
import csv
import io
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from shared.identity_provider import DemoUser, LocalIdentityProvider
from tests.faults.system import INTEGRATION_CLIENT, TENANT

PROGRAMME = "faults-programme"
TOPICS = ["prompt-writing", "ai-agents", "data-analysis"]


@dataclass
class Command:
    """One HTTP command and what came of it. `status` None: no answer (a connection error or a timeout)."""

    n: int
    kind: str  # pause, resume, schedule, reschedule, cancel, log, feedback
    pair_id: str
    actor: str
    session_id: str | None = None
    feedback_id: str | None = None
    sent_at: float = 0.0
    answered_at: float = 0.0
    status: int | None = None
    error: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def unknown(self) -> bool:
        """No answer, or a server error: it may or may not have happened."""
        return self.status is None or self.status >= 500

    def describe(self) -> str:
        target = self.session_id or self.feedback_id or ""
        return f"#{self.n} {self.kind} pair {self.pair_id} {target} as {self.actor}: {self.status or self.error}"


@dataclass
class Person:
    participant_id: str
    employee_id: str
    role: str
    name: str
    email: str


@dataclass
class Pair:
    pair_id: str
    mentor: Person
    mentee: Person
    state: str = "active"  # as the load believes it (from accepted commands)
    sessions: dict[str, str] = field(default_factory=dict)  # session id -> scheduled | held | cancelled
    starts: dict[str, datetime] = field(default_factory=dict)
    feedback: set[tuple[str, str]] = field(default_factory=set)  # (session id, author)
    busy: bool = False


@dataclass
class Ledger:
    """Everything the load did: the people, the pairs (with the events of their creation) and each command."""

    people: list[Person] = field(default_factory=list)
    pairs: dict[str, Pair] = field(default_factory=dict)
    commands: list[Command] = field(default_factory=list)
    timezone: str = "UTC"

    def of_pair(self, pair_id: str) -> list[Command]:
        return [c for c in self.commands if c.pair_id == pair_id]


def midday_zone(now: datetime | None = None) -> str:
    """An IANA zone (Etc/GMT±N) where the local time is nearest 12:00 now: no quiet hours for a while."""
    now = now or datetime.now(UTC)
    best = min(range(-12, 15), key=lambda off: abs(((now.hour + off) % 24) - 12))
    name = "Etc/GMT" if best == 0 else f"Etc/GMT{'-' if best > 0 else '+'}{abs(best)}"  # POSIX signs are inverted
    ZoneInfo(name)
    return name


def people(pairs: int) -> list[Person]:
    out = []
    for k in range(pairs):
        out.append(Person(f"mentor-{k:02d}", f"E-M{k:03d}", "mentor", f"Mentor {k}", f"mentor{k}@faults.example"))
        out.append(Person(f"mentee-{k:02d}", f"E-T{k:03d}", "mentee", f"Mentee {k}", f"mentee{k}@faults.example"))
    return out


def users(everyone: list[Person]) -> list[DemoUser]:
    """The sign-in provider's people: HR, and each participant with their employee id."""
    hr = DemoUser("hr", "Hanna Schmidt", "hanna.schmidt@faults.example", ["hr"], TENANT)
    return [hr] + [
        DemoUser(p.employee_id.lower(), p.name, p.email, ["participant"], TENANT, employee_id=p.employee_id)
        for p in everyone
    ]


class Load:
    def __init__(self, urls: dict[str, str], idp: LocalIdentityProvider, rng: random.Random, pairs: int) -> None:
        self.urls = urls
        self.idp = idp
        self.rng = rng
        self.ledger = Ledger(people=people(pairs), timezone=midday_zone())
        self.tokens: dict[str, str] = {}
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(10.0), trust_env=False)

    async def close(self) -> None:
        await self.http.aclose()

    async def token(self, user: str) -> str:
        if user not in self.tokens:
            self.tokens[user] = await self.idp.async_user_token(user)
        return self.tokens[user]

    async def as_(self, user: str) -> dict[str, str]:
        return {"authorization": f"Bearer {await self.token(user)}"}

    # --- setup -------------------------------------------------------------------------------------------

    async def setup(self) -> None:
        hr = await self.as_("hr")
        pairing = self.urls["pairing"]
        integration = await self.idp.async_client_credentials_token(INTEGRATION_CLIENT)
        r = await self.http.post(
            f"{pairing}/directory/imports",
            content=self._directory_csv(),
            headers={"content-type": "text/csv", "authorization": f"Bearer {integration}"},
        )
        _ok(r, "directory upload")
        r = await self.http.post(f"{pairing}/programmes", headers=hr, json={
            "programme_id": PROGRAMME, "name": "Fault suite", "starts_on": "2026-01-12", "ends_on": "2026-12-18",
            "cadence_days": 14, "focus_topics": TOPICS, "hr_contact_email": "hr@faults.example", "launch": True,
        })  # fmt: skip
        _ok(r, "programme")
        enrolments = []
        for p in self.ledger.people:
            e: dict[str, Any] = {"participant_id": p.participant_id, "employee_id": p.employee_id, "role": p.role,
                                 "availability": [{"weekday": 1, "start": "09:00", "end": "12:00"}]}  # fmt: skip
            if p.role == "mentor":
                e.update(capacity=1, teach_topics={"prompt-writing": 3, "ai-agents": 2})
            else:
                e.update(learn_topics={"prompt-writing": 3}, goal="Use AI in my own work.")
            enrolments.append(e)
        _ok(await self.http.post(f"{pairing}/programmes/{PROGRAMME}/participants/bulk", headers=hr, json=enrolments),
            "enrolments")  # fmt: skip
        mentors = [p for p in self.ledger.people if p.role == "mentor"]
        mentees = [p for p in self.ledger.people if p.role == "mentee"]
        for mentor, mentee in zip(mentors, mentees, strict=True):
            r = await self.http.post(
                f"{pairing}/pairs",
                headers=hr,
                json={
                    "programme_id": PROGRAMME,
                    "mentor_id": mentor.participant_id,
                    "mentee_id": mentee.participant_id,
                },
            )
            pair_id = _ok(r, "pair")["pair_id"]  # fmt: skip
            self.ledger.pairs[pair_id] = Pair(pair_id, mentor, mentee)
        for pair in self.ledger.pairs.values():
            await self._wait_known(pair.pair_id, hr)
            for person in (pair.mentor, pair.mentee):
                r = await self.http.post(
                    f"{self.urls['sessions']}/pairs/{pair.pair_id}/agreement",
                    headers=await self.as_(person.employee_id.lower()),
                    json={"participant_id": person.participant_id, "meeting_rhythm": "every two weeks",
                          "confidentiality": True, "learning_focus": "prompt writing"},
                )  # fmt: skip
                _ok(r, "agreement")

    def _directory_csv(self) -> str:
        buf = io.StringIO()
        columns = ["employee_id", "display_name", "email", "department", "grade", "timezone", "languages", "locale"]
        writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for p in self.ledger.people:
            writer.writerow({"employee_id": p.employee_id, "display_name": p.name, "email": p.email,
                             "department": "Sales" if p.role == "mentor" else "Finance",
                             "grade": 4 if p.role == "mentor" else 14, "timezone": self.ledger.timezone,
                             "languages": "en", "locale": "en"})  # fmt: skip
        return buf.getvalue()

    async def _wait_known(self, pair_id: str, hr: dict[str, str], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while (await self.http.get(f"{self.urls['sessions']}/pairs/{pair_id}", headers=hr)).status_code != 200:
            if time.monotonic() > deadline:
                raise SetupError(f"sessions did not learn of pair {pair_id} in {timeout}s")
            await asyncio.sleep(0.1)

    # --- the steady stream -----------------------------------------------------------------------------------

    async def run(self, seconds: float, rate: float) -> None:
        """Send about `rate` commands a second for `seconds`, each to an idle pair; wait for the last answers."""
        tasks: list[asyncio.Task[None]] = []
        start = time.monotonic()
        k = 0
        while (due := start + k / rate) < start + seconds:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            k += 1
            idle = [p for p in self.ledger.pairs.values() if not p.busy]
            if not idle:
                continue
            pair = self.rng.choice(sorted(idle, key=lambda p: p.pair_id))
            command = self._next(pair)
            if command is not None:
                pair.busy = True
                tasks.append(asyncio.create_task(self._send(pair, command)))
        await asyncio.gather(*tasks)

    def _next(self, pair: Pair) -> Command | None:
        rng = self.rng
        n = len(self.ledger.commands) + 1
        person = rng.choice([pair.mentor, pair.mentee])
        actor = rng.choice(["hr", person.employee_id.lower()])
        if pair.state == "paused":
            return Command(n, "resume", pair.pair_id, actor)
        open_ = sorted(s for s, status in pair.sessions.items() if status == "scheduled")
        held = sorted(s for s, status in pair.sessions.items() if status == "held")
        choices: list[tuple[str, float]] = [("pause", 1.0), ("schedule", 2.0)]
        if open_:
            choices += [("reschedule", 1.0), ("cancel", 0.7), ("log", 1.5)]
        wanting = [(s, who) for s in held for who in (pair.mentor, pair.mentee) if (s, who.participant_id)
                   not in pair.feedback]  # fmt: skip
        if wanting:
            choices.append(("feedback", 2.0))
        kind = rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]
        if kind in ("pause", "schedule"):
            session_id = f"s-{uuid.UUID(int=rng.getrandbits(128)).hex[:12]}" if kind == "schedule" else None
            return Command(n, kind, pair.pair_id, actor, session_id=session_id)
        if kind == "feedback":
            session_id, author = rng.choice(wanting)
            feedback_id = f"f-{uuid.UUID(int=rng.getrandbits(128)).hex[:12]}"
            return Command(n, kind, pair.pair_id, author.employee_id.lower(), session_id=session_id,
                           feedback_id=feedback_id)  # fmt: skip
        return Command(n, kind, pair.pair_id, actor, session_id=rng.choice(open_))

    def _request(self, pair: Pair, c: Command) -> tuple[str, dict[str, Any]]:
        now = datetime.now(UTC)
        base = f"{self.urls['sessions']}/pairs/{pair.pair_id}"
        if c.kind in ("pause", "resume"):
            return f"{self.urls['pairing']}/pairs/{pair.pair_id}/{c.kind}", ({"reason": "fault suite"}
                                                                              if c.kind == "pause" else {})  # fmt: skip
        if c.kind == "schedule":
            starts = now - timedelta(hours=self.rng.randint(2, 48))
            return f"{base}/sessions", {"session_id": c.session_id, "starts_at": starts.isoformat(),
                                        "duration_minutes": 45, "agenda": f"load {c.n}"}  # fmt: skip
        if c.kind == "reschedule":
            starts = now - timedelta(hours=self.rng.randint(2, 48))
            return f"{base}/sessions/{c.session_id}/reschedule", {"starts_at": starts.isoformat(),
                                                                   "duration_minutes": 60}  # fmt: skip
        if c.kind == "cancel":
            return f"{base}/sessions/{c.session_id}/cancel", {"reason": f"load {c.n}"}
        if c.kind == "log":
            assert c.session_id is not None
            held = min(pair.starts[c.session_id] + timedelta(minutes=5), now)
            log = {"held_at": held.isoformat(), "minutes": 40, "topics": ["prompt-writing"], "tools": ["ChatGPT"]}
            return f"{base}/sessions/{c.session_id}/log", log
        author = pair.mentor if c.actor == pair.mentor.employee_id.lower() else pair.mentee
        body: dict[str, Any] = {"feedback_id": c.feedback_id, "author_id": author.participant_id,
                                "session_id": c.session_id, "rating": self.rng.randint(3, 5)}  # fmt: skip
        if author.role == "mentee":
            body.update(productivity_gain=True, minutes_saved_per_day=30)
        else:
            body.update(career_benefit=True)
        return f"{base}/feedback", body

    async def _send(self, pair: Pair, c: Command) -> None:
        self.ledger.commands.append(c)
        url, body = self._request(pair, c)
        c.sent_at = time.time()
        try:
            r = await self.http.post(url, json=body, headers=await self.as_(c.actor))
            c.status = r.status_code
            if c.accepted and c.kind not in ("pause", "resume"):
                c.events = r.json().get("events", [])
            elif not c.accepted:
                c.error = r.text[:300]
        except httpx.HTTPError as exc:
            c.error = f"{type(exc).__name__}: {exc}"[:300]
        finally:
            c.answered_at = time.time()
            self._believe(pair, c, body)
            pair.busy = False

    def _believe(self, pair: Pair, c: Command, body: dict[str, Any]) -> None:
        """What the load now believes of the pair: only accepted commands change it (and a 409 on pause or
        resume says which state the pair is in)."""
        if c.status == 409 and c.kind in ("pause", "resume"):
            pair.state = "paused" if c.kind == "pause" else "active"
        if not c.accepted:
            return
        if c.kind == "pause":
            pair.state = "paused"
        elif c.kind == "resume":
            pair.state = "active"
        elif c.kind in ("schedule", "reschedule") and c.session_id:
            pair.sessions[c.session_id] = "scheduled"
            pair.starts[c.session_id] = datetime.fromisoformat(body["starts_at"])
        elif c.kind == "cancel" and c.session_id:
            pair.sessions[c.session_id] = "cancelled"
        elif c.kind == "log" and c.session_id:
            pair.sessions[c.session_id] = "held"
        elif c.kind == "feedback" and c.session_id:
            pair.feedback.add((c.session_id, body["author_id"]))


class SetupError(RuntimeError):
    pass


def _ok(r: httpx.Response, what: str) -> Any:
    if r.status_code >= 300:
        raise SetupError(f"{what}: {r.request.method} {r.request.url} answered {r.status_code}: {r.text[:500]}")
    return r.json()
