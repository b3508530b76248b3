"""The SCIM mapping (services.pairing.scim_mapping): a User <-> a directory record, filters, Entra's spellings."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from scim2_models import Context

from services.pairing import scim_mapping as scim
from services.pairing.domain.directory import Employee, EmployeeInput, normalise_language

NOW = datetime(2026, 3, 1, 9, tzinfo=UTC)


def body(**extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "schemas": [scim.CORE, scim.ENTERPRISE, scim.TANDEM],
        "userName": "lena@acme.example",
        "name": {"givenName": "Lena", "familyName": "Yilmaz"},
        "emails": [
            {"value": "lena.home@mail.example", "type": "home"},
            {"value": "lena@acme.example", "type": "work", "primary": True},
        ],
        "phoneNumbers": [{"value": "+49 30 1234", "type": "work"}],
        "addresses": [{"type": "home", "locality": "Potsdam"}, {"type": "work", "locality": "Berlin", "country": "DE"}],
        "timezone": "Europe/Berlin",
        "locale": "de-DE",
        scim.ENTERPRISE: {"employeeNumber": "E-1", "department": "Marketing", "manager": {"value": "E-9"}},
        scim.TANDEM: {"grade": "4", "languages": "de, en"},
    }
    out.update(extra)
    return out


def user(payload: dict[str, Any], context: Context = Context.RESOURCE_CREATION_REQUEST) -> Any:
    return scim.parse_user(payload, context)


def record(payload: dict[str, Any], status: str | None = None) -> EmployeeInput:
    u = user(payload)
    return scim.employee_input(
        u,
        employee_id=scim.employee_id_of(u),
        manager_employee_id=scim.manager_of(u),
        current=status,  # type: ignore[arg-type]
    )


def employee_of(rec: EmployeeInput) -> Employee:
    data = rec.model_dump(include=set(Employee.__dataclass_fields__))
    data["languages"] = tuple(data["languages"])
    return Employee(**data)


def test_a_user_maps_onto_the_directory_record() -> None:
    rec = record(body())
    assert rec.employee_id == "E-1"
    assert (rec.user_name, rec.display_name, rec.email) == ("lena@acme.example", "Lena Yilmaz", "lena@acme.example")
    assert (rec.department, rec.manager_employee_id, rec.grade) == ("Marketing", "E-9", 4)
    assert (rec.location, rec.timezone, rec.locale, rec.languages) == ("Berlin", "Europe/Berlin", "de-DE", ["de", "en"])
    assert rec.status == "active"
    assert "status" in rec.model_fields_set
    # every field is stated: what the User leaves out is cleared
    assert {"department", "grade", "location", "external_id", "manager_employee_id"} <= rec.model_fields_set


def test_fallbacks() -> None:
    bare = {"schemas": [scim.CORE], "userName": "x@acme.example", "emails": [{"value": "x@acme.example"}]}
    rec = record(bare)
    assert (rec.employee_id, rec.display_name, rec.timezone, rec.locale, rec.languages) == (
        "x@acme.example",
        "x@acme.example",
        "UTC",
        "en",
        [],
    )
    assert record({**bare, "name": {"formatted": "Dr. X"}}).display_name == "Dr. X"
    assert record({**bare, "preferredLanguage": "de_CH"}).languages == ["de-CH"]
    first = {
        **bare,
        "addresses": [{"type": "home", "locality": "Bonn"}],
        "emails": [{"value": "a@b.example"}, {"value": "c@d.example"}],
    }
    assert (record(first).location, record(first).email) == ("Bonn", "a@b.example")


def test_active_false_is_leaving_and_true_keeps_a_leave_of_absence() -> None:
    assert record(body(active=False)).status == "left"
    assert record(body(active="False")).status == "left"  # as Microsoft Entra ID sends it
    assert "status" not in record(body(active=True), status="on_leave").model_fields_set
    assert record(body(active=True), status="left").status == "active"  # re-hired
    assert record(body(), status="left").status == "active"  # absent counts as true


@pytest.mark.parametrize(
    ("change", "attribute"),
    [
        ({scim.TANDEM: {"languages": "en !!"}}, f"{scim.TANDEM}:languages"),
        ({scim.TANDEM: {"grade": "31"}}, f"{scim.TANDEM}:grade"),
        ({scim.TANDEM: {"grade": "four"}}, f"{scim.TANDEM}:grade"),
        ({"timezone": "Europe/Atlantis"}, "timezone"),
        ({"locale": "not a tag"}, "locale"),
        ({"displayName": "x" * 201}, "displayName"),
    ],
)
def test_directory_validation_errors_name_the_attribute(change: dict[str, Any], attribute: str) -> None:
    with pytest.raises(scim.ScimError) as caught:
        record(body(**change))
    assert (caught.value.status, caught.value.scim_type) == (400, "invalidValue")
    assert caught.value.detail.startswith(f"{attribute}: ")


def test_a_blank_user_name_is_refused() -> None:
    with pytest.raises(scim.ScimError, match=r"^userName: "):
        user(body(userName="  "))


def test_preferred_language_errors_name_it() -> None:
    payload = body(preferredLanguage="??")
    payload.pop(scim.TANDEM)
    with pytest.raises(scim.ScimError, match=r"^preferredLanguage: "):
        record(payload)


def test_a_user_the_directory_agrees_with_is_served_as_provisioned() -> None:
    payload = body(externalId="x-1", title="Lead", active=True)
    kept = scim.stored(user(payload))
    served = scim.represent(kept, employee_of(record(payload)), manager_scim_id=None)
    assert scim.stored(served) == kept


def test_the_directory_wins_where_it_changed() -> None:
    payload = body()
    kept = scim.stored(user(payload))
    employee = replace(
        employee_of(record(payload)),
        department="Sales",
        location="Hamburg",
        languages=("fr",),
        status="left",
        manager_employee_id="E-7",
        email="lena.y@acme.example",
        grade=None,
    )
    served = scim.stored(scim.represent(kept, employee, manager_scim_id="0b0b0b0b-0000-4000-8000-000000000007"))
    assert served["active"] is False
    assert served["emails"][1] == {"value": "lena.y@acme.example", "type": "work", "primary": True}
    assert served["addresses"][1]["locality"] == "Hamburg"
    assert served[scim.ENTERPRISE]["department"] == "Sales"
    assert served[scim.ENTERPRISE]["manager"] == {"value": "0b0b0b0b-0000-4000-8000-000000000007"}
    assert served[scim.TANDEM] == {"languages": "fr"}
    assert served["phoneNumbers"] == payload["phoneNumbers"]  # what the directory has no field for stays
    # and the served User maps back onto the record it was made from
    again = scim.employee_input(
        user(served, Context.RESOURCE_REPLACEMENT_REQUEST), employee_id="E-1", manager_employee_id="E-7", current="left"
    )
    assert employee_of(again) == replace(employee, hired_on=None, left_on=None)


def test_a_record_from_another_source_is_served_from_the_directory() -> None:
    employee = Employee(
        employee_id="F-1",
        user_name="f@acme.example",
        display_name="Fay",
        email="f@acme.example",
        department="Legal",
        grade=7,
        location="Bonn",
        languages=("de",),
        manager_employee_id="F-0",
    )
    served = scim.stored(scim.represent(None, employee, manager_scim_id=None))
    assert served["schemas"] == [scim.CORE, scim.ENTERPRISE, scim.TANDEM]
    assert served["userName"] == "f@acme.example"
    assert served["displayName"] == "Fay"
    assert served["emails"] == [{"value": "f@acme.example", "type": "work", "primary": True}]
    assert served["addresses"] == [{"type": "work", "locality": "Bonn"}]
    assert served[scim.ENTERPRISE] == {"employeeNumber": "F-1", "department": "Legal", "manager": {"value": "F-0"}}
    assert served[scim.TANDEM] == {"grade": "7", "languages": "de"}
    assert "active" not in served


def test_document_carries_meta_version_and_honours_attributes() -> None:
    payload = body()
    u = scim.represent(scim.stored(user(payload)), employee_of(record(payload)), manager_scim_id=None)
    doc, version = scim.document(u, scim_id="3f1c", created=NOW, modified=NOW, location="https://t/scim/v2/Users/3f1c")
    assert doc["id"] == "3f1c"
    assert doc["meta"] == {
        "resourceType": "User",
        "created": "2026-03-01T09:00:00Z",
        "lastModified": "2026-03-01T09:00:00Z",
        "location": "https://t/scim/v2/Users/3f1c",
        "version": version,
    }
    assert version.startswith('W/"')
    few, same = scim.document(u, scim_id="3f1c", created=NOW, modified=NOW, location="l", attributes=["userName"])
    assert set(few) == {"schemas", "id", "userName"}
    assert same == version
    fewer, _ = scim.document(
        u, scim_id="3f1c", created=NOW, modified=NOW, location="l", excluded_attributes=["emails", scim.TANDEM]
    )
    assert "emails" not in fewer
    assert scim.TANDEM not in fewer
    with pytest.raises(scim.ScimError) as caught:
        scim.document(u, scim_id="3f1c", created=NOW, modified=NOW, location="l", attributes=["not a path"])
    assert (caught.value.status, caught.value.scim_type) == (400, "invalidPath")


@pytest.mark.parametrize(
    ("text", "conditions"),
    [
        ('userName eq "Lena@Acme.example"', [("user_name", "Lena@Acme.example")]),
        ('externalId eq "x" and emails.value eq "a@b"', [("external_id", "x"), ("email", "a@b")]),
        ('emails eq "a@b"', [("email", "a@b")]),
        (f'{scim.ENTERPRISE}:employeeNumber eq "E-1"', [("employee_id", "E-1")]),
        (
            'USERNAME eq "x" and (id eq "y" and employeeNumber eq "z")',
            [("user_name", "x"), ("scim_id", "y"), ("employee_id", "z")],
        ),
    ],
)
def test_filters(text: str, conditions: list[tuple[str, str]]) -> None:
    assert scim.parse_filter(text) == conditions


@pytest.mark.parametrize(
    "text",
    [
        'userName sw "l"',
        'userName eq "a" or userName eq "b"',
        'not (userName eq "a")',
        "userName pr",
        'title eq "x"',
        "userName eq 3",
        'emails[type eq "work"]',
        'userName eq "x" and',
        '(userName eq "x"',
    ],
)
def test_unsupported_filters_are_invalid_filter(text: str) -> None:
    with pytest.raises(scim.ScimError) as caught:
        scim.parse_filter(text)
    assert (caught.value.status, caught.value.scim_type) == (400, "invalidFilter")


def test_entra_manager_spellings() -> None:
    manager = f"{scim.ENTERPRISE}:manager"
    for value in ("m-1", [{"$ref": None, "value": "m-1"}], {"value": "m-1"}):
        op = scim.entra_patch({"Operations": [{"op": "Add", "path": manager, "value": value}]})
        assert op["Operations"][0]["value"] == {"value": "m-1"}
    pathless = scim.entra_patch({"Operations": [{"op": "Replace", "value": {manager: "m-2"}}]})
    assert pathless["Operations"][0]["value"] == {manager: {"value": "m-2"}}
    removal = scim.entra_patch({"Operations": [{"op": "Remove", "path": manager, "value": [{"value": "m-1"}]}]})
    assert removal["Operations"][0] == {"op": "Remove", "path": manager}


def test_entra_patch_applies() -> None:
    payload = body()
    u = scim.represent(scim.stored(user(payload)), employee_of(record(payload)), manager_scim_id=None)
    op = scim.parse_patch(
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {
                    "op": "Replace",
                    "value": {"active": "False", "name.givenName": "Lene", f"{scim.ENTERPRISE}:department": "Brand"},
                },
                {"op": "Add", "path": 'phoneNumbers[type eq "mobile"].value', "value": "+49 170 1"},
                {"op": "Remove", "path": "phoneNumbers", "value": [{"value": "+49 30 1234"}]},
                {"op": "Replace", "path": f"{scim.ENTERPRISE}:manager", "value": "E-8"},
            ],
        }
    )
    with scim.PROVIDER:
        op.patch(u)
    rec = scim.employee_input(u, employee_id="E-1", manager_employee_id=scim.manager_of(u), current="active")
    assert (rec.status, rec.display_name, rec.department, rec.manager_employee_id) == (
        "left",
        "Lene Yilmaz",
        "Brand",
        "E-8",
    )
    assert [p.value for p in u.phone_numbers] == ["+49 170 1"]


def test_patch_errors() -> None:
    with pytest.raises(scim.ScimError) as caught:
        scim.parse_patch({"Operations": [{"op": "replace", "path": "favouriteColour", "value": "teal"}]})
    assert (caught.value.status, caught.value.scim_type) == (400, "invalidPath")
    with pytest.raises(scim.ScimError) as caught:
        scim.parse_patch({"Operations": [{"op": "remove", "path": "userName"}]})
    assert caught.value.scim_type == "mutability"
    with pytest.raises(scim.ScimError) as caught:
        scim.parse_patch({"Operations": [{"op": "jump", "path": "title", "value": "x"}]})
    assert caught.value.scim_type == "invalidValue"


def test_advertised_values_are_accepted_as_they_are() -> None:
    """The canonical values the schemas suggest are what the directory keeps, unchanged."""
    for tag in scim.LANGUAGE_TAGS:
        assert normalise_language(tag) == tag
    for zone in scim.TIME_ZONES:
        ZoneInfo(zone)
    schemas = {s.id: s for s in scim.PROVIDER.schemas}
    assert set(schemas) == {scim.CORE, scim.ENTERPRISE, scim.TANDEM}
    employee_number = next(a for a in schemas[scim.ENTERPRISE].attributes or [] if a.name == "employeeNumber")
    assert employee_number.mutability == "readWrite"  # a new value renumbers the employee
    tandem = {a.name: a for a in schemas[scim.TANDEM].attributes or []}
    assert (tandem["grade"].type, tandem["languages"].type, tandem["languages"].multi_valued) == (
        "string",
        "string",
        False,
    )
    emails = next(a for a in schemas[scim.CORE].attributes or [] if a.name == "emails")
    assert emails.required
