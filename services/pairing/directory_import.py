"""Full-file sync of the employee directory: the HR platform's export, diffed with the directory.

Only differences become events (EmployeeHired, EmployeeUpdated, EmployeeLeft; a row older than the record
it would change becomes EmployeeChangeIgnored). Leavers are inferred from absence only when the file says it
is complete. The same code serves `tandem hr import FILE.csv` and the HTTP upload.

The file is read twice, as a stream: first to validate every row (nothing is applied when a row is wrong;
errors name the row and the field), then to apply it in chunks of `CHUNK` rows, one transaction each. Memory
stays bounded: a chunk of rows, and the set of employee ids seen (for duplicates and, in a complete file,
leavers). A sync that stops half-way (a crash) is finished by running it again: unchanged rows make no event.
A dry run applies the whole file in one transaction and rolls it back, so what it reports is exactly what a
real run would do, consequences included.

Columns (a header row; only employee_id, display_name and email are required):
employee_id, display_name, email, user_name, external_id, department, grade, manager_employee_id, location,
timezone, languages ("de; en-GB"), locale, status (active, on_leave, left), hired_on, left_on (YYYY-MM-DD).
A cell left empty keeps nothing: the file is the whole record. A column left out keeps the stored value.
"""

from __future__ import annotations

import csv
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

import asyncpg
from pydantic import ValidationError

from services.pairing import handlers, repository
from services.pairing.domain import directory
from shared.errors import InvalidInput
from shared.events.directory import EmployeeChangeIgnored, EmployeeHired, EmployeeLeft, EmployeeUpdated
from shared.topics import Topics
from shared.uow import UnitOfWork

REQUIRED = ("employee_id", "display_name", "email")
COLUMNS = (
    *REQUIRED,
    "user_name",
    "external_id",
    "department",
    "grade",
    "manager_employee_id",
    "location",
    "timezone",
    "languages",
    "locale",
    "status",
    "hired_on",
    "left_on",
)
CHUNK = 1000
MAX_ERRORS = 100
MAX_SAMPLE = 100


@dataclass
class ImportReport:
    rows: int = 0
    hired: int = 0
    rehired: int = 0
    updated: int = 0
    left: int = 0
    ignored: int = 0
    unchanged: int = 0
    flagged: int = 0
    withdrawn: int = 0
    participants_updated: int = 0
    complete: bool = False
    dry_run: bool = False
    revision: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    #: The first changes, each {employee_id, change, fields}.
    changes: list[dict[str, Any]] = field(default_factory=list)

    def count(self, result: handlers.DirectoryResult, rows: int) -> None:
        """Add what one chunk did; `rows` is how many of its changes were rows of the file (not leavers)."""
        touched = set()
        for event in result.events:
            touched.add(event.employee_id)
            kind = _kind(event)
            if kind == "hired":
                self.hired += 1
            elif kind == "rehired":
                self.rehired += 1
            elif kind == "updated":
                self.updated += 1
            elif kind == "left":
                self.left += 1
            else:
                self.ignored += 1
            if len(self.changes) < MAX_SAMPLE:
                fields = list(getattr(event, "changed", []) or [])
                self.changes.append({"employee_id": event.employee_id, "change": kind, "fields": fields})
        if rows:  # a chunk of the file's rows (a chunk of inferred leavers has none)
            self.unchanged += rows - len(touched)
        self.flagged += result.flagged
        self.withdrawn += result.withdrawn
        self.participants_updated += result.participants_updated
        self.revision = max(self.revision, result.revision)


def _kind(event: directory.DirectoryEvent) -> str:
    if isinstance(event, EmployeeHired):
        return "rehired" if event.rehired else "hired"
    if isinstance(event, EmployeeUpdated):
        return "updated"
    if isinstance(event, EmployeeLeft):
        return "left"
    assert isinstance(event, EmployeeChangeIgnored)
    return "ignored"


# --- reading -----------------------------------------------------------------------------------------


def _list(cell: str) -> list[str]:
    return [p.strip() for p in cell.replace(",", ";").split(";") if p.strip()]


def csv_rows(stream: IO[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, record) for each data row; row 1 is the first line after the header."""
    reader = csv.reader(stream)
    try:
        header = [h.strip().lstrip("\ufeff") for h in next(reader)]
    except StopIteration:
        raise InvalidInput("the file is empty: it needs a header row", field="body") from None
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise InvalidInput(f"the file lacks column(s): {', '.join(missing)}", field=missing[0])
    unknown = [c for c in header if c not in COLUMNS]
    if unknown:
        raise InvalidInput(f"unknown column(s): {', '.join(unknown)} (known: {', '.join(COLUMNS)})", field=unknown[0])
    if len(set(header)) != len(header):
        raise InvalidInput("a column appears twice in the header", field="body")
    for number, cells in enumerate(reader, start=1):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            raise _RowError(number, "body", f"has {len(cells)} cells, the header {len(header)}")
        row: dict[str, Any] = {}
        for name, cell in zip(header, cells, strict=True):
            value = cell.strip()
            if name == "languages":
                row[name] = _list(value)
            elif name in ("display_name", "email", "employee_id", "timezone", "locale", "status"):
                if value:
                    row[name] = value
            else:
                row[name] = value or None
        yield number, row


def json_rows(items: Iterable[Any]) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise _RowError(number, "body", "is not a JSON object")
        yield number, item


class _RowError(Exception):
    def __init__(self, row: int, field: str, message: str) -> None:
        super().__init__(message)
        self.row, self.field, self.message = row, field, message


def parse(number: int, row: dict[str, Any]) -> directory.EmployeeInput:
    try:
        return directory.EmployeeInput.model_validate(row)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = ".".join(str(p) for p in err["loc"]) or "body"
        raise _RowError(number, name.split(".")[0], f"{name}: {err['msg']}") from None


# --- the sync --------------------------------------------------------------------------------------


Rows = Callable[[], Iterator[tuple[int, dict[str, Any]]]]


def validate(rows: Rows, report: ImportReport) -> set[str]:
    """First pass: every row valid, no employee twice. Fills report.errors; returns the ids."""
    seen: set[str] = set()
    try:
        for number, row in rows():
            report.rows += 1
            try:
                record = parse(number, row)
            except _RowError as exc:
                _error(report, exc)
                continue
            if record.employee_id in seen:
                _error(report, _RowError(number, "employee_id", f"employee {record.employee_id} appears twice"))
            seen.add(record.employee_id)
    except _RowError as exc:
        _error(report, exc)
    return seen


def _error(report: ImportReport, exc: _RowError) -> None:
    if len(report.errors) < MAX_ERRORS:
        report.errors.append({"row": exc.row, "field": exc.field, "message": f"row {exc.row}: {exc.message}"})


async def run_import(
    pool: asyncpg.Pool,
    topics: Topics,
    tenant: str,
    rows: Rows,
    *,
    complete: bool,
    dry_run: bool = False,
    as_of: datetime | None = None,
    correlation_id: str | None = None,
) -> ImportReport:
    """Validate, then apply the file (see the module docstring). Raises InvalidInput when a row is wrong."""
    report = ImportReport(complete=complete, dry_run=dry_run)
    as_of = as_of or datetime.now(UTC)
    import_id = f"import:{uuid.uuid4()}"
    seen = validate(rows, report)
    if report.errors:
        first = report.errors[0]
        raise InvalidInput(
            f"{first['message']} ({len(report.errors)}{'+' if len(report.errors) == MAX_ERRORS else ''} "
            "row error(s); nothing was applied)",
            field=str(first["field"]),
            details=report.errors,
        )
    report.rows = 0
    async with pool.acquire() as conn:
        tx = conn.transaction()
        if dry_run:
            await tx.start()
        try:

            async def apply(changes: list[directory.Change], row_count: int) -> None:
                if dry_run:
                    uow = UnitOfWork.joining(conn, topics, tenant=tenant)
                    uow.correlation_id = correlation_id or import_id
                    result = await handlers.apply_directory_changes(
                        uow, changes, origin="file", effective_at=as_of, source_event_id=import_id
                    )
                else:
                    uow = UnitOfWork(pool, topics, tenant=tenant, correlation_id=correlation_id or import_id)
                    async with uow:
                        result = await handlers.apply_directory_changes(
                            uow, changes, origin="file", effective_at=as_of, source_event_id=import_id
                        )
                report.count(result, row_count)

            chunk: list[directory.Change] = []
            for number, row in rows():
                chunk.append(directory.Upsert(parse(number, row)))
                report.rows += 1
                if len(chunk) >= CHUNK:
                    await apply(chunk, len(chunk))
                    chunk = []
            if chunk:
                await apply(chunk, len(chunk))
            if complete:
                leavers: list[directory.Change] = []
                async for record in _present(conn, tenant):
                    if record not in seen:
                        leavers.append(directory.Leave(record, as_of.date()))
                    if len(leavers) >= CHUNK:
                        await apply(leavers, 0)
                        leavers = []
                if leavers:
                    await apply(leavers, 0)
        finally:
            if dry_run:
                await tx.rollback()
    return report


async def _present(conn: Any, tenant: str, page: int = 5000) -> AsyncIterator[str]:
    """The ids of everyone in the directory who has not left, a page at a time (leavers of a complete file)."""
    after = ""
    while True:
        ids = await repository.present_employee_ids(conn, tenant, after=after, limit=page)
        for employee_id in ids:
            yield employee_id
        if len(ids) < page:
            return
        after = ids[-1]
