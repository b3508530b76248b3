"""The employee directory, pure: how each source's change becomes events, languages, ordering, the fold."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from services.pairing.domain.directory import (
    Employee,
    EmployeeInput,
    Leave,
    Renumber,
    Upsert,
    decide,
    evolve,
    normalise_language,
    participant_profile,
    primary_language,
    supported_locale,
)
from shared.errors import InvalidInput, NotFound
from shared.events.directory import EmployeeChangeIgnored, EmployeeHired, EmployeeLeft, EmployeeUpdated

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)


def record(**kw: Any) -> EmployeeInput:
    data: dict[str, Any] = {
        "employee_id": "E001",
        "display_name": "Ingrid Hoffmann",
        "email": "ingrid@acme.example",
        "department": "Finance",
        "grade": 14,
        "languages": ["de"],
        "timezone": "Europe/Berlin",
        "locale": "de-DE",
    }
    data.update(kw)
    return EmployeeInput.model_validate(data)


def apply(current: Employee | None, change: Upsert | Leave, at: datetime = T0, revision: int = 0) -> tuple:
    events = decide(current, change, revision=revision, origin="hr_event", effective_at=at)
    state = current
    for e in events:
        state = evolve(state, e)
    return state, events


@pytest.mark.parametrize(
    ("given", "expected"),
    [("EN", "en"), ("en", "en"), ("de-ch", "de-CH"), ("de_CH", "de-CH"), ("zh-hant", "zh-Hant"), ("fil", "fil")],
)
def test_languages_are_bcp47_normalised(given: str, expected: str) -> None:
    assert normalise_language(given) == expected


@pytest.mark.parametrize("bad", ["xx", "Deutsch", "", "english!", "12"])
def test_unknown_language_codes_are_refused_naming_the_field(bad: str) -> None:
    with pytest.raises(ValidationError) as err:
        record(languages=["en", bad])
    assert err.value.errors()[0]["loc"][0] == "languages"


def test_regions_share_their_language_and_locales_choose_the_message_language() -> None:
    assert primary_language("de-CH") == primary_language("de") == "de"
    assert (supported_locale("de-AT"), supported_locale("fr-FR"), supported_locale("en-GB")) == ("de", "en", "en")


def test_a_record_is_refused_with_the_field_named() -> None:
    for kw, field in (
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"email": "not-an-address"}, "email"),
        ({"manager_employee_id": "E001"}, "manager_employee_id"),
        ({"grade": 99}, "grade"),
    ):
        with pytest.raises(ValidationError) as err:
            record(**kw)
        assert err.value.errors()[0]["loc"][0] == field


def test_hire_update_leave_rehire() -> None:
    hired, events = apply(None, Upsert(record(languages=["DE", "en"])))
    assert [type(e) for e in events] == [EmployeeHired]
    assert hired is not None
    assert (hired.languages, hired.locale, hired.user_name, hired.revision) == (("de", "en"), "de-DE", hired.email, 1)

    moved, events = apply(hired, Upsert(record(manager_employee_id="E000", department="Sales")), T0 + timedelta(1), 1)
    [updated] = events
    assert isinstance(updated, EmployeeUpdated)
    assert set(updated.changed) == {"manager_employee_id", "department", "languages"}
    assert (moved.manager_employee_id, moved.revision) == ("E000", 2)

    _, nothing = apply(moved, Upsert(record(manager_employee_id="E000", department="Sales")), T0 + timedelta(2), 2)
    assert nothing == []  # the same record again makes no event

    gone, events = apply(moved, Leave("E001", date(2026, 4, 1)), T0 + timedelta(3), 2)
    assert [type(e) for e in events] == [EmployeeLeft]
    assert (gone.status, gone.left_on) == ("left", date(2026, 4, 1))
    assert apply(gone, Leave("E001", date(2026, 4, 2)), T0 + timedelta(4), 3)[1] == []  # leaving twice: nothing

    back, events = apply(gone, Upsert(record(status="active")), T0 + timedelta(5), 3)  # a source says so
    [rehired] = events
    assert isinstance(rehired, EmployeeHired)
    assert rehired.rehired
    assert (back.status, back.left_on) == ("active", None)


def test_a_change_older_than_the_record_is_ignored_and_said_so() -> None:
    current, _ = apply(None, Upsert(record(manager_employee_id="E000")), T0)
    later, [ignored] = apply(current, Upsert(record(manager_employee_id="E999")), T0 - timedelta(hours=1), 1)
    assert isinstance(ignored, EmployeeChangeIgnored)
    assert ignored.record_effective_at == T0
    assert later == current  # nothing changed


def test_fields_a_source_leaves_out_keep_their_value_and_null_clears() -> None:
    current, _ = apply(None, Upsert(record(manager_employee_id="E000", location="Berlin")))
    partial = EmployeeInput.model_validate(
        {"employee_id": "E001", "display_name": "Ingrid Hoffmann", "email": "ingrid@acme.example", "location": None}
    )
    after, _ = apply(current, Upsert(partial), T0 + timedelta(1), 1)
    assert (after.manager_employee_id, after.location, after.grade) == ("E000", None, 14)


def test_a_row_saying_left_records_the_change_then_the_leave() -> None:
    current, _ = apply(None, Upsert(record()))
    after, events = apply(current, Upsert(record(department="Sales", status="left")), T0 + timedelta(1), 1)
    assert [type(e).__name__ for e in events] == ["EmployeeUpdated", "EmployeeLeft"]
    assert [e.revision for e in events] == [2, 3]
    assert (after.status, after.department, after.left_on) == ("left", "Sales", (T0 + timedelta(1)).date())


def test_leave_and_the_profile_of_someone_unknown() -> None:
    with pytest.raises(NotFound):
        decide(None, Leave("E404", date(2026, 1, 1)), revision=0, origin="file", effective_at=T0)
    lean, _ = apply(None, Upsert(record(grade=None)))
    with pytest.raises(InvalidInput) as err:
        participant_profile(lean)
    assert err.value.field == "grade"
    full, _ = apply(None, Upsert(record()))
    assert participant_profile(full)["locale"] == "de"


def test_the_example_export_in_the_docs_is_a_valid_file() -> None:
    from pathlib import Path

    from services.pairing.directory_import import ImportReport, csv_rows, validate

    path = Path(__file__).resolve().parents[3] / "docs" / "examples" / "directory.csv"
    report = ImportReport()

    def rows() -> Any:
        with path.open(encoding="utf-8", newline="") as f:
            yield from csv_rows(f)

    seen = validate(rows, report)
    assert report.errors == []
    assert len(seen) == report.rows == 9


def test_renumbering_moves_the_whole_record_to_the_new_id() -> None:
    current, _ = apply(None, Upsert(record(manager_employee_id="E000")))
    moved, [event] = apply(current, Renumber("E001", "X-77"), T0 + timedelta(1), 1)
    assert (event.previous_employee_id, event.employee_id, event.revision) == ("E001", "X-77", 2)
    assert moved is not None
    assert (moved.employee_id, moved.manager_employee_id, moved.display_name) == ("X-77", "E000", "Ingrid Hoffmann")
    assert evolve(None, event) == moved  # the event carries the whole record: a fold can start from it
    assert apply(moved, Renumber("X-77", "X-77"), T0 + timedelta(2), 2)[1] == []
    with pytest.raises(NotFound):
        decide(None, Renumber("E404", "E405"), revision=0, origin="scim", effective_at=T0)
