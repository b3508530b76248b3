"""What every router needs: the unit of work, a connection, the tenant and the caller (see shared.http), and
what a participant may reach: their own records only (everything else answers 404, as another tenant's does)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.pairing import repository
from shared.access import principal
from shared.auth import Principal
from shared.errors import NotFound
from shared.http import Caller, Connection, Limit, Offset, PathId, Tenant, UoW

#: Roles that see everything of their tenant; anyone else (a participant) sees only their own.
STAFF = ("hr", "auditor")


async def _own(request: Request) -> set[str] | None:
    caller = principal(request)
    if caller.has(*STAFF):
        return None
    if caller.employee_id is None:
        return set()
    async with request.app.state.host.pool.acquire() as conn:
        return await repository.participant_ids_of_employee(conn, caller.tenant, caller.employee_id)


#: None for staff (all of the tenant); else the participant ids that are the caller's own enrolments.
Own = Annotated[set[str] | None, Depends(_own)]


def mine(own: set[str] | None, *participant_ids: str, what: str, field: str) -> None:
    """Refuse (404) what is not the caller's: none of `participant_ids` is one of theirs."""
    if own is not None and not own & set(participant_ids):
        raise NotFound(what, field=field)


__all__ = ["STAFF", "Caller", "Connection", "Limit", "Offset", "Own", "PathId", "Principal", "Tenant", "UoW", "mine"]
