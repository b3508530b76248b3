"""Subject access (GDPR art. 15): everything one service holds about one person, read from its own database.

Each service names its sections (`Section`: a name and one SQL query) and how it finds the person's participant
ids (each enrolment in a programme is one participant id: most rows name those, not the employee id). `read`
runs them in the caller's tenant and answers

    {"service", "tenant", "employee_id", "read_at", "known", "records": {<section>: [rows]}}

with every column of every row, as stored (free text in plain, confidential comments included: it is the
person's own data). `known` is false, and every section empty, when nothing names the person. The route that
answers it records the read (SensitiveDataAccessed) in the same transaction; `tandem subject export` and the HR
console put the three services' answers into one document (`document`).

A query's parameters: `$1` the tenant, `$2` the employee id, `$3` the person's participant ids (text[]); a
query uses those it needs.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from shared.db import Conn

#: What every subject access read is recorded as (SensitiveDataAccessed.what).
WHAT = "subject access (GDPR art. 15)"
#: The note of the route in the access matrices.
NOTE = "everything the service holds about one person (GDPR art. 15); every read is recorded"
_PARAMETER = re.compile(r"\$(\d+)")


@dataclass(frozen=True)
class Section:
    """One kind of record about the person: its name in the answer, and the query that reads its rows."""

    name: str
    sql: str

    def bound(self) -> tuple[str, tuple[int, ...]]:
        """The query with only the parameters it uses, numbered from $1, and which of ($1 tenant, $2 employee id,
        $3 participant ids) they are (0-based): Postgres cannot type a parameter a query does not use."""
        used = sorted({int(n) for n in _PARAMETER.findall(self.sql)})
        if not used or used[-1] > 3:
            raise ValueError(f"section {self.name}: use $1 (tenant), $2 (employee id), $3 (participant ids)")
        number = {old: new for new, old in enumerate(used, start=1)}
        sql = _PARAMETER.sub(lambda m: f"${number[int(m.group(1))]}", self.sql)
        return sql, tuple(n - 1 for n in used)


@dataclass(frozen=True)
class Subjects:
    """A service's answer to subject access: how it finds the person's participant ids, and its sections."""

    service: str
    #: A query of ($1 tenant, $2 employee id) whose first column is a participant id of the person.
    participant_ids: str
    sections: Sequence[Section]

    def __post_init__(self) -> None:
        names = [s.name for s in self.sections]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.service}: section names repeat: {names}")
        for section in self.sections:
            section.bound()


async def read(conn: Conn, subjects: Subjects, tenant: str, employee_id: str) -> dict[str, Any]:
    """Everything `subjects.service` holds about the employee in the tenant, as one answer (see the module)."""
    ids = [str(r[0]) for r in await conn.fetch(subjects.participant_ids, tenant, employee_id)]
    arguments: tuple[Any, ...] = (tenant, employee_id, ids)
    records: dict[str, list[dict[str, Any]]] = {}
    for section in subjects.sections:
        sql, which = section.bound()
        rows = await conn.fetch(sql, *(arguments[i] for i in which))
        records[section.name] = [dict(r) for r in rows]
    return {
        "service": subjects.service,
        "tenant": tenant,
        "employee_id": employee_id,
        "read_at": datetime.now(UTC).isoformat(),
        "known": any(records.values()),
        "records": records,
    }


def document(employee_id: str, tenant: str, answers: Mapping[str, Any]) -> dict[str, Any]:
    """The one document of a subject access export: each service's answer under its name, as it answered."""
    return {
        "employee_id": employee_id,
        "tenant": tenant,
        "exported_at": datetime.now(UTC).isoformat(),
        "services": dict(answers),
    }


class ExportFailed(Exception):
    """A service did not give its part of an export: the message names it and why (one line)."""


async def collect(
    urls: Mapping[str, str], token: str, employee_id: str, *, tenant: str | None = None, timeout: float = 30.0
) -> dict[str, Any]:
    """Ask each service (name -> base URL) for its answer with the HR token, and put them into one document.
    Raises ExportFailed naming the first service that does not answer with its part (unreachable, refused, or
    an answer of another tenant than `tenant`): never a document with a part missing."""

    async def ask(client: httpx.AsyncClient, service: str, url: str) -> dict[str, Any]:
        where = f"{url.rstrip('/')}/subjects/{employee_id}"
        try:
            response = await client.get(where)
        except httpx.HTTPError as exc:
            raise ExportFailed(f"{service} ({url}) does not answer: {type(exc).__name__}: {exc}".rstrip(": ")) from None
        if response.status_code != 200:
            raise ExportFailed(f"{service} ({url}) answered {response.status_code}: {_message(response)}")
        try:
            answer: Any = response.json()
        except ValueError:
            raise ExportFailed(f"{service} ({url}) answered something that is not JSON") from None
        if not isinstance(answer, dict) or answer.get("service") != service or "records" not in answer:
            raise ExportFailed(f"{service} ({url}) answered something that is not its subject access answer")
        if tenant is not None and answer.get("tenant") != tenant:
            raise ExportFailed(
                f"{service} answered for tenant {answer.get('tenant')!r}, not {tenant!r}: "
                "the token is of another tenant"
            )
        return answer

    headers = {"authorization": f"Bearer {token}", "accept": "application/json"}
    async with httpx.AsyncClient(headers=headers, timeout=timeout) as client:
        asked = await asyncio.gather(*(ask(client, name, url) for name, url in urls.items()), return_exceptions=True)
    answers: list[dict[str, Any]] = []
    for outcome in asked:  # every question answered or failed; the first service that failed is named
        if isinstance(outcome, BaseException):
            raise outcome
        answers.append(outcome)
    tenants = {a["tenant"] for a in answers}
    if len(tenants) != 1:
        raise ExportFailed(f"the services answered for different tenants: {sorted(map(str, tenants))}")
    return document(employee_id, tenants.pop(), dict(zip(urls, answers, strict=True)))


def _message(response: Any) -> str:
    """The service's own error message (shared.http's shape), else the start of the body."""
    try:
        error = response.json().get("error") or {}
        return str(error.get("message") or response.text[:200])
    except (ValueError, AttributeError):
        return str(response.text[:200]).replace("\n", " ")
