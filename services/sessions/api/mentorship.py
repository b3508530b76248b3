"""A pair's mentorship: the view, the agreement, goals, the AI-confidence check."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter

from services.sessions import handlers, repository
from services.sessions.api.callers import Who
from services.sessions.api.schemas import AgreementIn, ConfidenceIn, EventsOut, GoalIn
from services.sessions.domain import commands as c
from shared.http import Connection, PathId, UoW

router = APIRouter(prefix="/pairs/{pair_id}", tags=["mentorship"])


def events_out(events: list[Any]) -> EventsOut:
    return EventsOut(events=[{"type": e.TYPE, "data": e.model_dump(mode="json")} for e in events])


@router.get("", summary="The pair as the sessions service knows it, with agreement, goals and sessions")
async def get_pair(pair_id: PathId, who: Who, conn: Connection) -> dict[str, Any]:
    await who.pair(conn, pair_id)
    return await repository.pair_detail(conn, who.tenant, pair_id)


@router.post("/agreement", status_code=201, response_model=EventsOut, summary="One side confirms the agreement")
async def confirm_agreement(pair_id: PathId, body: AgreementIn, who: Who, uow: UoW) -> EventsOut:
    async with uow:
        await who.pair(uow.conn, pair_id)
        await who.acting_as(uow.conn, "participant_id", body.participant_id)
        return events_out(await handlers.execute(uow, c.ConfirmAgreement(pair_id=pair_id, **body.model_dump())))


@router.post("/goals", status_code=201, response_model=EventsOut, summary="Set a goal tied to an AI topic")
async def set_goal(pair_id: PathId, body: GoalIn, who: Who, uow: UoW) -> EventsOut:
    data = body.model_dump()
    data["goal_id"] = data["goal_id"] or str(uuid.uuid4())
    async with uow:
        await who.pair(uow.conn, pair_id)
        return events_out(await handlers.execute(uow, c.SetGoal(pair_id=pair_id, **data)))


@router.post("/goals/{goal_id}/achieve", response_model=EventsOut, summary="Mark a goal achieved")
async def achieve_goal(pair_id: PathId, goal_id: PathId, who: Who, uow: UoW) -> EventsOut:
    async with uow:
        await who.pair(uow.conn, pair_id)
        return events_out(await handlers.execute(uow, c.AchieveGoal(pair_id=pair_id, goal_id=goal_id)))


@router.post("/confidence", status_code=201, response_model=EventsOut, summary="The mentee's AI-confidence check")
async def rate_confidence(pair_id: PathId, body: ConfidenceIn, who: Who, uow: UoW) -> EventsOut:
    async with uow:
        await who.pair(uow.conn, pair_id)
        await who.acting_as(uow.conn, "participant_id", body.participant_id)
        return events_out(await handlers.execute(uow, c.RateConfidence(pair_id=pair_id, **body.model_dump())))
