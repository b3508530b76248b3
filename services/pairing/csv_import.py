"""Enrolments from a CSV file: one row per employee of the directory, lists in compact cells.

Columns: employee_id, role, and optionally participant_id, capacity, goal,
availability ("Mon 09:00-12:00; Wed 14:00-16:30"), teach_topics / learn_topics
("prompt-writing:3; ai-agents:2"; a topic without a number gets 2). The person's name, e-mail, department,
grade, manager, languages and so on come from the employee directory, not from this file.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from services.pairing.domain.directory import PROFILE_FIELDS
from shared.errors import InvalidInput

REQUIRED = ("employee_id", "role")
KNOWN = set(REQUIRED) | {"participant_id", "capacity", "goal", "availability", "teach_topics", "learn_topics"}
DAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


def _list(cell: str) -> list[str]:
    return [p.strip() for p in cell.replace(",", ";").split(";") if p.strip()]


def _levels(cell: str, row: int, column: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for part in _list(cell):
        topic, _, level = part.partition(":")
        try:
            out[topic.strip()] = int(level) if level.strip() else 2
        except ValueError:
            raise InvalidInput(f"row {row}: {column} level {level!r} is not a number", field=column) from None
    return out


def _windows(cell: str, row: int) -> list[dict[str, Any]]:
    out = []
    for part in _list(cell):
        day, _, span = part.partition(" ")
        start, _, end = span.strip().partition("-")
        if day[:3].lower() not in DAYS or not start or not end:
            raise InvalidInput(
                f"row {row}: availability {part!r} must look like 'Mon 09:00-12:00'", field="availability"
            )
        out.append({"weekday": DAYS[day[:3].lower()], "start": start.strip(), "end": end.strip()})
    return out


def parse(text: str) -> list[dict[str, Any]]:
    return parse_lines(text)[0]


def parse_lines(text: str) -> tuple[list[dict[str, Any]], list[int]]:
    """The rows, and the file's line number where each row begins (the header is line 1; a quoted cell may
    span lines). A cell that cannot be read fails naming its row, line and column (also in `details`)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise InvalidInput(f"CSV lacks column(s): {', '.join(missing)}", field=missing[0])
    directory_owned = [c for c in header if c in PROFILE_FIELDS]
    if directory_owned:
        raise InvalidInput(
            f"CSV column(s) {', '.join(directory_owned)} come from the employee directory: enrol by employee_id",
            field=directory_owned[0],
        )
    unknown = [c for c in header if c not in KNOWN]
    if unknown:
        raise InvalidInput(f"CSV has unknown column(s): {', '.join(unknown)}", field=unknown[0])
    rows: list[dict[str, Any]] = []
    lines: list[int] = []
    begins = reader.line_num + 1
    for number, raw in enumerate(reader, start=1):
        try:
            rows.append(_row(raw, number))
        except InvalidInput as exc:
            exc.details = [{"row": number, "line": begins, "field": exc.field, "message": exc.message}]
            raise
        lines.append(begins)
        begins = reader.line_num + 1
    if not rows:
        raise InvalidInput("the CSV has a header but no participants", field="body")
    return rows, lines


def _row(raw: dict[str | Any, str | None], number: int) -> dict[str, Any]:
    cells = {k.strip(): (v or "").strip() for k, v in raw.items() if isinstance(k, str)}
    row: dict[str, Any] = {k: v for k, v in cells.items() if v != ""}
    if "capacity" in row:
        try:
            row["capacity"] = int(row["capacity"])
        except ValueError:
            raise InvalidInput(
                f"row {number}: capacity {row['capacity']!r} is not a number", field="capacity"
            ) from None
    for column in ("teach_topics", "learn_topics"):
        if column in row:
            row[column] = _levels(row[column], number, column)
    if "availability" in row:
        row["availability"] = _windows(row["availability"], number)
    return row
