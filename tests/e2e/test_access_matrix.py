"""The access matrix, walked: every route of every service's OpenAPI has a decision, and every role gets what
the decision says (no token: 401; a role the route does not name: 403; a role it names: neither). A new route
without a decision fails here. Ids in paths are ones nobody has, so allowed callers get 404 or 422."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from shared.access import rule_for
from shared.auth import ROLES
from tests import auth
from tests.conftest import ServeAllFactory


@pytest.fixture
async def running(serve_all: ServeAllFactory) -> dict[str, tuple[Any, str]]:
    return {name: (r.host, r.url) for name, r in (await serve_all()).items()}


def operations(app: Any) -> list[tuple[str, str]]:
    return [(m.upper(), path) for path, ops in app.openapi()["paths"].items() for m in ops]


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "zz-nobody-has-this", path)


async def test_every_route_has_a_decision_and_every_role_gets_it(running: dict[str, tuple[Any, str]]) -> None:
    callers = {role: auth.headers(role, employee_id="E-matrix" if role == "participant" else None) for role in ROLES}
    callers["nobody"] = {}
    checked = 0
    for service, (host, url) in running.items():
        app = host.app
        undecided = [op for op in operations(app) if rule_for(app.state.access, *op) is None]
        assert not undecided, f"{service}: routes without an access decision: {undecided}"
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            for method, path in operations(app):
                rule = rule_for(app.state.access, method, path)
                assert rule is not None
                for who, headers in callers.items():
                    body = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
                    r = await client.request(method, concrete(path), headers=headers, **body)
                    checked += 1
                    where = f"{service} {method} {path} as {who}: {r.status_code} {r.text[:200]}"
                    assert r.status_code < 500, where
                    if rule.public:
                        assert r.status_code not in (401, 403), where
                    elif who == "nobody":
                        assert r.status_code == 401, where
                    elif who not in rule.roles:
                        assert r.status_code == 403, where
                    else:
                        assert r.status_code not in (401, 403), where
    assert checked > 400
