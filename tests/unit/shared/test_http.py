"""The HTTP edge's correlation ids: taken from the caller or made, seen by handlers, echoed on every answer."""

from __future__ import annotations

import uuid

from fastapi import Request
from fastapi.testclient import TestClient
from pydantic import BaseModel

from shared.access import PUBLIC
from shared.errors import NotFound
from shared.http import CORRELATION_HEADER, correlation_id, create_app


def _client() -> TestClient:
    app = create_app("t", "t", {("GET", "/echo"): PUBLIC, ("GET", "/missing"): PUBLIC})

    @app.get("/echo")
    async def echo(request: Request) -> dict[str, str]:
        return {"seen": correlation_id(request)}

    @app.get("/missing")
    async def missing() -> None:
        raise NotFound("pair p-1 not found")

    return TestClient(app)


def test_the_callers_correlation_id_reaches_the_handler_and_comes_back() -> None:
    r = _client().get("/echo", headers={CORRELATION_HEADER: "hr-request-7"})
    assert r.json() == {"seen": "hr-request-7"}
    assert r.headers[CORRELATION_HEADER] == "hr-request-7"


def test_a_request_without_one_gets_a_new_id() -> None:
    client = _client()
    first, second = client.get("/echo"), client.get("/echo")
    assert first.json()["seen"] == first.headers[CORRELATION_HEADER]
    uuid.UUID(first.headers[CORRELATION_HEADER])
    assert first.headers[CORRELATION_HEADER] != second.headers[CORRELATION_HEADER]


def test_error_answers_carry_it_too() -> None:
    r = _client().get("/missing", headers={CORRELATION_HEADER: "c-9"})
    assert r.status_code == 404
    assert r.headers[CORRELATION_HEADER] == "c-9"
    assert r.json()["error"]["code"]


def test_a_route_the_access_matrix_does_not_name_is_refused_to_everyone() -> None:
    app = create_app("t", "t", {})

    @app.get("/forgotten")
    async def forgotten() -> dict[str, str]:
        return {"secret": "x"}

    r = TestClient(app).get("/forgotten")
    assert r.status_code == 403
    assert "no access decision" in r.json()["error"]["message"]


class Thing(BaseModel):
    name: str


def test_a_body_that_is_not_json_says_where_it_breaks_and_is_a_422() -> None:
    app = create_app("t", "t", {("POST", "/things"): PUBLIC})

    @app.post("/things")
    async def things(thing: Thing) -> dict[str, str]:
        return {"name": thing.name}

    client = TestClient(app)
    r = client.post("/things", content=b'{\n  "name": "x",\n  oops\n}', headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "body"
    assert "line 3, column 3" in r.json()["error"]["message"]
    r = client.post("/things", content=b"\xff\xfe\x00", headers={"content-type": "application/json"})
    assert (r.status_code, r.json()["error"]["field"]) == (422, "body")
