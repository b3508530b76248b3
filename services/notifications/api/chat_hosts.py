"""HR's list of the hosts their organisation's people may point a chat webhook at (per tenant)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from services.notifications import repository as repo
from services.notifications.domain import chat
from shared.http import Caller, Connection

router = APIRouter(tags=["notifications"])


class ChatWebhookHosts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hosts: list[str] = Field(
        max_length=chat.MAX_HOSTS,
        description="Host names (or IP addresses) alone, e.g. hooks.slack.com; no scheme, port, path or wildcard.",
    )


@router.get(
    "/chat-webhook-hosts", response_model=ChatWebhookHosts, summary="The hosts people may point their chat webhook at"
)
async def get_hosts(conn: Connection, caller: Caller) -> ChatWebhookHosts:
    return ChatWebhookHosts(hosts=await repo.chat_hosts(conn, caller.tenant))


@router.put(
    "/chat-webhook-hosts",
    response_model=ChatWebhookHosts,
    summary="Replace the list; a host taken off it gets no more notifications, at once",
)
async def put_hosts(body: ChatWebhookHosts, conn: Connection, caller: Caller) -> ChatWebhookHosts:
    hosts = chat.check_hosts(body.hosts)
    await repo.replace_chat_hosts(conn, caller.tenant, hosts, caller.who)
    return ChatWebhookHosts(hosts=hosts)
