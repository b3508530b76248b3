"""Integration clients (the HR platform's SCIM provisioning and file upload) authenticate with a bearer
token of their tenant: `Authorization: Bearer <token>`. The token names the tenant; only its SHA-256 is
stored. Issue one with `tandem hr token --tenant <tenant>`."""

from __future__ import annotations

import hashlib
import secrets
from typing import Annotated

from fastapi import Depends, Request

from services.pairing import repository
from shared.db import Conn
from shared.errors import Unauthorized

TOKEN_PREFIX = "tdm_"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_token(conn: Conn, tenant: str, name: str) -> str:
    """A new integration token for `tenant`; shown once, stored only as its hash."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    await repository.create_token(conn, tenant, name, token_hash(token))
    return token


async def integration_tenant(request: Request) -> str:
    """The tenant of the bearer token on the request, or 401."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send the integration token of your tenant: Authorization: Bearer <token>",
                           field="authorization")  # fmt: skip
    async with request.app.state.host.pool.acquire() as conn:
        tenant = await repository.tenant_of_token(conn, token_hash(token.strip()))
    if tenant is None:
        raise Unauthorized("the bearer token is not a valid integration token", field="authorization")
    return tenant


#: The tenant an integration client acts for, from its bearer token.
IntegrationTenant = Annotated[str, Depends(integration_tenant)]
