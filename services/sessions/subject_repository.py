"""The queries of subject access (GDPR art. 15) in the sessions service: which rows of its database concern one
person (see shared/subjects.py; the route is api/subjects.py)."""

from __future__ import annotations

from typing import Any

from shared import subjects
from shared.db import Conn

#: The person's pairs (a subquery of the sections about pairs).
_PAIRS = "SELECT pair_id FROM pairs WHERE tenant = $1 AND (mentor_id = ANY($3) OR mentee_id = ANY($3))"

SUBJECTS = subjects.Subjects(
    service="sessions",
    participant_ids="SELECT participant_id FROM participants WHERE tenant = $1 AND employee_id = $2",
    sections=(
        subjects.Section(
            "participants",
            "SELECT * FROM participants WHERE tenant = $1 AND employee_id = $2 ORDER BY programme_id, participant_id",
        ),
        subjects.Section(
            "pairs",
            "SELECT *, CASE WHEN mentor_id = ANY($3) THEN 'mentor' ELSE 'mentee' END AS as_role FROM pairs "
            "WHERE tenant = $1 AND (mentor_id = ANY($3) OR mentee_id = ANY($3)) ORDER BY created_at, pair_id",
        ),
        subjects.Section(
            "pair_changes",
            f"SELECT * FROM pair_changes WHERE tenant = $1 AND pair_id IN ({_PAIRS}) ORDER BY at, event_id",
        ),
        subjects.Section(
            "agreements",
            f"SELECT * FROM agreements WHERE tenant = $1 AND pair_id IN ({_PAIRS}) ORDER BY pair_id, role",
        ),
        subjects.Section(
            "goals", f"SELECT * FROM goals WHERE tenant = $1 AND pair_id IN ({_PAIRS}) ORDER BY set_at, goal_id"
        ),
        subjects.Section(
            "sessions",
            f"SELECT * FROM sessions WHERE tenant = $1 AND pair_id IN ({_PAIRS}) ORDER BY starts_at, session_id",
        ),
        subjects.Section(
            "feedback",
            "SELECT * FROM feedback WHERE tenant = $1 AND author_id = ANY($3) ORDER BY submitted_at, feedback_id",
        ),
        subjects.Section(
            "confidence",
            "SELECT * FROM confidence WHERE tenant = $1 AND participant_id = ANY($3) ORDER BY rated_at, phase",
        ),
        subjects.Section(
            "learning_records",
            "SELECT * FROM learning_records WHERE tenant = $1 AND participant_id = ANY($3) "
            "ORDER BY recorded_at, record_id",
        ),
    ),
)


async def subject(conn: Conn, tenant: str, employee_id: str) -> dict[str, Any]:
    """Everything the sessions service holds about the employee in the tenant (shared.subjects.read)."""
    return await subjects.read(conn, SUBJECTS, tenant, employee_id)
