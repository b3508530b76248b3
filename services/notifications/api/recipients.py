"""A recipient's preferences and notification history; HR resends a failed notification.

Everything within the caller's tenant. HR reads anyone's preferences and history there; a participant only
their own (the recipient's employee id is theirs), and only a person themselves changes their preferences.
Whatever the caller may not reach answers 404, like an id of another tenant.
"""

from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from services.notifications import repository as repo
from services.notifications.channels.chat import check_chat_target
from services.notifications.domain import chat, reach
from services.notifications.webhooks.config import WebhookSettings
from shared.auth import Principal
from shared.db import Conn
from shared.errors import Conflict, InvalidInput, NotFound
from shared.http import Caller, Connection, Limit, Offset, PathId

router = APIRouter(tags=["notifications"])


def _allow_insecure(request: Request) -> bool:
    return WebhookSettings.from_extra(request.app.state.host.settings.extra).allow_insecure


#: The development setting NOTIFICATIONS_WEBHOOK_ALLOW_INSECURE (http and private chat webhooks).
AllowInsecure = Annotated[bool, Depends(_allow_insecure)]


class PreferencesIO(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Literal["email", "chat"] = "email"
    locale: Literal["de", "en"] = "en"
    quiet_start: time | None = Field(default=time(20, 0), description="Local time quiet hours begin (or null).")
    quiet_end: time | None = Field(default=time(8, 0), description="Local time quiet hours end (or null).")
    opted_out: bool = Field(default=False, description="Only mandatory messages (welcome, cancellations).")
    chat_webhook_url: str | None = Field(
        default=None, max_length=2000,
        description="https, on a host of the organisation's list (GET /chat-webhook-hosts), publicly reachable.",
    )  # fmt: skip


class NotificationOut(BaseModel):
    notification_id: uuid.UUID
    rule: str
    recipient_id: str
    status: str
    channel: str | None
    pair_id: str | None
    session_id: str | None
    due_at: datetime
    next_attempt_at: datetime
    attempts: int
    last_error: str | None = Field(description="Why the last attempt failed, or why the notification failed.")
    note: str | None
    message_id: str | None = Field(
        description="The Message-ID of its mail (a chat message's Idempotency-Key without the angle brackets): the "
        "same on every attempt and resend; set at the first attempt."
    )
    last_attempt_at: datetime | None
    sent_at: datetime | None
    created_at: datetime


def _notification(row: Any) -> NotificationOut:
    return NotificationOut(**{k: row[k] for k in NotificationOut.model_fields})


def _not_found(recipient_id: str) -> NotFound:
    return NotFound(f"no recipient {recipient_id}", field="recipient_id")


async def _readable(conn: Conn, caller: Principal, recipient_id: str) -> Any:
    """The recipient when the caller may read their preferences and history, else 404."""
    found = await repo.recipient(conn, caller.tenant, recipient_id)
    if found is None or not reach.may_read(caller, found["employee_id"]):
        raise _not_found(recipient_id)
    return found


@router.get("/recipients/{recipient_id}/preferences", response_model=PreferencesIO)
async def get_preferences(recipient_id: PathId, conn: Connection, caller: Caller) -> PreferencesIO:
    me = await _readable(conn, caller, recipient_id)
    row = await repo.preferences(conn, caller.tenant, recipient_id)
    if row is not None:
        return PreferencesIO(**{k: row[k] for k in PreferencesIO.model_fields})
    return PreferencesIO(locale=me["locale"])


@router.put("/recipients/{recipient_id}/preferences", response_model=PreferencesIO,
            summary="Change your own preferences")  # fmt: skip
async def put_preferences(
    recipient_id: PathId, body: PreferencesIO, conn: Connection, caller: Caller, allow_insecure: AllowInsecure
) -> PreferencesIO:
    me = await repo.recipient(conn, caller.tenant, recipient_id)
    if me is None or not reach.may_change(caller, me["employee_id"]):
        raise _not_found(recipient_id)
    if body.channel == "chat" and body.chat_webhook_url is None:
        raise InvalidInput("the chat channel needs chat_webhook_url", field=chat.FIELD)
    if (body.quiet_start is None) != (body.quiet_end is None):
        raise InvalidInput("give both ends of the quiet hours, or neither", field="quiet_end")
    if body.chat_webhook_url is not None:
        allowed = await repo.chat_hosts(conn, caller.tenant)
        target = await check_chat_target(body.chat_webhook_url, allowed, allow_insecure=allow_insecure)
        body = body.model_copy(update={"chat_webhook_url": target.url})
    await repo.save_preferences(conn, caller.tenant, recipient_id, **body.model_dump())
    return body


@router.get("/recipients/{recipient_id}/notifications", response_model=list[NotificationOut],
            summary="A recipient's notification history, oldest first")  # fmt: skip
async def history(
    recipient_id: PathId, conn: Connection, caller: Caller, limit: Limit = 100, offset: Offset = 0
) -> list[NotificationOut]:
    if not (caller.has("hr") and await repo.hr_recipient_known(conn, caller.tenant, recipient_id)):
        await _readable(conn, caller, recipient_id)
    return [_notification(r) for r in await repo.history(conn, caller.tenant, recipient_id, limit, offset)]


@router.post("/notifications/{notification_id}/resend", response_model=NotificationOut,
             summary="HR sends a failed notification again, rendered from the data as it is now")  # fmt: skip
async def resend(notification_id: uuid.UUID, conn: Connection, caller: Caller) -> NotificationOut:
    row = await repo.resend(conn, caller.tenant, notification_id)
    if row is not None:
        return _notification(row)
    status = await repo.notification_status(conn, caller.tenant, notification_id)
    if status is None:
        raise NotFound(f"no notification {notification_id}", field="notification_id")
    raise Conflict(f"only a failed notification can be resent; this one is {status}", field="notification_id",
                   code="not_failed")  # fmt: skip
