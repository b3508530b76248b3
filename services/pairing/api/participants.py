"""Participants: enrol one, enrol many (JSON list or CSV upload), read, update, withdraw."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import TypeAdapter, ValidationError

from services.pairing import csv_import, handlers, repository
from services.pairing.api.deps import Connection, Limit, Offset, Own, PathId, Tenant, UoW, mine
from services.pairing.api.schemas import (
    PairOut,
    ParticipantIn,
    ParticipantOut,
    ParticipantPage,
    ParticipantPatch,
    WithdrawIn,
)
from shared.errors import DomainError, InvalidInput

router = APIRouter(tags=["participants"])
_MANY = TypeAdapter(list[dict[str, Any]])


@router.post(
    "/programmes/{programme_id}/participants",
    status_code=201,
    response_model=ParticipantOut,
    summary="Enrol one employee of the directory by id; the profile comes from the directory",
)
async def enrol(programme_id: PathId, body: ParticipantIn, uow: UoW) -> ParticipantOut:
    async with uow:
        [participant] = await handlers.enrol_participants(uow, programme_id, [body.enrolment()])
    return ParticipantOut.of(participant)


@router.post(
    "/programmes/{programme_id}/participants/bulk",
    status_code=201,
    response_model=list[ParticipantOut],
    summary="Enrol many employees by id, all or nothing: a JSON list, or a CSV file (Content-Type: text/csv)",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "schema": {"type": "array", "items": {"$ref": "#/components/schemas/ParticipantIn"}}
                },
                "text/csv": {"schema": {"type": "string"}},
            }
        }
    },
)
async def enrol_many(programme_id: PathId, request: Request, uow: UoW) -> list[ParticipantOut]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    raw = await request.body()
    if content_type in ("text/csv", "application/csv"):
        try:
            rows, lines = csv_import.parse_lines(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise InvalidInput("the CSV must be UTF-8", field="body") from None
        label = "row"
    elif content_type == "application/json":
        try:
            rows = _MANY.validate_json(raw)
        except ValidationError as exc:
            raise handlers.invalid(exc, prefix="body.") from None
        label, lines = "item", []
    else:
        raise InvalidInput("send application/json (a list) or text/csv", field="content-type")
    if not rows:
        raise InvalidInput("no participants in the request", field="body")
    try:
        async with uow:
            enrolled = await handlers.enrol_participants(uow, programme_id, rows, row_label=label)
    except DomainError as exc:  # a CSV's row errors also name the file's line
        for detail in exc.details:
            row = detail.get("row")
            if lines and isinstance(row, int) and 0 < row <= len(lines):
                detail["line"] = lines[row - 1]
        raise
    return [ParticipantOut.of(p) for p in enrolled]


@router.get("/programmes/{programme_id}/participants", response_model=ParticipantPage)
async def list_participants(
    programme_id: PathId,
    conn: Connection,
    tenant: Tenant,
    role: Literal["mentor", "mentee"] | None = None,
    status: Literal["enrolled", "withdrawn"] | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> ParticipantPage:
    await repository.get_programme(conn, tenant, programme_id)
    items, total = await repository.list_participants(
        conn, tenant, programme_id, role=role, status=status, limit=limit, offset=offset
    )
    return ParticipantPage(items=[ParticipantOut.of(p) for p in items], total=total, limit=limit, offset=offset)


@router.get("/participants/{participant_id}", response_model=ParticipantOut)
async def get_participant(participant_id: PathId, conn: Connection, tenant: Tenant, own: Own) -> ParticipantOut:
    mine(own, participant_id, what=f"no participant {participant_id}", field="participant_id")
    return ParticipantOut.of(await repository.get_participant(conn, tenant, participant_id))


@router.patch(
    "/participants/{participant_id}",
    response_model=ParticipantOut,
    summary="Change the programme's fields (topics, goal, capacity, availability); the rest is the directory's",
)
async def update(participant_id: PathId, body: ParticipantPatch, uow: UoW, own: Own) -> ParticipantOut:
    mine(own, participant_id, what=f"no participant {participant_id}", field="participant_id")
    changes = body.model_dump(exclude_unset=True, mode="json")
    if not changes:
        raise InvalidInput("nothing to change", field="body")
    async with uow:
        return ParticipantOut.of(await handlers.update_participant(uow, participant_id, changes))


@router.post(
    "/participants/{participant_id}/withdraw",
    response_model=list[PairOut],
    summary="Withdraw; their live pairs end (reason withdrawn) in the same transaction. Returns those pairs.",
)
async def withdraw(participant_id: PathId, body: WithdrawIn, uow: UoW, own: Own) -> list[PairOut]:
    mine(own, participant_id, what=f"no participant {participant_id}", field="participant_id")
    async with uow:
        _, ended = await handlers.withdraw_participant(uow, participant_id, body.reason)
    return [PairOut.of(p) for p in ended]
