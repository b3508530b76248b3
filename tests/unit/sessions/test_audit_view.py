"""The audit's view of a pair: the pairing service's state machine and the sessions service's fold, each
from its own domain; as of a time, an event counts from when it happened (a pair from the day it began)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from services.pairing import audit as _pairing_audit  # noqa: F401  (both views, as `tandem audit` has them)
from services.sessions import audit as _sessions_audit  # noqa: F401
from shared import audit as a
from shared.events import Envelope
from shared.events import pairing as p
from shared.events import sessions as s

SEEDED = datetime(2026, 11, 25, 19, 0, tzinfo=UTC)  # the demo seeds everything today ...
OCTOBER = date(2026, 10, 5)  # ... for pairs that began in October


def _log(*envs: Envelope[object]) -> list[a.Logged]:
    return [a.Logged(e, "topic", 0, i) for i, e in enumerate(envs)]


def _seeded() -> list[a.Logged]:
    created = p.PairCreated(pair_id="x", programme_id="g", mentor_id="m", mentee_id="e", started_on=OCTOBER)
    held = datetime(2026, 10, 20, 10, 0, tzinfo=UTC)
    return _log(
        Envelope.new(
            p.ProgramLaunched(
                programme_id="g",
                name="Pilot",
                starts_on=date(2026, 9, 28),
                ends_on=date(2027, 3, 28),
                cadence_days=14,
                focus_topics=["ai-agents"],
            ),
            time=SEEDED,
        ),
        Envelope.new(created, time=SEEDED + timedelta(seconds=1)),
        Envelope.new(
            s.AgreementConfirmed(
                pair_id="x",
                programme_id="g",
                participant_id="m",
                role="mentor",
                meeting_rhythm="every two weeks",
                confidentiality=True,
            ),
            time=SEEDED + timedelta(seconds=2),
        ),
        Envelope.new(
            s.SessionScheduled(pair_id="x", programme_id="g", session_id="s1", starts_at=held, duration_minutes=45),
            time=SEEDED + timedelta(seconds=3),
        ),
        Envelope.new(
            s.SessionLogged(pair_id="x", programme_id="g", session_id="s1", held_at=held, minutes=40),
            time=SEEDED + timedelta(seconds=4),
        ),
    )


def test_a_pair_that_began_in_october_is_known_as_of_november_though_recorded_later() -> None:
    log = _seeded()
    november = datetime(2026, 11, 2, tzinfo=UTC)
    state = a.state_as_of(log, "x", november, a.registered())
    assert (state["kind"], state["state"]) == ("pair", "active")
    assert state["created_at"] == "2026-10-05T09:00:00+00:00"  # when it began, not when it was recorded
    assert state["sessions"] == {"s1": {"starts_at": "2026-10-20T10:00:00+00:00", "status": "held", "minutes": 40}}
    assert state["sessions_held"] == 1
    assert state["agreement"] == []  # confirmed when recorded: after November 2nd
    assert a.state_as_of(log, "x", datetime(2026, 10, 1, tzinfo=UTC), a.registered())["kind"] == "unknown"
    assert a.state_as_of(log, "x", None, a.registered())["agreement"] == ["mentor"]


def test_the_pair_view_merges_pairing_and_sessions_and_an_ended_pair_stays_ended() -> None:
    t = [datetime(2026, 1, d, tzinfo=UTC) for d in range(1, 6)]
    log = _log(
        Envelope.new(p.PairCreated(pair_id="x", programme_id="g", mentor_id="m", mentee_id="e", score=0.8), time=t[0]),
        Envelope.new(p.PairExtended(pair_id="x", programme_id="g", until=date(2026, 9, 1)), time=t[1]),
        Envelope.new(p.PairEnded(pair_id="x", programme_id="g", reason="completed"), time=t[2]),
        Envelope.new(p.PairPaused(pair_id="x", programme_id="g"), time=t[3]),  # never produced: changes nothing
    )
    state = a.state_as_of(log, "x", None, a.registered())
    assert state["state"] == "ended"
    assert (state["end_reason"], state["ended_at"], state["extended_until"]) == (
        "completed",
        t[2].isoformat(),
        "2026-09-01",
    )
    assert (state["score"], state["sessions"], state["goals"], state["feedback"]) == (0.8, {}, {}, 0)
    programme = a.state_as_of(log, "g", None, a.registered())
    assert programme["kind"] == "unknown"  # no ProgramLaunched in this log
