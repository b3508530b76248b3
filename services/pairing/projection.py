"""What pairing consumes: the HR platform's events on the inbound topic, into the employee directory.

These handlers change the write model (the directory, and what a change causes: profiles, leavers,
leaves of absence, reorganisation flags) and write events to the outbox, all in the consumer's
transaction (`UnitOfWork.joining`): the inbox, the change and its events commit together or not at all.
They have side effects, so a replay never runs them. An event that fails validation (a language that is
not BCP 47, an unknown time zone, a leaver nobody knows) is rejected: it goes to the dead-letter topic and
changes nothing. An event older than the stored record is recorded as EmployeeChangeIgnored.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from services.pairing import handlers
from services.pairing.domain import directory
from shared.consumer import Handlers
from shared.db import Conn
from shared.events import Envelope, hr
from shared.runtime import ServiceHost
from shared.uow import UnitOfWork


def employee_input(e: hr.EmployeeHired | hr.EmployeeUpdated) -> directory.EmployeeInput:
    """An HR record as a directory change; what the event does not carry keeps its stored value."""
    data = e.model_dump(exclude_unset=True, exclude={"status", "hired_on"})
    data["email"] = str(e.email)
    if isinstance(e, hr.EmployeeHired):
        data["status"] = "active"
        if e.hired_on is not None:
            data["hired_on"] = e.hired_on
    else:
        data["status"] = e.status
    try:
        return directory.EmployeeInput.model_validate(data)
    except ValidationError as exc:
        raise handlers.invalid(exc) from None


def build_handlers(host: ServiceHost) -> Handlers:
    h = Handlers()

    def uow(conn: Conn, env: Envelope[Any]) -> UnitOfWork:
        return UnitOfWork.joining(conn, host.topics, tenant=env.tenant, caused_by=env)

    @h.on(hr.EmployeeHired, hr.EmployeeUpdated, side_effects=True)
    async def employee(conn: Conn, env: Envelope[Any]) -> None:
        change = directory.Upsert(employee_input(env.data))
        await handlers.apply_directory_changes(
            uow(conn, env), [change], origin="hr_event", effective_at=env.time, source_event_id=env.id
        )

    @h.on(hr.EmployeeLeft, side_effects=True)
    async def left(conn: Conn, env: Envelope[Any]) -> None:
        e: hr.EmployeeLeft = env.data
        change = directory.Leave(e.employee_id, e.left_on)
        await handlers.apply_directory_changes(
            uow(conn, env), [change], origin="hr_event", effective_at=env.time, source_event_id=env.id
        )

    return h
