"""Feedback: one per author per session (or at the programme's end), each given by its author with their own
token. A confidential comment is shown only to its author and to HR (domain/callers.py); HR reading one is
recorded (`SensitiveDataAccessed`, through the outbox, in the same transaction as the read)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter

from services.sessions import handlers, repository
from services.sessions.api.callers import Who
from services.sessions.api.mentorship import events_out
from services.sessions.api.schemas import EventsOut, FeedbackIn
from services.sessions.domain import callers
from services.sessions.domain import commands as c
from shared.events.sessions import SensitiveDataAccessed
from shared.http import Limit, Offset, PathId, UoW

router = APIRouter(prefix="/pairs/{pair_id}/feedback", tags=["feedback"])


@router.post("", status_code=201, response_model=EventsOut, summary="Give feedback (as yourself)")
async def submit(pair_id: PathId, body: FeedbackIn, who: Who, uow: UoW) -> EventsOut:
    data = body.model_dump()
    data["feedback_id"] = data["feedback_id"] or str(uuid.uuid4())
    async with uow:
        await who.pair(uow.conn, pair_id)
        await who.acting_as(uow.conn, "author_id", body.author_id)
        return events_out(await handlers.execute(uow, c.SubmitFeedback(pair_id=pair_id, **data)))


@router.get("", summary="The pair's feedback; a confidential comment only for its author or HR")
async def list_feedback(
    pair_id: PathId, who: Who, uow: UoW, limit: Limit = 100, offset: Offset = 0
) -> list[dict[str, Any]]:
    async with uow:
        await who.pair(uow.conn, pair_id)
        rows = await repository.feedback(uow.conn, who.tenant, pair_id, limit=limit, offset=offset)
        items, others = callers.redact_feedback(rows, who.roles, await who.own_ids(uow.conn))
        if others:  # HR read someone's confidential comment: the log and the audit keep who, what and when
            what = f"confidential comments ({others})"
            uow.emit(SensitiveDataAccessed(subject_id=pair_id, what=what, by=who.principal.who, role=who.acting_role))
        await uow.commit()
    return items
