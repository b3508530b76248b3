"""Programmes and participants: pure domain rules, and the CSV import."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from services.pairing import csv_import
from services.pairing.domain import participants, programmes
from services.pairing.domain.pairs import evolve_all, propose_pair, published
from shared.errors import Conflict, InvalidInput
from shared.events.pairing import MatchRunCompleted, PairCreated, PairDeclined, PairProposed
from tests import builders
from tests.directory import DIRECTORY_FIELDS, enrolment


def _programme() -> programmes.Programme:
    return programmes.new_programme("g1", "AI 2026", date(2026, 1, 12), date(2026, 7, 10), 14, ["prompt-writing"])


def test_programme_lifecycle() -> None:
    p = _programme()
    assert p.state == "draft"
    event = p.launch()
    launched = programmes.evolve(p, event)
    assert (launched.state, event.programme_id, event.cadence_days) == ("enrolling", "g1", 14)
    run = MatchRunCompleted(
        match_run_id="r1",
        programme_id="g1",
        algorithm_version="lsa-1",
        objective="max_total_score",
        policy={},
        proposals=[],
        unmatched=[],
        total_score=0,
    )
    launched.require_matching()
    assert programmes.evolve(launched, run).state == "matching"
    launched.require_pairing()
    running = programmes.evolve(launched, PairCreated(pair_id="p1", programme_id="g1", mentor_id="m1", mentee_id="e1"))
    assert programmes.evolve(running, run).state == "running"  # rematching keeps a running programme running
    closed = programmes.evolve(running, running.close())
    assert closed.state == "closed"
    with pytest.raises(Conflict):
        closed.require_matching()
    with pytest.raises(Conflict):
        closed.require_pairing()
    with pytest.raises(Conflict):
        closed.require_enrolment_open()
    with pytest.raises(Conflict):
        launched.launch()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"ends_on": date(2026, 1, 1)}, "ends_on"),
        ({"focus_topics": []}, "focus_topics"),
        ({"focus_topics": ["ai-agents", "ai-agents"]}, "focus_topics"),
    ],
)
def test_programme_validation_names_the_field(kwargs: dict[str, Any], field: str) -> None:
    args: dict[str, Any] = {
        "programme_id": "g1",
        "name": "n",
        "starts_on": date(2026, 1, 12),
        "ends_on": date(2026, 7, 10),
        "cadence_days": 14,
        "focus_topics": ["ai-agents"],
    }
    args.update(kwargs)
    with pytest.raises(InvalidInput) as err:
        programmes.new_programme(**args)
    assert err.value.field == field


def _enrol(**overrides: Any) -> participants.Participant:
    body = {**builders.mentor(), "programme_id": "g1", **overrides}
    event = participants.enrol(enrolment(body), {k: v for k, v in body.items() if k in DIRECTORY_FIELDS})
    return participants.evolve(None, event)


def test_enrol_update_withdraw() -> None:
    p = _enrol()
    event = p.update({"goal": "Teach prompt writing", "capacity": 2})
    updated = participants.evolve(p, event)
    assert updated.profile["goal"] == "Teach prompt writing"
    assert event.capacity == 2
    assert event.participant_id == p.participant_id
    w = updated.withdraw("left_company")
    withdrawn = participants.evolve(updated, w)
    assert (withdrawn.status, w.reason) == ("withdrawn", "left_company")
    with pytest.raises(Conflict):
        withdrawn.update({"capacity": 1})


def test_evolve_gives_the_participant_each_command_used_to_return() -> None:
    """decide (a command method) then evolve: the state the (state, event) tuples used to carry."""
    body = {**builders.mentor(), "programme_id": "g1"}
    enrolled = participants.enrol(enrolment(body), {k: v for k, v in body.items() if k in DIRECTORY_FIELDS})
    p = participants.evolve(None, enrolled)
    assert p == participants.Participant(
        enrolled.participant_id, "g1", enrolled.employee_id, "mentor", enrolled.model_dump(mode="json")
    )
    for updated in (
        p.update({"goal": "Teach agents"}),
        p.renumbered("E-new"),
        p.refresh({"email": "new@acme.example"}),
    ):
        assert updated is not None
        assert participants.evolve(p, updated) == participants.Participant(
            p.participant_id, p.programme_id, updated.employee_id, p.role, updated.model_dump(mode="json")
        )
    assert participants.evolve(p, p.renumbered("E-new")).employee_id == "E-new"
    assert participants.evolve(p, p.withdraw()) == participants.Participant(
        p.participant_id, p.programme_id, p.employee_id, p.role, p.profile, "withdrawn"
    )


def test_a_mentor_takes_mentees_up_to_their_capacity() -> None:
    mentor = _enrol(capacity=2)
    assert mentor.capacity == 2
    mentor.check_capacity(0)
    mentor.check_capacity(1)
    with pytest.raises(Conflict, match=r"already mentors 2 of 2 possible mentee\(s\)") as full:
        mentor.check_capacity(2)
    assert (full.value.code, full.value.field) == ("capacity_exhausted", "mentor_id")
    with pytest.raises(Conflict, match="already mentors 1 of 1") as one:
        _enrol().check_capacity(1)  # capacity 1 unless the enrolment says otherwise
    assert one.value.code == "capacity_exhausted"


def test_a_mentee_is_in_one_live_pair_at_most() -> None:
    mentee = _enrol(**builders.mentee())
    mentee.check_unpaired(0)
    with pytest.raises(Conflict, match=r"^Dr\. Ingrid Hoffmann already has a live pair$") as paired:
        mentee.check_unpaired(1)
    assert (paired.value.code, paired.value.field) == ("already_paired", "mentee_id")
    with pytest.raises(Conflict, match="was paired since this run") as since:
        mentee.check_unpaired(1, "proposal_ids", since="this run")
    assert (since.value.code, since.value.field) == ("already_paired", "proposal_ids")


def test_the_directory_owns_the_profile() -> None:
    p = _enrol()
    with pytest.raises(InvalidInput) as err:
        p.update({"department": "Sales"})
    assert err.value.field == "department"
    assert "directory" in err.value.message
    body = builders.mentor()
    with pytest.raises(InvalidInput) as err:
        participants.enrol({**enrolment(body), "programme_id": "g1", "grade": 3}, {})
    assert err.value.field == "grade"
    refreshed = p.refresh({"email": "new@acme.example", "department": p.profile["department"]})
    assert refreshed is not None
    assert refreshed.email == "new@acme.example"
    assert p.refresh({"department": p.profile["department"]}) is None  # nothing changed, no event


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"teach_topics": {}}, "teach_topics"),
        ({"capacity": 0}, "capacity"),
        ({"availability": [{"weekday": 1, "start": "12:00", "end": "09:00"}]}, "availability"),
    ],
)
def test_enrolment_rules_name_the_field(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        _enrol(**overrides)
    assert err.value.field == field


def test_ids_and_role_cannot_be_changed() -> None:
    with pytest.raises(InvalidInput) as err:
        _enrol().update({"role": "mentee"})
    assert err.value.field == "role"


def test_a_bad_update_is_a_validation_error() -> None:
    with pytest.raises(ValidationError):
        _enrol().update({"capacity": 99})


def test_consent_both_must_accept_before_the_deadline() -> None:
    now = datetime(2026, 2, 1, tzinfo=UTC)
    changes = propose_pair("p1", "g1", "m1", "e1", consent_deadline=now + timedelta(days=7), origin="rematch")
    pair = evolve_all(None, changes)
    [proposed] = published(changes)
    assert (pair.state, pair.origin) == ("proposed", "rematch")  # the origin is kept, though not published
    assert isinstance(proposed, PairProposed)
    assert proposed.consent_deadline == now + timedelta(days=7)
    changes = pair.consent("e1", True, now)  # the senior first
    half = evolve_all(pair, changes)
    assert (half.state, half.mentee_consent, published(changes)) == ("proposed", True, [])
    changes = half.consent("m1", True, now)
    both = evolve_all(half, changes)
    assert (both.state, both.mentor_consent, both.mentee_consent) == ("active", True, True)
    [created] = published(changes)
    assert isinstance(created, PairCreated)
    assert created.origin == "rematch"
    changes = pair.consent("m1", False, now)
    declined = evolve_all(pair, changes)
    assert declined.state == "declined"
    assert [e.declined_by for e in published(changes) if isinstance(e, PairDeclined)] == ["m1"]
    with pytest.raises(Conflict, match="deadline"):
        pair.consent("m1", True, now + timedelta(days=8))
    with pytest.raises(InvalidInput):
        pair.consent("stranger", True, now)
    expired = pair.expire(now + timedelta(days=8))
    assert expired is not None
    assert evolve_all(pair, [expired]).state == "declined"
    assert pair.expire(now) is None


def test_csv_rows_become_enrolment_dicts() -> None:
    text = (
        "employee_id,role,availability,teach_topics,learn_topics,capacity\n"
        'E1,mentor,"Mon 09:00-12:00; Wed 14:00-16:30","prompt-writing:3; ai-agents",,2\n'
        "E2,mentee,,,data-analysis:1,\n"
    )
    rows = csv_import.parse(text)
    assert rows[0]["availability"] == [
        {"weekday": 0, "start": "09:00", "end": "12:00"},
        {"weekday": 2, "start": "14:00", "end": "16:30"},
    ]
    assert rows[0]["teach_topics"] == {"prompt-writing": 3, "ai-agents": 2}
    assert rows[0]["capacity"] == 2
    assert "learn_topics" not in rows[0]
    assert rows[1]["learn_topics"] == {"data-analysis": 1}


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("employee_id\nE1\n", "role", "lacks column"),
        ("employee_id,role,shoe_size\n", "shoe_size", "unknown column"),
        ("employee_id,role,display_name\nE1,mentor,Lena\n", "display_name", "employee directory"),
        ("employee_id,role,capacity\nE1,mentor,four\n", "capacity", "row 1"),
        ("employee_id,role,availability\nE1,mentor,Someday\n", "availability", "Mon 09:00-12:00"),
        ("employee_id,role\n", "body", "no participants"),
    ],
)
def test_csv_problems_name_the_column(text: str, field: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as err:
        csv_import.parse(text)
    assert err.value.field == field
