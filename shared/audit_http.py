"""The `/audit/{subject}` answer every service gives from the log: a subject's timeline (JSON or CSV), or with
`as_of` its state then as folded by the kinds of subject that service's domain knows. Mechanics only: the
kinds, and the event that records the read, are the service's."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Literal

from fastapi import Request, Response

from shared import audit as a
from shared.errors import InvalidInput, NotFound
from shared.events import EventPayload
from shared.runtime import host_of
from shared.uow import UnitOfWork

SUMMARY = "Timeline of a subject from the event log; with as_of its state then, as this service knows it"


async def answer(
    request: Request,
    subject: str,
    *,
    tenant: str,
    hr: bool,
    as_of: datetime | None,
    format: Literal["json", "csv"],
    kinds: Sequence[a.Kind],
    uow: UnitOfWork,
    accessed: Callable[..., EventPayload],
    by: str,
    role: str,
) -> Any:
    """The caller's tenant's events only; confidential text only for HR. The read is kept in the log before
    anything is answered: `accessed` (the service's SensitiveDataAccessed) with who (`by`, `role`) and what."""
    if as_of is not None and as_of.tzinfo is None:
        raise InvalidInput("as_of needs a time zone, e.g. 2026-03-01T12:00:00Z", field="as_of")
    host = host_of(request.app)
    raw = await a.read_log(
        host.settings.kafka_bootstrap_servers,
        host.topics.event_topics(),
        security=host.settings.kafka_security,
        keys=host.keys_for,
    )
    events = a.for_reader(raw, tenant, confidential=hr)
    if not any(a.about(e.env, subject) for e in events):  # nothing about it in the caller's tenant
        raise NotFound(f"nothing is known about {subject}", field="subject")
    what = f"audit state as of {as_of.isoformat()}" if as_of is not None else f"audit timeline ({format})"
    if hr and a.shows_confidential(events, subject):
        what += ", confidential comments included"
    async with uow:
        uow.emit(accessed(subject_id=subject, what=what, by=by, role=role))
        await uow.commit()
    if as_of is not None:
        return a.state_as_of(events, subject, as_of, kinds)
    rows = [e.row() for e in a.timeline(events, subject)]
    if format == "csv":
        return Response(a.to_csv(rows), media_type="text/csv; charset=utf-8")
    return rows
