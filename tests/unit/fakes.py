"""In-memory stand-ins for a handler's unit of work and store, for pure-logic unit tests of command handlers.

`FakeUnitOfWork` has what a command handler uses of `shared.uow.UnitOfWork` (tenant, conn, emit, commit) and
keeps what was committed; `FakeMentorships` is the sessions service's store of mentorships (the
`handlers.Mentorships` protocol), rebuilt from histories held in memory. They stand for no SQL: what the
repositories do is tested against Postgres in tests/integration/."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.sessions.domain.model import Mentorship, PairView
from shared.errors import NotFound
from shared.events import Envelope, EventPayload


class FakeUnitOfWork:
    def __init__(self, tenant: str = "default") -> None:
        self.tenant = tenant
        self.conn: Any = object()  # handed to the store, never used as a connection
        self.events: list[Envelope[Any]] = []
        self.committed: list[Envelope[Any]] = []

    def emit(self, *payloads: EventPayload) -> list[Envelope[Any]]:
        envs = [Envelope.new(p, tenant=self.tenant) for p in payloads]
        self.events.extend(envs)
        return envs

    def emit_as(self, event_id: str, payload: EventPayload) -> Envelope[Any]:
        env = Envelope.new(payload, tenant=self.tenant, event_id=event_id)
        self.events.append(env)
        return env

    async def commit(self) -> None:
        self.committed.extend(self.events)
        self.events = []

    @property
    def committed_payloads(self) -> list[EventPayload]:
        return [env.data for env in self.committed]


@dataclass
class FakeMentorships:
    """Pairs and their sessions histories by (tenant, pair id); records the locks taken, in order."""

    pairs: dict[tuple[str, str], PairView] = field(default_factory=dict)
    histories: dict[tuple[str, str], list[tuple[Any, datetime | None]]] = field(default_factory=dict)
    focus_topics: tuple[str, ...] | None = None
    calls: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, tenant: str, pair: PairView, *history: tuple[Any, datetime | None]) -> None:
        self.pairs[(tenant, pair.pair_id)] = pair
        self.histories[(tenant, pair.pair_id)] = list(history)

    async def lock_pair(self, conn: Any, tenant: str, pair_id: str) -> None:
        self.calls.append(("lock", tenant, pair_id))

    async def load_mentorship(self, conn: Any, tenant: str, pair_id: str) -> Mentorship:
        self.calls.append(("load", tenant, pair_id))
        pair = self.pairs.get((tenant, pair_id))
        if pair is None:  # as the repository answers: unknown, or another tenant's
            raise NotFound(f"no pair {pair_id} (or not yet known to the sessions service)", field="pair_id")
        return Mentorship.from_history(pair, self.histories[(tenant, pair_id)], focus_topics=self.focus_topics)
