"""The pair state machine."""

from __future__ import annotations

import pytest

from services.pairing.domain.pairs import create_pair
from shared.errors import Conflict, InvalidInput


def test_a_pair_is_created_active_with_its_event() -> None:
    pair, event = create_pair("p1", "g1", "m1", "e1")
    assert pair.state == "active"
    assert (event.pair_id, event.mentor_id, event.mentee_id) == ("p1", "m1", "e1")


def test_nobody_mentors_themselves() -> None:
    with pytest.raises(InvalidInput) as err:
        create_pair("p1", "g1", "x", "x")
    assert err.value.field == "mentee_id"


def test_pause_resume_end() -> None:
    pair, _ = create_pair("p1", "g1", "m1", "e1")
    paused, e1 = pair.pause("parental leave")
    assert (paused.state, e1.reason) == ("paused", "parental leave")
    active, _ = paused.resume()
    ended, e3 = active.end("completed")
    assert (ended.state, ended.end_reason, e3.reason) == ("ended", "completed", "completed")
    ended_from_pause, _ = paused.end("by_hr")
    assert ended_from_pause.state == "ended"


def test_illegal_transitions_are_conflicts() -> None:
    pair, _ = create_pair("p1", "g1", "m1", "e1")
    paused, ended = pair.pause()[0], pair.end("completed")[0]
    attempts = [pair.resume, paused.pause, lambda: ended.end("completed"), ended.resume]
    for attempt in attempts:
        with pytest.raises(Conflict) as err:
            attempt()
        assert err.value.code == "illegal_transition"
        assert err.value.status == 409
