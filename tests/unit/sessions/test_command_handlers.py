"""The sessions command handlers (services/sessions/handlers.py) with a fake unit of work and an in-memory store:
the handler's own logic (lock, then load, decide, emit, commit; nothing committed on a refusal), without
Postgres. The pattern: tests/unit/fakes.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.sessions import handlers
from services.sessions.domain.commands import ConfirmAgreement, ScheduleSession
from services.sessions.domain.errors import Conflict
from services.sessions.domain.model import PairView
from shared.errors import NotFound
from shared.events.pairing import PairCreated, PairEnded
from shared.events.sessions import AgreementConfirmed, SessionCancelled, SessionScheduled
from tests.unit.fakes import FakeMentorships, FakeUnitOfWork

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ACME = "acme"


def pair() -> PairView:
    return PairView.from_created(PairCreated(pair_id="p1", programme_id="g1", mentor_id="mentor", mentee_id="mentee"))


def confirm(who: str) -> ConfirmAgreement:
    return ConfirmAgreement("p1", who, meeting_rhythm="every two weeks", confidentiality=True, learning_focus="Excel")


async def test_a_command_locks_its_pair_then_commits_what_the_mentorship_decides() -> None:
    store, uow = FakeMentorships(), FakeUnitOfWork(tenant=ACME)
    store.add(ACME, pair())

    events = await handlers.execute(uow, confirm("mentor"), now=T0, store=store)  # type: ignore[arg-type]

    assert store.calls == [("lock", ACME, "p1"), ("load", ACME, "p1")]
    assert [type(e) for e in events] == [AgreementConfirmed]
    assert uow.committed_payloads == events
    assert {env.tenant for env in uow.committed} == {ACME}


async def test_a_refused_command_commits_nothing() -> None:
    store, uow = FakeMentorships(), FakeUnitOfWork(tenant=ACME)
    store.add(ACME, pair())  # no agreement yet: a session cannot be scheduled
    schedule = ScheduleSession("p1", "s1", T0 + timedelta(days=2), 45)

    with pytest.raises(Conflict):
        await handlers.execute(uow, schedule, now=T0, store=store)  # type: ignore[arg-type]
    assert uow.committed == []
    assert uow.events == []


async def test_another_tenants_pair_is_not_found() -> None:
    store, uow = FakeMentorships(), FakeUnitOfWork(tenant="globex")
    store.add(ACME, pair())

    with pytest.raises(NotFound):
        await handlers.execute(uow, confirm("mentor"), now=T0, store=store)  # type: ignore[arg-type]
    assert uow.committed == []


async def test_the_end_of_a_pair_calls_off_its_sessions_to_come() -> None:
    ended = PairEnded(pair_id="p1", programme_id="g1", reason="completed")
    store, uow = FakeMentorships(), FakeUnitOfWork(tenant=ACME)
    agreement = [
        (
            AgreementConfirmed(
                pair_id="p1",
                programme_id="g1",
                participant_id=who,
                role=role,
                meeting_rhythm="weekly",
                confidentiality=True,
            ),
            T0,
        )
        for who, role in (("mentor", "mentor"), ("mentee", "mentee"))
    ]
    later = SessionScheduled(
        pair_id="p1", programme_id="g1", session_id="s1", starts_at=T0 + timedelta(days=9), duration_minutes=45
    )
    store.add(ACME, pair().apply(ended), *agreement, (later, T0))

    cancelled = await handlers.call_off_after_end(uow, ended, ended_at=T0 + timedelta(days=1), store=store)  # type: ignore[arg-type]

    assert [(type(e), e.session_id) for e in cancelled] == [(SessionCancelled, "s1")]
    assert uow.committed_payloads == cancelled
    # a pair this service never saw has nothing to call off
    assert await handlers.call_off_after_end(FakeUnitOfWork(), ended, ended_at=T0, store=FakeMentorships()) == []  # type: ignore[arg-type]
