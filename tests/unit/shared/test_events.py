"""Event contracts: envelope, Kafka binding, registry, upcasters on stored old-version fixtures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shared.events import REGISTRY, Envelope, UndecodableEvent, decode, encode
from shared.events.pairing import PairCreated, PairEnded, ParticipantEnrolled
from shared.events.upcasting import UpcastError, upcast

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "events"


def stored(name: str) -> tuple[list[tuple[str, bytes]], bytes]:
    raw = json.loads((FIXTURES / name).read_text())
    return [(k, v.encode()) for k, v in raw["headers"].items()], json.dumps(raw["value"]).encode()


def test_encode_decode_round_trip_keeps_every_attribute() -> None:
    first = Envelope.new(PairCreated(pair_id="p1", programme_id="g1", mentor_id="a", mentee_id="b"), tenant="acme")
    second = Envelope.new(PairEnded(pair_id="p1", programme_id="g1", reason="completed"), caused_by=first)
    record = encode(second)
    back = decode(record.headers, record.value)
    assert back == second
    assert record.key == b"p1"
    assert back.causationid == first.id
    assert back.correlationid == first.correlationid
    assert back.tenant == "acme"


def test_type_strings_are_stable_names_not_import_paths() -> None:
    for event_type, model in REGISTRY.items():
        assert event_type.startswith("tandem.")
        assert model.__module__ not in event_type
        assert event_type.count(".") == 2


def test_personal_data_lives_in_as_few_event_types_as_possible() -> None:
    personal = sorted(t for t, m in REGISTRY.items() if m.PERSONAL_DATA)
    assert personal == [
        "tandem.directory.EmployeeHired",
        "tandem.directory.EmployeeRenumbered",
        "tandem.directory.EmployeeUpdated",
        "tandem.hr.EmployeeHired",
        "tandem.hr.EmployeeUpdated",
        "tandem.pairing.ParticipantEnrolled",
        "tandem.pairing.ParticipantUpdated",
    ]
    for event_type, model in REGISTRY.items():
        if not model.PERSONAL_DATA:
            assert not {"email", "display_name"} & set(model.model_fields), event_type


def test_a_stored_v1_participant_enrolled_is_upcast_to_v3() -> None:
    headers, value = stored("participant_enrolled.v1.json")
    env = decode(headers, value)
    data: ParticipantEnrolled = env.data
    assert env.schemaversion == ParticipantEnrolled.VERSION == 3
    assert data.display_name == "Dr. Ingrid Hoffmann"
    assert data.languages == ["de"]
    assert data.learn_topics == {}
    assert data.timezone == "UTC"
    assert env.tenant == "acme"


def test_a_stored_v2_participant_enrolled_gets_levels_for_its_topics() -> None:
    headers, value = stored("participant_enrolled.v2.json")
    data: ParticipantEnrolled = decode(headers, value).data
    assert data.teach_topics == {"prompt-writing": 2, "ai-agents": 2}
    assert data.learn_topics == {}
    assert data.capacity == 2


def test_each_upcaster_step_is_a_pure_function_of_its_input() -> None:
    v1: dict[str, Any] = {"name": "A", "language": "en", "role": "mentee", "topics": ["ai-agents"]}
    assert upcast(ParticipantEnrolled.TYPE, 1, dict(v1)) == {
        "display_name": "A",
        "languages": ["en"],
        "role": "mentee",
        "learn_topics": {"ai-agents": 2},
    }
    assert v1["name"] == "A"  # the input is not modified


def test_hr_employee_updated_v1_says_on_leave_v2_says_status() -> None:
    v1 = {
        "employee_id": "E1",
        "display_name": "A",
        "email": "a@x.example",
        "department": "D",
        "grade": 3,
        "on_leave": True,
    }
    assert upcast("tandem.hr.EmployeeUpdated", 1, dict(v1))["status"] == "on_leave"
    assert upcast("tandem.hr.EmployeeUpdated", 1, {**v1, "on_leave": False})["status"] == "active"
    assert "on_leave" not in upcast("tandem.hr.EmployeeUpdated", 1, dict(v1))


def test_match_run_completed_v1_gets_no_directory_version() -> None:
    data = upcast("tandem.pairing.MatchRunCompleted", 1, {"match_run_id": "r"})
    assert (data["directory_revision"], data["org_chart_hash"]) == (None, None)


def test_a_version_newer_than_the_reader_is_refused() -> None:
    with pytest.raises(UpcastError, match="newer than this reader"):
        upcast(ParticipantEnrolled.TYPE, 4, {})


@pytest.mark.parametrize(
    ("headers", "value", "message"),
    [
        ([], b"{}", r"missing header\(s\) ce_id"),
        ([("ce_specversion", b"0.3")], b"{}", "missing header"),
        (None, b"not json", "not valid JSON"),
        (None, b"[1, 2]", "must be a JSON object"),
        (None, b'{"pair_id": "p"}', "failed validation"),
    ],
)
def test_undecodable_messages_say_what_is_wrong(headers: Any, value: bytes, message: str) -> None:
    if headers is None:
        headers = encode(Envelope.new(PairCreated(pair_id="p", programme_id="g", mentor_id="a", mentee_id="b"))).headers
    with pytest.raises(UndecodableEvent, match=message):
        decode(headers, value)


def test_unknown_types_and_specversions_are_undecodable() -> None:
    record = encode(Envelope.new(PairCreated(pair_id="p", programme_id="g", mentor_id="a", mentee_id="b")))
    unknown = [(k, b"tandem.pairing.Nope" if k == "ce_type" else v) for k, v in record.headers]
    with pytest.raises(UndecodableEvent, match="unknown event type"):
        decode(unknown, record.value)
    old = [(k, b"0.3" if k == "ce_specversion" else v) for k, v in record.headers]
    with pytest.raises(UndecodableEvent, match="specversion"):
        decode(old, record.value)
