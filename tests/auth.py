"""Tokens for tests, from the real local OpenID Connect provider (conftest starts one for the session).

Every token comes through a real OAuth flow over HTTP: authorization code with PKCE for people, client
credentials for machine clients. `client(role, tenant=..., employee_id=...)` is an httpx client that sends
such a token; tokens are cached per (role, tenant, employee), so each is fetched once a session.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from shared.identity_provider import CLIENT_CREDENTIALS, Client, DemoUser, LocalIdentityProvider

DEFAULT_TENANT = "default"
_idp: LocalIdentityProvider | None = None
_tokens: dict[tuple[str, str, str | None], str] = {}


def use(idp: LocalIdentityProvider) -> None:
    global _idp
    _idp = idp
    _tokens.clear()


def provider() -> LocalIdentityProvider:
    if _idp is None:
        raise RuntimeError("no identity provider: the conftest fixture `identity_provider` starts one")
    return _idp


def token(role: str = "hr", *, tenant: str = DEFAULT_TENANT, employee_id: str | None = None) -> str:
    """An access token of a caller with this role in this tenant (a participant: with their employee id)."""
    key = (role, tenant, employee_id)
    if key not in _tokens:
        idp = provider()
        if role == "integration":
            client_id = f"hr-platform-{tenant}"
            if client_id not in idp.clients:
                idp.add_client(
                    Client(
                        client_id,
                        secret=uuid.uuid4().hex,
                        grant_types=(CLIENT_CREDENTIALS,),
                        roles=("integration",),
                        tenant=tenant,
                    )
                )
            _tokens[key] = idp.client_credentials_token(client_id)
        else:
            username = f"{role}-{tenant}-{employee_id or 'staff'}"
            if username not in idp.users:
                idp.add_user(
                    DemoUser(
                        username,
                        name=f"Test {role} {employee_id or ''}".strip(),
                        email=f"{username}@tests.example",
                        roles=(role,),
                        tenant=tenant,
                        employee_id=employee_id,
                    )
                )
            _tokens[key] = idp.user_token(username)
    return _tokens[key]


def headers(role: str = "hr", *, tenant: str = DEFAULT_TENANT, employee_id: str | None = None) -> dict[str, str]:
    return {"authorization": f"Bearer {token(role, tenant=tenant, employee_id=employee_id)}"}


def of(body: dict[str, Any], *, tenant: str = DEFAULT_TENANT) -> dict[str, str]:
    """The headers of the participant a `builders` body describes (their own employee id)."""
    return headers("participant", tenant=tenant, employee_id=str(body["employee_id"]))


def client(
    role: str = "hr", *, tenant: str = DEFAULT_TENANT, employee_id: str | None = None, **kwargs: Any
) -> httpx.AsyncClient:
    """An httpx client that calls as this role (extra `headers` win, e.g. to send no token at all)."""
    given = kwargs.pop("headers", None) or {}
    return httpx.AsyncClient(headers={**headers(role, tenant=tenant, employee_id=employee_id), **given}, **kwargs)
