"""A recipient's preferences and notification history; HR resends a failed notification."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import Literal

from fastapi import APIRouter
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from shared.errors import Conflict, InvalidInput, NotFound
from shared.http import Connection

router = APIRouter(tags=["notifications"])


class PreferencesIO(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Literal["email", "chat"] = "email"
    locale: Literal["de", "en"] = "en"
    quiet_start: time | None = Field(default=time(20, 0), description="Local time quiet hours begin (or null).")
    quiet_end: time | None = Field(default=time(8, 0), description="Local time quiet hours end (or null).")
    opted_out: bool = Field(default=False, description="Only mandatory messages (welcome, cancellations).")
    chat_webhook_url: AnyHttpUrl | None = None


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
    last_error: str | None
    note: str | None
    sent_at: datetime | None
    created_at: datetime


@router.get("/recipients/{recipient_id}/preferences", response_model=PreferencesIO)
async def get_preferences(recipient_id: str, conn: Connection) -> PreferencesIO:
    row = await conn.fetchrow("SELECT * FROM preferences WHERE recipient_id = $1", recipient_id)
    if row is not None:
        return PreferencesIO(**{k: row[k] for k in PreferencesIO.model_fields})
    me = await conn.fetchrow("SELECT locale FROM recipients WHERE participant_id = $1", recipient_id)
    if me is None:
        raise NotFound(f"no recipient {recipient_id}", field="recipient_id")
    return PreferencesIO(locale=me["locale"])


@router.put("/recipients/{recipient_id}/preferences", response_model=PreferencesIO, summary="Change preferences")
async def put_preferences(recipient_id: str, body: PreferencesIO, conn: Connection) -> PreferencesIO:
    if body.channel == "chat" and body.chat_webhook_url is None:
        raise InvalidInput("the chat channel needs chat_webhook_url", field="chat_webhook_url")
    if (body.quiet_start is None) != (body.quiet_end is None):
        raise InvalidInput("give both ends of the quiet hours, or neither", field="quiet_end")
    if await conn.fetchval("SELECT 1 FROM recipients WHERE participant_id = $1", recipient_id) is None:
        raise NotFound(f"no recipient {recipient_id}", field="recipient_id")
    await conn.execute(
        "INSERT INTO preferences (recipient_id, channel, locale, quiet_start, quiet_end, opted_out, chat_webhook_url) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (recipient_id) DO UPDATE SET channel = EXCLUDED.channel, "
        "locale = EXCLUDED.locale, quiet_start = EXCLUDED.quiet_start, quiet_end = EXCLUDED.quiet_end, "
        "opted_out = EXCLUDED.opted_out, chat_webhook_url = EXCLUDED.chat_webhook_url, updated_at = now()",
        recipient_id, body.channel, body.locale, body.quiet_start, body.quiet_end, body.opted_out,
        str(body.chat_webhook_url) if body.chat_webhook_url else None,
    )  # fmt: skip
    return body


@router.get("/recipients/{recipient_id}/notifications", response_model=list[NotificationOut],
            summary="A recipient's notification history")  # fmt: skip
async def history(recipient_id: str, conn: Connection) -> list[NotificationOut]:
    rows = await conn.fetch(
        "SELECT * FROM notifications WHERE recipient_id = $1 ORDER BY created_at, due_at, notification_id", recipient_id
    )
    return [NotificationOut(**{k: r[k] for k in NotificationOut.model_fields}) for r in rows]


@router.post("/notifications/{notification_id}/resend", response_model=NotificationOut,
             summary="HR sends a failed notification again")  # fmt: skip
async def resend(notification_id: uuid.UUID, conn: Connection) -> NotificationOut:
    row = await conn.fetchrow(
        "UPDATE notifications SET status = 'planned', attempts = 0, next_attempt_at = now(), last_error = NULL, "
        "note = 'resent by HR', updated_at = now() WHERE notification_id = $1 AND status = 'failed' RETURNING *",
        notification_id,
    )
    if row is None:
        exists = await conn.fetchval("SELECT status FROM notifications WHERE notification_id = $1", notification_id)
        if exists is None:
            raise NotFound(f"no notification {notification_id}", field="notification_id")
        raise Conflict(f"only a failed notification can be resent; this one is {exists}", field="notification_id",
                       code="not_failed")  # fmt: skip
    return NotificationOut(**{k: row[k] for k in NotificationOut.model_fields})
