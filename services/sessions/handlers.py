"""Command handlers: load the pair's Mentorship from its history, decide, emit; one unit of work each.

Each takes the store of mentorships it loads from: the repository (Postgres) by default; a unit test passes
an in-memory one with a fake unit of work (tests/unit/fakes.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from services.sessions import repository
from services.sessions.domain.commands import Command
from services.sessions.domain.model import Mentorship, SessionsEvent, pair_ended_reason
from shared.errors import NotFound
from shared.events.pairing import PairEnded
from shared.events.sessions import SessionCancelled
from shared.uow import UnitOfWork


class Mentorships(Protocol):
    """Where a command finds its pair's Mentorship (services/sessions/repository.py in the service)."""

    async def lock_pair(self, conn: Any, tenant: str, pair_id: str) -> None: ...

    async def load_mentorship(self, conn: Any, tenant: str, pair_id: str) -> Mentorship: ...


async def execute(
    uow: UnitOfWork, command: Command, *, now: datetime | None = None, store: Mentorships = repository
) -> list[SessionsEvent]:
    """Run one command on its pair (in the unit of work's tenant): lock the pair, rebuild it from its events,
    decide, commit the events."""
    await store.lock_pair(uow.conn, uow.tenant, command.pair_id)
    mentorship = await store.load_mentorship(uow.conn, uow.tenant, command.pair_id)
    events = mentorship.handle(command, now=now or datetime.now(UTC))
    uow.emit(*events)
    await uow.commit()
    return events


async def call_off_after_end(
    uow: UnitOfWork, ended: PairEnded, *, ended_at: datetime, store: Mentorships = repository
) -> list[SessionCancelled]:
    """A pair ended at `ended_at`: cancel its sessions that were to start after that, through its Mentorship.

    The pair's projection row must already say ended (the projection handler of PairEnded runs first, in the
    same transaction). Under the pair's lock, like every command: a session scheduled concurrently is either
    seen here or refused for an ended pair. A second run finds nothing left to cancel.
    """
    await store.lock_pair(uow.conn, uow.tenant, ended.pair_id)
    try:
        mentorship = await store.load_mentorship(uow.conn, uow.tenant, ended.pair_id)
    except NotFound:  # a pair this service never saw created has no sessions
        return []
    events = mentorship.cancel_after_end(ended_at, pair_ended_reason(ended.reason, ended.note))
    uow.emit(*events)
    await uow.commit()
    return events
