"""SQL of erasure (a person's names, addresses and free text in pairing's tables become the placeholder) and of
retention (a closed programme's free text, once its tenant's policy says it has been kept long enough).

What is scrubbed: the directory record's name, e-mail, user name, external id and SCIM attributes; each
enrolment's name, e-mail and goal; the rationales and the reasons' parameters that name people of their pairs and
proposals; the flags' details and HR's reasons for keeping a flag; the reasons of unmatched entries. What stays:
every id, status, date, count and score, so every figure of a programme is the same before and after.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from shared.db import Conn
from shared.erasure import PLACEHOLDER

#: Reason parameters that name a person (docs/rationale-reasons.md): `mentee`, how the mentee is called.
PERSON_PARAMS = ("mentee", "mentor")


def _scrub_reasons(column: str) -> str:
    """SQL: the reasons array with every parameter that names a person replaced by the placeholder."""
    sets = "".join(
        f" || CASE WHEN r ? '{p}' THEN jsonb_build_object('{p}', '{PLACEHOLDER}') ELSE '{{}}'::jsonb END"
        for p in PERSON_PARAMS
    )
    return (
        f"(SELECT coalesce(jsonb_agg(r{sets} ORDER BY n), '[]'::jsonb) "
        f"FROM jsonb_array_elements({column}) WITH ORDINALITY AS x(r, n))"
    )


# --- erasure -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Erasure:
    employee_id: str
    reason: str
    requested_by: str
    participant_ids: list[str]
    pair_ids: list[str]
    erased_at: datetime


async def lock_employee(conn: Conn, tenant: str, employee_id: str) -> Any:
    """The directory record's name and addresses (what dead letters may quote), locked; None when unknown."""
    return await conn.fetchrow(
        "SELECT display_name, email, user_name, external_id FROM employees WHERE tenant = $1 AND employee_id = $2 "
        "FOR UPDATE",
        tenant,
        employee_id,
    )


async def erasure_of(conn: Conn, tenant: str, employee_id: str) -> Erasure | None:
    row = await conn.fetchrow(
        "SELECT employee_id, reason, requested_by, participant_ids, pair_ids, erased_at FROM erasures "
        "WHERE tenant = $1 AND employee_id = $2",
        tenant,
        employee_id,
    )
    if row is None:
        return None
    return Erasure(**{**dict(row), "participant_ids": list(row["participant_ids"]), "pair_ids": list(row["pair_ids"])})


@dataclass(frozen=True)
class Scope:
    """Everything an erasure covers: the person's enrolments (every programme, any status), every pair and match
    run proposal they were in (as mentor or mentee; a proposal's rationale has a data key of its own), and the
    names their enrolments were known by (what dead letters may quote)."""

    participant_ids: list[str]
    pair_ids: list[str]
    proposal_ids: list[str]
    quoted: list[str]


async def subject_scope(conn: Conn, tenant: str, employee_id: str) -> Scope:
    """See Scope."""
    enrolments = await conn.fetch(
        "SELECT participant_id, profile ->> 'display_name' AS name, profile ->> 'email' AS email FROM participants "
        "WHERE tenant = $1 AND employee_id = $2 ORDER BY participant_id",
        tenant,
        employee_id,
    )
    participant_ids = [r["participant_id"] for r in enrolments]
    pairs = await conn.fetch(
        "SELECT pair_id FROM pairs WHERE tenant = $1 AND (mentor_id = ANY($2::text[]) OR mentee_id = ANY($2::text[])) "
        "UNION SELECT pair_id FROM proposals WHERE tenant = $1 AND pair_id IS NOT NULL "
        "AND (mentor_id = ANY($2::text[]) OR mentee_id = ANY($2::text[])) ORDER BY 1",
        tenant,
        participant_ids,
    )
    proposals = await conn.fetch(
        "SELECT proposal_id FROM proposals WHERE tenant = $1 "
        "AND (mentor_id = ANY($2::text[]) OR mentee_id = ANY($2::text[])) ORDER BY proposal_id",
        tenant,
        participant_ids,
    )
    quoted = [v for r in enrolments for v in (r["name"], r["email"]) if v]
    return Scope(participant_ids, [r["pair_id"] for r in pairs], [r["proposal_id"] for r in proposals], quoted)


async def scrub_subject(
    conn: Conn, tenant: str, employee_id: str, participant_ids: Sequence[str], pair_ids: Sequence[str]
) -> None:
    """The person's names, addresses and free text in every pairing table become the placeholder (see the module).
    The SCIM User is gone for the HR platform's client (404, out of lists), as after a SCIM delete."""
    await conn.execute(
        "UPDATE employees SET display_name = $3, email = $3, user_name = $3 || ' ' || employee_id, external_id = NULL, "
        "scim = '{}'::jsonb, scim_deleted_at = coalesce(scim_deleted_at, now()), updated_at = now() "
        "WHERE tenant = $1 AND employee_id = $2",
        tenant,
        employee_id,
        PLACEHOLDER,
    )
    await conn.execute(
        "UPDATE participants SET profile = profile || jsonb_build_object('display_name', $3::text, 'email', $3::text) "
        "|| CASE WHEN coalesce(profile ->> 'goal', '') <> '' THEN jsonb_build_object('goal', $3::text) "
        "ELSE '{}'::jsonb END, updated_at = now() WHERE tenant = $1 AND participant_id = ANY($2::text[])",
        tenant,
        list(participant_ids),
        PLACEHOLDER,
    )
    await conn.execute(
        "UPDATE pairs SET rationale = CASE WHEN rationale = '' THEN '' ELSE $3 END, "
        f"reasons = {_scrub_reasons('reasons')}, "
        "flag = CASE WHEN flag IS NULL THEN NULL ELSE flag || jsonb_build_object('detail', $3::text) END, "
        "flag_override = CASE WHEN flag_override IS NULL OR NOT flag_override ? 'reason' THEN flag_override "
        "ELSE flag_override || jsonb_build_object('reason', $3::text) END, updated_at = now() "
        "WHERE tenant = $1 AND pair_id = ANY($2::text[])",
        tenant,
        list(pair_ids),
        PLACEHOLDER,
    )
    await conn.execute(
        f"UPDATE proposals SET rationale = $3, reasons = {_scrub_reasons('reasons')} "
        "WHERE tenant = $1 AND (mentor_id = ANY($2::text[]) OR mentee_id = ANY($2::text[]))",
        tenant,
        list(participant_ids),
        PLACEHOLDER,
    )
    await conn.execute(
        "UPDATE match_runs SET unmatched = (SELECT coalesce(jsonb_agg(CASE "
        "WHEN u ->> 'participant_id' = ANY($2::text[]) THEN u || jsonb_build_object('reason', $3::text) ELSE u END "
        "ORDER BY n), '[]'::jsonb) "
        "FROM jsonb_array_elements(unmatched) WITH ORDINALITY AS x(u, n)) "
        "WHERE tenant = $1 AND EXISTS (SELECT 1 FROM jsonb_array_elements(unmatched) AS e(u) "
        "WHERE e.u ->> 'participant_id' = ANY($2::text[]))",
        tenant,
        list(participant_ids),
        PLACEHOLDER,
    )


async def record_erasure(
    conn: Conn,
    tenant: str,
    employee_id: str,
    *,
    reason: str,
    requested_by: str,
    participant_ids: Sequence[str],
    pair_ids: Sequence[str],
) -> datetime:
    erased_at: datetime = await conn.fetchval(
        "INSERT INTO erasures (tenant, employee_id, reason, requested_by, participant_ids, pair_ids) "
        "VALUES ($1, $2, $3, $4, $5, $6) RETURNING erased_at",
        tenant,
        employee_id,
        reason,
        requested_by,
        list(participant_ids),
        list(pair_ids),
    )
    return erased_at


async def leavers_to_erase(conn: Conn, today: date, after_days: int, *, limit: int = 500) -> list[tuple[str, str]]:
    """(tenant, employee id) of everyone whose directory status has been `left` for more than `after_days` days
    on `today` (since their leaving date, else since the change that made them leave) and who is not erased yet."""
    rows = await conn.fetch(
        "SELECT e.tenant, e.employee_id FROM employees e WHERE e.status = 'left' "
        "AND coalesce(e.left_on, (e.effective_at AT TIME ZONE 'UTC')::date) < $1::date - $2::integer "
        "AND NOT EXISTS (SELECT 1 FROM erasures x WHERE x.tenant = e.tenant AND x.employee_id = e.employee_id) "
        "ORDER BY e.tenant, e.employee_id LIMIT $3",
        today,
        after_days,
        limit,
    )
    return [(r["tenant"], r["employee_id"]) for r in rows]


# --- retention -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    tenant: str
    free_text_months: int
    set_by: str
    set_at: datetime


async def set_policy(conn: Conn, tenant: str, free_text_months: int, set_by: str) -> Policy:
    row = await conn.fetchrow(
        "INSERT INTO retention_policies (tenant, free_text_months, set_by) VALUES ($1, $2, $3) "
        "ON CONFLICT (tenant) DO UPDATE SET free_text_months = EXCLUDED.free_text_months, set_by = EXCLUDED.set_by, "
        "set_at = now() RETURNING tenant, free_text_months, set_by, set_at",
        tenant,
        free_text_months,
        set_by,
    )
    assert row is not None  # INSERT ... RETURNING answers one row
    return Policy(**dict(row))


async def get_policy(conn: Conn, tenant: str) -> Policy | None:
    row = await conn.fetchrow(
        "SELECT tenant, free_text_months, set_by, set_at FROM retention_policies WHERE tenant = $1", tenant
    )
    return None if row is None else Policy(**dict(row))


async def tenants_with_policy(conn: Conn) -> list[str]:
    return [r["tenant"] for r in await conn.fetch("SELECT tenant FROM retention_policies ORDER BY tenant")]


async def programmes_past_retention(conn: Conn, tenant: str, now: datetime, months: int) -> list[tuple[str, date]]:
    """(programme id, the day it closed) of the tenant's programmes closed more than `months` months before `now`
    whose free text has not expired yet, locked (another run skips them)."""
    rows = await conn.fetch(
        "SELECT programme_id, (closed_at AT TIME ZONE 'UTC')::date AS closed_on FROM programmes "
        "WHERE tenant = $1 AND state = 'closed' AND free_text_expired_at IS NULL "
        "AND closed_at < $2::timestamptz - make_interval(months => $3::integer) "
        "ORDER BY closed_at, programme_id FOR UPDATE SKIP LOCKED",
        tenant,
        now,
        months,
    )
    return [(r["programme_id"], r["closed_on"]) for r in rows]


async def pair_ids_of_programme(conn: Conn, tenant: str, programme_id: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT pair_id FROM pairs WHERE tenant = $1 AND programme_id = $2 ORDER BY pair_id", tenant, programme_id
    )
    return [r["pair_id"] for r in rows]


async def scrub_programme_text(conn: Conn, tenant: str, programme_id: str, now: datetime) -> None:
    """The programme's free text (what people wrote: the participants' goals, HR's reasons for keeping a flagged
    pair) becomes the placeholder, and the programme is marked expired."""
    await conn.execute(
        "UPDATE participants SET profile = profile || jsonb_build_object('goal', $3::text), updated_at = now() "
        "WHERE tenant = $1 AND programme_id = $2 AND coalesce(profile ->> 'goal', '') <> ''",
        tenant,
        programme_id,
        PLACEHOLDER,
    )
    await conn.execute(
        "UPDATE pairs SET flag_override = flag_override || jsonb_build_object('reason', $3::text), updated_at = now() "
        "WHERE tenant = $1 AND programme_id = $2 AND flag_override ? 'reason'",
        tenant,
        programme_id,
        PLACEHOLDER,
    )
    await conn.execute(
        "UPDATE programmes SET free_text_expired_at = $3 WHERE tenant = $1 AND programme_id = $2",
        tenant,
        programme_id,
        now,
    )
