"""The queries of subject access (GDPR art. 15) in the pairing service: which rows of its database concern one
person (see shared/subjects.py; the route is api/subjects.py)."""

from __future__ import annotations

from typing import Any

from shared import subjects
from shared.db import Conn

#: HR's must-pair and never-pair entries of a programme's or a match run's policy, one row each
#: ((mentor participant id, mentee participant id)); the section keeps those that name the person.
_RULES = (
    "SELECT '{of}' AS policy_of, x.programme_id, {run} AS match_run_id, r.rule, r.entry FROM {table} x "
    "CROSS JOIN LATERAL (SELECT 'must_pair', e FROM jsonb_array_elements(coalesce(x.{policy}->'must_pair', '[]')) e "
    "UNION ALL SELECT 'never_pair', e FROM jsonb_array_elements(coalesce(x.{policy}->'never_pair', '[]')) e) "
    "AS r(rule, entry) WHERE x.tenant = $1"
)

SUBJECTS = subjects.Subjects(
    service="pairing",
    participant_ids="SELECT participant_id FROM participants WHERE tenant = $1 AND employee_id = $2",
    sections=(
        subjects.Section(
            "directory", "SELECT * FROM employees WHERE tenant = $1 AND employee_id = $2 ORDER BY employee_id"
        ),
        subjects.Section(
            "enrolments",
            "SELECT p.*, g.name AS programme_name FROM participants p "
            "LEFT JOIN programmes g ON g.tenant = p.tenant AND g.programme_id = p.programme_id "
            "WHERE p.tenant = $1 AND p.employee_id = $2 ORDER BY p.created_at, p.participant_id",
        ),
        subjects.Section(
            "pairs",
            "SELECT *, CASE WHEN mentor_id = ANY($3) THEN 'mentor' ELSE 'mentee' END AS as_role FROM pairs "
            "WHERE tenant = $1 AND (mentor_id = ANY($3) OR mentee_id = ANY($3)) ORDER BY created_at, pair_id",
        ),
        subjects.Section(
            "proposals",
            "SELECT * FROM proposals WHERE tenant = $1 AND (mentor_id = ANY($3) OR mentee_id = ANY($3)) "
            "ORDER BY match_run_id, proposal_id",
        ),
        subjects.Section(
            "matching_rules",
            "SELECT found.* FROM ("
            f"{_RULES.format(of='programme', table='programmes', policy='matching_policy', run='NULL::text')} "
            f"UNION ALL {_RULES.format(of='match run', table='match_runs', policy='policy', run='x.match_run_id')}"
            ") AS found WHERE found.entry->>0 = ANY($3) OR found.entry->>1 = ANY($3) "
            "ORDER BY found.match_run_id NULLS FIRST, found.programme_id, found.rule",
        ),
        subjects.Section(
            "unmatched",
            "SELECT m.match_run_id, m.programme_id, m.kind, m.created_at, u.entry "
            "FROM match_runs m CROSS JOIN LATERAL jsonb_array_elements(m.unmatched) AS u(entry) "
            "WHERE m.tenant = $1 AND u.entry->>'participant_id' = ANY($3) ORDER BY m.created_at, m.match_run_id",
        ),
    ),
)


async def subject(conn: Conn, tenant: str, employee_id: str) -> dict[str, Any]:
    """Everything the pairing service holds about the employee in the tenant (shared.subjects.read)."""
    return await subjects.read(conn, SUBJECTS, tenant, employee_id)
