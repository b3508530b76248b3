"""Integration tokens: static bearer secrets of one tenant for HR platforms whose SCIM client can only send a
fixed token (Microsoft Entra ID's "Secret Token"). They act with the `integration` role only, in their
tenant; only their SHA-256 is stored. Issue one with `tandem hr token --tenant <tenant>`. Clients that can
use OAuth client credentials should: their JWTs are verified like every other caller's."""

from __future__ import annotations

import hashlib
import secrets

from services.pairing import repository
from shared.auth import Principal
from shared.db import Conn
from shared.runtime import ServiceHost

TOKEN_PREFIX = "tdm_"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_token(conn: Conn, tenant: str, name: str) -> str:
    """A new integration token for `tenant`; shown once, stored only as its hash."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    await repository.create_token(conn, tenant, name, token_hash(token))
    return token


async def integration_principal(host: ServiceHost, token: str) -> Principal | None:
    """The caller an integration token names, or None when it is not one (ServiceSpec.static_tokens)."""
    async with host.pool.acquire() as conn:
        tenant = await repository.tenant_of_token(conn, token_hash(token))
    if tenant is None or not host.settings.serves(tenant):
        return None
    return Principal(subject="integration-token", tenant=tenant, roles=frozenset({"integration"}))
