"""Command handlers: load the pair's Mentorship from its history, decide, emit; one unit of work each."""

from __future__ import annotations

from datetime import UTC, datetime

from services.sessions import repository
from services.sessions.domain.commands import Command
from services.sessions.domain.model import SessionsEvent, pair_ended_reason
from shared.errors import NotFound
from shared.events.pairing import PairEnded
from shared.events.sessions import SessionCancelled
from shared.uow import UnitOfWork


async def execute(uow: UnitOfWork, command: Command, *, now: datetime | None = None) -> list[SessionsEvent]:
    """Run one command on its pair (in the unit of work's tenant): lock the pair, rebuild it from its events,
    decide, commit the events."""
    await repository.lock_pair(uow.conn, uow.tenant, command.pair_id)
    mentorship = await repository.load_mentorship(uow.conn, uow.tenant, command.pair_id)
    events = mentorship.handle(command, now=now or datetime.now(UTC))
    uow.emit(*events)
    await uow.commit()
    return events


async def call_off_after_end(uow: UnitOfWork, ended: PairEnded, *, ended_at: datetime) -> list[SessionCancelled]:
    """A pair ended at `ended_at`: cancel its sessions that were to start after that, through its Mentorship.

    The pair's projection row must already say ended (the projection handler of PairEnded runs first, in the
    same transaction). Under the pair's lock, like every command: a session scheduled concurrently is either
    seen here or refused for an ended pair. A second run finds nothing left to cancel.
    """
    await repository.lock_pair(uow.conn, uow.tenant, ended.pair_id)
    try:
        mentorship = await repository.load_mentorship(uow.conn, uow.tenant, ended.pair_id)
    except NotFound:  # a pair this service never saw created has no sessions
        return []
    events = mentorship.cancel_after_end(ended_at, pair_ended_reason(ended.reason, ended.note))
    uow.emit(*events)
    await uow.commit()
    return events
