"""Random histories of pairs as the services produce them, for the fold-equivalence tests.

A history is made by driving the sessions domain's `Mentorship` with random commands (a refused command
leaves no event), mixed with the pairing events a pair lives through (paused, resumed, ended; at the end
its sessions still to come are called off, as the live service does), on a clock that only moves forward.
So every history is one the system can publish, with every kind of event, in every order the rules allow.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from services.sessions.domain.commands import (
    AchieveGoal,
    CancelSession,
    Command,
    ConfirmAgreement,
    LogSession,
    RateConfidence,
    RescheduleSession,
    ScheduleSession,
    SetGoal,
    SubmitFeedback,
)
from services.sessions.domain.errors import DomainError
from services.sessions.domain.model import Mentorship, PairView, pair_ended_reason
from shared.events import Envelope
from shared.events import pairing as p

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TOPICS = ("prompt-writing", "ai-agents", "data-analysis")
#: The steps, weighted so that most histories get as far as sessions held and feedback given.
OPS = (*("confirm",) * 3, "goal", "achieve", "rate", *("schedule",) * 4, *("reschedule",) * 2, "cancel",
       *("log",) * 4, *("feedback",) * 3, "pause", *("resume",) * 2, "end")  # fmt: skip


@dataclass(frozen=True)
class History:
    """One pair's events in the order they were published, each in its envelope (type, id, time, tenant)."""

    pair_id: str
    tenant: str
    envelopes: list[Envelope[Any]]

    def topics(self) -> list[list[Envelope[Any]]]:
        """Its events as two topics hold them: the pairing events and the sessions events, each in order."""
        return [
            [e for e in self.envelopes if e.source == p.SOURCE],
            [e for e in self.envelopes if e.source != p.SOURCE],
        ]


def interleaved(rnd: random.Random, *histories: History) -> list[Envelope[Any]]:
    """The events of these histories as a consumer of the topics may read them: each topic of each history in
    order, all of them mixed."""
    streams = [list(stream) for h in histories for stream in h.topics() if stream]
    out = []
    while streams:
        stream = rnd.choice(streams)
        out.append(stream.pop(0))
        if not stream:
            streams.remove(stream)
    return out


def _command(m: Mentorship, op: str, i: int, n: int, now: datetime, mentor: str, mentee: str) -> Command | None:
    """The command of step `i` (new ids are the step's), its choices made by `n`."""
    pid = m.pair_id
    sessions = sorted(m.sessions)
    goals = sorted(m.goals)
    if op == "confirm":
        missing = [who for who, role in ((mentor, "mentor"), (mentee, "mentee")) if role not in m.agreement]
        who = missing[0] if missing and n % 5 else (mentor, mentee)[n % 2]  # now and then one confirms again
        return ConfirmAgreement(pid, who, "every two weeks", confidentiality=n % 3 == 0, learning_focus=TOPICS[n % 3])
    if op == "goal":
        return SetGoal(pid, f"goal-{i}", TOPICS[n % 3], f"Goal {n}")
    if op == "achieve" and goals:
        return AchieveGoal(pid, goals[n % len(goals)])
    if op == "rate":
        return RateConfidence(pid, mentee, ("start", "end")[n % 2], {TOPICS[n % 3]: 1 + n % 5})
    if op == "schedule":
        return ScheduleSession(pid, f"session-{i}", now + timedelta(hours=n % 97 - 48), 30 + n % 60, f"agenda {n}")
    if op in ("reschedule", "cancel", "log") and sessions:
        sid = sessions[n % len(sessions)]
        if op == "reschedule":
            return RescheduleSession(pid, sid, now + timedelta(hours=n % 73 - 24), 45)
        if op == "cancel":
            return CancelSession(pid, sid, f"reason {n}")
        return LogSession(
            pid,
            sid,
            max(m.sessions[sid].starts_at, now - timedelta(minutes=n % 30)),
            40 + n % 20,
            [TOPICS[n % 3]],
            ["Copilot"],
            [f"action {n}"] if n % 2 else [],
        )
    if op == "feedback":
        about = sessions[n % len(sessions)] if sessions and n % 3 else None
        author = (mentor, mentee)[n % 2]
        answers: dict[str, Any] = (
            {"team_productivity_gain": n % 2 == 0} if author == mentor else {"minutes_saved_per_day": n % 60}
        )
        return SubmitFeedback(
            pid,
            f"feedback-{i}",
            author,
            1 + n % 5,
            about,
            confidential_comment=f"c{n}" if n % 4 == 0 else None,
            **answers,
        )
    return None


@st.composite
def histories(draw: st.DrawFn, pair_id: str = "pair-1", tenant: str = "default") -> History:
    """One pair's history: its creation (begun before it was recorded, or not), then random steps."""
    mentor, mentee, programme = f"{pair_id}-mentor", f"{pair_id}-mentee", "programme-1"
    started_on = draw(st.one_of(st.none(), st.dates(date(2026, 1, 1), date(2026, 4, 1))))
    created = p.PairCreated(
        pair_id=pair_id, programme_id=programme, mentor_id=mentor, mentee_id=mentee, started_on=started_on
    )
    now = START
    envelopes: list[Envelope[Any]] = [Envelope.new(created, tenant=tenant, time=now)]
    m = Mentorship(PairView.from_created(created, now), focus_topics=TOPICS)
    steps = draw(
        st.lists(
            st.tuples(st.sampled_from(OPS), st.integers(0, 1000), st.integers(0, 3 * 24 * 60)), min_size=10, max_size=60
        )
    )
    for i, (op, n, minutes) in enumerate(steps):
        now += timedelta(minutes=minutes, microseconds=1000)
        pairing: p.PairPaused | p.PairResumed | p.PairEnded | None = None
        if op == "pause" and m.pair.state == "active":
            pairing = p.PairPaused(pair_id=pair_id, programme_id=programme, reason=f"leave {n}")
        elif op == "resume" and m.pair.state == "paused":
            pairing = p.PairResumed(pair_id=pair_id, programme_id=programme)
        elif op == "end" and m.pair.state != "ended":
            pairing = p.PairEnded(pair_id=pair_id, programme_id=programme, reason="completed")
        if pairing is not None:
            m.apply(pairing, now)
            envelopes.append(Envelope.new(pairing, tenant=tenant, time=now))
            if isinstance(pairing, p.PairEnded):  # the live service calls off what is still to come
                for cancelled in m.cancel_after_end(now, pair_ended_reason("completed")):
                    now += timedelta(microseconds=1000)
                    envelopes.append(Envelope.new(cancelled, tenant=tenant, time=now))
            continue
        command = _command(m, op, i, n, now, mentor, mentee)
        if command is None:
            continue
        try:
            events = m.handle(command, now=now)
        except DomainError:
            continue
        envelopes.extend(Envelope.new(e, tenant=tenant, time=now) for e in events)
    return History(pair_id, tenant, envelopes)


@st.composite
def references(draw: st.DrawFn, tenant: str = "default") -> list[Envelope[Any]]:
    """Programmes launched (again) and closed, participants enrolled, updated and withdrawn, in any order and
    under few ids, so that the same programme or participant changes more than once."""
    events: list[Any] = []
    ops = st.sampled_from(("launch", "close", "enrol", "update", "withdraw"))
    steps = draw(st.lists(st.tuples(ops, st.integers(0, 1), st.integers(0, 2), st.integers(0, 1000)), max_size=25))
    for op, g, who, n in steps:
        programme = f"programme-{g}"
        if op == "launch":
            events.append(
                p.ProgramLaunched(
                    programme_id=programme,
                    name=f"Programme {n}",
                    starts_on=date(2026, 1, 5),
                    ends_on=date(2026, 7, 1 + n % 28),
                    cadence_days=1 + n % 30,
                    focus_topics=list(TOPICS[: 1 + n % 3]),
                    min_group_size=3 + n % 7,
                )
            )
        elif op == "close":
            events.append(p.ProgramClosed(programme_id=programme))
        elif op == "withdraw":
            events.append(p.ParticipantWithdrew(participant_id=f"participant-{who}", programme_id=programme))
        else:
            kind = p.ParticipantEnrolled if op == "enrol" else p.ParticipantUpdated
            events.append(
                kind(
                    participant_id=f"participant-{who}",
                    programme_id=programme,
                    employee_id=f"e-{who}-{n % 2}",
                    role=("mentor", "mentee")[(who + g) % 2],
                    display_name=f"Person {n}",
                    email=f"person{n}@acme.example",
                    department="Sales",
                    grade=n % 30,
                    languages=["en"],
                )
            )
    start = START
    return [Envelope.new(e, tenant=tenant, time=start + timedelta(minutes=i)) for i, e in enumerate(events)]
