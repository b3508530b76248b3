"""Webhook subscriptions and their deliveries over HTTP, per tenant."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from services.notifications.domain import webhooks
from services.notifications.webhooks import repository as repo
from services.notifications.webhooks.config import WebhookSettings
from services.notifications.webhooks.network import check_target
from shared.errors import Conflict, NotFound
from shared.http import Connection, Limit, Offset, Tenant

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


def _settings(request: Request) -> WebhookSettings:
    return WebhookSettings.from_extra(request.app.state.host.settings.extra)


Settings = Annotated[WebhookSettings, Depends(_settings)]


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2000, description="Where events are POSTed: https, publicly reachable.")
    event_types: list[str] = Field(
        min_length=1, max_length=100, description="CloudEvent types, e.g. tandem.sessions.LearningRecorded."
    )
    description: str = Field(default="", max_length=500)


class SubscriptionOut(BaseModel):
    subscription_id: uuid.UUID
    url: str
    event_types: list[str]
    description: str
    created_at: datetime


class CreatedSubscription(SubscriptionOut):
    secret: str = Field(description="The signing secret (whsec_...). Shown only now: keep it.")


class DeliveryOut(BaseModel):
    delivery_id: uuid.UUID = Field(description="Also the webhook-id header of every attempt.")
    subscription_id: uuid.UUID
    event_id: str
    event_type: str
    status: Literal["pending", "failed", "delivered", "dead"]
    attempts: int
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime


def _subscription(row: Any) -> SubscriptionOut:
    return SubscriptionOut(**{k: row[k] for k in SubscriptionOut.model_fields})


def _delivery(row: Any) -> DeliveryOut:
    return DeliveryOut(**{k: row[k] for k in DeliveryOut.model_fields})


@router.post(
    "/subscriptions",
    status_code=201,
    response_model=CreatedSubscription,
    summary="Subscribe a URL to event types; the answer holds the signing secret, shown once",
)
async def subscribe(body: SubscriptionIn, conn: Connection, tenant: Tenant, settings: Settings) -> CreatedSubscription:
    event_types = webhooks.check_event_types(body.event_types)
    target = await check_target(body.url, allow_insecure=settings.allow_insecure)
    secret = webhooks.new_secret(secrets.token_bytes(webhooks.SECRET_BYTES))
    row = await repo.create_subscription(
        conn, tenant=tenant, url=target.url, event_types=event_types, description=body.description, secret=secret
    )
    return CreatedSubscription(**_subscription(row).model_dump(), secret=secret)


@router.get("/subscriptions", response_model=list[SubscriptionOut], summary="The tenant's subscriptions")
async def list_subscriptions(conn: Connection, tenant: Tenant) -> list[SubscriptionOut]:
    return [_subscription(r) for r in await repo.subscriptions(conn, tenant)]


@router.get("/subscriptions/{subscription_id}", response_model=SubscriptionOut)
async def get_subscription(subscription_id: uuid.UUID, conn: Connection, tenant: Tenant) -> SubscriptionOut:
    row = await repo.subscription(conn, tenant, subscription_id)
    if row is None:
        raise NotFound(f"no subscription {subscription_id}", field="subscription_id")
    return _subscription(row)


@router.delete(
    "/subscriptions/{subscription_id}",
    status_code=204,
    summary="Unsubscribe; its deliveries go with it (pending ones are not sent)",
)
async def unsubscribe(subscription_id: uuid.UUID, conn: Connection, tenant: Tenant) -> Response:
    if not await repo.delete_subscription(conn, tenant, subscription_id):
        raise NotFound(f"no subscription {subscription_id}", field="subscription_id")
    return Response(status_code=204)


@router.get(
    "/subscriptions/{subscription_id}/deliveries",
    response_model=list[DeliveryOut],
    summary="A subscription's deliveries, newest first",
)
async def list_deliveries(
    subscription_id: uuid.UUID, conn: Connection, tenant: Tenant, limit: Limit = 100, offset: Offset = 0
) -> list[DeliveryOut]:
    if await repo.subscription(conn, tenant, subscription_id) is None:
        raise NotFound(f"no subscription {subscription_id}", field="subscription_id")
    return [_delivery(r) for r in await repo.deliveries(conn, tenant, subscription_id, limit, offset)]


@router.post(
    "/deliveries/{delivery_id}/resend",
    response_model=DeliveryOut,
    summary="Send a failed or dead delivery again (fresh attempts, the same webhook-id)",
)
async def resend(delivery_id: uuid.UUID, conn: Connection, tenant: Tenant) -> DeliveryOut:
    row = await repo.requeue(conn, tenant, delivery_id)
    if row is not None:
        return _delivery(row)
    current = await repo.delivery(conn, tenant, delivery_id)
    if current is None:
        raise NotFound(f"no delivery {delivery_id}", field="delivery_id")
    if current["status"] in ("failed", "dead"):
        raise Conflict(
            "an attempt is under way right now; try again when it has finished",
            field="delivery_id",
            code="attempt_in_progress",
        )
    raise Conflict(
        f"only a failed or dead delivery can be resent; this one is {current['status']}",
        field="delivery_id",
        code="not_resendable",
    )
