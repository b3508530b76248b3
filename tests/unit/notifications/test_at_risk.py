"""Notifications counts a pair at risk (nudged, in HR's digest) exactly when the sessions service does (its
outcome figures): the same quiet clock, from the same events, with no import between the two services."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from services.notifications.domain.model import PairActivity
from services.sessions.domain.outcomes import HeldSession, PairFact, ProgrammeFacts, active_intervals, compute_outcomes
from shared.events import pairing as p

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
CADENCE = 14


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def created(started_on: date | None = None) -> p.PairCreated:
    return p.PairCreated(pair_id="p1", programme_id="g", mentor_id="m1", mentee_id="e1", started_on=started_on)


def test_a_pair_began_when_it_says_it_started_if_that_is_earlier_than_its_recording() -> None:
    recorded = ago(0)
    assert created().began(recorded) == recorded
    assert created(date(2026, 1, 12)).began(recorded) == datetime(2026, 1, 12, 9, 0, tzinfo=UTC)
    assert created(date(2026, 4, 1)).began(recorded) == recorded  # a start in the future: when it was recorded


# (recorded, started_on, pause/resume changes in days ago, sessions held in days ago)
CASES = {
    "recorded today, began 7 weeks ago, one session 46 days ago (the demo)": (0, ago(49).date(), [], [46]),
    "recorded today, began 7 weeks ago, sessions until 5 days ago": (0, ago(49).date(), [], [46, 32, 18, 5]),
    "recorded 20 days ago, never met": (20, None, [], []),
    "recorded 40 days ago, never met": (40, None, [], []),
    "recorded 40 days ago, met 29 days ago": (40, None, [], [29]),
    "recorded 40 days ago, met 27 days ago": (40, None, [], [27]),
    "paused 60 days ago, resumed 10 days ago": (90, None, [("paused", 60), ("resumed", 10)], [70]),
    "paused 60 days ago, resumed 35 days ago": (90, None, [("paused", 60), ("resumed", 35)], [70]),
    "a session logged for later does not count yet": (60, None, [], [-1]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_at_risk_and_days_quiet_are_the_sessions_services(case: str) -> None:
    recorded_days, started_on, changes, held = CASES[case]
    event = created(started_on)
    began = event.began(ago(recorded_days))
    events = [
        (
            ago(d),
            p.PairPaused(pair_id="p1", programme_id="g")
            if kind == "paused"
            else p.PairResumed(pair_id="p1", programme_id="g"),
        )
        for kind, d in changes
    ]
    sessions = [HeldSession(f"s{i}", "p1", "g", ago(d), 45) for i, d in enumerate(held)]
    facts = ProgrammeFacts("g", CADENCE, pairs=[PairFact.from_events(event, began, events)], sessions=sessions)
    theirs = {a.pair_id: a for a in compute_outcomes(facts, now=NOW).at_risk}

    # as the notifications projection folds the same events: active since it began, or its last resumption
    current = active_intervals(began, events)[-1]
    assert current.end is None
    past = [s.held_at for s in sessions if s.held_at <= NOW]
    ours = PairActivity("p1", "g", "m1", "e1", current.start, max(past, default=None))

    assert ours.at_risk(NOW, CADENCE) == ("p1" in theirs)
    assert (ours.nudge_trigger(NOW, CADENCE) is not None) == ("p1" in theirs)
    if "p1" in theirs:
        assert ours.quiet_since == theirs["p1"].quiet_since
        assert ours.days_quiet(NOW) == theirs["p1"].days_without_session
