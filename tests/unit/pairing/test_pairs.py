"""The pair state machine: decided by the pair's command methods, folded by `pairs.evolve`."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from services.pairing.domain.pairs import (
    ConsentGiven,
    Flag,
    FlagKept,
    Pair,
    PairChange,
    PairNoted,
    PauseCaused,
    create_pair,
    evolve,
    evolve_all,
    propose_pair,
    published,
)
from shared.errors import Conflict, InvalidInput
from shared.events.pairing import PairEnded, PairPaused


def _pair() -> Pair:
    return evolve_all(None, create_pair("p1", "g1", "m1", "e1"))


def _names(changes: list[PairChange]) -> list[str]:
    return [type(e).__name__ for e in published(changes)]


def test_a_pair_is_created_active_with_its_event() -> None:
    changes = create_pair("p1", "g1", "m1", "e1", warnings=("no shared time zone",))
    [event] = published(changes)
    pair = evolve_all(None, changes)
    assert (pair.state, pair.warnings) == ("active", ("no shared time zone",))
    assert event == pair.created_event()
    assert (event.pair_id, event.mentor_id, event.mentee_id) == ("p1", "m1", "e1")


def test_nobody_mentors_themselves() -> None:
    with pytest.raises(InvalidInput) as err:
        create_pair("p1", "g1", "x", "x")
    assert err.value.field == "mentee_id"
    with pytest.raises(InvalidInput) as err:
        propose_pair("p1", "g1", "x", "x", consent_deadline=NOW)
    assert err.value.field == "mentee_id"


def test_pause_resume_end() -> None:
    pair = _pair()
    e1 = pair.pause("parental leave")
    paused = evolve_all(pair, [e1])
    assert (paused.state, paused.pause_cause, e1.reason) == ("paused", "manual", "parental leave")
    active = evolve_all(paused, [paused.resume()])
    e3 = active.end("completed")
    ended = evolve_all(active, [e3])
    assert (ended.state, ended.end_reason, e3.reason) == ("ended", "completed", "completed")
    assert evolve_all(paused, [paused.end("by_hr")]).state == "ended"


def test_illegal_transitions_are_conflicts() -> None:
    pair = _pair()
    paused, ended = evolve_all(pair, [pair.pause()]), evolve_all(pair, [pair.end("completed")])
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
    pair = _pair()
    changes = pair.flag_conflict(_flag(), pause=True)
    flagged = evolve_all(pair, changes)
    assert _names(changes) == ["PairFlagged", "PairPaused"]
    assert (flagged.state, flagged.pause_cause, flagged.flag) == ("paused", "flag", replace(_flag(), action="paused"))
    assert flagged.flag_conflict(_flag(), pause=True) == []  # the same conflict again: nothing
    with pytest.raises(Conflict, match="resolve the flag"):
        flagged.resume()
    with pytest.raises(InvalidInput):
        flagged.resolve_flag("keep", " ", "hr-anna", NOW)
    changes = flagged.resolve_flag("keep", "works council agreed", "hr-anna", NOW)
    kept = evolve_all(flagged, changes)
    assert _names(changes) == ["PairFlagResolved", "PairResumed"]
    assert kept.flag_override is not None
    assert (kept.state, kept.flag, kept.flag_override["by"]) == ("active", None, "hr-anna")
    assert kept.flag_override["at"] == NOW.isoformat()
    assert kept.flag_conflict(_flag(), pause=True) == []  # kept despite this conflict: not again
    changes = kept.flag_conflict(_flag(chain=("E3", "E9")), pause=True)
    assert _names(changes) == ["PairFlagged", "PairPaused"]  # a new conflict is flagged


def test_a_flagged_pair_left_running_can_be_ended_for_a_rematch() -> None:
    pair = _pair()
    changes = pair.flag_conflict(_flag(), pause=False)
    flagged = evolve_all(pair, changes)
    [event] = published(changes)
    assert (flagged.state, getattr(event, "action", None)) == ("active", "left_running")
    changes = flagged.resolve_flag("end", "new reporting line", "hr-anna", NOW)
    ended = evolve_all(flagged, changes)
    assert _names(changes) == ["PairFlagResolved", "PairEnded"]
    assert (ended.state, ended.end_reason, ended.flag) == ("ended", "rematched", None)
    with pytest.raises(Conflict, match="not flagged"):
        pair.resolve_flag("keep", "x", "hr", NOW)


def test_a_later_change_clears_the_flag_and_resumes() -> None:
    pair = _pair()
    flagged = evolve_all(pair, pair.flag_conflict(_flag(), pause=True))
    changes = flagged.clear_flag()
    cleared = evolve_all(flagged, changes)
    assert _names(changes) == ["PairFlagResolved", "PairResumed"]
    assert getattr(changes[0], "decision", None) == "cleared"
    assert (cleared.state, cleared.flag, cleared.pause_cause) == ("active", None, None)
    assert cleared.clear_flag() == []


def test_leave_of_absence_pauses_and_the_return_resumes_only_that_pause() -> None:
    pair = _pair()
    changes = pair.pause_for_leave("Ingrid")
    away = evolve_all(pair, changes)
    [paused] = published(changes)
    assert isinstance(paused, PairPaused)
    assert (away.pause_cause, paused.reason) == ("leave", "Ingrid is on leave of absence")
    with pytest.raises(Conflict, match="leave of absence"):
        away.resume()
    back = evolve_all(away, away.resume_after_leave())
    assert (back.state, back.pause_cause) == ("active", None)
    by_hand = evolve_all(pair, [pair.pause("holiday")])
    assert by_hand.pause_for_leave("Ingrid") == []
    assert by_hand.resume_after_leave() == []  # a pause by hand is not undone by a return


def test_evolve_gives_the_state_each_command_used_to_return() -> None:
    """decide then evolve: the pair the `(pair, events)` tuples used to return, field by field."""
    base = Pair("p1", "g1", "m1", "e1", origin="manual", warnings=("w",))
    assert evolve_all(None, create_pair("p1", "g1", "m1", "e1", warnings=("w",))) == base
    deadline = NOW + timedelta(days=7)
    proposed = evolve_all(None, propose_pair("p2", "g1", "m1", "e1", consent_deadline=deadline, origin="rematch"))
    assert proposed == Pair("p2", "g1", "m1", "e1", state="proposed", origin="rematch", consent_deadline=deadline)
    half = evolve_all(proposed, proposed.consent("m1", True, NOW))
    assert half == replace(proposed, mentor_consent=True)
    assert evolve_all(half, half.consent("e1", True, NOW)) == replace(
        proposed, state="active", mentor_consent=True, mentee_consent=True
    )
    assert evolve_all(base, [base.pause("x")]) == replace(base, state="paused", pause_cause="manual")
    assert evolve_all(base, base.pause_for_leave("I")) == replace(base, state="paused", pause_cause="leave")
    assert evolve_all(base, [base.extend(date(2027, 1, 1), date(2026, 7, 1))]) == replace(
        base, extended_until=date(2027, 1, 1)
    )
    assert evolve_all(base, [base.end("by_hr")]) == replace(base, state="ended", end_reason="by_hr")
    flagged = evolve_all(base, base.flag_conflict(_flag(), pause=True))
    assert flagged == replace(base, state="paused", pause_cause="flag", flag=replace(_flag(), action="paused"))
    override = {
        "rule": "reporting_line",
        "chain": ["E3", "E2", "E1"],
        "reason": "ok",
        "by": "hr",
        "at": NOW.isoformat(),
    }
    assert evolve_all(flagged, flagged.resolve_flag("keep", "ok", "hr", NOW)) == replace(base, flag_override=override)


def test_the_write_model_notes_are_never_published() -> None:
    notes: list[PairChange] = [PairNoted("manual"), ConsentGiven("m1"), PauseCaused("leave"), FlagKept({})]
    ended = PairEnded(pair_id="p1", programme_id="g1", reason="completed")
    assert published([*notes, ended]) == [ended]
    assert evolve(None, PairNoted("manual")) is None  # a note of an unknown pair changes nothing
