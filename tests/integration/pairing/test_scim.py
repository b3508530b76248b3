"""SCIM 2.0 at /scim/v2 over the real stack: scim2-tester's compliance checks, a Microsoft Entra ID style
provisioning sequence, the errors (each changes nothing), tenant isolation, and a leaver's withdrawal."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import CheckResult, Status, check_server

from services.pairing.app import SPEC as PAIRING
from shared.events import decode
from shared.infra import Infra
from tests import auth, builders
from tests.conftest import Running, ServeFactory
from tests.directory import enrolment, provision, token
from tests.kafka_helpers import read_topic, topic_keys

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
TANDEM = "urn:ietf:params:scim:schemas:extension:tandem:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def scim_user(body: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A SCIM User (as an HR platform sends it) of a `builders` participant body."""
    given, _, family = body["display_name"].partition(" ")
    return {
        "schemas": [CORE, ENTERPRISE, TANDEM],
        "userName": body["email"],
        "externalId": f"ext-{body['employee_id']}",
        "name": {"givenName": given, "familyName": family},
        "displayName": body["display_name"],
        "emails": [{"value": body["email"], "type": "work", "primary": True}],
        "locale": body["locale"],
        "timezone": body["timezone"],
        "active": True,
        ENTERPRISE: {"employeeNumber": body["employee_id"], "department": body["department"]},
        TANDEM: {"grade": str(body["grade"]), "languages": ", ".join(body["languages"])},
        **extra,
    }


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def scim_client(svc: Running, bearer: str) -> httpx.AsyncClient:
    return auth.client(
        base_url=f"{svc.url}/scim/v2",
        headers={"authorization": f"Bearer {bearer}", "content-type": "application/scim+json"},
    )


async def revision(svc: Running, tenant: str | None = None) -> int:
    from services.pairing import repository

    async with svc.host.pool.acquire() as conn:
        return await repository.directory_revision(conn, tenant or svc.host.settings.tenant)


def assert_error(r: httpx.Response, status: int, scim_type: str | None = None, mentions: str = "") -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/scim+json")
    body: dict[str, Any] = r.json()
    assert body["schemas"] == [ERROR]
    assert body["status"] == str(status)
    assert body.get("scimType") == scim_type, body
    assert mentions in body["detail"], body
    return body


# --- 1. scim2-tester -----------------------------------------------------------------------------------


def _urn(result: CheckResult) -> str | None:
    return result.data.get("urn") if isinstance(result.data, dict) else None


async def test_scim2_tester_checks_pass(serve: ServeFactory) -> None:
    svc = await serve(PAIRING)
    bearer = await token(svc.host)

    def run() -> list[CheckResult]:
        headers = {"Authorization": f"Bearer {bearer}"}
        with httpx2.Client(base_url=f"{svc.url}/scim/v2", headers=headers, timeout=30) as http:
            return check_server(SyncSCIMClient(http))

    results = await asyncio.to_thread(run)  # a synchronous client, and the server runs on this loop
    assert len(results) > 80
    failed = [
        (r.status.name, r.title, _urn(r), r.reason)
        for r in results
        if r.status not in (Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE)
    ]
    assert not failed  # every check of scim2-tester passes
    titles = {r.title for r in results if r.status == Status.SUCCESS}
    for title in (
        "service_provider_config_endpoint_methods",
        "query_all_schemas",
        "access_invalid_schema",
        "object_creation",
        "object_query",
        "object_query_without_id",
        "object_query_with_attributes",
        "object_list_with_attributes",
        "search_with_attributes",
        "object_deletion",
        "check_add_attribute",
        "check_remove_attribute",
        "check_replace_attribute",
        "random_url",
    ):
        assert title in titles, title


# --- 2. a Microsoft Entra ID provisioning sequence ------------------------------------------------------


async def test_entra_style_provisioning(serve: ServeFactory, infra: Infra) -> None:
    svc = await serve(PAIRING)
    bearer = await token(svc.host)
    manager_body = builders.mentor(display_name="Bea Boss")
    alice = builders.mentee(display_name="Alice Example")
    async with scim_client(svc, bearer) as scim, auth.client(base_url=svc.url) as api:
        r = await scim.post("/Users", json=scim_user(manager_body))
        assert r.status_code == 201, r.text
        manager = r.json()

        # create, as Entra sends it: the work e-mail, a preferred language, a work address, no Tandem extension
        created = await scim.post(
            "/Users",
            json={
                "schemas": [CORE, ENTERPRISE],
                "externalId": "0e7d6f4e-entra-object-id",
                "userName": "Alice@Contoso.example",
                "active": True,
                "displayName": "Alice Example",
                "emails": [{"primary": True, "type": "work", "value": alice["email"]}],
                "name": {"formatted": "Alice Example", "familyName": "Example", "givenName": "Alice"},
                "title": "Controller",
                "preferredLanguage": "de-DE",
                "addresses": [{"type": "work", "locality": "Zürich", "country": "CH"}],
                ENTERPRISE: {"employeeNumber": alice["employee_id"], "department": "Finance"},
            },
        )
        assert created.status_code == 201, created.text
        user = created.json()
        assert created.headers["location"] == user["meta"]["location"]
        assert created.headers["etag"] == user["meta"]["version"]
        assert user["meta"]["resourceType"] == "User"
        assert user["title"] == "Controller"
        employee = (await api.get(f"/directory/employees/{alice['employee_id']}")).json()
        assert employee["user_name"] == "Alice@Contoso.example"
        assert (employee["location"], employee["languages"], employee["status"]) == ("Zürich", ["de-DE"], "active")

        # Entra looks the user up by userName before it creates or updates (any case)
        found = (await scim.get("/Users", params={"filter": 'userName eq "alice@contoso.example"'})).json()
        assert (found["totalResults"], found["Resources"][0]["id"]) == (1, user["id"])
        both = f'externalId eq "0e7d6f4e-entra-object-id" and emails.value eq "{alice["email"]}"'
        found = await scim.get("/Users", params={"filter": both})
        assert found.json()["totalResults"] == 1

        # a path-less Replace with a string boolean and dotted and URN-qualified keys: she leaves
        r = await scim.patch(
            f"/Users/{user['id']}",
            json=patch(
                {
                    "op": "Replace",
                    "value": {"active": "False", "name.givenName": "Alicia", f"{ENTERPRISE}:department": "Controlling"},
                }
            ),
        )
        assert r.status_code == 200, r.text
        assert (r.json()["active"], r.json()["name"]["givenName"]) == (False, "Alicia")
        employee = (await api.get(f"/directory/employees/{alice['employee_id']}")).json()
        assert (employee["status"], employee["department"]) == ("left", "Controlling")

        # and comes back ("True"), with a new work e-mail through a filtered path
        r = await scim.patch(
            f"/Users/{user['id']}",
            json=patch(
                {"op": "Replace", "path": "active", "value": "True"},
                {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "alicia@contoso.example"},
            ),
        )
        assert r.status_code == 200, r.text
        employee = (await api.get(f"/directory/employees/{alice['employee_id']}")).json()
        assert (employee["status"], employee["email"]) == ("active", "alicia@contoso.example")

        # the manager, as Entra sends it: the manager's SCIM id, bare
        r = await scim.patch(
            f"/Users/{user['id']}",
            json=patch({"op": "Add", "path": f"{ENTERPRISE}:manager", "value": manager["id"]}),
        )
        assert r.status_code == 200, r.text
        assert r.json()[ENTERPRISE]["manager"]["value"] == manager["id"]
        employee = (await api.get(f"/directory/employees/{alice['employee_id']}")).json()
        assert employee["manager_employee_id"] == manager_body["employee_id"]

        # deactivate, then delete: she leaves; the SCIM resource is gone, the directory record stays
        r = await scim.patch(f"/Users/{user['id']}", json=patch({"op": "Replace", "path": "active", "value": False}))
        assert (r.status_code, r.json()["active"]) == (200, False)
        r = await scim.delete(f"/Users/{user['id']}")
        assert r.status_code == 204, r.text
        assert_error(await scim.get(f"/Users/{user['id']}"), 404)
        assert_error(
            await scim.patch(f"/Users/{user['id']}", json=patch({"op": "Replace", "path": "title", "value": "x"})), 404
        )
        found = (await scim.get("/Users", params={"filter": 'userName eq "Alice@Contoso.example"'})).json()
        assert found["totalResults"] == 0
        employee = (await api.get(f"/directory/employees/{alice['employee_id']}")).json()
        assert (employee["status"], employee["manager_employee_id"]) == ("left", manager_body["employee_id"])

        # Entra creates her again: she is re-hired under a new SCIM id
        again = await scim.post("/Users", json=scim_user(alice, userName="alice@contoso.example"))
        assert again.status_code == 201, again.text
        assert again.json()["id"] != user["id"]
        employee = (await api.get(f"/directory/employees/{alice['employee_id']}")).json()
        assert (employee["status"], employee["left_on"], employee["grade"]) == ("active", None, alice["grade"])

    records = await read_topic(infra.kafka_bootstrap, svc.host.topics.directory, expect=8)
    keys = await topic_keys(infra.kafka_bootstrap, svc.host.topics.keys)
    events = [decode(r.headers, r.value, keys) for r in records]
    mine = [e for e in events if e.subject == alice["employee_id"]]
    kinds = [e.type.rsplit(".", 1)[1] for e in mine]
    assert kinds.count("EmployeeHired") == 3  # hired, back after "False", re-hired after the delete
    assert kinds.count("EmployeeLeft") == 2
    manager_change = [e for e in mine if "manager_employee_id" in (getattr(e.data, "changed", None) or [])]
    assert len(manager_change) == 1
    assert manager_change[0].data.manager_employee_id == manager_body["employee_id"]
    assert all(e.data.origin == "scim" for e in mine)
    assert [e.data.rehired for e in mine if e.type.endswith("EmployeeHired")] == [False, True, True]


# --- 3. errors, each of which changes nothing; tenants ------------------------------------------------


async def test_errors_are_scim_errors_and_change_nothing(serve: ServeFactory) -> None:
    svc = await serve(PAIRING)
    bearer = await token(svc.host)
    other_bearer = await token(svc.host, "other-tenant")
    person, second = builders.mentee(), builders.mentor()
    other_number = second["employee_id"]
    async with scim_client(svc, bearer) as scim, scim_client(svc, other_bearer) as other:
        r = await scim.post("/Users", json=scim_user(person))
        assert r.status_code == 201, r.text
        user = r.json()
        assert (await scim.post("/Users", json=scim_user(second))).status_code == 201
        before = await revision(svc)
        kept = (await scim.get(f"/Users/{user['id']}")).json()

        async with httpx.AsyncClient(base_url=f"{svc.url}/scim/v2") as anonymous:
            r = await anonymous.get("/Users")
            assert_error(r, 401, mentions="Bearer")
            assert r.headers["www-authenticate"].startswith("Bearer")
            assert_error(await anonymous.get("/Users", headers={"authorization": "Bearer tdm_nope"}), 401)
            assert (await anonymous.get("/ServiceProviderConfig")).status_code == 200  # discovery is public

        assert_error(await scim.get("/Users", params={"filter": 'title co "x"'}), 400, "invalidFilter", "title")
        assert_error(await scim.get("/Users", params={"filter": 'userName eq "x" or'}), 400, "invalidFilter")
        bad = scim_user(builders.mentee(), **{TANDEM: {"grade": "3", "languages": "en, klingon-!!"}})
        assert_error(await scim.post("/Users", json=bad), 400, "invalidValue", f"{TANDEM}:languages")
        bad = scim_user(builders.mentee(), preferredLanguage="??")
        bad.pop(TANDEM)
        assert_error(await scim.post("/Users", json=bad), 400, "invalidValue", "preferredLanguage")
        bad = scim_user(builders.mentee(), timezone="Mars/Olympus_Mons")
        assert_error(await scim.post("/Users", json=bad), 400, "invalidValue", "timezone")
        bad = scim_user(builders.mentee(), **{TANDEM: {"grade": "99"}})
        assert_error(await scim.post("/Users", json=bad), 400, "invalidValue", f"{TANDEM}:grade")
        bad = scim_user(builders.mentee(), **{TANDEM: {"grade": "senior"}})
        assert_error(await scim.post("/Users", json=bad), 400, "invalidValue", f"{TANDEM}:grade")
        bad = scim_user(builders.mentee(), emails=[{"value": "not-an-address", "primary": True}])
        assert_error(await scim.post("/Users", json=bad), 400, "invalidValue", "emails")
        bad = scim_user(builders.mentee(), password="secret")
        assert_error(await scim.post("/Users", json=bad), 400, "invalidSyntax", "password")
        r = await scim.post("/Users", content=b"{not json")
        assert_error(r, 400, "invalidSyntax")
        duplicate = scim_user(builders.mentee(), userName=person["email"].upper())
        assert_error(await scim.post("/Users", json=duplicate), 409, "uniqueness", "userName")
        duplicate = scim_user(builders.mentee(), externalId=f"ext-{person['employee_id']}")
        assert_error(await scim.post("/Users", json=duplicate), 409, "uniqueness", "externalId")
        duplicate = scim_user(builders.mentee(employee_id=person["employee_id"]))
        assert_error(await scim.post("/Users", json=duplicate), 409, "uniqueness", "employeeNumber")

        url = f"/Users/{user['id']}"
        unknown_path = patch({"op": "replace", "path": "favouriteColour", "value": "teal"})
        assert_error(await scim.patch(url, json=unknown_path), 400, "invalidPath", "favouriteColour")
        no_target = patch({"op": "replace", "path": 'emails[value sw "nobody"].type', "value": "home"})
        assert_error(await scim.patch(url, json=no_target), 400, "noTarget")
        taken = patch({"op": "replace", "path": f"{ENTERPRISE}:employeeNumber", "value": other_number})
        assert_error(await scim.patch(url, json=taken), 409, "uniqueness", "employeeNumber")
        self_managed = patch({"op": "add", "path": f"{ENTERPRISE}:manager", "value": {"value": user["id"]}})
        assert_error(await scim.patch(url, json=self_managed), 400, "invalidValue", "manager")
        stale = await scim.patch(
            url, json=patch({"op": "replace", "path": "title", "value": "x"}), headers={"if-match": 'W/"stale"'}
        )
        assert_error(stale, 412)
        assert_error(await scim.get("/Users/not-a-uuid"), 404)
        assert_error(await scim.post("/ServiceProviderConfig", json={}), 405)
        assert_error(await scim.get("/Groups"), 404)

        # another tenant's token sees nothing of this tenant and changes nothing
        assert_error(await other.get(url), 404)
        assert_error(await other.patch(url, json=patch({"op": "replace", "path": "active", "value": False})), 404)
        assert_error(await other.put(url, json=scim_user(person)), 404)
        assert_error(await other.delete(url), 404)
        listed = (await other.get("/Users", params={"filter": f'userName eq "{person["email"]}"'})).json()
        assert listed["totalResults"] == 0

        assert await revision(svc) == before
        assert (await scim.get(f"/Users/{user['id']}")).json() == kept

        # the other tenant has its own directory: the same userName is free there
        r = await other.post("/Users", json=scim_user(person))
        assert r.status_code == 201, r.text
        assert r.json()["id"] != user["id"]
        assert await revision(svc, "other-tenant") == 1
        assert await revision(svc) == before


async def test_put_paging_and_records_from_other_sources(serve: ServeFactory) -> None:
    svc = await serve(PAIRING)
    bearer = await token(svc.host)
    people = [builders.mentee() for _ in range(5)]
    async with scim_client(svc, bearer) as scim, auth.client(base_url=svc.url) as api:
        ids = []
        for person in people:
            r = await scim.post("/Users", json=scim_user(person, title="Analyst"))
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        page = (await scim.get("/Users", params={"startIndex": 2, "count": 2, "attributes": "userName"})).json()
        assert (page["totalResults"], page["startIndex"], page["itemsPerPage"]) == (5, 2, 2)
        assert all(set(u) == {"schemas", "id", "userName"} for u in page["Resources"])
        assert (await scim.get("/Users", params={"count": 10_000})).json()["itemsPerPage"] == 5
        search = await scim.post(
            "/.search", json={"filter": f'userName eq "{people[0]["email"]}"', "excludedAttributes": ["emails"]}
        )
        assert search.status_code == 200, search.text
        assert "emails" not in search.json()["Resources"][0]

        # PUT: what the body leaves out is cleared (title, the Tandem extension); the employee number stays
        body = scim_user(people[0])
        body.pop(TANDEM)
        etag = (await scim.get(f"/Users/{ids[0]}")).headers["etag"]
        r = await scim.put(f"/Users/{ids[0]}", json=body, headers={"if-match": etag})
        assert r.status_code == 200, r.text
        assert "title" not in r.json()
        assert TANDEM not in r.json()
        assert r.json()[ENTERPRISE]["employeeNumber"] == people[0]["employee_id"]
        employee = (await api.get(f"/directory/employees/{people[0]['employee_id']}")).json()
        assert (employee["grade"], employee["languages"]) == (None, [])

        # an employee the HR file brought in is a User too, served from the directory, and SCIM can change it
        filed = builders.mentor()
        await provision(api, svc.url, svc.host, [filed])
        found = (await scim.get("/Users", params={"filter": f'employeeNumber eq "{filed["employee_id"]}"'})).json()
        assert found["totalResults"] == 1
        served = found["Resources"][0]
        assert (served["userName"], served["displayName"]) == (filed["email"], filed["display_name"])
        assert served[TANDEM] == {"grade": str(filed["grade"]), "languages": ", ".join(filed["languages"])}
        # a manager the directory does not know yet is kept as given (pending)
        r = await scim.patch(
            f"/Users/{served['id']}",
            json=patch(
                {"op": "add", "path": f"{ENTERPRISE}:manager", "value": {"value": "E-not-yet"}},
                {"op": "add", "path": "title", "value": "Designer"},
            ),
        )
        assert r.status_code == 200, r.text
        assert r.json()[TANDEM]["grade"] == str(filed["grade"])  # what SCIM did not touch stays
        pending = (await api.get("/directory/pending-managers")).json()
        assert [(p["employee_id"], p["manager_employee_id"]) for p in pending] == [(filed["employee_id"], "E-not-yet")]


# --- 4. a leaver is withdrawn -------------------------------------------------------------------------


async def test_scim_deactivation_withdraws_an_enrolled_participant(serve: ServeFactory, infra: Infra) -> None:
    svc = await serve(PAIRING)
    bearer = await token(svc.host)
    mentor, mentee = builders.mentor(), builders.mentee()
    async with scim_client(svc, bearer) as scim, auth.client(base_url=svc.url) as api:
        users = {}
        for person in (mentor, mentee):
            r = await scim.post("/Users", json=scim_user(person))
            assert r.status_code == 201, r.text
            users[person["employee_id"]] = r.json()["id"]
        r = await api.post("/programmes", json=builders.programme())
        programme_id = r.json()["programme_id"]
        r = await api.post(f"/programmes/{programme_id}/participants/bulk", json=[enrolment(mentor), enrolment(mentee)])
        assert r.status_code == 201, r.text
        assert r.json()[0]["profile"]["department"] == mentor["department"]  # from SCIM, via the directory
        r = await api.post(
            "/pairs",
            json={
                "programme_id": programme_id,
                "mentor_id": mentor["participant_id"],
                "mentee_id": mentee["participant_id"],
            },
        )
        assert r.status_code == 201, r.text
        pair_id = r.json()["pair_id"]

        r = await scim.patch(
            f"/Users/{users[mentor['employee_id']]}", json=patch({"op": "Replace", "path": "active", "value": "False"})
        )
        assert r.status_code == 200, r.text

        pair = (await api.get(f"/pairs/{pair_id}")).json()
        assert (pair["state"], pair["end_reason"]) == ("ended", "left_company")
        assert (await api.get(f"/participants/{mentor['participant_id']}")).json()["status"] == "withdrawn"
        assert (await api.get(f"/participants/{mentee['participant_id']}")).json()["status"] == "enrolled"

    records = await read_topic(infra.kafka_bootstrap, svc.host.topics.pairing, expect=6)
    keys = await topic_keys(infra.kafka_bootstrap, svc.host.topics.keys)
    ended = [
        decode(r.headers, r.value, keys) for r in records if dict(r.headers)["ce_type"] == b"tandem.pairing.PairEnded"
    ]
    assert [(e.data.pair_id, e.data.reason) for e in ended] == [(pair_id, "left_company")]


async def test_a_new_employee_number_renumbers_the_employee_everywhere(serve: ServeFactory, infra: Infra) -> None:
    svc = await serve(PAIRING)
    bearer = await token(svc.host)
    boss, report = builders.mentee(display_name="Henrik Larsen"), builders.mentor(display_name="Zofia Nowak")
    async with scim_client(svc, bearer) as scim, auth.client(base_url=svc.url) as api:
        boss_id = (await scim.post("/Users", json=scim_user(boss))).json()["id"]
        body = scim_user(report)
        body[ENTERPRISE]["manager"] = {"value": boss_id}
        assert (await scim.post("/Users", json=body)).status_code == 201
        programme = builders.programme()
        assert (await api.post("/programmes", json=programme)).status_code == 201
        r = await api.post(f"/programmes/{programme['programme_id']}/participants", json=enrolment(boss))
        assert r.status_code == 201, r.text
        participant_id = r.json()["participant_id"]

        new_number = f"{boss['employee_id']}-M"
        r = await scim.patch(
            f"/Users/{boss_id}",
            json=patch({"op": "Replace", "path": f"{ENTERPRISE}:employeeNumber", "value": new_number}),
        )
        assert r.status_code == 200, r.text
        assert r.json()[ENTERPRISE]["employeeNumber"] == new_number
        assert (await api.get(f"/directory/employees/{boss['employee_id']}")).status_code == 404
        moved = (await api.get(f"/directory/employees/{new_number}")).json()
        assert moved["display_name"] == "Henrik Larsen"
        follows = (await api.get(f"/directory/employees/{report['employee_id']}")).json()
        assert follows["manager_employee_id"] == new_number  # the report's line follows
        enrolled = (await api.get(f"/participants/{participant_id}")).json()
        assert (enrolled["employee_id"], enrolled["profile"]["employee_id"]) == (new_number, new_number)
        assert (await api.get("/directory/pending-managers")).json() == []

        # removing the number keeps the id (a person always has one); SCIM no longer shows it
        r = await scim.patch(f"/Users/{boss_id}", json=patch({"op": "remove", "path": f"{ENTERPRISE}:employeeNumber"}))
        assert r.status_code == 200, r.text
        assert "employeeNumber" not in r.json().get(ENTERPRISE, {})
        assert (await api.get(f"/directory/employees/{new_number}")).status_code == 200

    records = await read_topic(infra.kafka_bootstrap, svc.host.topics.directory, expect=4)
    keys = await topic_keys(infra.kafka_bootstrap, svc.host.topics.keys)
    events = [decode(r.headers, r.value, keys) for r in records]
    renumbered = [e for e in events if e.type == "tandem.directory.EmployeeRenumbered"]
    assert [(e.data.previous_employee_id, e.data.employee_id) for e in renumbered] == [
        (boss["employee_id"], new_number)
    ]
    moved_line = [
        e for e in events if e.type == "tandem.directory.EmployeeUpdated" and e.subject == report["employee_id"]
    ]
    assert moved_line[-1].data.changed == ["manager_employee_id"]
