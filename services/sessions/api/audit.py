"""Audit for HR and auditors: a subject's timeline from the log, or with `as_of` a pair as the sessions domain
folds it (agreement, goals, sessions, feedback). The pairing service answers the same route for the pair's
state and people; `tandem audit` puts both together."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request

from services.sessions.api.callers import Who
from services.sessions.audit import kinds
from shared.audit_http import SUMMARY, answer
from shared.events.sessions import SensitiveDataAccessed
from shared.http import PathId, UoW

router = APIRouter(tags=["audit"])


@router.get("/audit/{subject}", summary=SUMMARY, responses={200: {"content": {"application/json": {}, "text/csv": {}}}})
async def audit(
    subject: PathId,
    request: Request,
    who: Who,
    uow: UoW,
    as_of: Annotated[datetime | None, Query(description="ISO 8601 with a time zone")] = None,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Any:
    """The caller's tenant's events only. A confidential comment shows to HR; to anyone else it reads
    "[confidential]". Every read is recorded in the log (SensitiveDataAccessed: who, what, when)."""

    return await answer(
        request,
        subject,
        tenant=who.tenant,
        hr="hr" in who.roles,
        as_of=as_of,
        format=format,
        kinds=kinds(who.tenant),
        uow=uow,
        accessed=SensitiveDataAccessed,
        by=who.principal.who,
        role=who.acting_role,
    )
