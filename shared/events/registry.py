"""The catalogue: stable type strings to payload models."""

from __future__ import annotations

from shared.events.audit import AUDIT_EVENTS
from shared.events.base import EventPayload
from shared.events.directory import DIRECTORY_EVENTS
from shared.events.hr import HR_EVENTS
from shared.events.notifications import NOTIFICATIONS_EVENTS
from shared.events.pairing import PAIRING_EVENTS
from shared.events.sessions import SESSIONS_EVENTS

ALL_EVENTS: tuple[type[EventPayload], ...] = (
    PAIRING_EVENTS + DIRECTORY_EVENTS + SESSIONS_EVENTS + NOTIFICATIONS_EVENTS + HR_EVENTS + AUDIT_EVENTS
)


def _build() -> dict[str, type[EventPayload]]:
    registry: dict[str, type[EventPayload]] = {}
    for model in ALL_EVENTS:
        if model.TYPE in registry:
            raise RuntimeError(f"event type {model.TYPE!r} registered twice")
        registry[model.TYPE] = model
    return registry


REGISTRY: dict[str, type[EventPayload]] = _build()


class UnknownEventType(LookupError):
    pass


def model_for(event_type: str) -> type[EventPayload]:
    try:
        return REGISTRY[event_type]
    except KeyError:
        raise UnknownEventType(f"unknown event type {event_type!r}") from None
