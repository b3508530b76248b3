"""CSV cells a spreadsheet will not execute (OWASP "CSV injection"): a cell that starts with =, +, -, @, a tab
or a carriage return is prefixed with a single quote, so Excel or LibreOffice shows it as text."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """The value as it may go into a CSV cell: text that a spreadsheet would read as a formula gets a quote."""
    if isinstance(value, str) and value.startswith(_TRIGGERS):
        return "'" + value
    return value


def rows_to_csv(fieldnames: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """CSV text with a header row; every cell neutralised."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(fieldnames), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: cell(v) for k, v in row.items()})
    return buf.getvalue()
