"""Events produced by the notifications service: the communication audit trail."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from shared.events.base import EventPayload
from shared.events.common import Id

SOURCE = "/tandem/notifications"

Channel = Literal["email", "chat"]


class _Notification(EventPayload):
    SOURCE: ClassVar[str] = SOURCE
    SUBJECT_FIELD: ClassVar[str] = "notification_id"
    KEY_FIELD: ClassVar[str | None] = "recipient_id"

    notification_id: Id
    rule: str
    recipient_id: Id
    channel: Channel
    programme_id: str | None = None
    pair_id: str | None = None
    triggering_event_id: str | None = None
    attempts: int = 1


class NotificationSent(_Notification):
    TYPE: ClassVar[str] = "tandem.notifications.NotificationSent"

    template: str
    locale: str


class NotificationFailed(_Notification):
    PERSONAL_FIELDS: ClassVar[dict[str, str]] = {"reason": "text:recipient_id"}
    TYPE: ClassVar[str] = "tandem.notifications.NotificationFailed"

    reason: str


class SensitiveDataAccessed(EventPayload):
    """Someone read what the audit trail must remember being read (a person's whole record, for subject
    access): who, what, when."""

    TYPE: ClassVar[str] = "tandem.notifications.SensitiveDataAccessed"
    SOURCE: ClassVar[str] = SOURCE
    SUBJECT_FIELD: ClassVar[str] = "subject_id"

    subject_id: Id = Field(description="What was read: an employee id.")
    what: str = Field(description="What was read, e.g. 'subject access (GDPR art. 15)'.")
    by: str = Field(description="Who: the token's subject (and name).")
    role: str


NOTIFICATIONS_EVENTS: tuple[type[EventPayload], ...] = (NotificationSent, NotificationFailed, SensitiveDataAccessed)
