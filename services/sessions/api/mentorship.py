"""A pair's mentorship: the view, the agreement, goals, the AI-confidence check."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter

from services.sessions import handlers, repository
from services.sessions.api.schemas import AgreementIn, ConfidenceIn, EventsOut, GoalIn
from services.sessions.domain import commands as c
from shared.http import Connection, UoW

router = APIRouter(prefix="/pairs/{pair_id}", tags=["mentorship"])


def events_out(events: list[Any]) -> EventsOut:
    return EventsOut(events=[{"type": e.TYPE, "data": e.model_dump(mode="json")} for e in events])


@router.get("", summary="The pair as the sessions service knows it, with agreement, goals and sessions")
async def get_pair(pair_id: str, conn: Connection) -> dict[str, Any]:
    await repository.pair_view(conn, pair_id)  # a 404 naming pair_id when unknown
    pair = await conn.fetchrow("SELECT * FROM pairs WHERE pair_id = $1", pair_id)
    assert pair is not None
    agreement = await conn.fetch("SELECT role, meeting_rhythm, confidentiality, confirmed_at FROM agreements "
                                 "WHERE pair_id = $1", pair_id)  # fmt: skip
    goals = await conn.fetch("SELECT goal_id, topic, description, set_at, achieved_at FROM goals WHERE pair_id = $1 "
                             "ORDER BY set_at, goal_id", pair_id)  # fmt: skip
    sessions = await conn.fetch("SELECT * FROM sessions WHERE pair_id = $1 ORDER BY starts_at, session_id", pair_id)
    return {
        **dict(pair),
        "agreement": {r["role"]: dict(r) for r in agreement},
        "agreement_complete": len(agreement) == 2,
        "goals": [dict(g) for g in goals],
        "sessions": [{**dict(s), "ics_url": f"/sessions/{s['session_id']}.ics"} for s in sessions],
    }


@router.post("/agreement", status_code=201, response_model=EventsOut, summary="One side confirms the agreement")
async def confirm_agreement(pair_id: str, body: AgreementIn, uow: UoW) -> EventsOut:
    async with uow:
        return events_out(await handlers.execute(uow, c.ConfirmAgreement(pair_id=pair_id, **body.model_dump())))


@router.post("/goals", status_code=201, response_model=EventsOut, summary="Set a goal tied to an AI topic")
async def set_goal(pair_id: str, body: GoalIn, uow: UoW) -> EventsOut:
    data = body.model_dump()
    data["goal_id"] = data["goal_id"] or str(uuid.uuid4())
    async with uow:
        return events_out(await handlers.execute(uow, c.SetGoal(pair_id=pair_id, **data)))


@router.post("/goals/{goal_id}/achieve", response_model=EventsOut, summary="Mark a goal achieved")
async def achieve_goal(pair_id: str, goal_id: str, uow: UoW) -> EventsOut:
    async with uow:
        return events_out(await handlers.execute(uow, c.AchieveGoal(pair_id=pair_id, goal_id=goal_id)))


@router.post("/confidence", status_code=201, response_model=EventsOut, summary="The mentee's AI-confidence check")
async def rate_confidence(pair_id: str, body: ConfidenceIn, uow: UoW) -> EventsOut:
    async with uow:
        return events_out(await handlers.execute(uow, c.RateConfidence(pair_id=pair_id, **body.model_dump())))
