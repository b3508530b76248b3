"""Sessions: schedule, reschedule, cancel, log as held; each as an iCalendar file."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response

from services.sessions import handlers, repository
from services.sessions.api.callers import Who
from services.sessions.api.mentorship import events_out
from services.sessions.api.schemas import CancelIn, EventsOut, LogIn, RescheduleIn, ScheduleIn, SessionOut
from services.sessions.domain import commands as c
from shared.calendar import CalendarPerson, session_ics, session_summary
from shared.events.common import Locale
from shared.http import Connection, PathId, UoW

router = APIRouter(tags=["sessions"])


@router.post("/pairs/{pair_id}/sessions", status_code=201, response_model=EventsOut, summary="Schedule a session")
async def schedule(pair_id: PathId, body: ScheduleIn, who: Who, uow: UoW) -> EventsOut:
    data = body.model_dump()
    data["session_id"] = data["session_id"] or str(uuid.uuid4())
    async with uow:
        await who.pair(uow.conn, pair_id)
        return events_out(await handlers.execute(uow, c.ScheduleSession(pair_id=pair_id, **data)))


@router.post("/pairs/{pair_id}/sessions/{session_id}/reschedule", response_model=EventsOut)
async def reschedule(pair_id: PathId, session_id: PathId, body: RescheduleIn, who: Who, uow: UoW) -> EventsOut:
    async with uow:
        await who.pair(uow.conn, pair_id)
        return events_out(
            await handlers.execute(
                uow, c.RescheduleSession(pair_id=pair_id, session_id=session_id, **body.model_dump())
            )
        )


@router.post("/pairs/{pair_id}/sessions/{session_id}/cancel", response_model=EventsOut)
async def cancel(pair_id: PathId, session_id: PathId, body: CancelIn, who: Who, uow: UoW) -> EventsOut:
    async with uow:
        await who.pair(uow.conn, pair_id)
        return events_out(
            await handlers.execute(uow, c.CancelSession(pair_id=pair_id, session_id=session_id, reason=body.reason))
        )


@router.post(
    "/pairs/{pair_id}/sessions/{session_id}/log",
    response_model=EventsOut,
    summary="Log a session as held: when, minutes, AI topics and tools practised, action items",
)
async def log_session(pair_id: PathId, session_id: PathId, body: LogIn, who: Who, uow: UoW) -> EventsOut:
    async with uow:
        await who.pair(uow.conn, pair_id)
        return events_out(
            await handlers.execute(uow, c.LogSession(pair_id=pair_id, session_id=session_id, **body.model_dump()))
        )


@router.get(
    "/sessions/{session_id}.ics",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}},
    summary="The session as an iCalendar (RFC 5545) invitation; SEQUENCE grows, METHOD:CANCEL once cancelled",
)
async def session_calendar(
    session_id: PathId,
    who: Who,
    conn: Connection,
    lang: Annotated[
        Locale | None,
        Query(
            description="The language of the entry's text; by default the caller's own (a participant of the "
            "pair), else English."
        ),
    ] = None,
) -> Response:
    row = await who.session(conn, session_id)
    session = repository.session_of(row)
    people = await repository.calendar_people(conn, who.tenant, session.pair_id)
    own = await who.own_ids(conn)
    mine = [r["locale"] for r in people if r["participant_id"] in own]
    locale = lang or ("de" if mine and mine[0] == "de" else "en")
    attendees = [CalendarPerson(r["email"], r["display_name"]) for r in people]
    body = session_ics(
        session,
        dtstamp=row["updated_at"].astimezone(UTC) if row["updated_at"] else datetime.now(UTC),
        summary=session_summary(locale, [r["display_name"] for r in people]),
        attendees=attendees,
        language=locale,
    )
    method = "CANCEL" if session.status == "cancelled" else "REQUEST"
    return Response(
        body,
        media_type=f"text/calendar; charset=utf-8; method={method}",
        headers={"Content-Disposition": f'attachment; filename="tandem-{session_id}.ics"'},
    )


# after the .ics route: "/sessions/{session_id}" would otherwise take "x.ics" as an id
@router.get("/sessions/{session_id}", response_model=SessionOut)
async def get_session(session_id: PathId, who: Who, conn: Connection) -> SessionOut:
    return SessionOut.of(repository.session_of(await who.session(conn, session_id)))
