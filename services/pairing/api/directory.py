"""The employee directory, read by HR: every employee of the organisation, and whose manager is missing."""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import IO, Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from services.pairing import directory_import, handlers, repository
from services.pairing.api.deps import Connection, PathId, Tenant, UoW
from services.pairing.domain.directory import Employee
from shared.errors import InvalidInput
from shared.http import correlation_id
from shared.runtime import host_of

router = APIRouter(prefix="/directory", tags=["directory"])


class EmployeeOut(BaseModel):
    employee_id: str
    user_name: str
    display_name: str
    email: str
    external_id: str | None
    department: str | None
    grade: int | None
    manager_employee_id: str | None
    location: str | None
    timezone: str
    languages: list[str]
    locale: str
    status: Literal["active", "on_leave", "left"]
    hired_on: date | None
    left_on: date | None
    effective_at: datetime = Field(description="When the latest change took effect at its source.")
    revision: int = Field(description="The directory revision of the latest change.")

    @classmethod
    def of(cls, e: Employee) -> EmployeeOut:
        return cls(**{**vars(e), "languages": list(e.languages)})


class EmployeePage(BaseModel):
    items: list[EmployeeOut]
    total: int
    limit: int
    offset: int
    revision: int = Field(description="The directory's current revision.")


class PendingManager(BaseModel):
    employee_id: str
    display_name: str
    manager_employee_id: str = Field(description="Named as manager, not (yet) in the directory.")
    effective_at: datetime


class RecheckOut(BaseModel):
    flagged: int
    cleared: int
    revision: int


@router.get("/employees", response_model=EmployeePage, summary="Employees of the organisation, with filters")
async def list_employees(
    conn: Connection,
    tenant: Tenant,
    status: Literal["active", "on_leave", "left"] | None = None,
    manager_employee_id: str | None = Query(default=None, description="Only this manager's direct reports."),
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> EmployeePage:
    items, total = await repository.list_employees(
        conn, tenant, status=status, manager_employee_id=manager_employee_id, limit=limit, offset=offset
    )
    revision = await repository.directory_revision(conn, tenant)
    return EmployeePage(
        items=[EmployeeOut.of(e) for e in items], total=total, limit=limit, offset=offset, revision=revision
    )


@router.get("/employees/{employee_id}", response_model=EmployeeOut)
async def get_employee(employee_id: PathId, conn: Connection, tenant: Tenant) -> EmployeeOut:
    return EmployeeOut.of(await repository.get_employee(conn, tenant, employee_id))


@router.get(
    "/pending-managers",
    response_model=list[PendingManager],
    summary="Employees whose manager is not in the directory yet (kept, and resolved when the manager arrives)",
)
async def pending_managers(conn: Connection, tenant: Tenant) -> list[dict[str, Any]]:
    return await repository.pending_managers(conn, tenant)


@router.post(
    "/recheck",
    response_model=RecheckOut,
    summary="Check every live pair against the directory's hard rules now (flag or clear)",
)
async def recheck(uow: UoW) -> RecheckOut:
    async with uow:
        revision = await repository.lock_directory(uow.conn, uow.tenant)
        result = await handlers.recheck_pairs(uow, None, since=datetime.now(UTC), revision=revision)
        await uow.commit()
    return RecheckOut(flagged=result.flagged, cleared=result.cleared, revision=revision)


class ImportOut(BaseModel):
    rows: int
    hired: int
    rehired: int
    updated: int
    left: int
    ignored: int = Field(description="Rows older than the record they would change (recorded, not applied).")
    unchanged: int
    flagged: int = Field(description="Live pairs a change made break a hard rule.")
    withdrawn: int = Field(description="Enrolments ended because the person left.")
    participants_updated: int
    complete: bool
    dry_run: bool
    revision: int
    changes: list[dict[str, Any]] = Field(description="The first changes: employee, change, fields.")


#: Bodies up to this size stay in memory while they are received; larger ones go to a temporary file.
_SPOOL = 1 << 20


@router.post(
    "/imports",
    response_model=ImportOut,
    summary="Full-file sync: the HR platform's export (CSV, or a JSON list), diffed with the directory",
    description=(directory_import.__doc__ or "").split("\n\n", 1)[1],
    openapi_extra={
        "requestBody": {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            }
        }
    },
)
async def import_file(
    request: Request,
    tenant: Tenant,
    complete: bool = Query(default=False, description="The file lists everyone: whoever is missing has left."),
    dry_run: bool = Query(default=False, description="Report what would change; change nothing."),
    as_of: datetime | None = Query(default=None, description="When the export was taken (default: now)."),
) -> ImportOut:
    if as_of is not None and as_of.tzinfo is None:
        raise InvalidInput("as_of needs a time zone, e.g. 2026-03-01T12:00:00Z", field="as_of")
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    host = host_of(request.app)
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL, mode="w+b") as spool:
        async for chunk in request.stream():
            spool.write(chunk)
        if content_type in ("text/csv", "application/csv"):
            rows = _spooled_csv(spool)
        elif content_type == "application/json":
            spool.seek(0)
            try:
                items = json.loads(spool.read().decode("utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise InvalidInput(f"the body is not JSON: {exc}", field="body") from None
            if not isinstance(items, list):
                raise InvalidInput("send a JSON list of employee records", field="body")
            rows = lambda: directory_import.json_rows(items)  # noqa: E731
        else:
            raise InvalidInput("send text/csv or application/json (a list)", field="content-type")
        report = await directory_import.run_import(
            host.pool,
            host.topics,
            tenant,
            rows,
            complete=complete,
            dry_run=dry_run,
            as_of=as_of,
            correlation_id=correlation_id(request),
        )
    return ImportOut(**{k: v for k, v in vars(report).items() if k in ImportOut.model_fields})


def _spooled_csv(spool: IO[bytes]) -> directory_import.Rows:
    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        spool.seek(0)
        text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
        try:
            yield from directory_import.csv_rows(text)
        except UnicodeDecodeError:
            raise InvalidInput("the file must be UTF-8", field="body") from None
        finally:
            text.detach()

    return rows
