"""Learning records: ids, figures and when a pair's end completes a participation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from services.sessions.domain import learning
from shared.events.pairing import PairEnded


def participation(**overrides: object) -> learning.Participation:
    base: dict[str, object] = {
        "tenant": "acme",
        "participant_id": "mentee-1",
        "employee_id": "E-1",
        "programme_id": "prog-1",
        "programme_name": "KI-Tandem",
        "role": "mentee",
        "pair_starts": (datetime(2026, 2, 3, 23, 30, tzinfo=UTC), datetime(2026, 1, 12, 9, tzinfo=UTC)),
        "held_minutes": (55, 35, 45),
        "goals_set": 3,
        "goals_achieved": 2,
    }
    base.update(overrides)
    return learning.Participation(**base)  # type: ignore[arg-type]


def test_ids_are_deterministic_per_tenant_participant_and_programme() -> None:
    assert learning.record_id("t", "a", "p") == learning.record_id("t", "a", "p")
    assert learning.record_id("t", "a", "p") != learning.record_id("t", "a", "q")
    assert learning.record_id("t", "a", "p") != learning.record_id("t", "b", "p")
    assert learning.record_id("t", "a", "p") != learning.record_id("u", "a", "p")  # the same ids in another tenant
    assert learning.record_id("t", "a|b", "c") != learning.record_id("t", "a", "b|c")
    record = learning.record_id("t", "a", "p")
    assert learning.event_id(record) == learning.event_id(record) != record


@pytest.mark.parametrize(
    ("minutes", "hours"), [((), 0.0), ((45,), 0.8), ((55, 35), 1.5), ((3,), 0.1), ((2,), 0.0), ((61, 60), 2.0)]
)
def test_hours_are_rounded_to_a_tenth_half_up(minutes: tuple[int, ...], hours: float) -> None:
    assert learning.hours(minutes) == hours


def test_the_record_takes_the_figures_and_no_more() -> None:
    ended = datetime(2026, 7, 10, 23, 30, tzinfo=timezone(timedelta(hours=-2)))  # 11 July in UTC
    record = learning.learning_record(participation(), "completed", ended)
    assert record.model_dump() == {
        "record_id": learning.record_id("acme", "mentee-1", "prog-1"),
        "participant_id": "mentee-1",
        "employee_id": "E-1",
        "programme_id": "prog-1",
        "programme_name": "KI-Tandem",
        "role": "mentee",
        "outcome": "completed",
        "started_on": date(2026, 1, 12),
        "ended_on": date(2026, 7, 11),
        "sessions_held": 3,
        "hours": 2.3,
        "goals_set": 3,
        "goals_achieved": 2,
    }


def test_someone_never_paired_has_no_start_and_nothing_held() -> None:
    record = learning.learning_record(
        participation(pair_starts=(), held_minutes=(), goals_set=0, goals_achieved=0), "by_hr", datetime.now(UTC)
    )
    assert (record.started_on, record.sessions_held, record.hours, record.outcome) == (None, 0, 0.0, "by_hr")


def test_an_unknown_employee_id_is_refused_not_invented() -> None:
    with pytest.raises(ValueError, match="employee id"):
        learning.learning_record(participation(employee_id=None), "completed", datetime.now(UTC))


def test_only_a_completed_pair_with_no_other_live_pair_completes() -> None:
    done = PairEnded(pair_id="x", programme_id="p", reason="completed")
    assert learning.completes_on_pair_end(done, other_live_pairs=0)
    assert not learning.completes_on_pair_end(done, other_live_pairs=1)
    for reason in ("rematched", "withdrawn", "left_company", "by_hr"):
        assert not learning.completes_on_pair_end(PairEnded(pair_id="x", programme_id="p", reason=reason), 0)
