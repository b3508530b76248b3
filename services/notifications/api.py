"""Notifications HTTP API (FastAPI, OpenAPI at /docs)."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel

from shared.http import create_app
from shared.runtime import ServiceHost, host_of


class NotificationOut(BaseModel):
    notification_id: uuid.UUID
    rule: str
    recipient_id: str
    programme_id: str | None
    pair_id: str | None
    triggering_event_id: str
    status: str
    due_at: datetime
    created_at: datetime


recipients_router = APIRouter(prefix="/recipients", tags=["recipients"])


@recipients_router.get(
    "/{recipient_id}/notifications", response_model=list[NotificationOut], summary="A recipient's notification history"
)
async def history(recipient_id: str, request: Request) -> list[NotificationOut]:
    rows = await host_of(request.app).pool.fetch(
        "SELECT * FROM notifications WHERE recipient_id = $1 ORDER BY created_at, notification_id", recipient_id
    )
    return [NotificationOut(**dict(r)) for r in rows]


def build_api(host: ServiceHost) -> FastAPI:
    app = create_app("Tandem notifications", "Welcome, reminders, feedback requests and nudges, exactly once.")
    app.include_router(recipients_router)
    return app
