"""The access matrix: for every route of a service, which roles may call it. One table per service
(`services/<name>/api/access.py`), enforced here for every request and rendered into the README.

Fail closed: a route the table does not name answers 403 to everyone (and the matrix test, which walks
every service's OpenAPI, fails the suite). `own` marks what a participant may reach only for themselves
(their pairs, sessions, feedback, preferences): the route narrows it to the caller's own records and
answers 404 for anything else, as it does for another tenant's ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fastapi import Request

from shared.auth import ROLES, Forbidden, Principal, bearer
from shared.telemetry import TENANT


@dataclass(frozen=True)
class Rule:
    roles: frozenset[str] = frozenset()
    #: Participants reach only their own records through this route (the route checks).
    own: bool = False
    #: No token needed (health, the sign-in callback, the static page shell).
    public: bool = False
    note: str = ""

    def describe(self) -> str:
        if self.public:
            return "public"
        return ", ".join(f"{r} (own)" if r == "participant" and self.own else r for r in sorted(self.roles))


def allow(*roles: str, own: bool = False, note: str = "") -> Rule:
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown role(s) {sorted(unknown)}")
    if own and "participant" not in roles:
        raise ValueError("`own` narrows what participants reach: name the participant role")
    return Rule(frozenset(roles), own=own, note=note)


PUBLIC = Rule(public=True)

#: (method, path template) -> rule
Matrix = Mapping[tuple[str, str], Rule]

#: Routes every service has (shared/http.py).
SHARED: dict[tuple[str, str], Rule] = {
    ("GET", "/health/live"): PUBLIC,
    ("GET", "/health/ready"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
}


def rule_for(matrix: Matrix, method: str, path: str) -> Rule | None:
    method = "GET" if method == "HEAD" else method
    return matrix.get((method, path)) or SHARED.get((method, path))


async def authorise(request: Request) -> None:
    """FastAPI dependency on every route: find the route's rule, verify the caller's token, check the role.
    The principal is kept in `request.state.principal` for the route."""
    route = request.scope.get("route")
    path = getattr(route, "path", request.url.path)
    rule = rule_for(request.app.state.access, request.method, path)
    if rule is None:
        raise Forbidden(f"no access decision for {request.method} {path}: refused", field="route")
    if rule.public:
        return
    host = request.app.state.host
    principal: Principal = await host.authenticate(bearer(request.headers.get("authorization")))
    if not principal.has(*rule.roles):
        needed = " or ".join(sorted(rule.roles))
        raise Forbidden(f"{request.method} {path} needs the role {needed}", field="authorization")
    request.state.principal = principal
    TENANT.set(principal.tenant)  # the request's log lines name it (reset by the HTTP edge after the request)


def principal(request: Request) -> Principal:
    """The verified caller of a protected route."""
    found: Principal | None = getattr(request.state, "principal", None)
    if found is None:  # a route marked public asked for a caller: a wiring error, never a way in
        raise Forbidden("this route has no caller", field="authorization")
    return found


def markdown(service: str, matrix: Matrix) -> str:
    """The service's rows of the README's access table: service, route, who may call it, a note."""
    lines = []
    for (method, path), rule in sorted({**SHARED, **matrix}.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        lines.append(f"| {service} | `{method} {path}` | {rule.describe()} | {rule.note} |")
    return "\n".join(lines)
