"""Who may call each route of the pairing service (see shared/access.py; rendered into the README)."""

from __future__ import annotations

from shared import web
from shared.access import PUBLIC, Matrix, Rule, allow
from shared.subjects import NOTE as SUBJECT_ACCESS

HR = allow("hr")
HR_AUDITOR = allow("hr", "auditor")
INTEGRATION = allow("integration", note="the HR platform's SCIM client (client credentials, or an integration token)")

MATRIX: Matrix = {
    ("GET", "/programmes"): HR_AUDITOR,
    ("POST", "/programmes"): HR,
    ("GET", "/programmes/{programme_id}"): allow(
        "hr", "auditor", "participant", own=True, note="participants: a programme they are enrolled in"
    ),
    ("POST", "/programmes/{programme_id}/launch"): HR,
    ("POST", "/programmes/{programme_id}/close"): HR,
    ("GET", "/programmes/{programme_id}/waiting-for-partner"): HR,
    ("POST", "/programmes/{programme_id}/participants"): HR,
    ("GET", "/programmes/{programme_id}/participants"): HR,
    ("POST", "/programmes/{programme_id}/participants/bulk"): HR,
    ("GET", "/participants/{participant_id}"): allow("hr", "participant", own=True),
    ("PATCH", "/participants/{participant_id}"): allow("hr", "participant", own=True),
    ("POST", "/participants/{participant_id}/withdraw"): allow("hr", "participant", own=True),
    ("POST", "/programmes/{programme_id}/match-runs"): HR,
    ("GET", "/programmes/{programme_id}/match-runs"): HR_AUDITOR,
    ("GET", "/match-runs/{match_run_id}"): HR_AUDITOR,
    ("POST", "/match-runs/{match_run_id}/accept"): HR,
    ("POST", "/pairs/{pair_id}/rematch"): HR,
    ("POST", "/pairs"): HR,
    ("GET", "/pairs"): allow("hr", "auditor", "participant", own=True, note="participants: their own pairs"),
    ("GET", "/pairs/{pair_id}"): allow("hr", "auditor", "participant", own=True),
    ("POST", "/pairs/{pair_id}/pause"): allow("hr", "participant", own=True),
    ("POST", "/pairs/{pair_id}/resume"): allow("hr", "participant", own=True),
    ("POST", "/pairs/{pair_id}/end"): HR,
    ("POST", "/pairs/{pair_id}/extend"): HR,
    ("POST", "/pairs/{pair_id}/consent"): allow("participant", own=True, note="each side answers for themselves"),
    ("POST", "/pairs/{pair_id}/flag/resolve"): HR,
    ("GET", "/directory/employees"): HR,
    ("GET", "/directory/employees/{employee_id}"): HR,
    ("GET", "/directory/pending-managers"): HR,
    ("POST", "/directory/recheck"): HR,
    ("POST", "/directory/imports"): allow("hr", "integration", note="the HR platform's file upload, or HR by hand"),
    ("POST", "/subjects/{employee_id}/erase"): HR,
    ("GET", "/retention"): HR,
    ("PUT", "/retention"): HR,
    ("GET", "/audit/{subject}"): allow("hr", "auditor", note="confidential text only for HR"),
    ("GET", "/subjects/{employee_id}"): allow("hr", note=SUBJECT_ACCESS),
    ("GET", "/scim/v2/ServiceProviderConfig"): PUBLIC,
    ("GET", "/scim/v2/ResourceTypes"): PUBLIC,
    ("GET", "/scim/v2/ResourceTypes/{name}"): PUBLIC,
    ("GET", "/scim/v2/Schemas"): PUBLIC,
    ("GET", "/scim/v2/Schemas/{schema_id}"): PUBLIC,
    ("GET", "/scim/v2/Users"): INTEGRATION,
    ("POST", "/scim/v2/Users"): INTEGRATION,
    ("POST", "/scim/v2/Users/.search"): INTEGRATION,
    ("POST", "/scim/v2/.search"): INTEGRATION,
    ("GET", "/scim/v2/Users/{scim_id}"): INTEGRATION,
    ("PUT", "/scim/v2/Users/{scim_id}"): INTEGRATION,
    ("PATCH", "/scim/v2/Users/{scim_id}"): INTEGRATION,
    ("DELETE", "/scim/v2/Users/{scim_id}"): INTEGRATION,
    **{(m, "/scim/v2/{rest:path}"): INTEGRATION for m in ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")},
    ("GET", "/console"): Rule(public=True, note="the HR console's page shell (holds no data)"),
    ("GET", "/console/static/{name}"): PUBLIC,
    ("GET", "/console/{section:path}"): Rule(public=True, note="the HR console's shell for each section's address"),
    **web.ROUTES,
}
