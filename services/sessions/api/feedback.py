"""Feedback: one per author per session (or at the programme's end). Confidential comments are shown
only to their author and to HR: the caller says who they are with `X-Tandem-Participant` or
`X-Tandem-Role: hr` (the seam where real authentication plugs in)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header

from services.sessions import handlers
from services.sessions.api.mentorship import events_out
from services.sessions.api.schemas import EventsOut, FeedbackIn
from services.sessions.domain import commands as c
from shared.http import Connection, UoW

router = APIRouter(prefix="/pairs/{pair_id}/feedback", tags=["feedback"])


@router.post("", status_code=201, response_model=EventsOut, summary="Give feedback")
async def submit(pair_id: str, body: FeedbackIn, uow: UoW) -> EventsOut:
    data = body.model_dump()
    data["feedback_id"] = data["feedback_id"] or str(uuid.uuid4())
    async with uow:
        events = await handlers.execute(uow, c.SubmitFeedback(pair_id=pair_id, **data))
    out = events_out(events)
    return out


@router.get("", summary="The pair's feedback; a confidential comment only for its author or HR")
async def list_feedback(
    pair_id: str,
    conn: Connection,
    x_tandem_participant: Annotated[str | None, Header()] = None,
    x_tandem_role: Annotated[str | None, Header()] = None,
) -> list[dict[str, Any]]:
    rows = await conn.fetch("SELECT * FROM feedback WHERE pair_id = $1 ORDER BY submitted_at, feedback_id", pair_id)
    out = []
    for r in rows:
        item = dict(r)
        if not (x_tandem_role == "hr" or (x_tandem_participant and x_tandem_participant == r["author_id"])):
            item["confidential_comment"] = None
        out.append(item)
    return out
