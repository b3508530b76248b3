"""Loading and saving the pairing service's aggregates. All SQL of the write model lives here.

Every statement names the tenant: programmes, participants, pairs, match runs and the employee directory
are keyed by it, so the same id in two tenants is two things.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.pairing.domain.directory import Employee
from services.pairing.domain.pairs import Flag, Pair
from services.pairing.domain.participants import Participant
from services.pairing.domain.programmes import Programme
from shared.db import Conn
from shared.errors import NotFound


class _Where:
    """A WHERE clause of conditions added one by one, each with its numbered parameter."""

    def __init__(self, *conditions: str, args: Iterable[Any] = ()) -> None:
        self.conditions = list(conditions)
        self.args = list(args)

    def add(self, condition: str, value: Any = None) -> None:
        """`condition` with `{n}` where the value goes (a value of None: a condition without one)."""
        if value is not None:
            self.args.append(value)
        self.conditions.append(condition.format(n=len(self.args)))

    def __str__(self) -> str:
        return " AND ".join(self.conditions)


async def _page(
    conn: Conn, columns: str, table: str, where: _Where, order: str, limit: int, offset: int
) -> tuple[list[Any], int]:
    """One page of the rows of `table` that match, in `order`; and how many match in all."""
    total = await _count(conn, table, where)
    return await _rows(conn, f"SELECT {columns} FROM {table}", where, order, limit, offset), total


async def _count(conn: Conn, table: str, where: _Where) -> int:
    return int(await conn.fetchval(f"SELECT count(*) FROM {table} WHERE {where}", *where.args))


async def _rows(conn: Conn, select: str, where: _Where, order: str, limit: int, offset: int) -> list[Any]:
    """`select` (up to its FROM) of the rows that match, in `order`, from `offset` on, at most `limit`."""
    n = len(where.args)
    rows = await conn.fetch(
        f"{select} WHERE {where} ORDER BY {order} LIMIT ${n + 1} OFFSET ${n + 2}", *where.args, limit, offset
    )
    return list(rows)


# --- programmes ------------------------------------------------------------------------------------

_PROGRAMME = (
    "programme_id, name, starts_on, ends_on, cadence_days, focus_topics, matching_policy, requires_consent, "
    "consent_days, hr_contact_email, state, min_group_size, hr_locale"
)


def _programme(row: Any) -> Programme:
    data = dict(row)
    data["focus_topics"] = tuple(data["focus_topics"])
    return Programme(**data)


async def get_programme(conn: Conn, tenant: str, programme_id: str, *, for_update: bool = False) -> Programme:
    sql = f"SELECT {_PROGRAMME} FROM programmes WHERE tenant = $1 AND programme_id = $2" + (
        " FOR UPDATE" if for_update else ""
    )
    row = await conn.fetchrow(sql, tenant, programme_id)
    if row is None:
        raise NotFound(f"no programme {programme_id}", field="programme_id")
    return _programme(row)


async def insert_programme(conn: Conn, tenant: str, p: Programme) -> None:
    await conn.execute(
        f"INSERT INTO programmes ({_PROGRAMME}, tenant) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        p.programme_id,
        p.name,
        p.starts_on,
        p.ends_on,
        p.cadence_days,
        list(p.focus_topics),
        p.matching_policy,
        p.requires_consent,
        p.consent_days,
        p.hr_contact_email,
        p.state,
        p.min_group_size,
        p.hr_locale,
        tenant,
    )


async def set_programme_state(conn: Conn, tenant: str, p: Programme) -> None:
    await conn.execute(
        "UPDATE programmes SET state = $3, updated_at = now(), "
        "closed_at = CASE WHEN $3 = 'closed' THEN coalesce(closed_at, now()) ELSE closed_at END "
        "WHERE tenant = $1 AND programme_id = $2",
        tenant,
        p.programme_id,
        p.state,
    )


async def list_programmes(conn: Conn, tenant: str) -> list[Programme]:
    rows = await conn.fetch(
        f"SELECT {_PROGRAMME} FROM programmes WHERE tenant = $1 ORDER BY created_at, programme_id", tenant
    )
    return [_programme(r) for r in rows]


async def programmes_by_id(conn: Conn, tenant: str, programme_ids: Iterable[str]) -> dict[str, Programme]:
    rows = await conn.fetch(
        f"SELECT {_PROGRAMME} FROM programmes WHERE tenant = $1 AND programme_id = ANY($2::text[])",
        tenant,
        list(set(programme_ids)),
    )
    return {r["programme_id"]: _programme(r) for r in rows}


# --- participants ----------------------------------------------------------------------------------

_PARTICIPANT = "participant_id, programme_id, employee_id, role, profile, status"


def _participant(row: Any) -> Participant:
    return Participant(**dict(row))


async def get_participant(conn: Conn, tenant: str, participant_id: str, *, for_update: bool = False) -> Participant:
    sql = f"SELECT {_PARTICIPANT} FROM participants WHERE tenant = $1 AND participant_id = $2" + (
        " FOR UPDATE" if for_update else ""
    )
    row = await conn.fetchrow(sql, tenant, participant_id)
    if row is None:
        raise NotFound(f"no participant {participant_id}", field="participant_id")
    return _participant(row)


async def insert_participants(conn: Conn, tenant: str, participants: list[Participant]) -> None:
    await conn.executemany(
        f"INSERT INTO participants ({_PARTICIPANT}, tenant) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        [(p.participant_id, p.programme_id, p.employee_id, p.role, p.profile, p.status, tenant) for p in participants],
    )


async def update_participant(conn: Conn, tenant: str, p: Participant) -> None:
    await conn.execute(
        "UPDATE participants SET profile = $3, status = $4, employee_id = $5, updated_at = now() "
        "WHERE tenant = $1 AND participant_id = $2",
        tenant,
        p.participant_id,
        p.profile,
        p.status,
        p.employee_id,
    )


async def list_participants(
    conn: Conn,
    tenant: str,
    programme_id: str,
    *,
    role: str | None = None,
    status: str | None = "enrolled",
    limit: int = 10_000,
    offset: int = 0,
) -> tuple[list[Participant], int]:
    where = _Where("tenant = $1", "programme_id = $2", args=[tenant, programme_id])
    if role:
        where.add("role = ${n}", role)
    if status:
        where.add("status = ${n}", status)
    rows, total = await _page(conn, _PARTICIPANT, "participants", where, "participant_id", limit, offset)
    return [_participant(r) for r in rows], total


async def participant_ids_of_employee(conn: Conn, tenant: str, employee_id: str) -> set[str]:
    """Every enrolment (any programme, enrolled or withdrawn) of one employee: what they may see as theirs."""
    rows = await conn.fetch(
        "SELECT participant_id FROM participants WHERE tenant = $1 AND employee_id = $2", tenant, employee_id
    )
    return {r["participant_id"] for r in rows}


async def enrolled_employees(conn: Conn, tenant: str, programme_id: str, employee_ids: list[str]) -> set[str]:
    """Which of these employees are enrolled in the programme already."""
    rows = await conn.fetch(
        "SELECT employee_id FROM participants WHERE tenant = $1 AND programme_id = $2 AND status = 'enrolled' "
        "AND employee_id = ANY($3::text[])",
        tenant,
        programme_id,
        employee_ids,
    )
    return {r["employee_id"] for r in rows}


async def enrolments_of(conn: Conn, tenant: str, employee_ids: Iterable[str]) -> list[Participant]:
    """Every live enrolment of these employees, locked for update."""
    rows = await conn.fetch(
        f"SELECT {_PARTICIPANT} FROM participants WHERE tenant = $1 AND status = 'enrolled' "
        "AND employee_id = ANY($2::text[]) ORDER BY participant_id FOR UPDATE",
        tenant,
        list(set(employee_ids)),
    )
    return [_participant(r) for r in rows]


async def participants_by_id(conn: Conn, tenant: str, participant_ids: Iterable[str]) -> dict[str, Participant]:
    rows = await conn.fetch(
        f"SELECT {_PARTICIPANT} FROM participants WHERE tenant = $1 AND participant_id = ANY($2::text[])",
        tenant,
        list(set(participant_ids)),
    )
    return {r["participant_id"]: _participant(r) for r in rows}


# --- the employee directory ------------------------------------------------------------------------

_EMPLOYEE = (
    "employee_id, user_name, display_name, email, external_id, department, grade, manager_employee_id, location, "
    "timezone, languages, locale, status, hired_on, left_on, effective_at, revision"
)


def _employee(row: Any) -> Employee:
    data = dict(row)
    data["languages"] = tuple(data["languages"])
    return Employee(**data)


async def lock_directory(conn: Conn, tenant: str) -> int:
    """Serialise changes to a tenant's directory; returns its current revision."""
    await conn.execute("INSERT INTO directory_revisions (tenant) VALUES ($1) ON CONFLICT (tenant) DO NOTHING", tenant)
    revision: int = await conn.fetchval("SELECT revision FROM directory_revisions WHERE tenant = $1 FOR UPDATE", tenant)
    return revision


async def directory_revision(conn: Conn, tenant: str) -> int:
    revision = await conn.fetchval("SELECT revision FROM directory_revisions WHERE tenant = $1", tenant)
    return int(revision or 0)


async def set_directory_revision(conn: Conn, tenant: str, revision: int) -> None:
    await conn.execute("UPDATE directory_revisions SET revision = $2 WHERE tenant = $1", tenant, revision)


async def get_employee(conn: Conn, tenant: str, employee_id: str) -> Employee:
    row = await conn.fetchrow(
        f"SELECT {_EMPLOYEE} FROM employees WHERE tenant = $1 AND employee_id = $2", tenant, employee_id
    )
    if row is None:
        raise NotFound(f"employee {employee_id} is not in the directory", field="employee_id")
    return _employee(row)


async def employees_by_id(
    conn: Conn, tenant: str, employee_ids: Iterable[str], *, for_update: bool = False
) -> dict[str, Employee]:
    rows = await conn.fetch(
        f"SELECT {_EMPLOYEE} FROM employees WHERE tenant = $1 AND employee_id = ANY($2::text[])"
        + (" FOR UPDATE" if for_update else ""),
        tenant,
        list(set(employee_ids)),
    )
    return {r["employee_id"]: _employee(r) for r in rows}


async def save_employees(conn: Conn, tenant: str, employees: list[Employee]) -> None:
    """Insert or replace these records (the SCIM-only attributes stay as they are)."""
    if not employees:
        return
    await conn.executemany(
        f"INSERT INTO employees ({_EMPLOYEE}, tenant) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) "
        "ON CONFLICT (tenant, employee_id) DO UPDATE SET user_name = EXCLUDED.user_name, "
        "display_name = EXCLUDED.display_name, email = EXCLUDED.email, external_id = EXCLUDED.external_id, "
        "department = EXCLUDED.department, grade = EXCLUDED.grade, manager_employee_id = EXCLUDED.manager_employee_id, "
        "location = EXCLUDED.location, timezone = EXCLUDED.timezone, languages = EXCLUDED.languages, "
        "locale = EXCLUDED.locale, status = EXCLUDED.status, hired_on = EXCLUDED.hired_on, left_on = EXCLUDED.left_on, "
        "effective_at = EXCLUDED.effective_at, revision = EXCLUDED.revision, updated_at = now()",
        [
            (
                e.employee_id,
                e.user_name,
                e.display_name,
                e.email,
                e.external_id,
                e.department,
                e.grade,
                e.manager_employee_id,
                e.location,
                e.timezone,
                list(e.languages),
                e.locale,
                e.status,
                e.hired_on,
                e.left_on,
                e.effective_at,
                e.revision,
                tenant,
            )
            for e in employees
        ],
    )


async def renumber_employee(conn: Conn, tenant: str, old: str, new: str) -> None:
    """Move a record to its new id (its SCIM attributes with it)."""
    await conn.execute(
        "UPDATE employees SET employee_id = $3, updated_at = now() WHERE tenant = $1 AND employee_id = $2",
        tenant,
        old,
        new,
    )


async def direct_reports(conn: Conn, tenant: str, manager_employee_id: str) -> list[Employee]:
    rows = await conn.fetch(
        f"SELECT {_EMPLOYEE} FROM employees WHERE tenant = $1 AND manager_employee_id = $2 ORDER BY employee_id "
        "FOR UPDATE",
        tenant,
        manager_employee_id,
    )
    return [_employee(r) for r in rows]


async def list_employees(
    conn: Conn,
    tenant: str,
    *,
    status: str | None = None,
    manager_employee_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[Employee], int]:
    where = _Where("tenant = $1", args=[tenant])
    if status:
        where.add("status = ${n}", status)
    if manager_employee_id:
        where.add("manager_employee_id = ${n}", manager_employee_id)
    rows, total = await _page(conn, _EMPLOYEE, "employees", where, "employee_id", limit, offset)
    return [_employee(r) for r in rows], total


async def present_employee_ids(conn: Conn, tenant: str, *, after: str, limit: int) -> list[str]:
    """Ids of employees who have not left, in order, after `after` (keyset pages)."""
    rows = await conn.fetch(
        "SELECT employee_id FROM employees WHERE tenant = $1 AND status <> 'left' AND employee_id > $2 "
        "ORDER BY employee_id LIMIT $3",
        tenant,
        after,
        limit,
    )
    return [r["employee_id"] for r in rows]


async def pending_managers(conn: Conn, tenant: str) -> list[dict[str, Any]]:
    """Employees whose manager is not (yet) in the directory: kept, listed, resolved when the manager comes."""
    rows = await conn.fetch(
        "SELECT e.employee_id, e.display_name, e.manager_employee_id, e.effective_at FROM employees e "
        "WHERE e.tenant = $1 AND e.manager_employee_id IS NOT NULL AND e.status <> 'left' AND NOT EXISTS "
        "(SELECT 1 FROM employees m WHERE m.tenant = e.tenant AND m.employee_id = e.manager_employee_id) "
        "ORDER BY e.manager_employee_id, e.employee_id",
        tenant,
    )
    return [dict(r) for r in rows]


async def reporting_lines(conn: Conn, tenant: str, employee_ids: Iterable[str], levels: int) -> dict[str, str]:
    """employee -> manager for these employees and everyone up to `levels` levels above them: the part of
    the org chart a reporting-line rule of that depth reads (people in no programme included)."""
    ids = list(set(employee_ids))
    if not ids or levels <= 0:
        return {}
    rows = await conn.fetch(
        "WITH RECURSIVE up (employee_id, manager, depth) AS ("
        "  SELECT employee_id, manager_employee_id, 1 FROM employees"
        "  WHERE tenant = $1 AND employee_id = ANY($2::text[])"
        "  UNION"
        "  SELECT e.employee_id, e.manager_employee_id, up.depth + 1 FROM up"
        "  JOIN employees e ON e.tenant = $1 AND e.employee_id = up.manager WHERE up.depth < $3"
        ") SELECT DISTINCT employee_id, manager FROM up WHERE manager IS NOT NULL",
        tenant,
        ids,
        levels,
    )
    return {r["employee_id"]: r["manager"] for r in rows}


def chart_hash(chart: Mapping[str, str]) -> str:
    """A content hash of reporting lines: the same lines give the same hash, in any order."""
    digest = hashlib.sha256()
    for employee, manager in sorted(chart.items()):
        digest.update(f"{employee}\x1f{manager}\x1e".encode())
    return digest.hexdigest()


async def reports_within(conn: Conn, tenant: str, employee_ids: Iterable[str], levels: int) -> set[str]:
    """Everyone up to `levels` levels below these employees (their reporting chains pass through them)."""
    ids = list(set(employee_ids))
    if not ids or levels <= 0:
        return set()
    rows = await conn.fetch(
        "WITH RECURSIVE down (employee_id, depth) AS ("
        "  SELECT employee_id, 1 FROM employees WHERE tenant = $1 AND manager_employee_id = ANY($2::text[])"
        "  UNION"
        "  SELECT e.employee_id, down.depth + 1 FROM down"
        "  JOIN employees e ON e.tenant = $1 AND e.manager_employee_id = down.employee_id WHERE down.depth < $3"
        ") SELECT DISTINCT employee_id FROM down",
        tenant,
        ids,
        levels,
    )
    return {r["employee_id"] for r in rows}


async def max_reporting_levels(conn: Conn, tenant: str) -> int:
    """The deepest reporting-line rule of any programme of the tenant still running pairs."""
    levels = await conn.fetchval(
        "SELECT max(COALESCE((matching_policy ->> 'reporting_line_levels')::int, 2)) FROM programmes "
        "WHERE tenant = $1 AND state <> 'closed'",
        tenant,
    )
    return int(levels or 0)


async def create_token(conn: Conn, tenant: str, name: str, token_hash: str) -> None:
    await conn.execute(
        "INSERT INTO integration_tokens (token_hash, tenant, name) VALUES ($1, $2, $3)", token_hash, tenant, name
    )


async def tenant_of_token(conn: Conn, token_hash: str) -> str | None:
    tenant: str | None = await conn.fetchval(
        "SELECT tenant FROM integration_tokens WHERE token_hash = $1 AND revoked_at IS NULL", token_hash
    )
    return tenant


# --- pairs -----------------------------------------------------------------------------------------

_PAIR = (
    "pair_id, programme_id, mentor_id, mentee_id, state, score, rationale, origin, match_run_id, end_reason, "
    "mentor_consent, mentee_consent, consent_deadline, warnings, extended_until, started_on, pause_cause, flag, "
    "flag_override, reasons"
)
_LIVE = "state IN ('proposed', 'active', 'paused')"


def _pair(row: Any) -> Pair:
    data = dict(row)
    data["warnings"] = tuple(data["warnings"] or ())
    data["reasons"] = tuple(data["reasons"] or ())
    data["flag"] = Flag.from_dict(data["flag"]) if data["flag"] else None
    return Pair(**data)


async def get_pair(conn: Conn, tenant: str, pair_id: str, *, for_update: bool = False) -> Pair:
    sql = f"SELECT {_PAIR} FROM pairs WHERE tenant = $1 AND pair_id = $2" + (" FOR UPDATE" if for_update else "")
    row = await conn.fetchrow(sql, tenant, pair_id)
    if row is None:
        raise NotFound(f"no pair {pair_id}", field="pair_id")
    return _pair(row)


async def insert_pair(conn: Conn, tenant: str, pair: Pair) -> None:
    await conn.execute(
        f"INSERT INTO pairs ({_PAIR}, tenant) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)",
        pair.pair_id,
        pair.programme_id,
        pair.mentor_id,
        pair.mentee_id,
        pair.state,
        pair.score,
        pair.rationale,
        pair.origin,
        pair.match_run_id,
        pair.end_reason,
        pair.mentor_consent,
        pair.mentee_consent,
        pair.consent_deadline,
        list(pair.warnings),
        pair.extended_until,
        pair.started_on,
        pair.pause_cause,
        pair.flag.to_dict() if pair.flag else None,
        pair.flag_override,
        list(pair.reasons),
        tenant,
    )


_UPDATE_PAIR = (
    "UPDATE pairs SET state = $3, end_reason = $4, mentor_consent = $5, mentee_consent = $6, extended_until = $7, "
    "pause_cause = $8, flag = $9, flag_override = $10, updated_at = now() WHERE tenant = $1 AND pair_id = $2"
)


def _pair_args(tenant: str, pair: Pair) -> tuple[Any, ...]:
    return (
        tenant,
        pair.pair_id,
        pair.state,
        pair.end_reason,
        pair.mentor_consent,
        pair.mentee_consent,
        pair.extended_until,
        pair.pause_cause,
        pair.flag.to_dict() if pair.flag else None,
        pair.flag_override,
    )


async def update_pair(conn: Conn, tenant: str, pair: Pair) -> None:
    await conn.execute(_UPDATE_PAIR, *_pair_args(tenant, pair))


async def update_pairs(conn: Conn, tenant: str, pairs: list[Pair]) -> None:
    """Save many pairs' state at once (a re-check may change thousands)."""
    if pairs:
        await conn.executemany(_UPDATE_PAIR, [_pair_args(tenant, p) for p in pairs])


async def live_pairs_of(conn: Conn, tenant: str, participant_id: str, *, for_update: bool = False) -> list[Pair]:
    rows = await conn.fetch(
        f"SELECT {_PAIR} FROM pairs WHERE tenant = $1 AND (mentor_id = $2 OR mentee_id = $2) AND {_LIVE} "
        "ORDER BY pair_id" + (" FOR UPDATE" if for_update else ""),
        tenant,
        participant_id,
    )
    return [_pair(r) for r in rows]


async def live_pairs_of_employees(conn: Conn, tenant: str, employee_ids: Iterable[str]) -> list[Pair]:
    """Every live pair in which one of these employees (through any enrolment) is mentor or mentee."""
    ids = list(set(employee_ids))
    if not ids:
        return []
    rows = await conn.fetch(
        f"WITH who AS (SELECT participant_id FROM participants WHERE tenant = $1 AND employee_id = ANY($2::text[])) "
        f"SELECT {_PAIR} FROM pairs WHERE tenant = $1 AND {_LIVE} "
        "AND (mentor_id IN (SELECT * FROM who) OR mentee_id IN (SELECT * FROM who)) ORDER BY pair_id FOR UPDATE",
        tenant,
        ids,
    )
    return [_pair(r) for r in rows]


async def live_pairs_in_tenant(conn: Conn, tenant: str) -> list[Pair]:
    rows = await conn.fetch(
        f"SELECT {_PAIR} FROM pairs WHERE tenant = $1 AND {_LIVE} ORDER BY pair_id FOR UPDATE", tenant
    )
    return [_pair(r) for r in rows]


async def list_pairs(
    conn: Conn,
    tenant: str,
    *,
    programme_id: str | None,
    state: str | None,
    participant_id: str | None = None,
    flagged: bool | None = None,
    limit: int,
    offset: int,
    among: set[str] | None = None,
) -> tuple[list[Pair], int]:
    """Pairs with filters; `among`: only pairs one of these participants is in (a participant's own)."""
    where = _Where("tenant = $1", args=[tenant])
    if programme_id:
        where.add("programme_id = ${n}", programme_id)
    if state:
        where.add("state = ${n}", state)
    if participant_id:
        where.add("(mentor_id = ${n} OR mentee_id = ${n})", participant_id)
    if flagged is not None:
        where.add("flag IS NOT NULL" if flagged else "flag IS NULL")
    if among is not None:
        where.add("(mentor_id = ANY(${n}::text[]) OR mentee_id = ANY(${n}::text[]))", sorted(among))
    rows, total = await _page(conn, _PAIR, "pairs", where, "created_at, pair_id", limit, offset)
    return [_pair(r) for r in rows], total


async def waiting_for_partner(conn: Conn, tenant: str, programme_id: str) -> list[dict[str, Any]]:
    """Enrolled participants with no live pair whose latest pair ended early (their partner left, withdrew,
    or HR ended it): who is waiting for a rematch, with that pair."""
    rows = await conn.fetch(
        f"""SELECT DISTINCT ON (p.participant_id) p.participant_id, p.role, p.profile ->> 'display_name' AS name,
                   x.pair_id, x.end_reason, x.updated_at AS ended_at
            FROM participants p
            JOIN pairs x ON x.tenant = p.tenant AND x.programme_id = p.programme_id
                        AND p.participant_id IN (x.mentor_id, x.mentee_id)
            WHERE p.tenant = $1 AND p.programme_id = $2 AND p.status = 'enrolled'
              AND x.state = 'ended' AND x.end_reason IN ('left_company', 'withdrawn', 'rematched', 'by_hr')
              AND NOT EXISTS (SELECT 1 FROM pairs l WHERE l.tenant = p.tenant AND {_LIVE.replace("state", "l.state")}
                              AND p.participant_id IN (l.mentor_id, l.mentee_id))
            ORDER BY p.participant_id, x.updated_at DESC""",
        tenant,
        programme_id,
    )
    return [dict(r) for r in rows]


async def expired_proposals(conn: Conn, tenant: str, programme_id: str) -> list[Pair]:
    rows = await conn.fetch(
        f"SELECT {_PAIR} FROM pairs WHERE tenant = $1 AND programme_id = $2 AND state = 'proposed' "
        "AND consent_deadline < now() FOR UPDATE",
        tenant,
        programme_id,
    )
    return [_pair(r) for r in rows]


# --- match runs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProposalRow:
    proposal_id: str
    match_run_id: str
    programme_id: str
    mentor_id: str
    mentee_id: str
    score: float
    components: dict[str, float]
    rationale: str
    forced: bool
    status: str
    pair_id: str | None
    reasons: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class MatchRunRow:
    match_run_id: str
    programme_id: str
    kind: str
    algorithm_version: str
    objective: str
    policy: dict[str, Any]
    unmatched: list[dict[str, Any]]
    conflicts: list[str]
    total_score: float
    created_at: datetime
    proposals: list[ProposalRow]
    directory_revision: int | None = None
    org_chart_hash: str | None = None


async def insert_match_run(conn: Conn, tenant: str, run: MatchRunRow) -> None:
    await conn.execute(
        "INSERT INTO match_runs (match_run_id, programme_id, kind, algorithm_version, objective, policy, unmatched, "
        "conflicts, total_score, created_at, directory_revision, org_chart_hash, tenant) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        run.match_run_id,
        run.programme_id,
        run.kind,
        run.algorithm_version,
        run.objective,
        run.policy,
        run.unmatched,
        run.conflicts,
        run.total_score,
        run.created_at,
        run.directory_revision,
        run.org_chart_hash,
        tenant,
    )
    await conn.executemany(
        "INSERT INTO proposals (proposal_id, match_run_id, programme_id, mentor_id, mentee_id, score, components, "
        "rationale, forced, status, tenant, reasons) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        [
            (
                p.proposal_id,
                p.match_run_id,
                p.programme_id,
                p.mentor_id,
                p.mentee_id,
                p.score,
                p.components,
                p.rationale,
                p.forced,
                p.status,
                tenant,
                p.reasons,
            )
            for p in run.proposals
        ],
    )


async def supersede_open_proposals(conn: Conn, tenant: str, programme_id: str) -> int:
    result = await conn.execute(
        "UPDATE proposals SET status = 'superseded' WHERE tenant = $1 AND programme_id = $2 AND status = 'open'",
        tenant,
        programme_id,
    )
    return int(result.split()[-1])


async def get_match_run(conn: Conn, tenant: str, match_run_id: str, *, for_update: bool = False) -> MatchRunRow:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(
        "SELECT match_run_id, programme_id, kind, algorithm_version, objective, policy, unmatched, conflicts, "
        "total_score, created_at, directory_revision, org_chart_hash FROM match_runs "
        "WHERE tenant = $1 AND match_run_id = $2" + lock,
        tenant,
        match_run_id,
    )
    if row is None:
        raise NotFound(f"no match run {match_run_id}", field="match_run_id")
    proposals = await conn.fetch(
        "SELECT proposal_id, match_run_id, programme_id, mentor_id, mentee_id, score, components, rationale, forced, "
        "status, pair_id, reasons FROM proposals WHERE tenant = $1 AND match_run_id = $2 "
        "ORDER BY mentor_id, mentee_id" + lock,
        tenant,
        match_run_id,
    )
    return MatchRunRow(**dict(row), proposals=[ProposalRow(**dict(p)) for p in proposals])


async def list_match_runs(conn: Conn, tenant: str, programme_id: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT match_run_id FROM match_runs WHERE tenant = $1 AND programme_id = $2 ORDER BY created_at, match_run_id",
        tenant,
        programme_id,
    )
    return [r["match_run_id"] for r in rows]


async def mark_proposal_accepted(conn: Conn, tenant: str, proposal_id: str, pair_id: str) -> None:
    await conn.execute(
        "UPDATE proposals SET status = 'accepted', pair_id = $3 WHERE tenant = $1 AND proposal_id = $2",
        tenant,
        proposal_id,
        pair_id,
    )


async def live_load(conn: Conn, tenant: str, programme_id: str) -> dict[str, int]:
    """Live pairs per participant (mentors: seats used; mentees: already paired)."""
    rows = await conn.fetch(
        "SELECT who, count(*) AS n FROM (SELECT mentor_id AS who FROM pairs WHERE tenant = $1 AND programme_id = $2 "
        f"AND {_LIVE} UNION ALL SELECT mentee_id FROM pairs WHERE tenant = $1 AND programme_id = $2 AND {_LIVE}) x "
        "GROUP BY who",
        tenant,
        programme_id,
    )
    return {r["who"]: int(r["n"]) for r in rows}


# --- SCIM ------------------------------------------------------------------------------------------
# The directory as SCIM Users (services.pairing.api.scim): a User is an employee record with its SCIM id, the
# SCIM attributes kept as provisioned (`scim`), and whether the SCIM resource was deleted. SCIM ids passed
# in are valid UUIDs (the API checks them).


@dataclass(frozen=True)
class ScimRow:
    employee: Employee
    scim_id: str
    scim: dict[str, Any]
    created: datetime
    modified: datetime
    deleted: bool
    #: The SCIM id of the record's manager, when the manager is in the directory.
    manager_scim_id: str | None


_SCIM_EMPLOYEE = [c.strip() for c in _EMPLOYEE.split(",")]
_SCIM = (
    ", ".join(f"e.{c}" for c in _SCIM_EMPLOYEE)
    + ", e.scim_id::text AS scim_id, e.scim, COALESCE(e.scim_created_at, e.created_at) AS scim_created, "
    "e.updated_at AS scim_modified, e.scim_deleted_at IS NOT NULL AS scim_deleted, m.scim_id::text AS manager_scim_id "
    "FROM employees e LEFT JOIN employees m ON m.tenant = e.tenant AND m.employee_id = e.manager_employee_id"
)
#: What a filter's `eq` on each supported attribute compares ({n}: the value's parameter).
_SCIM_FILTERS = {
    "user_name": "lower(e.user_name) = lower(${n})",
    "external_id": "e.external_id = ${n}",
    "employee_id": "e.employee_id = ${n}",
    "scim_id": "e.scim_id = ${n}::uuid",
    # the primary address is a column; the others are in the kept emails
    "email": "(lower(e.email) = lower(${n}) OR EXISTS (SELECT 1 FROM jsonb_array_elements(CASE jsonb_typeof("
    "e.scim -> 'emails') WHEN 'array' THEN e.scim -> 'emails' ELSE '[]'::jsonb END) x "
    "WHERE lower(x ->> 'value') = lower(${n})))",
}


def _scim_row(row: Any) -> ScimRow:
    return ScimRow(
        employee=_employee({c: row[c] for c in _SCIM_EMPLOYEE}),
        scim_id=row["scim_id"],
        scim=row["scim"] or {},
        created=row["scim_created"],
        modified=row["scim_modified"],
        deleted=row["scim_deleted"],
        manager_scim_id=row["manager_scim_id"],
    )


async def scim_user(
    conn: Conn, tenant: str, *, scim_id: str | None = None, employee_id: str | None = None, for_update: bool = False
) -> ScimRow | None:
    """A User by SCIM id or by employee id, deleted ones included (the caller answers 404 for those)."""
    where, key = ("e.scim_id = $2::uuid", scim_id) if scim_id is not None else ("e.employee_id = $2", employee_id)
    row = await conn.fetchrow(
        f"SELECT {_SCIM} WHERE e.tenant = $1 AND {where}" + (" FOR UPDATE OF e" if for_update else ""), tenant, key
    )
    return _scim_row(row) if row is not None else None


async def scim_users(
    conn: Conn, tenant: str, conditions: list[tuple[str, str]], *, offset: int, limit: int
) -> tuple[list[ScimRow], int]:
    """One page of the Users (not deleted) matching every (column, value) condition, by employee id; and how
    many match in all."""
    where = _Where("e.tenant = $1", "e.scim_deleted_at IS NULL", args=[tenant])
    for column, value in conditions:
        where.add(_SCIM_FILTERS[column], value)
    total = await _count(conn, "employees e", where)
    if limit <= 0 or offset >= total:
        return [], total
    rows = await _rows(conn, f"SELECT {_SCIM}", where, "e.employee_id", limit, offset)
    return [_scim_row(r) for r in rows], total


async def scim_holders(
    conn: Conn, tenant: str, *, employee_id: str, user_name: str, external_id: str | None
) -> list[ScimRow]:
    """The records that hold this employee id, userName (case-insensitively) or externalId."""
    rows = await conn.fetch(
        f"SELECT {_SCIM} WHERE e.tenant = $1 AND (e.employee_id = $2 OR lower(e.user_name) = lower($3) "
        "OR e.external_id = $4) ORDER BY e.employee_id",
        tenant,
        employee_id,
        user_name,
        external_id,
    )
    return [_scim_row(r) for r in rows]


async def employee_id_of_scim_id(conn: Conn, tenant: str, scim_id: str) -> str | None:
    employee_id: str | None = await conn.fetchval(
        "SELECT employee_id FROM employees WHERE tenant = $1 AND scim_id = $2::uuid", tenant, scim_id
    )
    return employee_id


async def save_scim(
    conn: Conn, tenant: str, employee_id: str, user: dict[str, Any], *, created: bool = False, new_id: bool = False
) -> tuple[str, datetime, datetime]:
    """Keep a User's attributes as provisioned; `created`: the SCIM resource begins now, `new_id`: with a new
    id (a User created again after its deletion). Returns the User's SCIM id, creation and modification time."""
    sets = ["scim = $3", "scim_deleted_at = NULL", "updated_at = now()"]
    if created:
        sets.append("scim_created_at = now()")
    if new_id:
        sets.append("scim_id = gen_random_uuid()")
    row = await conn.fetchrow(
        f"UPDATE employees SET {', '.join(sets)} WHERE tenant = $1 AND employee_id = $2 "
        "RETURNING scim_id::text, COALESCE(scim_created_at, created_at), updated_at",
        tenant,
        employee_id,
        user,
    )
    if row is None:
        raise NotFound(f"employee {employee_id} is not in the directory", field="employee_id")
    return row[0], row[1], row[2]


async def delete_scim(conn: Conn, tenant: str, employee_id: str) -> None:
    """The SCIM resource is gone; the directory record stays."""
    await conn.execute(
        "UPDATE employees SET scim_deleted_at = now(), updated_at = now() WHERE tenant = $1 AND employee_id = $2",
        tenant,
        employee_id,
    )
