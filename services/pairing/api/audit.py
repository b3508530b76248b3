"""Audit for the HR platform and auditors: a subject's timeline from the log, or its state at a time."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from services.pairing.api.deps import Caller, PathId, UoW
from services.pairing.audit import kinds
from shared import audit as a
from shared.errors import InvalidInput, NotFound
from shared.events.pairing import SensitiveDataAccessed
from shared.runtime import host_of

router = APIRouter(tags=["audit"])


@router.get(
    "/audit/{subject}",
    summary="Timeline of a pair, participant, programme or employee from the event log; with as_of its state then",
    responses={200: {"content": {"application/json": {}, "text/csv": {}}}},
)
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
    if as_of is not None and as_of.tzinfo is None:
        raise InvalidInput("as_of needs a time zone, e.g. 2026-03-01T12:00:00Z", field="as_of")
    host = host_of(request.app)
    raw = await a.read_log(
        host.settings.kafka_bootstrap_servers, host.topics.event_topics(), security=host.settings.kafka_security
    )
    hr = caller.has("hr")
    events = a.for_reader(raw, caller.tenant, confidential=hr)
    if not any(a.about(e.env, subject) for e in events):  # nothing about it in the caller's tenant
        raise NotFound(f"nothing is known about {subject}", field="subject")
    what = f"audit state as of {as_of.isoformat()}" if as_of is not None else f"audit timeline ({format})"
    if hr and a.shows_confidential(events, subject):
        what += ", confidential comments included"
    async with uow:
        uow.emit(
            SensitiveDataAccessed(subject_id=subject, what=what, by=caller.who, role=",".join(sorted(caller.roles)))
        )
        await uow.commit()
    if as_of is not None:
        return a.state_as_of(events, subject, as_of, kinds(caller.tenant))
    rows = [e.row() for e in a.timeline(events, subject)]
    if format == "csv":
        return Response(a.to_csv(rows), media_type="text/csv; charset=utf-8")
    return rows
