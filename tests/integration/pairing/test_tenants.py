"""Two tenants on one pairing service: for every route with an id in its path (taken from the OpenAPI, so a
new route is covered at once), tenant B's caller on tenant A's object gets 404 and changes nothing."""

from __future__ import annotations

import re

from services.pairing.app import SPEC as PAIRING
from shared.access import rule_for
from tests import auth, builders
from tests.conftest import ServeFactory
from tests.directory import employee, enrolment

A, B = "tenant-a", "tenant-b"
NOT_TENANT_DATA = {"name", "schema_id", "rest"}  # SCIM discovery documents: the same for everyone
#: Subject access answers "known: false", the same as for nobody, to another tenant (tests/e2e/test_subject_access.py
#: checks that), and records the read in the caller's own tenant: not a 404, and not a change of A's.
SAME_AS_FOR_NOBODY = {("GET", "/subjects/{employee_id}")}
SCIM = "urn:ietf:params:scim"
#: Valid bodies, so that a refusal can only be the tenant's (the routes without one take an empty body).
BODIES = {
    ("POST", "/programmes/{programme_id}/participants"): enrolment(builders.mentor()),
    ("POST", "/programmes/{programme_id}/participants/bulk"): [enrolment(builders.mentor())],
    ("PATCH", "/participants/{participant_id}"): {"goal": "Teach agents"},
    ("POST", "/pairs/{pair_id}/end"): {"reason": "completed"},
    ("POST", "/pairs/{pair_id}/extend"): {"until": "2030-01-01"},
    ("POST", "/pairs/{pair_id}/consent"): {"participant_id": "someone", "decision": "accept"},
    ("POST", "/pairs/{pair_id}/flag/resolve"): {"decision": "keep", "reason": "fine"},
    ("PUT", "/scim/v2/Users/{scim_id}"): {
        "schemas": [f"{SCIM}:schemas:core:2.0:User"],
        "userName": "y@b.example",
        "emails": [{"value": "y@b.example", "primary": True}],
    },
    ("PATCH", "/scim/v2/Users/{scim_id}"): {
        "schemas": [f"{SCIM}:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "displayName", "value": "Taken Over"}],
    },
}


async def test_another_tenants_ids_answer_404_on_every_route(serve: ServeFactory) -> None:
    svc = await serve(PAIRING)
    mentor, mentee = builders.mentor(), builders.mentee()
    hr_a = auth.client(tenant=A, base_url=svc.url)
    hr_platform_a = auth.client("integration", tenant=A, base_url=svc.url)
    async with hr_a, hr_platform_a:
        assert (await hr_platform_a.post("/directory/imports", json=[employee(mentor), employee(mentee)])).is_success
        programme = builders.programme()
        assert (await hr_a.post("/programmes", json=programme)).status_code == 201
        pid = programme["programme_id"]
        r = await hr_a.post(f"/programmes/{pid}/participants/bulk", json=[enrolment(mentor), enrolment(mentee)])
        assert r.status_code == 201, r.text
        run = (await hr_a.post(f"/programmes/{pid}/match-runs", json={})).json()
        [pair] = (await hr_a.post(f"/match-runs/{run['match_run_id']}/accept", json={})).json()
        scim = await hr_platform_a.post(
            "/scim/v2/Users",
            headers={"content-type": "application/scim+json"},
            json={
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "x@a.example",
                "emails": [{"value": "x@a.example", "primary": True}],
            },
        )
        assert scim.status_code == 201, scim.text
        ids = {
            "programme_id": pid,
            "participant_id": mentor["participant_id"],
            "pair_id": pair["pair_id"],
            "match_run_id": run["match_run_id"],
            "employee_id": mentor["employee_id"],
            "subject": pair["pair_id"],
            "scim_id": scim.json()["id"],
        }
        before = await svc.host.pool.fetchval("SELECT count(*) FROM outbox")

        covered = 0
        for path, ops in svc.host.app.openapi()["paths"].items():
            params = re.findall(r"\{([^}]+)\}", path)
            if not params or set(params) & NOT_TENANT_DATA:
                continue
            for method in ops:
                if (method.upper(), path) in SAME_AS_FOR_NOBODY:
                    continue
                rule = rule_for(svc.host.app.state.access, method.upper(), path)
                assert rule is not None
                role = next(r for r in ("hr", "integration", "auditor", "participant") if r in rule.roles)
                url = re.sub(r"\{([^}]+)\}", lambda m: ids[m.group(1)], path)
                body = {"json": BODIES.get((method.upper(), path), {})} if method in ("post", "put", "patch") else {}
                async with auth.client(
                    role, tenant=B, base_url=svc.url, employee_id="E-b" if role == "participant" else None
                ) as b:
                    r = await b.request(method.upper(), url, **body)
                assert r.status_code in (404, 422), (
                    f"{method.upper()} {path} as {role} of {B}: {r.status_code} {r.text}"
                )
                if r.status_code == 422:  # the body was refused first: with a valid one it must still be 404
                    assert method in ("post", "put", "patch"), path
                covered += 1
        assert covered >= 20
        assert await svc.host.pool.fetchval("SELECT count(*) FROM outbox") == before  # B changed nothing of A's
        # and A still sees all of it
        assert (await hr_a.get(f"/pairs/{pair['pair_id']}")).status_code == 200
