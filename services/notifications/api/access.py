"""Who may call each route of the notifications service (see shared/access.py; rendered into the README)."""

from __future__ import annotations

from shared.access import Matrix, allow
from shared.subjects import NOTE as SUBJECT_ACCESS

HR_PLATFORM = allow("hr", "integration", note="HR, or the HR platform's machine client")

MATRIX: Matrix = {
    ("GET", "/recipients/{recipient_id}/preferences"): allow("hr", "participant", own=True),
    ("PUT", "/recipients/{recipient_id}/preferences"): allow(
        "participant", own=True, note="people change only their own preferences"
    ),
    ("GET", "/recipients/{recipient_id}/notifications"): allow("hr", "participant", own=True),
    ("POST", "/notifications/{notification_id}/resend"): allow("hr"),
    ("GET", "/subjects/{employee_id}"): allow("hr", note=SUBJECT_ACCESS),
    ("GET", "/chat-webhook-hosts"): allow("hr", note="the hosts people may point a chat webhook at"),
    ("PUT", "/chat-webhook-hosts"): allow("hr", note="a host taken off the list gets no more notifications"),
    ("GET", "/webhooks/subscriptions"): HR_PLATFORM,
    ("POST", "/webhooks/subscriptions"): HR_PLATFORM,
    ("GET", "/webhooks/subscriptions/{subscription_id}"): HR_PLATFORM,
    ("DELETE", "/webhooks/subscriptions/{subscription_id}"): HR_PLATFORM,
    ("GET", "/webhooks/subscriptions/{subscription_id}/deliveries"): HR_PLATFORM,
    ("POST", "/webhooks/deliveries/{delivery_id}/resend"): HR_PLATFORM,
}
