"""Tests enrol employees of the directory: provision them first (through the HR file upload), then enrol
by id. `builders` keeps describing a participant as one body; these split it into its two owners."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpx

from services.pairing.api.integration import issue_token
from services.pairing.domain import directory
from shared.runtime import ServiceHost

#: What the directory owns of a participant's profile (the rest is the enrolment's).
DIRECTORY_FIELDS = directory.PROFILE_FIELDS


def employee(body: dict[str, Any]) -> dict[str, Any]:
    """The directory record of a participant body."""
    return {"employee_id": body["employee_id"], **{k: body[k] for k in DIRECTORY_FIELDS if k in body}}


def enrolment(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in DIRECTORY_FIELDS}


async def token(host: ServiceHost, tenant: str | None = None) -> str:
    """An integration token of `tenant` (the service's own by default)."""
    async with host.pool.acquire() as conn:
        return await issue_token(conn, tenant or host.settings.tenant, "tests")


async def provision(
    client: httpx.AsyncClient, url: str, host: ServiceHost, bodies: Iterable[dict[str, Any]], **params: Any
) -> dict[str, Any]:
    """Put these people into the directory through the HR upload (a partial file: nobody leaves)."""
    r = await client.post(
        f"{url}/directory/imports",
        json=[employee(b) for b in bodies],
        params=params,
        headers={"authorization": f"Bearer {await token(host)}"},
    )
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


async def enrol(
    client: httpx.AsyncClient, url: str, host: ServiceHost, programme_id: str, bodies: list[dict[str, Any]]
) -> httpx.Response:
    """Provision, then enrol all of them in one bulk request (returns its response)."""
    await provision(client, url, host, bodies)
    return await client.post(f"{url}/programmes/{programme_id}/participants/bulk", json=[enrolment(b) for b in bodies])


async def pair(client: httpx.AsyncClient, programme_id: str, mentor: str, mentee: str) -> httpx.Response:
    """HR pairs two participants (by their participant ids) by hand."""
    return await client.post("/pairs", json={"programme_id": programme_id, "mentor_id": mentor, "mentee_id": mentee})
