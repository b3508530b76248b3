"""The Mentorship aggregate: every rule and every error of the sessions domain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.sessions.domain import errors
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
from services.sessions.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from services.sessions.domain.model import Mentorship, PairView, pair_ended_reason
from shared.events.pairing import PairCreated, PairEnded, PairPaused, PairResumed
from shared.events.sessions import (
    AgreementConfirmed,
    FeedbackSubmitted,
    SessionCancelled,
    SessionLogged,
    SessionRescheduled,
    SessionScheduled,
)

P, G, MENTOR, MENTEE, OUTSIDER = "p1", "g1", "mentor-1", "mentee-1", "someone-else"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
FOCUS = ("prompt-writing", "data-analysis", "ai-agents")


def pair(state: str = "active") -> PairView:
    view = PairView.from_created(PairCreated(pair_id=P, programme_id=G, mentor_id=MENTOR, mentee_id=MENTEE))
    if state == "paused":
        view = view.apply(PairPaused(pair_id=P, programme_id=G))
    if state == "ended":
        view = view.apply(PairEnded(pair_id=P, programme_id=G, reason="completed"))
    return view


def confirm(who: str, rhythm: str = "every two weeks, 45 minutes") -> ConfirmAgreement:
    return ConfirmAgreement(P, who, meeting_rhythm=rhythm, confidentiality=True, learning_focus="Copilot in Excel")


def agreed(focus: tuple[str, ...] | None = FOCUS) -> Mentorship:
    m = Mentorship(pair(), focus_topics=focus)
    m.confirm_agreement(confirm(MENTOR))
    m.confirm_agreement(confirm(MENTEE))
    return m


def scheduled(session_id: str = "s1", starts_at: datetime = T0) -> Mentorship:
    m = agreed()
    m.schedule_session(ScheduleSession(P, session_id, starts_at, 60, agenda="Prompting basics"))
    return m


def logged(session_id: str = "s1") -> Mentorship:
    m = scheduled(session_id)
    m.log_session(LogSession(P, session_id, T0 + timedelta(minutes=5), 55), now=T0 + timedelta(hours=2))
    return m


def end_pair(m: Mentorship, state: str) -> None:
    if state == "paused":
        m.apply(PairPaused(pair_id=P, programme_id=G))
    else:
        m.apply(PairEnded(pair_id=P, programme_id=G, reason="completed"))


def fails(kind: type[DomainError], call: Any, *, field: str | None = None, code: str | None = None) -> DomainError:
    with pytest.raises(kind) as err:
        call()
    if field is not None:
        assert err.value.field == field, err.value.message
    if code is not None:
        assert err.value.code == code, err.value.message
    assert err.value.message
    return err.value


# -- the pair ---------------------------------------------------------------------------------------


def test_pair_view_follows_pairing_events_and_ended_is_final() -> None:
    view = pair()
    assert (view.pair_id, view.programme_id, view.mentor_id, view.mentee_id, view.state) == (
        P,
        G,
        MENTOR,
        MENTEE,
        "active",
    )
    paused = view.apply(PairPaused(pair_id=P, programme_id=G, reason="leave"))
    assert paused.state == "paused"
    assert not paused.is_active
    assert paused.apply(PairResumed(pair_id=P, programme_id=G)).state == "active"
    ended = paused.apply(PairEnded(pair_id=P, programme_id=G, reason="by_hr"))
    assert ended.state == "ended"
    assert ended.apply(PairResumed(pair_id=P, programme_id=G)).state == "ended"
    assert (view.role_of(MENTOR), view.role_of(MENTEE), view.role_of(OUTSIDER)) == ("mentor", "mentee", None)
    fails(InvalidInput, lambda: view.apply(PairPaused(pair_id="other", programme_id=G)), field="pair_id")


def test_a_command_for_another_pair_is_refused() -> None:
    m = agreed()
    fails(InvalidInput, lambda: m.set_goal(SetGoal("p2", "g", "prompt-writing", "x")), code=errors.PAIR_MISMATCH)


# -- agreement --------------------------------------------------------------------------------------


def test_each_side_confirms_the_agreement_with_its_role_taken_from_the_pair() -> None:
    m = Mentorship(pair())
    first = m.confirm_agreement(confirm(MENTOR, "  weekly, 30 minutes "))
    assert isinstance(first, AgreementConfirmed)
    assert (first.pair_id, first.programme_id, first.participant_id, first.role) == (P, G, MENTOR, "mentor")
    assert (first.meeting_rhythm, first.confidentiality, first.learning_focus) == (
        "weekly, 30 minutes",
        True,
        "Copilot in Excel",
    )
    assert not m.agreement_complete
    second = m.confirm_agreement(confirm(MENTEE))
    assert second.role == "mentee"
    assert m.agreement_complete
    assert m.events == [first, second]


def test_agreement_errors() -> None:
    m = Mentorship(pair())
    fails(
        InvalidInput, lambda: m.confirm_agreement(confirm(OUTSIDER)), field="participant_id", code="not_a_participant"
    )
    fails(InvalidInput, lambda: m.confirm_agreement(confirm(MENTOR, "   ")), field="meeting_rhythm")
    fails(InvalidInput, lambda: m.confirm_agreement(confirm(MENTOR, "x" * 201)), field="meeting_rhythm")
    m.confirm_agreement(confirm(MENTOR))
    err = fails(Conflict, lambda: m.confirm_agreement(confirm(MENTOR)), code=errors.AGREEMENT_ALREADY_CONFIRMED)
    assert "already confirmed" in err.message
    for state in ("paused", "ended"):
        other = Mentorship(pair(state))
        err = fails(Conflict, lambda o=other: o.confirm_agreement(confirm(MENTEE)), code=errors.PAIR_NOT_ACTIVE)
        assert state in err.message


def test_no_session_is_scheduled_before_both_sides_confirmed() -> None:
    m = Mentorship(pair())
    err = fails(Conflict, lambda: m.schedule_session(ScheduleSession(P, "s1", T0, 60)), code="agreement_incomplete")
    assert "mentor and mentee" in err.message
    m.confirm_agreement(confirm(MENTOR))
    err = fails(Conflict, lambda: m.schedule_session(ScheduleSession(P, "s1", T0, 60)), code="agreement_incomplete")
    assert "missing: mentee" in err.message
    m.confirm_agreement(confirm(MENTEE))
    assert m.schedule_session(ScheduleSession(P, "s1", T0, 60)).session_id == "s1"


# -- goals ------------------------------------------------------------------------------------------


def test_goals_are_set_and_achieved_once() -> None:
    m = agreed()
    goal = m.set_goal(SetGoal(P, "goal-1", "prompt-writing", " Write a board memo with an assistant "))
    assert (goal.goal_id, goal.topic, goal.description) == (
        "goal-1",
        "prompt-writing",
        "Write a board memo with an assistant",
    )
    achieved = m.achieve_goal(AchieveGoal(P, "goal-1"))
    assert (achieved.pair_id, achieved.goal_id) == (P, "goal-1")
    assert m.goals["goal-1"].achieved
    err = fails(
        Conflict, lambda: m.achieve_goal(AchieveGoal(P, "goal-1")), field="goal_id", code="goal_already_achieved"
    )
    assert "goal-1" in err.message
    fails(NotFound, lambda: m.achieve_goal(AchieveGoal(P, "nope")), field="goal_id", code=errors.UNKNOWN_GOAL)


def test_goal_errors() -> None:
    m = agreed()
    fails(InvalidInput, lambda: m.set_goal(SetGoal(P, "g", "Prompt Writing", "x")), field="topic")
    fails(InvalidInput, lambda: m.set_goal(SetGoal(P, "g", "prompt-writing", "  ")), field="description")
    fails(InvalidInput, lambda: m.set_goal(SetGoal(P, "g", "prompt-writing", "x" * 2001)), field="description")
    m.set_goal(SetGoal(P, "g", "prompt-writing", "x"))
    fails(Conflict, lambda: m.set_goal(SetGoal(P, "g", "ai-agents", "y")), field="goal_id", code=errors.DUPLICATE_ID)
    end_pair(m, "paused")
    fails(Conflict, lambda: m.set_goal(SetGoal(P, "g2", "ai-agents", "y")), code=errors.PAIR_NOT_ACTIVE)


def test_a_goal_may_be_ticked_off_after_the_pair_ended() -> None:
    m = agreed()
    m.set_goal(SetGoal(P, "g", "prompt-writing", "x"))
    end_pair(m, "ended")
    assert m.achieve_goal(AchieveGoal(P, "g")).goal_id == "g"


# -- confidence -------------------------------------------------------------------------------------


def test_the_mentee_rates_confidence_once_per_phase() -> None:
    m = agreed()
    start = m.rate_confidence(RateConfidence(P, MENTEE, "start", {"prompt-writing": 2, "data-analysis": 1}))
    assert (start.participant_id, start.phase, start.ratings) == (
        MENTEE,
        "start",
        {"prompt-writing": 2, "data-analysis": 1},
    )
    fails(
        Conflict,
        lambda: m.rate_confidence(RateConfidence(P, MENTEE, "start", {"prompt-writing": 3})),
        field="phase",
        code=errors.CONFIDENCE_ALREADY_RATED,
    )
    end = m.rate_confidence(RateConfidence(P, MENTEE, "end", {"prompt-writing": 5, "data-analysis": 4}))
    assert end.phase == "end"
    fails(Conflict, lambda: m.rate_confidence(RateConfidence(P, MENTEE, "end", {"prompt-writing": 5})))


def test_confidence_errors() -> None:
    m = agreed()

    def rate(ratings: dict[str, int], who: str = MENTEE) -> Any:
        return lambda: m.rate_confidence(RateConfidence(P, who, "start", ratings))

    err = fails(InvalidInput, rate({"prompt-writing": 3}, MENTOR), field="participant_id", code=errors.MENTEE_ONLY)
    assert "only the mentee" in err.message
    fails(InvalidInput, rate({"prompt-writing": 3}, OUTSIDER), field="participant_id", code=errors.NOT_A_PARTICIPANT)
    fails(InvalidInput, rate({}), field="ratings")
    fails(InvalidInput, rate({"prompt-writing": 0}), field="ratings.prompt-writing")
    fails(InvalidInput, rate({"prompt-writing": 6}), field="ratings.prompt-writing")
    err = fails(InvalidInput, rate({"prompt-writing": 3, "robotics": 3}), field="ratings.robotics")
    assert "not a focus topic" in err.message
    fails(InvalidInput, rate({"Not A Slug": 3}), field="ratings.Not A Slug")
    assert m.confidence == {}


def test_any_topic_slug_is_rated_when_the_focus_topics_are_unknown() -> None:
    m = agreed(focus=None)
    assert (
        m.rate_confidence(RateConfidence(P, MENTEE, "start", {"robotics": 1, "ai-agents": 5})).ratings["robotics"] == 1
    )


def test_start_rating_needs_an_active_pair_end_rating_does_not() -> None:
    m = agreed()
    end_pair(m, "ended")
    fails(
        Conflict,
        lambda: m.rate_confidence(RateConfidence(P, MENTEE, "start", {"ai-agents": 2})),
        code="pair_not_active",
    )
    assert m.rate_confidence(RateConfidence(P, MENTEE, "end", {"ai-agents": 4})).phase == "end"


# -- sessions ---------------------------------------------------------------------------------------


def test_schedule_a_session() -> None:
    m = agreed()
    berlin = timezone(timedelta(hours=1))
    event = m.schedule_session(ScheduleSession(P, "s1", datetime(2026, 3, 2, 10, 0, tzinfo=berlin), 45, " Agenda "))
    assert isinstance(event, SessionScheduled)
    assert (event.session_id, event.duration_minutes, event.agenda, event.sequence) == ("s1", 45, "Agenda", 0)
    assert event.starts_at == T0
    assert event.starts_at.utcoffset() == timedelta(0)
    session = m.sessions["s1"]
    assert (session.status, session.sequence, session.ends_at) == ("scheduled", 0, T0 + timedelta(minutes=45))


@pytest.mark.parametrize("minutes", [5, 480])
def test_duration_bounds_are_inclusive(minutes: int) -> None:
    assert agreed().schedule_session(ScheduleSession(P, "s1", T0, minutes)).duration_minutes == minutes


def test_schedule_errors() -> None:
    m = agreed()
    fails(
        InvalidInput,
        lambda: m.schedule_session(ScheduleSession(P, "s", T0.replace(tzinfo=None), 60)),
        field="starts_at",
    )
    for bad in (4, 481, 0):
        fails(InvalidInput, lambda b=bad: m.schedule_session(ScheduleSession(P, "s", T0, b)), field="duration_minutes")
    fails(InvalidInput, lambda: m.schedule_session(ScheduleSession(P, "s", T0, 60, "x" * 2001)), field="agenda")
    m.schedule_session(ScheduleSession(P, "s", T0, 60))
    fails(
        Conflict, lambda: m.schedule_session(ScheduleSession(P, "s", T0, 60)), field="session_id", code="duplicate_id"
    )
    for state in ("paused", "ended"):
        other = agreed()
        end_pair(other, state)
        fails(
            Conflict, lambda o=other: o.schedule_session(ScheduleSession(P, "s", T0, 60)), code=errors.PAIR_NOT_ACTIVE
        )


def test_reschedule_increments_the_sequence_and_keeps_the_agenda() -> None:
    m = scheduled()
    first = m.reschedule_session(RescheduleSession(P, "s1", T0 + timedelta(days=1), 30))
    assert isinstance(first, SessionRescheduled)
    assert (first.sequence, first.starts_at, first.duration_minutes) == (1, T0 + timedelta(days=1), 30)
    second = m.reschedule_session(RescheduleSession(P, "s1", T0 + timedelta(days=2), 30))
    assert second.sequence == 2
    assert (m.sessions["s1"].agenda, m.sessions["s1"].sequence, m.sessions["s1"].status) == (
        "Prompting basics",
        2,
        "scheduled",
    )


def test_reschedule_errors() -> None:
    m = scheduled()
    fails(
        NotFound,
        lambda: m.reschedule_session(RescheduleSession(P, "nope", T0, 30)),
        field="session_id",
        code="unknown_session",
    )
    fails(InvalidInput, lambda: m.reschedule_session(RescheduleSession(P, "s1", T0, 500)), field="duration_minutes")
    fails(
        InvalidInput,
        lambda: m.reschedule_session(RescheduleSession(P, "s1", T0.replace(tzinfo=None), 30)),
        field="starts_at",
    )
    cancelled = scheduled()
    cancelled.cancel_session(CancelSession(P, "s1"))
    err = fails(
        Conflict, lambda: cancelled.reschedule_session(RescheduleSession(P, "s1", T0, 30)), code="session_cancelled"
    )
    assert "cancelled" in err.message
    held = logged()
    fails(
        Conflict,
        lambda: held.reschedule_session(RescheduleSession(P, "s1", T0, 30)),
        code=errors.SESSION_ALREADY_LOGGED,
    )
    paused = scheduled()
    end_pair(paused, "paused")
    fails(Conflict, lambda: paused.reschedule_session(RescheduleSession(P, "s1", T0, 30)), code=errors.PAIR_NOT_ACTIVE)


def test_cancel_increments_the_sequence_even_when_the_pair_is_paused() -> None:
    m = scheduled()
    m.reschedule_session(RescheduleSession(P, "s1", T0 + timedelta(days=1), 60))
    end_pair(m, "paused")
    event = m.cancel_session(CancelSession(P, "s1", " travel "))
    assert isinstance(event, SessionCancelled)
    assert (event.sequence, event.reason) == (2, "travel")
    assert (m.sessions["s1"].status, m.sessions["s1"].cancel_reason) == ("cancelled", "travel")


def test_cancel_errors() -> None:
    m = scheduled()
    fails(NotFound, lambda: m.cancel_session(CancelSession(P, "nope")), field="session_id")
    m.cancel_session(CancelSession(P, "s1"))
    fails(Conflict, lambda: m.cancel_session(CancelSession(P, "s1")), code=errors.SESSION_CANCELLED)
    held = logged()
    fails(Conflict, lambda: held.cancel_session(CancelSession(P, "s1")), code=errors.SESSION_ALREADY_LOGGED)


def test_the_end_of_a_pair_cancels_its_sessions_still_to_come_once() -> None:
    m = agreed()
    ended_at = T0 + timedelta(days=1)
    for sid, start in (
        ("past", T0),
        ("held", T0 + timedelta(hours=2)),
        ("later", ended_at + timedelta(days=7)),
        ("soon", ended_at + timedelta(hours=1)),
        ("called-off", ended_at + timedelta(days=2)),
        ("at-the-end", ended_at),
    ):
        m.schedule_session(ScheduleSession(P, sid, start, 60))
    m.reschedule_session(RescheduleSession(P, "later", ended_at + timedelta(days=8), 60))
    m.log_session(LogSession(P, "held", T0 + timedelta(hours=2), 60), now=T0 + timedelta(hours=4))
    m.cancel_session(CancelSession(P, "called-off", "travel"))
    fails(Conflict, lambda: m.cancel_after_end(ended_at, "too early"), code=errors.PAIR_NOT_ENDED)
    m.apply(PairEnded(pair_id=P, programme_id=G, reason="left_company", note="Lena Yilmaz left the company"))
    reason = pair_ended_reason("left_company", "Lena Yilmaz left the company")
    assert reason == "the pair ended: Lena Yilmaz left the company"
    events = m.cancel_after_end(ended_at, reason)
    assert [(e.session_id, e.sequence, e.reason) for e in events] == [("soon", 1, reason), ("later", 2, reason)]
    assert [e.session_id for e in m.events[-2:]] == ["soon", "later"]
    statuses = {sid: s.status for sid, s in m.sessions.items()}
    assert statuses == {
        "past": "scheduled",
        "held": "held",
        "later": "cancelled",
        "soon": "cancelled",
        "called-off": "cancelled",
        "at-the-end": "scheduled",
    }
    assert m.sessions["called-off"].cancel_reason == "travel"
    assert m.cancel_after_end(ended_at, reason) == []  # asked again: nothing new
    rebuilt = Mentorship.from_history(m.pair, m.events)
    assert rebuilt.cancel_after_end(ended_at, reason) == []  # nor after a reload from the events
    fails(InvalidInput, lambda: m.cancel_after_end(datetime(2026, 3, 3), reason), field="ended_at")


def test_the_cancel_reason_says_why_the_pair_ended() -> None:
    assert pair_ended_reason("completed") == "the pair ended: it completed the programme"
    assert pair_ended_reason("by_hr", "  ") == "the pair ended: HR ended it"
    assert pair_ended_reason("withdrawn", "Ana withdrew from the programme") == (
        "the pair ended: Ana withdrew from the programme"
    )


def test_log_a_held_session() -> None:
    m = scheduled()
    event = m.log_session(
        LogSession(
            P,
            "s1",
            held_at=T0,
            minutes=50,
            topics=["prompt-writing", "office-copilots", "prompt-writing"],
            tools=[" ChatGPT ", "Copilot", ""],
            action_items=["Draft the Q2 memo with Copilot", " "],
        ),
        now=T0,  # exactly at the start is allowed
    )
    assert isinstance(event, SessionLogged)
    assert (event.held_at, event.minutes) == (T0, 50)
    assert event.topics == ["prompt-writing", "office-copilots"]
    assert event.tools == ["ChatGPT", "Copilot"]
    assert event.action_items == ["Draft the Q2 memo with Copilot"]
    session = m.sessions["s1"]
    assert (session.status, session.held_at, session.minutes, session.topics) == (
        "held",
        T0,
        50,
        ("prompt-writing", "office-copilots"),
    )


def test_log_errors() -> None:
    m = scheduled()
    later = T0 + timedelta(hours=3)

    def log(held_at: datetime = T0, minutes: int = 60, now: datetime = later, **kw: Any) -> Any:
        return lambda: m.log_session(LogSession(P, kw.pop("session_id", "s1"), held_at, minutes, **kw), now=now)

    err = fails(Conflict, log(now=T0 - timedelta(minutes=1)), field="session_id", code=errors.SESSION_NOT_STARTED)
    assert "before it started" in err.message
    err = fails(InvalidInput, log(held_at=T0 - timedelta(minutes=1)), field="held_at")
    assert "before session s1 started" in err.message
    fails(InvalidInput, log(held_at=later + timedelta(minutes=1)), field="held_at")
    fails(InvalidInput, log(held_at=T0.replace(tzinfo=None)), field="held_at")
    fails(InvalidInput, log(now=later.replace(tzinfo=None)), field="now")
    fails(InvalidInput, log(minutes=0), field="minutes")
    fails(InvalidInput, log(minutes=601), field="minutes")
    fails(InvalidInput, log(topics=["prompt-writing", "AI!"]), field="topics.1")
    fails(NotFound, log(session_id="nope"), code=errors.UNKNOWN_SESSION)
    assert m.sessions["s1"].status == "scheduled"
    log()()
    err = fails(Conflict, log(), code=errors.SESSION_ALREADY_LOGGED)
    assert "already logged" in err.message
    cancelled = scheduled()
    cancelled.cancel_session(CancelSession(P, "s1"))
    fails(
        Conflict, lambda: cancelled.log_session(LogSession(P, "s1", T0, 60), now=later), code=errors.SESSION_CANCELLED
    )
    for state in ("paused", "ended"):
        other = scheduled()
        end_pair(other, state)
        fails(Conflict, lambda o=other: o.log_session(LogSession(P, "s1", T0, 60), now=later), code="pair_not_active")


# -- feedback ---------------------------------------------------------------------------------------


def mentee_feedback(fid: str = "f1", session_id: str | None = "s1", **kw: Any) -> SubmitFeedback:
    return SubmitFeedback(P, fid, MENTEE, kw.pop("rating", 5), session_id, **kw)


def mentor_feedback(fid: str = "f2", session_id: str | None = "s1", **kw: Any) -> SubmitFeedback:
    return SubmitFeedback(P, fid, MENTOR, kw.pop("rating", 4), session_id, **kw)


def test_each_side_answers_its_own_questions() -> None:
    m = logged()
    mentee = m.submit_feedback(
        mentee_feedback(
            productivity_gain=True,
            minutes_saved_per_day=45,
            new_business_opportunity=True,
            opportunity_text=" AI triage for claims ",
            confidential_comment="  ",
        )
    )
    assert isinstance(mentee, FeedbackSubmitted)
    assert (mentee.author_role, mentee.rating, mentee.productivity_gain, mentee.minutes_saved_per_day) == (
        "mentee",
        5,
        True,
        45,
    )
    assert (mentee.new_business_opportunity, mentee.opportunity_text, mentee.confidential_comment) == (
        True,
        "AI triage for claims",
        None,
    )
    mentor = m.submit_feedback(mentor_feedback(team_productivity_gain=True, career_benefit=False))
    assert (mentor.author_role, mentor.team_productivity_gain, mentor.career_benefit) == ("mentor", True, False)
    assert mentor.session_id == "s1"


@pytest.mark.parametrize(
    "question", [("productivity_gain", True), ("minutes_saved_per_day", 10), ("new_business_opportunity", False)]
)
def test_a_mentor_asked_a_mentee_question_is_refused_naming_the_field(question: tuple[str, Any]) -> None:
    name, value = question
    err = fails(
        InvalidInput,
        lambda: logged().submit_feedback(mentor_feedback(**{name: value})),
        field=name,
        code=errors.QUESTION_FOR_OTHER_ROLE,
    )
    assert name in err.message
    assert "mentees" in err.message


@pytest.mark.parametrize("name", ["team_productivity_gain", "career_benefit"])
def test_a_mentee_asked_a_mentor_question_is_refused_naming_the_field(name: str) -> None:
    answer: dict[str, Any] = {name: True}
    err = fails(InvalidInput, lambda: logged().submit_feedback(mentee_feedback(**answer)), field=name)
    assert name in err.message
    assert "mentors" in err.message


def test_feedback_input_errors() -> None:
    m = logged()
    fails(InvalidInput, lambda: m.submit_feedback(mentee_feedback(rating=0)), field="rating")
    fails(InvalidInput, lambda: m.submit_feedback(mentee_feedback(rating=6)), field="rating")
    fails(
        InvalidInput,
        lambda: m.submit_feedback(mentee_feedback(minutes_saved_per_day=481)),
        field="minutes_saved_per_day",
    )
    fails(
        InvalidInput,
        lambda: m.submit_feedback(mentee_feedback(minutes_saved_per_day=-1)),
        field="minutes_saved_per_day",
    )
    err = fails(
        InvalidInput,
        lambda: m.submit_feedback(mentee_feedback(new_business_opportunity=True)),
        field="opportunity_text",
    )
    assert "describe" in err.message
    fails(
        InvalidInput,
        lambda: m.submit_feedback(mentee_feedback(new_business_opportunity=True, opportunity_text="  ")),
        field="opportunity_text",
    )
    fails(
        InvalidInput,
        lambda: m.submit_feedback(mentee_feedback(new_business_opportunity=False, opportunity_text="x")),
        field="opportunity_text",
    )
    fails(
        InvalidInput,
        lambda: m.submit_feedback(SubmitFeedback(P, "f9", OUTSIDER, 3, "s1")),
        field="author_id",
        code=errors.NOT_A_PARTICIPANT,
    )
    assert m.submit_feedback(mentee_feedback(minutes_saved_per_day=0)).minutes_saved_per_day == 0
    assert m.submit_feedback(mentor_feedback(rating=1)).rating == 1


def test_feedback_only_on_a_logged_session() -> None:
    m = scheduled()
    err = fails(
        Conflict, lambda: m.submit_feedback(mentee_feedback()), field="session_id", code=errors.SESSION_NOT_LOGGED
    )
    assert "scheduled" in err.message
    fails(NotFound, lambda: m.submit_feedback(mentee_feedback(session_id="nope")), field="session_id")
    m.cancel_session(CancelSession(P, "s1"))
    fails(Conflict, lambda: m.submit_feedback(mentee_feedback()), code=errors.SESSION_NOT_LOGGED)


def test_one_feedback_per_author_per_session_and_per_programme_end() -> None:
    m = logged()
    m.schedule_session(ScheduleSession(P, "s2", T0 + timedelta(days=14), 60))
    m.log_session(LogSession(P, "s2", T0 + timedelta(days=14), 60), now=T0 + timedelta(days=15))
    m.submit_feedback(mentee_feedback("f1", "s1"))
    m.submit_feedback(mentor_feedback("f2", "s1"))
    m.submit_feedback(mentee_feedback("f3", "s2"))
    err = fails(Conflict, lambda: m.submit_feedback(mentee_feedback("f4", "s1")), code=errors.FEEDBACK_ALREADY_GIVEN)
    assert "already gave feedback on session s1" in err.message
    fails(
        Conflict, lambda: m.submit_feedback(mentee_feedback("f1", "s2")), field="feedback_id", code=errors.DUPLICATE_ID
    )
    end_pair(m, "ended")  # programme-end feedback after the pair completed
    m.submit_feedback(mentee_feedback("f5", None))
    m.submit_feedback(mentor_feedback("f6", None))
    err = fails(Conflict, lambda: m.submit_feedback(mentee_feedback("f7", None)), code=errors.FEEDBACK_ALREADY_GIVEN)
    assert "on the programme" in err.message
    assert sorted(m.feedback) == ["f1", "f2", "f3", "f5", "f6"]


# -- handle, events, history ------------------------------------------------------------------------


def test_handle_dispatches_every_command_and_history_rebuilds_the_state() -> None:
    m = Mentorship(pair(), focus_topics=FOCUS)
    later = T0 + timedelta(hours=2)
    commands: list[Command] = [
        confirm(MENTOR),
        confirm(MENTEE),
        SetGoal(P, "goal", "ai-agents", "Automate the weekly report"),
        RateConfidence(P, MENTEE, "start", {"ai-agents": 1}),
        ScheduleSession(P, "s1", T0, 60, "Agents 101"),
        ScheduleSession(P, "s2", T0 + timedelta(days=7), 60),
        RescheduleSession(P, "s2", T0 + timedelta(days=8), 45),
        CancelSession(P, "s2", "sick"),
        LogSession(P, "s1", T0, 60, ["ai-agents"]),
        SubmitFeedback(P, "f1", MENTEE, 5, "s1", productivity_gain=True),
        AchieveGoal(P, "goal"),
        RateConfidence(P, MENTEE, "end", {"ai-agents": 4}),
    ]
    produced = [event for command in commands for event in m.handle(command, now=later)]
    assert [type(e).__name__ for e in produced] == [
        "AgreementConfirmed",
        "AgreementConfirmed",
        "GoalSet",
        "ConfidenceRated",
        "SessionScheduled",
        "SessionScheduled",
        "SessionRescheduled",
        "SessionCancelled",
        "SessionLogged",
        "FeedbackSubmitted",
        "GoalAchieved",
        "ConfidenceRated",
    ]
    assert m.events == produced
    assert all(e.pair_id == P and e.programme_id == G and e.partition_key() == P for e in produced)
    rebuilt = Mentorship.from_history(pair(), produced, focus_topics=FOCUS)
    assert rebuilt.events == []
    assert (rebuilt.agreement, rebuilt.goals, rebuilt.confidence, rebuilt.sessions, rebuilt.feedback) == (
        m.agreement,
        m.goals,
        m.confidence,
        m.sessions,
        m.feedback,
    )
    paused = Mentorship.from_history(pair(), [*produced, PairPaused(pair_id=P, programme_id=G)])
    assert paused.pair.state == "paused"


_ops = st.lists(
    st.tuples(st.sampled_from(["reschedule", "cancel", "log"]), st.integers(min_value=-120, max_value=600)), max_size=8
)


@settings(max_examples=200, deadline=None)
@given(_ops)
def test_a_session_only_moves_forward_and_its_sequence_only_grows(ops: list[tuple[str, int]]) -> None:
    m = scheduled()
    sequences = [0]
    for op, offset in ops:
        before = m.sessions["s1"]
        moment = T0 + timedelta(minutes=offset)
        try:
            if op == "reschedule":
                m.reschedule_session(RescheduleSession(P, "s1", moment, 60))
            elif op == "cancel":
                m.cancel_session(CancelSession(P, "s1"))
            else:
                m.log_session(LogSession(P, "s1", moment, 60), now=T0 + timedelta(minutes=600))
        except DomainError:
            assert m.sessions["s1"] == before  # a refused command changes nothing
            continue
        sequences.append(m.sessions["s1"].sequence)
        if before.status != "scheduled":
            pytest.fail(f"{op} succeeded on a {before.status} session")
    assert sequences == sorted(sequences)
    assert m.sessions["s1"].sequence == sum(1 for e in m.events if isinstance(e, SessionRescheduled | SessionCancelled))
