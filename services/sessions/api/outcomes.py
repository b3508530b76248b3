"""Programme outcomes for HR and auditors: the figures (JSON), exports (CSV, JSON), the at-risk pairs.

Figures are shown only for groups of at least the programme's `min_group_size` (a caller may raise it, never
lower it). Every export is recorded (`SensitiveDataAccessed`, through the outbox). Names of the people in
at-risk pairs are for HR only; CSV cells are neutralised against formula injection (shared/csvsafe.py).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from services.sessions import repository
from services.sessions.api.callers import CallerReach, Who
from services.sessions.domain import callers
from services.sessions.domain.outcomes import CSV_COLUMNS, ProgrammeOutcomes, compute_outcomes, group_floor
from shared.csvsafe import rows_to_csv
from shared.db import Conn
from shared.errors import InvalidInput
from shared.events.sessions import SensitiveDataAccessed
from shared.http import Connection, Limit, Offset, PathId, UoW
from shared.uow import UnitOfWork

router = APIRouter(tags=["outcomes"])

AsOf = Annotated[datetime | None, Query(description="Figures as they stood at this time (default: now).")]
MinGroup = Annotated[
    int | None,
    Query(
        le=100,
        description="Below this many answers a share is not shown. Default and lowest allowed: the programme's "
        "floor (its min_group_size, 5 unless the programme says otherwise); a caller may raise it.",
    ),
]


@router.get("/programmes", summary="Programmes known to the sessions service (for the dashboard's picker)")
async def programmes(who: Who, conn: Connection, limit: Limit = 100, offset: Offset = 0) -> list[dict[str, Any]]:
    return await repository.programmes(conn, who.tenant, limit=limit, offset=offset)


async def _outcomes(
    conn: Conn, tenant: str, programme_id: str, as_of: datetime | None, min_group_size: int | None
) -> tuple[dict[str, Any], ProgrammeOutcomes]:
    if as_of is not None and as_of.tzinfo is None:
        raise InvalidInput("as_of needs a time zone, e.g. 2026-03-01T12:00:00Z", field="as_of")
    programme = await repository.programme(conn, tenant, programme_id)
    floor = group_floor(programme["min_group_size"], min_group_size)
    facts = await repository.programme_facts(conn, tenant, programme_id)
    return programme, compute_outcomes(facts, now=as_of or datetime.now(UTC), min_group_size=floor)


async def _figures(
    conn: Conn, who: CallerReach, programme_id: str, as_of: datetime | None, min_group_size: int | None
) -> dict[str, Any]:
    programme, result = await _outcomes(conn, who.tenant, programme_id, as_of, min_group_size)
    data = result.to_dict()
    if callers.sees_names(who.roles):
        people = {p.mentor_id for p in result.at_risk} | {p.mentee_id for p in result.at_risk}
        names = await repository.names(conn, who.tenant, people)
        for pair in data["at_risk"]:
            pair["mentor_name"] = names.get(pair["mentor_id"], pair["mentor_id"])
            pair["mentee_name"] = names.get(pair["mentee_id"], pair["mentee_id"])
    data["programme"] = {k: str(programme[k]) for k in ("name", "starts_on", "ends_on")}
    data["programme"]["min_group_size"] = programme["min_group_size"]
    return data


@router.get("/programmes/{programme_id}/outcomes", summary="Outcome figures beside the published reference figures")
async def outcomes(
    programme_id: PathId, who: Who, conn: Connection, as_of: AsOf = None, min_group_size: MinGroup = None
) -> dict[str, Any]:
    return await _figures(conn, who, programme_id, as_of, min_group_size)


def _record_export(uow: UnitOfWork, who: CallerReach, programme_id: str, what: str) -> None:
    uow.emit(SensitiveDataAccessed(subject_id=programme_id, what=what, by=who.principal.who, role=who.acting_role))


@router.get(
    "/programmes/{programme_id}/outcomes.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
    summary="Export the figures as CSV",
)
async def outcomes_csv(
    programme_id: PathId, who: Who, uow: UoW, as_of: AsOf = None, min_group_size: MinGroup = None
) -> Response:
    async with uow:
        programme, result = await _outcomes(uow.conn, who.tenant, programme_id, as_of, min_group_size)
        _record_export(uow, who, programme_id, "outcomes.csv")
        await uow.commit()
    text = rows_to_csv(CSV_COLUMNS, result.to_csv_rows(programme_name=programme["name"]))
    disposition = f'attachment; filename="tandem-{programme_id}-outcomes.csv"'
    return Response(text, media_type="text/csv; charset=utf-8", headers={"Content-Disposition": disposition})


@router.get("/programmes/{programme_id}/outcomes.json", summary="Export the figures as a JSON file")
async def outcomes_json(
    programme_id: PathId, who: Who, uow: UoW, as_of: AsOf = None, min_group_size: MinGroup = None
) -> Response:
    async with uow:
        programme, result = await _outcomes(uow.conn, who.tenant, programme_id, as_of, min_group_size)
        _record_export(uow, who, programme_id, "outcomes.json")
        await uow.commit()
    data = {
        "programme": {k: str(programme[k]) for k in ("programme_id", "name", "starts_on", "ends_on")},
        **result.to_dict(),
    }
    disposition = f'attachment; filename="tandem-{programme_id}-outcomes.json"'
    return Response(
        json.dumps(data, indent=2), media_type="application/json", headers={"Content-Disposition": disposition}
    )


@router.get("/programmes/{programme_id}/at-risk", summary="Pairs with no session for twice the cadence, with names")
async def at_risk(programme_id: PathId, who: Who, conn: Connection, as_of: AsOf = None) -> list[dict[str, Any]]:
    data = await _figures(conn, who, programme_id, as_of, None)
    at_risk_pairs: list[dict[str, Any]] = data["at_risk"]
    return at_risk_pairs
