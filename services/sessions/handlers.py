"""Command handlers: load the pair's Mentorship from its history, decide, emit; one unit of work each."""

from __future__ import annotations

from datetime import UTC, datetime

from services.sessions import repository
from services.sessions.domain.commands import Command
from services.sessions.domain.model import SessionsEvent
from shared.uow import UnitOfWork


async def execute(uow: UnitOfWork, command: Command, *, now: datetime | None = None) -> list[SessionsEvent]:
    """Run one command on its pair: lock the pair, rebuild it from its events, decide, commit the events."""
    await repository.lock_pair(uow.conn, command.pair_id)
    mentorship = await repository.load_mentorship(uow.conn, command.pair_id)
    events = mentorship.handle(command, now=now or datetime.now(UTC))
    uow.emit(*events)
    await uow.commit()
    return events
