"""Who is calling: Bearer access tokens from an OpenID Connect provider, verified with PyJWT.

The provider is found by discovery (`{issuer}/.well-known/openid-configuration`); its signing keys come
from the JWKS it names, cached, and fetched again when a token names a key id the cache does not hold
(key rotation), at most once per `jwks_refresh_seconds`. A token is accepted only when its algorithm is on
the allowlist (never `none`, never a symmetric one: the JWKS holds public keys), its signature verifies,
its issuer and audience are the configured ones, and it is within its `exp`/`nbf` (with a small leeway).

Which claims carry the roles, the tenant and the employee id is configurable (Microsoft Entra ID, Keycloak
and Okta put them in different places); raw role names can be mapped to Tandem's roles. A token without a
tenant, or for a tenant this deployment does not serve, is refused.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from pydantic import field_validator

from shared.environment import Environment
from shared.errors import DomainError, Unauthorized

#: Tandem's roles. hr: HR admin of one tenant; participant: a mentor or mentee (their own pairs, sessions,
#: feedback and preferences); auditor: audit and exports, never confidential text; operator: replay, dead
#: letters, status; integration: the HR platform's machine clients (SCIM, file upload).
ROLES = ("hr", "participant", "auditor", "operator", "integration")
#: Asymmetric algorithms only: the services hold public keys from the JWKS, so an HMAC token signed with
#: a public key as its secret can never be accepted.
DEFAULT_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
ANY_TENANT = "*"


class Forbidden(DomainError):
    """Authenticated, but not allowed to do this (answered 403)."""

    status = 403
    code = "forbidden"


@dataclass(frozen=True)
class AuthSettings:
    issuer: str
    audience: str = "tandem"
    algorithms: tuple[str, ...] = ("RS256",)
    leeway_seconds: int = 30
    #: Claim paths (dots walk into objects: Keycloak's "realm_access.roles").
    roles_claim: str = "roles"
    tenant_claim: str = "tenant"
    employee_claim: str = "employee_id"
    #: Raw role or group names to Tandem roles (e.g. Entra app roles "Tandem.HR" -> "hr"). Names already
    #: Tandem roles map to themselves.
    role_map: Mapping[str, str] = field(default_factory=dict)
    #: Raw tenant claim values to tenant names (e.g. an Entra `tid` GUID -> "acme").
    tenant_map: Mapping[str, str] = field(default_factory=dict)
    #: The tenants this deployment serves; "*" serves any.
    tenants: frozenset[str] = frozenset({"default"})
    jwks_refresh_seconds: float = 30.0
    http_timeout: float = 5.0
    #: The public client (no secret; Authorization Code + PKCE) that browser pages such as the HR dashboard
    #: sign in as; the provider must list the page's `/auth/callback` among its redirect URIs.
    web_client_id: str = "tandem-web"

    def serves(self, tenant: str) -> bool:
        return serves(self.tenants, tenant)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None, tenants: frozenset[str]) -> AuthSettings | None:
        """From TANDEM_OIDC_* variables; None when TANDEM_OIDC_ISSUER is not set."""
        environment: OidcEnvironment = OidcEnvironment.read(env)
        return environment.settings(tenants)

    def __post_init__(self) -> None:
        bad = [a for a in self.algorithms if a not in DEFAULT_ALGORITHMS]
        if bad:
            raise ValueError(
                f"TANDEM_OIDC_ALGORITHMS: {', '.join(bad)} not accepted (use {', '.join(DEFAULT_ALGORITHMS)})"
            )
        unknown = sorted(set(self.role_map.values()) - set(ROLES))
        if unknown:
            raise ValueError(f"TANDEM_OIDC_ROLE_MAP maps to unknown role(s) {unknown} (roles: {', '.join(ROLES)})")


class OidcEnvironment(Environment):
    """The TANDEM_OIDC_* variables."""

    TANDEM_OIDC_ISSUER: str = ""
    TANDEM_OIDC_AUDIENCE: str = "tandem"
    TANDEM_OIDC_ALGORITHMS: str = "RS256"
    TANDEM_OIDC_LEEWAY_SECONDS: int = 30
    TANDEM_OIDC_ROLES_CLAIM: str = "roles"
    TANDEM_OIDC_TENANT_CLAIM: str = "tenant"
    TANDEM_OIDC_EMPLOYEE_CLAIM: str = "employee_id"
    TANDEM_OIDC_ROLE_MAP: str = ""
    TANDEM_OIDC_TENANT_MAP: str = ""
    TANDEM_OIDC_WEB_CLIENT_ID: str = "tandem-web"

    @field_validator("TANDEM_OIDC_ROLE_MAP", "TANDEM_OIDC_TENANT_MAP")
    @classmethod
    def _name_value_pairs(cls, value: str) -> str:
        try:
            _pairs(value)
        except ValueError as exc:
            raise ValueError(f"is not a list of name=value pairs ({exc})") from None
        return value

    def settings(self, tenants: frozenset[str]) -> AuthSettings | None:
        issuer = self.TANDEM_OIDC_ISSUER.strip()
        if not issuer:
            return None
        return AuthSettings(
            issuer=issuer,
            audience=self.TANDEM_OIDC_AUDIENCE,
            algorithms=_list(self.TANDEM_OIDC_ALGORITHMS),
            leeway_seconds=self.TANDEM_OIDC_LEEWAY_SECONDS,
            roles_claim=self.TANDEM_OIDC_ROLES_CLAIM,
            tenant_claim=self.TANDEM_OIDC_TENANT_CLAIM,
            employee_claim=self.TANDEM_OIDC_EMPLOYEE_CLAIM,
            role_map=_pairs(self.TANDEM_OIDC_ROLE_MAP),
            tenant_map=_pairs(self.TANDEM_OIDC_TENANT_MAP),
            tenants=tenants,
            web_client_id=self.TANDEM_OIDC_WEB_CLIENT_ID,
        )


def serves(tenants: frozenset[str], tenant: str) -> bool:
    return ANY_TENANT in tenants or tenant in tenants


def _list(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def _pairs(value: str) -> dict[str, str]:
    """'a=b, c=d' as {'a': 'b', 'c': 'd'}."""
    out = {}
    for item in _list(value):
        key, sep, target = item.partition("=")
        if not sep or not key.strip() or not target.strip():
            raise ValueError(f"{item!r} is not name=value")
        out[key.strip()] = target.strip()
    return out


@dataclass(frozen=True)
class Principal:
    """A verified caller."""

    subject: str
    tenant: str
    roles: frozenset[str]
    employee_id: str | None = None
    client_id: str | None = None
    name: str | None = None

    def has(self, *roles: str) -> bool:
        return bool(self.roles & set(roles))

    @property
    def who(self) -> str:
        """How the caller is named in records (access events, resolutions)."""
        return self.subject if self.name is None else f"{self.name} ({self.subject})"


def _claim(claims: Mapping[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def principal_of(claims: Mapping[str, Any], settings: AuthSettings) -> Principal:
    """The caller a verified token's claims describe (raises Unauthorized/Forbidden when they cannot act)."""
    raw_roles = _claim(claims, settings.roles_claim) or []
    if isinstance(raw_roles, str):
        raw_roles = raw_roles.split()
    if not isinstance(raw_roles, list):
        raise Unauthorized(f"the token's {settings.roles_claim} claim is not a list", field="authorization")
    roles = frozenset(settings.role_map.get(str(r), str(r)) for r in raw_roles) & frozenset(ROLES)
    raw_tenant = _claim(claims, settings.tenant_claim)
    if not isinstance(raw_tenant, str) or not raw_tenant:
        raise Unauthorized(f"the token names no tenant (claim {settings.tenant_claim})", field="authorization")
    tenant = settings.tenant_map.get(raw_tenant, raw_tenant)
    if not settings.serves(tenant):
        raise Forbidden(f"tenant {tenant!r} is not served here", field="authorization", code="tenant_not_served")
    employee = _claim(claims, settings.employee_claim)
    name = claims.get("name")
    return Principal(
        subject=str(claims["sub"]),
        tenant=tenant,
        roles=roles,
        employee_id=str(employee) if employee else None,
        client_id=str(claims["client_id"]) if claims.get("client_id") else None,
        name=str(name) if name else None,
    )


class TokenVerifier:
    """Verifies access tokens against one issuer. One per process; safe to share between requests."""

    def __init__(self, settings: AuthSettings, client: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self._client = client or httpx.AsyncClient(timeout=settings.http_timeout, trust_env=False)
        self._jwks_uri: str | None = None
        self._keys: dict[str, jwt.PyJWK] = {}
        self._missed_at: float | None = None
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        await self._client.aclose()

    async def _discover(self) -> str:
        if self._jwks_uri is None:
            url = self.settings.issuer.rstrip("/") + "/.well-known/openid-configuration"
            response = await self._client.get(url)
            response.raise_for_status()
            document = response.json()
            if document.get("issuer") != self.settings.issuer:
                raise RuntimeError(f"the provider at {url} says its issuer is {document.get('issuer')!r}")
            self._jwks_uri = str(document["jwks_uri"])
        return self._jwks_uri

    async def _refresh(self) -> None:
        response = await self._client.get(await self._discover())
        response.raise_for_status()
        keys = {}
        for data in response.json().get("keys", []):
            if data.get("use", "sig") != "sig" or "kid" not in data:
                continue
            try:
                keys[data["kid"]] = jwt.PyJWK(data)
            except jwt.PyJWTError:
                continue  # a key type this library cannot use: tokens signed with it are refused
        self._keys = keys

    async def key(self, kid: str) -> jwt.PyJWK:
        """The signing key `kid`. The JWKS is fetched at the first token, and again when a token names a key
        id it does not hold (the provider rotated its key) — at most once per `jwks_refresh_seconds`, so a
        flood of tokens with made-up key ids cannot make the service hammer the provider."""
        if kid not in self._keys:
            async with self._lock:
                now = time.monotonic()
                first = not self._keys
                may_miss = self._missed_at is None or now - self._missed_at >= self.settings.jwks_refresh_seconds
                if kid not in self._keys and (first or may_miss):
                    if not first:
                        self._missed_at = now
                    try:
                        await self._refresh()
                    except (httpx.HTTPError, RuntimeError, ValueError, KeyError) as exc:
                        raise ProviderUnavailable(f"the identity provider's keys are unavailable: {exc}") from exc
        if kid not in self._keys:
            raise Unauthorized(
                "the token is signed with a key the identity provider does not publish", field="authorization"
            )
        return self._keys[kid]

    async def verify(self, token: str) -> Principal:
        s = self.settings
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthorized("the bearer token is not a JWT", field="authorization") from None
        alg = header.get("alg")
        if alg not in s.algorithms:
            raise Unauthorized(f"tokens signed with {alg!r} are not accepted", field="authorization")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise Unauthorized("the token names no signing key (kid)", field="authorization")
        key = await self.key(kid)
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=s.audience,
                issuer=s.issuer,
                leeway=s.leeway_seconds,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("the token has expired", field="authorization") from None
        except jwt.ImmatureSignatureError:
            raise Unauthorized("the token is not valid yet", field="authorization") from None
        except jwt.InvalidAudienceError:
            raise Unauthorized(f"the token is not for this audience ({s.audience})", field="authorization") from None
        except jwt.InvalidIssuerError:
            raise Unauthorized("the token comes from another issuer", field="authorization") from None
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"the token is not valid: {exc}", field="authorization") from None
        return principal_of(claims, s)


class ProviderUnavailable(DomainError):
    """The identity provider cannot be reached to fetch its keys (answered 503: try again)."""

    status = 503
    code = "identity_provider_unavailable"


def bearer(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer ...` header, or Unauthorized."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("sign in: send Authorization: Bearer <access token>", field="authorization")
    return token.strip()
