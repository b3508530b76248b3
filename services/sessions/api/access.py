"""Who may call each route of the sessions service (see shared/access.py; rendered into the README)."""

from __future__ import annotations

from shared import web
from shared.access import PUBLIC, Matrix, Rule, allow
from shared.subjects import NOTE as SUBJECT_ACCESS

HR_AUDITOR = allow("hr", "auditor")
EXPORT = allow("hr", "auditor", note="every export is recorded (SensitiveDataAccessed)")
OWN_PAIR = allow("hr", "participant", own=True, note="participants: their own pairs")
READ_PAIR = allow("hr", "auditor", "participant", own=True, note="participants: their own pairs")

MATRIX: Matrix = {
    ("GET", "/pairs/{pair_id}"): READ_PAIR,
    ("POST", "/pairs/{pair_id}/agreement"): OWN_PAIR,
    ("POST", "/pairs/{pair_id}/goals"): OWN_PAIR,
    ("POST", "/pairs/{pair_id}/goals/{goal_id}/achieve"): OWN_PAIR,
    ("POST", "/pairs/{pair_id}/confidence"): OWN_PAIR,
    ("POST", "/pairs/{pair_id}/sessions"): OWN_PAIR,
    ("POST", "/pairs/{pair_id}/sessions/{session_id}/reschedule"): OWN_PAIR,
    ("POST", "/pairs/{pair_id}/sessions/{session_id}/cancel"): OWN_PAIR,
    ("POST", "/pairs/{pair_id}/sessions/{session_id}/log"): OWN_PAIR,
    ("GET", "/sessions/{session_id}.ics"): OWN_PAIR,
    ("GET", "/sessions/{session_id}"): READ_PAIR,
    ("POST", "/pairs/{pair_id}/feedback"): allow("participant", own=True, note="each gives their own feedback"),
    ("GET", "/pairs/{pair_id}/feedback"): allow(
        "hr",
        "auditor",
        "participant",
        own=True,
        note="a confidential comment: only its author and HR (auditors get the rest); HR reading one is recorded",
    ),
    ("GET", "/audit/{subject}"): allow("hr", "auditor", note="confidential text only for HR"),
    ("GET", "/programmes"): HR_AUDITOR,
    ("GET", "/programmes/{programme_id}/outcomes"): allow(
        "hr", "auditor", note="the people of at-risk pairs are named for HR only"
    ),
    ("GET", "/programmes/{programme_id}/outcomes.csv"): EXPORT,
    ("GET", "/programmes/{programme_id}/outcomes.json"): EXPORT,
    ("GET", "/programmes/{programme_id}/at-risk"): allow("hr", note="names of at-risk pairs: HR only"),
    ("GET", "/subjects/{employee_id}"): allow("hr", note=SUBJECT_ACCESS),
    ("GET", "/dashboard"): Rule(public=True, note="the page; it signs in (Authorization Code + PKCE)"),
    ("GET", "/dashboard/static/{name}"): PUBLIC,
    ("GET", "/me"): allow(
        "participant",
        own=True,
        note="the caller's own enrolments and pairs (HR: 403); a browser opening /me gets the portal page",
    ),
    ("GET", "/me/{rest:path}"): Rule(public=True, note="the participant portal's page (every /me/... address)"),
    ("GET", "/me/static/{name}"): PUBLIC,
    **web.ROUTES,
}
