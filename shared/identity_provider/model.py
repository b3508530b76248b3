"""Who can sign in and which applications may ask for tokens: plain dataclasses, and the demo set."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from shared.registry import SERVICES

DEMO_PASSWORD = "tandem"
DEFAULT_TENANT = "default"
SERVICE_PORTS = tuple(s.port for s in SERVICES)

AUTHORIZATION_CODE = "authorization_code"
REFRESH_TOKEN = "refresh_token"
CLIENT_CREDENTIALS = "client_credentials"


def _no_bare_string(obj: object, *fields: str) -> None:
    for name in fields:
        if isinstance(getattr(obj, name), str):
            raise TypeError(f"{type(obj).__name__}.{name} takes a list of strings, not one string")


@dataclass(frozen=True)
class DemoUser:
    """A person who signs in on the sign-in page. `username` is also the token's `sub`."""

    username: str
    name: str
    email: str
    roles: Sequence[str]
    tenant: str
    employee_id: str | None = None
    password: str = DEMO_PASSWORD

    def __post_init__(self) -> None:
        _no_bare_string(self, "roles")

    def claims(self) -> dict[str, object]:
        """Tandem's claims for this person, as they appear in access tokens and userinfo."""
        out: dict[str, object] = {
            "name": self.name,
            "email": self.email,
            "preferred_username": self.username,
            "roles": list(self.roles),
            "tenant": self.tenant,
        }
        if self.employee_id is not None:
            out["employee_id"] = self.employee_id
        return out


@dataclass(frozen=True)
class Client:
    """An application registered with the provider. No secret: a public client (a browser page), which must
    use PKCE. `roles` and `tenant` are what its client-credentials tokens carry (it acts as itself)."""

    client_id: str
    secret: str | None = None
    redirect_uris: Sequence[str] = ()
    grant_types: Sequence[str] = (AUTHORIZATION_CODE, REFRESH_TOKEN)
    roles: Sequence[str] = ()
    tenant: str | None = None
    scope: str = "openid profile email"
    post_logout_redirect_uris: Sequence[str] = ()

    def __post_init__(self) -> None:
        # A bare string would still answer `in` (by substring): redirect URI checks would then match prefixes.
        _no_bare_string(self, "redirect_uris", "grant_types", "roles", "post_logout_redirect_uris")

    @property
    def is_public(self) -> bool:
        return self.secret is None


class Demo(NamedTuple):
    users: list[DemoUser]
    clients: list[Client]


def _web_uris(path: str) -> tuple[str, ...]:
    return tuple(f"http://127.0.0.1:{port}{path}" for port in SERVICE_PORTS)


def default_demo() -> Demo:
    """One person per role of the default tenant, and the three applications of `tandem up`.

    The mentor and the mentee are people from services/demo.py (same name, employee id and e-mail), so a
    demo sign-in lands on a participant the seeded programme knows.
    """
    t = DEFAULT_TENANT
    users = [
        DemoUser("hr", "Hanna Schmidt", "hanna.schmidt@acme.example", ["hr"], t),
        DemoUser("lena", "Lena Yilmaz", "lena.0@acme.example", ["participant"], t, employee_id="E-2000"),
        DemoUser("ingrid", "Dr. Ingrid Hoffmann", "ingrid.0@acme.example", ["participant"], t, employee_id="E-1000"),
        DemoUser("auditor", "Robert Klein", "robert.klein@acme.example", ["auditor"], t),
        DemoUser("operator", "Olga Petrova", "olga.petrova@acme.example", ["operator"], t),
    ]
    clients = [
        Client(
            "tandem-web",
            redirect_uris=_web_uris("/auth/callback"),
            grant_types=(AUTHORIZATION_CODE, REFRESH_TOKEN),
            post_logout_redirect_uris=_web_uris("/"),
        ),
        Client(
            "tandem-hr-platform",
            secret="tandem-hr-platform-secret",
            grant_types=(CLIENT_CREDENTIALS,),
            roles=["integration"],
            tenant=t,
            scope="tandem",
        ),
        Client(
            "tandem-cli",
            secret="tandem-cli-secret",
            grant_types=(CLIENT_CREDENTIALS,),
            roles=["operator"],
            tenant=t,
            scope="tandem",
        ),
        # `tandem subject export` against the local stack: HR's reading of one person (GDPR art. 15)
        Client(
            "tandem-cli-hr",
            secret="tandem-cli-hr-secret",
            grant_types=(CLIENT_CREDENTIALS,),
            roles=["hr"],
            tenant=t,
            scope="tandem",
        ),
    ]
    return Demo(users, clients)
