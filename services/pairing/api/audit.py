"""Audit for the HR platform and auditors: a subject's timeline from the log, or its state at a time as the
pairing domain folds it (a pair's state and people, a participant, a programme, an employee). The sessions
service answers the same route for its part of a pair (agreement, goals, sessions, feedback)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request

from services.pairing.api.deps import Caller, PathId, UoW
from services.pairing.audit import kinds
from shared.audit_http import SUMMARY, answer
from shared.events.pairing import SensitiveDataAccessed

router = APIRouter(tags=["audit"])


@router.get("/audit/{subject}", summary=SUMMARY, responses={200: {"content": {"application/json": {}, "text/csv": {}}}})
async def audit(
    subject: PathId,
    request: Request,
    caller: Caller,
    uow: UoW,
    as_of: Annotated[datetime | None, Query(description="ISO 8601 with a time zone")] = None,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Any:
    """The caller's tenant's events only. A confidential comment shows to HR; to anyone else it reads
    "[confidential]". Every read is recorded in the log (SensitiveDataAccessed: who, what, when)."""

    return await answer(
        request,
        subject,
        tenant=caller.tenant,
        hr=caller.has("hr"),
        as_of=as_of,
        format=format,
        kinds=kinds(caller.tenant),
        uow=uow,
        accessed=SensitiveDataAccessed,
        by=caller.who,
        role=",".join(sorted(caller.roles)),
    )
