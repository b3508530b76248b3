"""The pair state machine."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.pairing.domain.pairs import Flag, create_pair
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


def _flag(rule: str = "reporting_line", chain: tuple[str, ...] = ("E3", "E2", "E1")) -> Flag:
    return Flag(rule, "Lena reports to Ingrid within 2 levels", chain, NOW, 7, "left_running")  # type: ignore[arg-type]


NOW = datetime(2026, 5, 4, 9, tzinfo=UTC)


def test_a_reorganisation_flags_and_pauses_then_hr_keeps_the_pair() -> None:
    pair, _ = create_pair("p1", "g1", "m1", "e1")
    flagged, events = pair.flag_conflict(_flag(), pause=True)
    assert [type(e).__name__ for e in events] == ["PairFlagged", "PairPaused"]
    assert (flagged.state, flagged.pause_cause, events[0].action) == ("paused", "flag", "paused")
    assert flagged.flag_conflict(_flag(), pause=True) == (flagged, [])  # the same conflict again: nothing
    with pytest.raises(Conflict, match="resolve the flag"):
        flagged.resume()
    with pytest.raises(InvalidInput):
        flagged.resolve_flag("keep", " ", "hr-anna", NOW)
    kept, events = flagged.resolve_flag("keep", "works council agreed", "hr-anna", NOW)
    assert [type(e).__name__ for e in events] == ["PairFlagResolved", "PairResumed"]
    assert (kept.state, kept.flag, kept.flag_override["by"]) == ("active", None, "hr-anna")
    assert kept.flag_conflict(_flag(), pause=True) == (kept, [])  # kept despite this conflict: not again
    _other, events = kept.flag_conflict(_flag(chain=("E3", "E9")), pause=True)
    assert [type(e).__name__ for e in events] == ["PairFlagged", "PairPaused"]  # a new conflict is flagged


def test_a_flagged_pair_left_running_can_be_ended_for_a_rematch() -> None:
    pair, _ = create_pair("p1", "g1", "m1", "e1")
    flagged, [event] = pair.flag_conflict(_flag(), pause=False)
    assert (flagged.state, event.action) == ("active", "left_running")
    ended, events = flagged.resolve_flag("end", "new reporting line", "hr-anna", NOW)
    assert [type(e).__name__ for e in events] == ["PairFlagResolved", "PairEnded"]
    assert (ended.state, ended.end_reason) == ("ended", "rematched")
    with pytest.raises(Conflict, match="not flagged"):
        pair.resolve_flag("keep", "x", "hr", NOW)


def test_a_later_change_clears_the_flag_and_resumes() -> None:
    pair, _ = create_pair("p1", "g1", "m1", "e1")
    flagged, _ = pair.flag_conflict(_flag(), pause=True)
    cleared, events = flagged.clear_flag()
    assert [type(e).__name__ for e in events] == ["PairFlagResolved", "PairResumed"]
    assert events[0].decision == "cleared"
    assert (cleared.state, cleared.flag) == ("active", None)
    assert cleared.clear_flag() == (cleared, [])


def test_leave_of_absence_pauses_and_the_return_resumes_only_that_pause() -> None:
    pair, _ = create_pair("p1", "g1", "m1", "e1")
    away, [paused] = pair.pause_for_leave("Ingrid")
    assert (away.pause_cause, paused.reason) == ("leave", "Ingrid is on leave of absence")
    with pytest.raises(Conflict, match="leave of absence"):
        away.resume()
    back, [_resumed] = away.resume_after_leave()
    assert back.state == "active"
    by_hand, _ = pair.pause("holiday")
    assert by_hand.pause_for_leave("Ingrid") == (by_hand, [])
    assert by_hand.resume_after_leave() == (by_hand, [])  # a pause by hand is not undone by a return
