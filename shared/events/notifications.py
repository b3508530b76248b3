"""Events produced by the notifications service: the communication audit trail."""

from __future__ import annotations

from typing import ClassVar, Literal

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


NOTIFICATIONS_EVENTS: tuple[type[EventPayload], ...] = (NotificationSent, NotificationFailed)
