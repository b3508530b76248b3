"""Programme outcomes for HR: the figures (JSON), exports (CSV, JSON), the at-risk pairs."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from services.sessions import repository
from services.sessions.domain.outcomes import CSV_COLUMNS, MIN_GROUP_SIZE, ProgrammeOutcomes, compute_outcomes
from shared.errors import InvalidInput
from shared.http import Connection

router = APIRouter(tags=["outcomes"])

AsOf = Annotated[datetime | None, Query(description="Figures as they stood at this time (default: now).")]
MinGroup = Annotated[int, Query(ge=1, le=100, description="Below this many answers a share is not shown.")]


@router.get("/programmes", summary="Programmes known to the sessions service (for the dashboard's picker)")
async def programmes(conn: Connection) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT p.*, (SELECT count(*) FROM pairs x WHERE x.programme_id = p.programme_id) AS pairs "
        "FROM programmes p ORDER BY p.starts_on DESC, p.name"
    )
    return [dict(r) for r in rows]


async def _outcomes(conn: Any, programme_id: str, as_of: datetime | None, min_group_size: int) -> ProgrammeOutcomes:
    if as_of is not None and as_of.tzinfo is None:
        raise InvalidInput("as_of needs a time zone, e.g. 2026-03-01T12:00:00Z", field="as_of")
    facts = await repository.programme_facts(conn, programme_id)
    return compute_outcomes(facts, now=as_of or datetime.now(UTC), min_group_size=min_group_size)


@router.get("/programmes/{programme_id}/outcomes", summary="Outcome figures beside the published reference figures")
async def outcomes(
    programme_id: str, conn: Connection, as_of: AsOf = None, min_group_size: MinGroup = MIN_GROUP_SIZE
) -> dict[str, Any]:
    result = await _outcomes(conn, programme_id, as_of, min_group_size)
    data = result.to_dict()
    people = {p.mentor_id for p in result.at_risk} | {p.mentee_id for p in result.at_risk}
    names = await repository.names(conn, people)
    for pair in data["at_risk"]:
        pair["mentor_name"] = names.get(pair["mentor_id"], pair["mentor_id"])
        pair["mentee_name"] = names.get(pair["mentee_id"], pair["mentee_id"])
    programme = await conn.fetchrow("SELECT name, starts_on, ends_on FROM programmes WHERE programme_id = $1",
                                    programme_id)  # fmt: skip
    data["programme"] = {k: str(v) for k, v in dict(programme).items()} if programme else {}
    return data


@router.get("/programmes/{programme_id}/outcomes.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}}, summary="Export the figures as CSV")  # fmt: skip
async def outcomes_csv(
    programme_id: str, conn: Connection, as_of: AsOf = None, min_group_size: MinGroup = MIN_GROUP_SIZE
) -> Response:
    result = await _outcomes(conn, programme_id, as_of, min_group_size)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(CSV_COLUMNS))
    writer.writeheader()
    writer.writerows(result.to_csv_rows())
    disposition = f'attachment; filename="tandem-{programme_id}-outcomes.csv"'
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers={"Content-Disposition": disposition})


@router.get("/programmes/{programme_id}/outcomes.json", summary="Export the figures as a JSON file")
async def outcomes_json(
    programme_id: str, conn: Connection, as_of: AsOf = None, min_group_size: MinGroup = MIN_GROUP_SIZE
) -> Response:
    import json

    result = await _outcomes(conn, programme_id, as_of, min_group_size)
    disposition = f'attachment; filename="tandem-{programme_id}-outcomes.json"'
    return Response(
        json.dumps(result.to_dict(), indent=2), media_type="application/json",
        headers={"Content-Disposition": disposition},
    )  # fmt: skip


@router.get("/programmes/{programme_id}/at-risk", summary="Pairs with no session for twice the cadence")
async def at_risk(programme_id: str, conn: Connection, as_of: AsOf = None) -> list[dict[str, Any]]:
    data = await outcomes(programme_id, conn, as_of, MIN_GROUP_SIZE)
    at_risk_pairs: list[dict[str, Any]] = data["at_risk"]
    return at_risk_pairs
