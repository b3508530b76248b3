"""Personal fields sealed per data subject (shared.personal): the pure parts, with keys in memory."""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from shared import personal
from shared.events import REGISTRY, Envelope, UndecodableEvent, decode, encode
from shared.events.base import EventPayload
from shared.events.pairing import MatchRunCompleted, ParticipantEnrolled, Proposal, Reason
from shared.events.sessions import SessionLogged
from shared.personal import PLACEHOLDER, KekError, KeyNotFound, KeysNeeded, LocalKms, StaticKeys


def sealed_record(env: Envelope[Any], keys: dict[str, bytes | None], owner: str = "pairing") -> tuple[Any, bytes]:
    """What the outbox writes: the payload with its personal fields sealed (keys made up as needed)."""
    data = env.data.model_dump(mode="json")
    for path, container, name, scope in list(personal.fields_of(data, type(env.data))):
        key_id = scope.key_id(owner, env.tenant)
        key = keys.setdefault(key_id, secrets.token_bytes(32))
        value = container[name]
        container[name] = (
            personal.erased_marker(value, key_id) if key is None else personal.encrypt(value, key, env.id, path, key_id)
        )
    return encode(env).headers, json.dumps(data).encode()


def enrolled(**overrides: Any) -> Envelope[ParticipantEnrolled]:
    fields: dict[str, Any] = {
        "participant_id": "P-1",
        "programme_id": "G-1",
        "employee_id": "E-42",
        "role": "mentee",
        "display_name": "Zelda Quorrington",
        "email": "zelda.quorrington@example.com",
        "department": "Finance",
        "grade": 12,
        "languages": ["en"],
        "goal": "Write better prompts for our quarterly reports",
    }
    return Envelope.new(ParticipantEnrolled.model_validate({**fields, **overrides}), tenant="acme")


def test_sealed_fields_hide_the_values_and_decode_back_to_the_same_event() -> None:
    env = enrolled()
    keys: dict[str, bytes | None] = {}
    headers, value = sealed_record(env, keys)
    assert b"Zelda" not in value
    assert b"quorrington" not in value.lower()
    assert b"quarterly" not in value
    assert b'"department":"Finance"' in value.replace(b" ", b"")  # not personal on its own: figures group by it
    assert sorted(keys) == ["pairing/acme/identity/E-42", "pairing/acme/text/P-1"]
    assert personal.key_ids_in([value]) == set(keys)
    assert decode(headers, value, StaticKeys(keys)) == env


def test_a_destroyed_key_reads_as_the_placeholder_even_where_the_type_wants_an_email() -> None:
    env = enrolled()
    keys: dict[str, bytes | None] = {}
    headers, value = sealed_record(env, keys)
    keys["pairing/acme/identity/E-42"] = None
    back = decode(headers, value, StaticKeys(keys)).data
    assert (back.display_name, back.email) == (PLACEHOLDER, PLACEHOLDER)
    assert back.goal == env.data.goal  # the text key is another key: still there
    assert (back.employee_id, back.participant_id, back.grade) == ("E-42", "P-1", 12)  # ids and figures stay


def test_a_list_field_whose_key_is_gone_reads_empty_and_an_event_written_after_erasure_reads_erased() -> None:
    logged = Envelope.new(
        SessionLogged(
            pair_id="R-1",
            programme_id="G-1",
            session_id="S-1",
            held_at="2026-01-01T10:00:00Z",
            minutes=30,
            action_items=["Call Zelda about the budget"],
        ),
        tenant="acme",
    )
    keys: dict[str, bytes | None] = {}
    headers, value = sealed_record(logged, keys, owner="sessions")
    keys["sessions/acme/text/R-1"] = None
    assert decode(headers, value, StaticKeys(keys)).data.action_items == []
    later: dict[str, bytes | None] = {"pairing/acme/identity/E-42": None}  # erased before this was written
    headers, value = sealed_record(enrolled(), later)
    assert b"Zelda" not in value
    assert decode(headers, value, StaticKeys(later)).data.display_name == PLACEHOLDER


def test_list_items_are_sealed_under_their_own_scope() -> None:
    proposal = Proposal(
        proposal_id="X-1", mentor_id="P-1", mentee_id="P-2", score=0.9, rationale="covers 2 of Zelda's goals",
        reasons=[Reason.model_validate({"code": "covers_goals", "mentee": "Zelda"})],
    )  # fmt: skip
    run = Envelope.new(
        MatchRunCompleted.model_validate(
            {
                "match_run_id": "M-1",
                "programme_id": "G-1",
                "algorithm_version": "1",
                "policy": {},
                "objective": "max_total_score",
                "total_score": 0.9,
                "proposals": [proposal.model_dump()],
                "unmatched": [],
                "directory_revision": 1,
            }
        ),
        tenant="acme",
    )
    keys: dict[str, bytes | None] = {}
    headers, value = sealed_record(run, keys)
    assert b"Zelda" not in value
    assert list(keys) == ["pairing/acme/pair/X-1"]
    assert decode(headers, value, StaticKeys(keys)) == run
    keys["pairing/acme/pair/X-1"] = None
    back = decode(headers, value, StaticKeys(keys)).data.proposals[0]
    assert (back.rationale, back.reasons, back.score) == (PLACEHOLDER, [], 0.9)


def test_a_ciphertext_moved_to_another_event_or_field_does_not_decrypt() -> None:
    first, second = enrolled(), enrolled()
    keys: dict[str, bytes | None] = {}
    _, value1 = sealed_record(first, keys)
    headers2, value2 = sealed_record(second, keys)
    moved = json.loads(value2)
    moved["display_name"] = json.loads(value1)["display_name"]  # same key, same field, another event
    with pytest.raises(UndecodableEvent, match="display_name does not decrypt"):
        decode(headers2, json.dumps(moved).encode(), StaticKeys(keys))
    swapped = json.loads(value2)
    swapped["display_name"], swapped["email"] = swapped["email"], swapped["display_name"]
    with pytest.raises(UndecodableEvent, match="does not decrypt"):
        decode(headers2, json.dumps(swapped).encode(), StaticKeys(keys))


def test_an_unknown_key_and_a_missing_keyring_are_said_and_not_taken_for_bad_events() -> None:
    headers, value = sealed_record(enrolled(), {})
    with pytest.raises(KeyNotFound, match="pairing/acme/identity/E-42"):
        decode(headers, value, StaticKeys({}))
    with pytest.raises(KeysNeeded, match="no keyring"):
        decode(headers, value)


def test_local_kms_wraps_unwraps_and_names_a_kek_it_does_not_have(tmp_path: Path) -> None:
    kek, other = secrets.token_bytes(32), secrets.token_bytes(32)
    box = LocalKms(kek)
    data_key = secrets.token_bytes(32)
    wrapped = box.wrap(data_key)
    assert wrapped != data_key
    assert box.unwrap(wrapped, box.key_id) == data_key
    with pytest.raises(KekError, match="does not have"):
        LocalKms(other).unwrap(wrapped, box.key_id)
    rotated = LocalKms(other, [kek])  # a new KEK wraps; the old one still unwraps what it wrapped
    assert rotated.unwrap(wrapped, box.key_id) == data_key
    assert rotated.key_id != box.key_id
    forged = LocalKms(other)
    with pytest.raises(KekError, match="does not unwrap"):
        forged.unwrap(wrapped, forged.key_id)


@pytest.mark.parametrize(
    ("content", "problem"),
    [(None, "cannot read"), ("not base64!!", "does not hold base64"), (base64.b64encode(b"short").decode(), "holds 5")],
)
def test_a_bad_kek_file_is_refused_naming_the_variable(tmp_path: Path, content: str | None, problem: str) -> None:
    path = tmp_path / "kek"
    if content is not None:
        path.write_text(content)
    with pytest.raises(KekError, match=problem) as caught:
        LocalKms.from_environment({"TANDEM_KEK_FILE": str(path)})
    assert "TANDEM_KEK_FILE" in str(caught.value)


def test_a_good_kek_file_and_the_development_default(tmp_path: Path) -> None:
    path = tmp_path / "kek"
    path.write_text(personal.new_kek_text())
    assert not LocalKms.from_environment({"TANDEM_KEK_FILE": str(path)}).development
    assert LocalKms.from_environment({}).development


def _fields(model: type[BaseModel], path: str) -> bool:
    head, _, rest = path.partition("[].")
    if head not in model.model_fields:
        return False
    if not rest:
        return True
    item = model.model_fields[head].annotation.__args__[0]  # type: ignore[union-attr]
    return rest in item.model_fields


def test_every_declared_personal_field_and_scope_id_exists() -> None:
    declared = 0
    for event_type, model in REGISTRY.items():
        for path, spec in model.PERSONAL_FIELDS.items():
            _kind, id_field = personal.parse_spec(spec)
            assert _fields(model, path), f"{event_type}: {path} is not a field"
            head, _, rest = path.partition("[].")
            assert id_field in model.model_fields or (rest and _fields(model, f"{head}[].{id_field}")), (
                f"{event_type}: scope id {id_field} is not a field"
            )
            declared += 1
    assert declared >= 20


def test_names_and_addresses_are_personal_wherever_an_event_of_ours_carries_them() -> None:
    for event_type, model in REGISTRY.items():
        if event_type.startswith("tandem.hr."):
            continue  # the HR platform's own events, written by it (README: the inbound topic)
        for name in ("display_name", "email", "user_name", "rationale", "confidential_comment", "opportunity_text"):
            if name in model.model_fields:
                assert name in model.PERSONAL_FIELDS, f"{event_type}.{name} is not sealed"


def test_scope_specs_are_checked() -> None:
    with pytest.raises(ValueError, match="must be"):
        personal.parse_spec("secret:employee_id")
    assert issubclass(EventPayload, BaseModel)


def test_a_hostile_key_reference_is_not_taken_for_a_key() -> None:
    assert personal.key_ids_in([b'{"x":{"enc":1,"k":"bad\\ud800\\x"}}', None, b"", b'{"enc": 1, "k": "a/b"}']) == {
        "a/b"
    }
