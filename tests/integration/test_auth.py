"""Sign-in over the real stack: the pairing service verifies tokens of the real local provider. Expired, not
yet valid, forged, wrong-audience, wrong-issuer, `alg: none` and symmetric tokens are refused (401) and change
nothing; a rotated signing key is picked up; a tenant the deployment does not serve is refused (403)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt as jose_jwt

from services.pairing.app import SPEC as PAIRING
from shared.auth import AuthSettings, principal_of
from shared.errors import Unauthorized
from shared.identity_provider import LocalIdentityProvider
from shared.localstack import free_port
from tests import auth, builders
from tests.conftest import HostFactory, ServeFactory


def _claims(idp: LocalIdentityProvider, **override: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": idp.issuer,
        "sub": "forger",
        "aud": idp.audience,
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
        "roles": ["hr"],
        "tenant": "default",
        "client_id": "tandem-web",
    }
    claims.update(override)
    return {k: v for k, v in claims.items() if v is not None}


def signed_by_provider(idp: LocalIdentityProvider, **override: Any) -> str:
    """A token signed with the provider's own key (so only the claims are wrong)."""
    header = {"alg": "RS256", "typ": "at+jwt"}
    return jose_jwt.encode(header, _claims(idp, **override), idp.state.keys.signing)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _hmac_with_public_key(idp: LocalIdentityProvider) -> str:
    """The classic algorithm confusion: HMAC-SHA256 keyed with the provider's public key (PEM)."""
    public = jwt.PyJWK(idp.state.keys.public_jwks()["keys"][-1]).key
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT', 'kid': idp.kid})}.{_b64(_claims(idp))}"
    signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


BAD: dict[str, Any] = {
    "expired": lambda idp: signed_by_provider(idp, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600),
    "not yet valid": lambda idp: signed_by_provider(idp, nbf=int(time.time()) + 3600),
    "wrong audience": lambda idp: signed_by_provider(idp, aud="someone-else"),
    "wrong issuer": lambda idp: signed_by_provider(idp, iss="https://evil.example"),
    "no expiry": lambda idp: signed_by_provider(idp, exp=None),
    "no tenant": lambda idp: signed_by_provider(idp, tenant=None),
    "alg none": lambda idp: f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': idp.kid})}.{_b64(_claims(idp))}.",
    "forged with the provider's kid": lambda idp: jwt.encode(
        _claims(idp),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        algorithm="RS256",
        headers={"kid": idp.kid},
    ),
    "HS256 keyed with the public key": lambda idp: _hmac_with_public_key(idp),
    "not a JWT": lambda idp: "a.b.c",
}


@pytest.mark.parametrize("case", sorted(BAD))
async def test_bad_tokens_are_refused_and_change_nothing(
    serve: ServeFactory, identity_provider: LocalIdentityProvider, case: str
) -> None:
    svc = await serve(PAIRING)
    token = BAD[case](identity_provider)
    async with httpx.AsyncClient(base_url=svc.url, headers={"authorization": f"Bearer {token}"}) as client:
        r = await client.post("/programmes", json=builders.programme())
        assert r.status_code == 401, (case, r.text)
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert r.json()["error"]["code"] == "unauthorized"
    assert await svc.host.pool.fetchval("SELECT count(*) FROM programmes") == 0
    assert await svc.host.pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_no_token_or_another_scheme_is_401_and_health_needs_none(serve: ServeFactory) -> None:
    svc = await serve(PAIRING)
    async with httpx.AsyncClient(base_url=svc.url) as client:
        assert (await client.get("/programmes")).status_code == 401
        assert (await client.get("/programmes", headers={"authorization": "Basic aHI6aHI="})).status_code == 401
        assert (await client.get("/health/live")).status_code == 200
        assert (await client.get("/health/ready")).status_code == 200


async def test_a_rotated_signing_key_is_fetched_when_a_token_names_it(
    serve: ServeFactory, identity_provider: LocalIdentityProvider
) -> None:
    svc = await serve(PAIRING)
    async with auth.client(base_url=svc.url) as client:
        assert (await client.get("/programmes")).status_code == 200  # the verifier has the current keys
    new_kid = identity_provider.rotate_key()
    token = identity_provider.client_credentials_token("tandem-hr-platform")
    assert jwt.get_unverified_header(token)["kid"] == new_kid
    async with httpx.AsyncClient(base_url=svc.url, headers={"authorization": f"Bearer {token}"}) as client:
        r = await client.post("/directory/imports", json=[])
        assert r.status_code == 200, r.text  # the unknown kid made the verifier fetch the JWKS again


async def test_a_tenant_this_deployment_does_not_serve_is_refused(start_service: HostFactory) -> None:
    served = frozenset({"acme"})
    host = await start_service(
        PAIRING, tenants=served, auth=AuthSettings(issuer=auth.provider().issuer, tenants=served)
    )
    port = free_port()
    server = host.http_server(port)
    task = asyncio.create_task(server.serve())
    try:
        async with auth.client(tenant="globex", base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(100):
                try:
                    r = await client.get("/programmes")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
            assert r.status_code == 403
            assert r.json()["error"]["code"] == "tenant_not_served"
        async with auth.client(tenant="acme", base_url=f"http://127.0.0.1:{port}") as client:
            assert (await client.get("/programmes")).status_code == 200
    finally:
        server.should_exit = True
        await task


def test_claims_are_read_where_each_provider_puts_them() -> None:
    keycloak = AuthSettings(
        issuer="https://kc.example/realms/acme",
        roles_claim="realm_access.roles",
        tenant_claim="org",
        role_map={"tandem-hr": "hr"},
        tenants=frozenset({"*"}),
    )
    p = principal_of({"sub": "u1", "realm_access": {"roles": ["tandem-hr", "offline_access"]}, "org": "acme"}, keycloak)
    assert (p.roles, p.tenant) == (frozenset({"hr"}), "acme")  # unknown roles are dropped, mapped ones kept
    entra = AuthSettings(
        issuer="https://login.microsoftonline.com/t/v2.0",
        tenant_claim="tid",
        tenant_map={"72f988bf-0000": "acme"},
        role_map={"Tandem.Auditor": "auditor"},
        employee_claim="employeeid",
        tenants=frozenset({"acme"}),
    )
    p = principal_of({"sub": "u2", "roles": ["Tandem.Auditor"], "tid": "72f988bf-0000", "employeeid": "E-7"}, entra)
    assert (p.roles, p.tenant, p.employee_id) == (frozenset({"auditor"}), "acme", "E-7")
    okta = AuthSettings(issuer="https://acme.okta.com/oauth2/default", roles_claim="groups", tenants=frozenset({"*"}))
    p = principal_of({"sub": "u3", "groups": "participant everyone", "tenant": "t"}, okta)  # a space-separated string
    assert p.roles == frozenset({"participant"})
    with pytest.raises(Unauthorized):
        principal_of({"sub": "u4", "roles": ["hr"]}, okta)  # no tenant claim
    with pytest.raises(ValueError, match="unknown role"):
        AuthSettings(issuer="x", role_map={"a": "superuser"})
    with pytest.raises(ValueError, match="HS256"):
        AuthSettings(issuer="x", algorithms=("HS256",))
