"""The queries of subject access (GDPR art. 15) in the notifications service: which rows of its database concern one
person (see shared/subjects.py; the route is api/subjects.py)."""

from __future__ import annotations

from typing import Any

from shared import subjects
from shared.db import Conn

#: The person's notifications and pairs (subqueries of the sections about them).
_NOTIFICATIONS = "SELECT notification_id FROM notifications WHERE tenant = $1 AND recipient_id = ANY($3)"
_PAIRS = "SELECT pair_id FROM pairs WHERE tenant = $1 AND (mentor_id = ANY($3) OR mentee_id = ANY($3))"

SUBJECTS = subjects.Subjects(
    service="notifications",
    participant_ids="SELECT participant_id FROM recipients WHERE tenant = $1 AND employee_id = $2",
    sections=(
        subjects.Section(
            "recipients",
            "SELECT * FROM recipients WHERE tenant = $1 AND employee_id = $2 ORDER BY programme_id, participant_id",
        ),
        subjects.Section(
            "preferences",
            "SELECT * FROM preferences WHERE tenant = $1 AND recipient_id = ANY($3) ORDER BY recipient_id",
        ),
        subjects.Section(
            "notifications",
            "SELECT * FROM notifications WHERE tenant = $1 AND recipient_id = ANY($3) "
            "ORDER BY created_at, notification_id",
        ),
        subjects.Section(
            "receipts",
            f"SELECT * FROM notification_receipts WHERE tenant = $1 AND notification_id IN ({_NOTIFICATIONS}) "
            "ORDER BY receipt_id",
        ),
        subjects.Section(
            "pairs",
            "SELECT *, CASE WHEN mentor_id = ANY($3) THEN 'mentor' ELSE 'mentee' END AS as_role FROM pairs "
            "WHERE tenant = $1 AND (mentor_id = ANY($3) OR mentee_id = ANY($3)) ORDER BY created_at, pair_id",
        ),
        subjects.Section(
            "flags", f"SELECT * FROM flags WHERE tenant = $1 AND pair_id IN ({_PAIRS}) ORDER BY flagged_at, pair_id"
        ),
        subjects.Section(
            "sessions",
            f"SELECT * FROM sessions WHERE tenant = $1 AND pair_id IN ({_PAIRS}) ORDER BY starts_at, session_id",
        ),
        subjects.Section(
            "webhook_deliveries",
            "SELECT * FROM webhook_deliveries WHERE tenant = $1 AND (strpos(body, '\"' || $2::text || '\"') > 0 "
            "OR EXISTS (SELECT 1 FROM unnest($3::text[]) AS i(id) WHERE strpos(body, '\"' || i.id || '\"') > 0)) "
            "ORDER BY created_at, delivery_id",
        ),
        subjects.Section(
            "feedback_given",
            "SELECT * FROM feedback_given WHERE tenant = $1 AND author_id = ANY($3) ORDER BY session_id",
        ),
    ),
)


async def subject(conn: Conn, tenant: str, employee_id: str) -> dict[str, Any]:
    """Everything the notifications service holds about the employee in the tenant (shared.subjects.read)."""
    return await subjects.read(conn, SUBJECTS, tenant, employee_id)
