"""The `/audit/{subject}` route, once for every service that answers it: a service says who reads (its caller
dependency, as a `Reader`), which SensitiveDataAccessed it records and which kinds of state it folds.

No `from __future__ import annotations` here: the route's parameters name the service's dependency, a value
of this function's call, which FastAPI must see as an object, not as a name to look up in this module."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request

from shared import audit as a
from shared.audit_http import SUMMARY, answer
from shared.events import EventPayload
from shared.http import PathId, UoW


@dataclass(frozen=True)
class Reader:
    """Who reads: their tenant, whether they may see confidential text (HR), and how the log names them."""

    tenant: str
    hr: bool
    by: str
    role: str


def audit_router(
    reader: Callable[..., Any],
    accessed: Callable[..., EventPayload],
    kinds: Callable[[str], Sequence[a.Kind]],
) -> APIRouter:
    """The audit route; `reader` is a FastAPI dependency that answers the caller as a `Reader`."""
    router = APIRouter(tags=["audit"])

    @router.get(
        "/audit/{subject}", summary=SUMMARY, responses={200: {"content": {"application/json": {}, "text/csv": {}}}}
    )
    async def audit(
        subject: PathId,
        request: Request,
        who: Annotated[Reader, Depends(reader)],
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
            hr=who.hr,
            as_of=as_of,
            format=format,
            kinds=kinds(who.tenant),
            uow=uow,
            accessed=accessed,
            by=who.by,
            role=who.role,
        )

    return router
