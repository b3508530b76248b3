"""Programme outcome figures, checked against a hand-built programme and hand-computed values.

The programme "g1": 6 mentors (m1..m6), 6 mentees (e1..e6), cadence 14 days (at risk after more than
28 days without a session), looked at on Wednesday 2026-04-01 12:00 UTC (ISO week 2026-W14).

Pairs: p1..p3 and p6 active from Mon 2026-03-02 09:00 on; p4 paused 03-16 09:00 and resumed 03-30
09:00; p5 ended 03-20 10:00. Noise that must be ignored: pair p7 and its session, goal and feedback
belong to programme g2; pair p8 and every record dated 2026-04-02 lie after "now".
"""

from __future__ import annotations

import csv
import io
import json
import random
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.sessions.domain.errors import InvalidInput
from services.sessions.domain.model import PairEvent
from services.sessions.domain.outcomes import (
    CSV_COLUMNS,
    NOT_ENOUGH_ANSWERS,
    REFERENCE_FIGURES,
    AchievedGoal,
    ActiveInterval,
    AtRiskPair,
    ConfidenceCheck,
    FeedbackAnswers,
    HeldSession,
    PairFact,
    ProgrammeFacts,
    TopicGoals,
    Totals,
    WeekFigures,
    active_intervals,
    compute_outcomes,
    group_floor,
)
from shared.events.pairing import PairCreated, PairEnded, PairPaused, PairResumed
from shared.events.sessions import ConfidenceRated, FeedbackSubmitted, GoalSet, SessionLogged

G = "g1"


def at(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


NOW = at(4, 1, 12)
AFTER_NOW = at(4, 2, 9)


def created(n: int, programme: str = G) -> PairCreated:
    return PairCreated(pair_id=f"p{n}", programme_id=programme, mentor_id=f"m{n}", mentee_id=f"e{n}")


def pairs() -> list[PairFact]:
    monday = at(3, 2, 9)
    p4: list[tuple[datetime, PairEvent]] = [
        (at(3, 16, 9), PairPaused(pair_id="p4", programme_id=G, reason="board season")),
        (at(3, 30, 9), PairResumed(pair_id="p4", programme_id=G)),
    ]
    p5: list[tuple[datetime, PairEvent]] = [(at(3, 20), PairEnded(pair_id="p5", programme_id=G, reason="rematched"))]
    return [
        PairFact.from_events(created(1), monday),
        PairFact.from_events(created(2), monday),
        PairFact.from_events(created(3), monday),
        PairFact.from_events(created(4), monday, p4),
        PairFact.from_events(created(5), monday, p5),
        PairFact.from_events(created(6), monday),
        PairFact.from_events(created(7, "g2"), monday),  # another programme
        PairFact.from_events(created(8), AFTER_NOW),  # after now
    ]


def held(sid: str, pair: str, when: datetime, minutes: int, programme: str = G) -> HeldSession:
    return HeldSession.from_event(
        SessionLogged(pair_id=pair, programme_id=programme, session_id=sid, held_at=when, minutes=minutes)
    )


def sessions() -> list[HeldSession]:
    return [
        held("s01", "p1", at(3, 3), 60),
        held("s02", "p1", at(3, 17), 45),
        held("s03", "p1", at(3, 31), 50),
        held("s04", "p2", at(3, 2, 14), 60),
        held("s05", "p2", at(3, 4), 30),  # p2's last: 28 days 2 h before now -> at risk
        held("s06", "p3", at(3, 4, 12), 45),  # p3's last: exactly 28 days before now -> not at risk
        held("s07", "p4", at(3, 3), 40),  # 29 days, but p4 resumed 2 days ago -> not at risk
        held("s08", "p5", at(3, 6), 60),
        held("s09", "p5", at(3, 13), 30),
        held("s10", "p7", at(3, 5), 60, "g2"),
        held("s11", "p1", AFTER_NOW, 60),
    ]


def goal(gid: str, pair: str, topic: str, when: datetime, programme: str = G) -> AchievedGoal:
    set_ = GoalSet(pair_id=pair, programme_id=programme, goal_id=gid, topic=topic, description="a goal")
    return AchievedGoal.from_event(set_, when)


def goals() -> list[AchievedGoal]:
    return [
        goal("ga", "p1", "prompt-writing", at(3, 10)),
        goal("gb", "p2", "prompt-writing", at(3, 17)),
        goal("gc", "p3", "data-analysis", at(3, 18)),
        goal("gd", "p6", "ai-agents", at(3, 31)),
        goal("ge", "p7", "ai-agents", at(3, 18), "g2"),
        goal("gf", "p1", "data-analysis", AFTER_NOW),
    ]


def fb(fid: str, author: str, when: datetime, programme: str = G, **answers: Any) -> FeedbackAnswers:
    role = "mentee" if author.startswith("e") else "mentor"
    event = FeedbackSubmitted(
        pair_id=f"p{author[1:]}",
        programme_id=programme,
        feedback_id=fid,
        author_id=author,
        author_role=role,
        rating=4,
        **answers,
    )
    return FeedbackAnswers.from_event(event, when)


def feedback() -> list[FeedbackAnswers]:
    nbo_text = "AI in customer service"
    return [
        # mentees: productivity_gain / minutes_saved_per_day / new_business_opportunity
        fb(
            "fb01",
            "e1",
            at(3, 3, 11),
            productivity_gain=True,
            minutes_saved_per_day=30,
            new_business_opportunity=True,
            opportunity_text=nbo_text,
        ),
        fb("fb02", "e1", at(3, 17, 11), productivity_gain=False, minutes_saved_per_day=90),  # e1 changed their mind
        fb(
            "fb03", "e2", at(3, 2, 15), productivity_gain=True, minutes_saved_per_day=60, new_business_opportunity=False
        ),
        fb("fb04", "e2", at(3, 4, 11), productivity_gain=True),  # the enthusiast: counts once
        fb("fb05", "e2", at(3, 31, 9), productivity_gain=True),
        fb(
            "fb06",
            "e3",
            at(3, 4, 13),
            productivity_gain=True,
            minutes_saved_per_day=45,
            new_business_opportunity=True,
            opportunity_text=nbo_text,
        ),
        fb("fb07", "e3", at(3, 20)),  # answers nothing: e3's earlier answers stand
        fb("fb08", "e4", at(3, 3, 11), productivity_gain=True, minutes_saved_per_day=120),
        fb(
            "fb09",
            "e5",
            at(3, 6, 11),
            productivity_gain=False,
            minutes_saved_per_day=20,
            new_business_opportunity=True,
            opportunity_text=nbo_text,
        ),
        fb("fb10", "e5", at(3, 13, 11), productivity_gain=True),
        fb("fb11", "e1", AFTER_NOW, productivity_gain=True, minutes_saved_per_day=5),  # after now
        fb("fb12", "e7", at(3, 5), "g2", productivity_gain=False),  # another programme
        # mentors: team_productivity_gain / career_benefit
        fb("fm01", "m1", at(3, 3, 12), team_productivity_gain=True, career_benefit=True),
        fb("fm02", "m2", at(3, 4, 12), team_productivity_gain=True, career_benefit=False),
        fb("fm03", "m3", at(3, 4, 14), team_productivity_gain=True, career_benefit=True),
        fb("fm04", "m3", at(3, 25, 9), team_productivity_gain=False),  # m3's latest: no
        fb("fm05", "m4", at(3, 3, 12), team_productivity_gain=True, career_benefit=True),
        fb("fm06", "m5", at(3, 6, 12), team_productivity_gain=True, career_benefit=True),
        fb("fm07", "m6", at(3, 31, 9), team_productivity_gain=True, career_benefit=False),
    ]


def rated(mentee: str, phase: str, when: datetime, **ratings: int) -> ConfidenceCheck:
    event = ConfidenceRated(
        pair_id=f"p{mentee[1:]}",
        programme_id=G,
        participant_id=mentee,
        phase="start" if phase == "start" else "end",
        ratings={topic.replace("_", "-"): value for topic, value in ratings.items()},
    )
    return ConfidenceCheck.from_event(event, when)


def confidence() -> list[ConfidenceCheck]:
    return [
        rated("e1", "start", at(3, 3), prompt_writing=2, data_analysis=1),
        rated("e1", "end", at(3, 31), prompt_writing=4, data_analysis=3),  # +2, +2 -> +2
        rated("e2", "start", at(3, 2), prompt_writing=3),
        rated("e2", "end", at(3, 31), prompt_writing=4),  # +1
        rated("e3", "start", at(3, 2), ai_agents=1, data_analysis=2),
        rated("e3", "end", at(3, 31), ai_agents=3, prompt_writing=5),  # only ai-agents in both: +2
        rated("e4", "start", at(3, 3), prompt_writing=2),
        rated("e4", "end", at(3, 31), prompt_writing=2),  # 0
        rated("e5", "start", at(3, 6), data_analysis=4),
        rated("e5", "end", at(3, 20), data_analysis=3),  # -1
        rated("e6", "start", at(3, 2), ai_agents=1),
        rated("e6", "end", AFTER_NOW, ai_agents=5),  # after now: e6 has no end yet
    ]


def facts() -> ProgrammeFacts:
    return ProgrammeFacts(G, 14, pairs(), sessions(), goals(), feedback(), confidence())


# -- the figures ------------------------------------------------------------------------------------


def test_totals_and_iso_weeks() -> None:
    out = compute_outcomes(facts(), now=NOW)
    assert (out.programme_id, out.as_of, out.cadence_days, out.min_group_size) == (G, NOW, 14, 5)
    assert out.totals == Totals(pairs=6, pairs_active=5, sessions_held=9, minutes=420, goals_achieved=4)
    assert out.weeks == (
        WeekFigures("2026-W10", date(2026, 3, 2), pairs_active=6, sessions_held=6, minutes=295, goals_achieved=0),
        WeekFigures("2026-W11", date(2026, 3, 9), pairs_active=6, sessions_held=1, minutes=30, goals_achieved=1),
        # p4 was active on Monday until 09:00 and p5 until Friday: both count in W12
        WeekFigures("2026-W12", date(2026, 3, 16), pairs_active=6, sessions_held=1, minutes=45, goals_achieved=2),
        WeekFigures("2026-W13", date(2026, 3, 23), pairs_active=4, sessions_held=0, minutes=0, goals_achieved=0),
        WeekFigures("2026-W14", date(2026, 3, 30), pairs_active=5, sessions_held=1, minutes=50, goals_achieved=1),
    )


def test_goals_by_topic() -> None:
    assert compute_outcomes(facts(), now=NOW).goals_by_topic == (
        TopicGoals("ai-agents", 1),
        TopicGoals("data-analysis", 1),
        TopicGoals("prompt-writing", 2),
    )


def test_at_risk_pairs() -> None:
    out = compute_outcomes(facts(), now=NOW)
    assert out.at_risk == (
        AtRiskPair("p6", "m6", "e6", last_session_at=None, quiet_since=at(3, 2, 9), days_without_session=30),
        AtRiskPair("p2", "m2", "e2", last_session_at=at(3, 4), quiet_since=at(3, 4), days_without_session=28),
    )


def test_shares_use_each_persons_latest_answer_and_the_small_group_rule() -> None:
    out = compute_outcomes(facts(), now=NOW)

    productivity = out.figure("mentee_productivity_gain")  # e1 no (changed), e2..e5 yes; e2 counts once
    assert (productivity.value, productivity.n, productivity.reason, productivity.kind) == (0.8, 5, None, "share")
    assert productivity.shown
    assert productivity.reference == REFERENCE_FIGURES["mentee_productivity_gain"]

    opportunity = out.figure("mentee_new_business_opportunity")  # e1, e2, e3, e5 answered: 4 < 5
    assert (opportunity.value, opportunity.n, opportunity.reason) == (None, 4, NOT_ENOUGH_ANSWERS)
    assert not opportunity.shown

    minutes = out.figure("mentee_minutes_saved_per_day")  # 90 (e1's latest), 60, 45, 120, 20
    assert (minutes.value, minutes.n, minutes.kind) == (60.0, 5, "median")

    team = out.figure("mentor_team_productivity_gain")  # m3's latest is no
    assert team.n == 6
    assert team.value == pytest.approx(5 / 6)

    career = out.figure("mentor_career_benefit")
    assert career.n == 6
    assert career.value == pytest.approx(4 / 6)

    change = out.figure("mentee_confidence_change")  # (+2 +1 +2 +0 -1) / 5; e6 has no end by now
    assert (change.n, change.kind, change.reference) == (5, "mean", None)
    assert change.value == pytest.approx(0.8)


def test_counting_every_answer_would_have_given_other_figures() -> None:
    """Guards the latest-answer rule: the naive figures differ from the ones we publish."""
    answers = [f.productivity_gain for f in feedback() if f.programme_id == G and f.submitted_at <= NOW]
    given_ = [a for a in answers if a is not None]
    assert (sum(given_), len(given_)) == (7, 9)  # 7 yes of 9 answers (~78%), not 4 of 5 people (80%)
    assert compute_outcomes(facts(), now=NOW).figure("mentee_productivity_gain").value == 0.8


def test_the_small_group_threshold_is_a_parameter() -> None:
    strict = compute_outcomes(facts(), now=NOW, min_group_size=6)
    hidden = [f.key for f in strict.figures if not f.shown]
    assert hidden == [
        "mentee_productivity_gain",
        "mentee_new_business_opportunity",
        "mentee_minutes_saved_per_day",
        "mentee_confidence_change",
    ]
    assert all(f.reason == NOT_ENOUGH_ANSWERS and f.min_group_size == 6 for f in strict.figures if not f.shown)
    assert strict.figure("mentor_team_productivity_gain").value == pytest.approx(5 / 6)
    lenient = compute_outcomes(facts(), now=NOW, min_group_size=4)
    assert lenient.figure("mentee_new_business_opportunity").value == 0.75  # e1, e3, e5 yes; e2 no


def test_as_of_an_earlier_day() -> None:
    out = compute_outcomes(facts(), now=at(3, 10, 0))  # Tuesday of W11, 00:00 -> 10:00 excluded
    assert out.totals == Totals(pairs=6, pairs_active=6, sessions_held=6, minutes=295, goals_achieved=0)
    assert [w.week for w in out.weeks] == ["2026-W10", "2026-W11"]
    assert out.at_risk == ()
    assert out.figure("mentee_productivity_gain").n == 5  # e1 yes (fb01), e2, e3, e4 yes, e5 no
    assert out.figure("mentee_productivity_gain").value == 0.8


def test_the_latest_answer_ties_on_time_break_by_feedback_id() -> None:
    same = at(3, 3, 11)
    answers = [fb(f"f{i}", f"e{i}", same, productivity_gain=True) for i in range(1, 5)]
    answers += [fb("fz", "e5", same, productivity_gain=False), fb("fa", "e5", same, productivity_gain=True)]
    out = compute_outcomes(ProgrammeFacts(G, 14, feedback=list(reversed(answers))), now=NOW)
    assert out.figure("mentee_productivity_gain").value == 0.8  # e5's "fz" (no) sorts after "fa" (yes)


def test_a_pair_is_at_risk_only_when_active_and_strictly_past_twice_the_cadence() -> None:
    start = at(3, 1, 12)
    base = [
        PairFact("q1", G, "m1", "e1", start, (ActiveInterval(start),)),  # 31 days, never met
        PairFact("q2", G, "m2", "e2", start, (ActiveInterval(start, at(3, 20)),)),  # ended: not active
        PairFact("q3", G, "m3", "e3", at(3, 4, 12), (ActiveInterval(at(3, 4, 12)),)),  # exactly 28 days
    ]
    out = compute_outcomes(ProgrammeFacts(G, 14, base), now=NOW)
    assert [(p.pair_id, p.days_without_session) for p in out.at_risk] == [("q1", 31)]
    weekly = compute_outcomes(ProgrammeFacts(G, 7, base), now=NOW)  # 14 days
    assert [p.pair_id for p in weekly.at_risk] == ["q1", "q3"]


def test_empty_programme() -> None:
    out = compute_outcomes(ProgrammeFacts(G, 14), now=NOW)
    assert out.weeks == ()
    assert out.at_risk == ()
    assert out.goals_by_topic == ()
    assert out.totals == Totals(0, 0, 0, 0, 0)
    assert all((f.value, f.n, f.reason) == (None, 0, NOT_ENOUGH_ANSWERS) for f in out.figures)


# -- inputs -----------------------------------------------------------------------------------------


def test_active_intervals_from_pair_events() -> None:
    def ev(kind: str) -> PairEvent:
        if kind == "pause":
            return PairPaused(pair_id="p", programme_id=G)
        if kind == "resume":
            return PairResumed(pair_id="p", programme_id=G)
        return PairEnded(pair_id="p", programme_id=G, reason="completed")

    t = [at(3, d) for d in range(1, 10)]
    assert active_intervals(t[0], []) == (ActiveInterval(t[0]),)
    assert active_intervals(t[0], [(t[1], ev("pause")), (t[2], ev("resume"))]) == (
        ActiveInterval(t[0], t[1]),
        ActiveInterval(t[2]),
    )
    assert active_intervals(t[0], [(t[1], ev("pause")), (t[2], ev("end"))]) == (ActiveInterval(t[0], t[1]),)
    assert active_intervals(t[0], [(t[1], ev("resume")), (t[3], ev("end")), (t[4], ev("resume"))]) == (
        ActiveInterval(t[0], t[3]),
    )


def test_inputs_are_validated() -> None:
    naive = datetime(2026, 4, 1, 12)
    with pytest.raises(InvalidInput) as err:
        compute_outcomes(facts(), now=naive)
    assert err.value.field == "now"
    with pytest.raises(InvalidInput) as err:
        compute_outcomes(facts(), now=NOW, min_group_size=0)
    assert err.value.field == "min_group_size"
    with pytest.raises(InvalidInput) as err:
        ProgrammeFacts(G, 0)
    assert err.value.field == "cadence_days"
    with pytest.raises(InvalidInput) as err:
        HeldSession("s", "p", G, naive, 30)
    assert err.value.field == "held_at"
    with pytest.raises(InvalidInput) as err:
        ActiveInterval(at(3, 2), at(3, 1))
    assert err.value.field == "end"


# -- export -----------------------------------------------------------------------------------------


def test_to_dict_is_plain_json() -> None:
    out = compute_outcomes(facts(), now=NOW)
    data = json.loads(json.dumps(out.to_dict()))
    assert data["as_of"] == "2026-04-01T12:00:00+00:00"
    assert data["totals"] == {"pairs": 6, "pairs_active": 5, "sessions_held": 9, "minutes": 420, "goals_achieved": 4}
    assert data["weeks"][0] == {
        "week": "2026-W10",
        "week_start": "2026-03-02",
        "pairs_active": 6,
        "sessions_held": 6,
        "minutes": 295,
        "goals_achieved": 0,
    }
    assert data["at_risk"][0]["quiet_since"] == "2026-03-02T09:00:00+00:00"
    assert data["at_risk"][0]["last_session_at"] is None
    opportunity = data["figures"][1]
    assert (opportunity["key"], opportunity["value"], opportunity["n"], opportunity["reason"]) == (
        "mentee_new_business_opportunity",
        None,
        4,
        NOT_ENOUGH_ANSWERS,
    )
    assert opportunity["reference"] == {
        "key": "mentee_new_business_opportunity",
        "value": 0.8,
        "unit": "share",
        "text": REFERENCE_FIGURES["mentee_new_business_opportunity"].text,
        "source": "IWG research 2026",
    }
    assert data["goals_by_topic"] == [
        {"topic": "ai-agents", "goals_achieved": 1},
        {"topic": "data-analysis", "goals_achieved": 1},
        {"topic": "prompt-writing", "goals_achieved": 2},
    ]


def test_csv_rows() -> None:
    out = compute_outcomes(facts(), now=NOW)
    rows = out.to_csv_rows()
    assert len(rows) == 1 + 5 + 5 * 4 + 3 + 6 + 2  # the group floor, totals, weeks, topics, figures, at risk
    assert all(tuple(row) == CSV_COLUMNS for row in rows)

    def find(section: str, key: str, metric: str) -> dict[str, Any]:
        [match] = [r for r in rows if (r["section"], r["key"], r["metric"]) == (section, key, metric)]
        return match

    assert find("programme", "", "min_group_size")["value"] == 5
    assert find("total", "", "minutes")["value"] == 420
    assert find("week", "2026-W13", "pairs_active")["value"] == 4
    assert find("topic", "prompt-writing", "goals_achieved")["value"] == 2
    productivity = find("figure", "mentee_productivity_gain", "share")
    assert (productivity["value"], productivity["n"], productivity["reference"]) == (0.8, 5, 0.77)
    assert "IWG research 2026" in str(productivity["note"])
    hidden = find("figure", "mentee_new_business_opportunity", "share")
    assert (hidden["value"], hidden["n"], hidden["note"]) == (None, 4, NOT_ENOUGH_ANSWERS)
    assert find("at_risk", "p2", "days_without_session")["value"] == 28
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    parsed = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    assert len(parsed) == len(rows)
    assert parsed[0]["programme_id"] == G


def test_reference_figures_name_their_source() -> None:
    expected = {
        "mentee_productivity_gain": 0.77,
        "mentee_new_business_opportunity": 0.80,
        "mentee_minutes_saved_per_day": 60.0,
        "mentor_team_productivity_gain": 0.72,
        "mentor_career_benefit": 0.79,
    }
    assert {key: ref.value for key, ref in REFERENCE_FIGURES.items()} == expected
    assert all(ref.source == "IWG research 2026" and ref.text for ref in REFERENCE_FIGURES.values())


# -- properties -------------------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(st.randoms(use_true_random=False))
def test_the_order_of_the_facts_does_not_matter(rng: random.Random) -> None:
    def shuffled(items: list[Any]) -> list[Any]:
        copy = list(items)
        rng.shuffle(copy)
        return copy

    mixed = ProgrammeFacts(
        G,
        14,
        shuffled(pairs()),
        shuffled(sessions()),
        shuffled(goals()),
        shuffled(feedback()),
        shuffled(confidence()),
    )
    assert compute_outcomes(mixed, now=NOW) == compute_outcomes(facts(), now=NOW)


_answer = st.tuples(
    st.integers(min_value=1, max_value=9),  # author
    st.integers(min_value=1, max_value=60),  # day offset
    st.booleans() | st.none(),
)


@settings(max_examples=100, deadline=None)
@given(st.lists(_answer, max_size=30), st.integers(min_value=1, max_value=8))
def test_a_share_is_shown_exactly_when_enough_people_answered(
    answers: list[tuple[int, int, bool | None]], threshold: int
) -> None:
    records = [
        fb(f"f{i:03d}", f"e{author}", at(1, 1) + (at(1, 2) - at(1, 1)) * day, productivity_gain=answer)
        for i, (author, day, answer) in enumerate(answers)
    ]
    figure = compute_outcomes(ProgrammeFacts(G, 14, feedback=records), now=NOW, min_group_size=threshold).figure(
        "mentee_productivity_gain"
    )
    people = {author for author, _, answer in answers if answer is not None}
    assert figure.n == len(people)
    assert figure.shown == (len(people) >= threshold)
    if figure.value is not None:
        assert 0.0 <= figure.value <= 1.0


def test_csv_rows_name_the_programme_first_when_given() -> None:
    rows = compute_outcomes(facts(), now=NOW).to_csv_rows(programme_name="=cmd|' /C calc'!A0")
    assert (rows[0]["section"], rows[0]["metric"], rows[0]["value"]) == ("programme", "name", "=cmd|' /C calc'!A0")


def test_the_programmes_floor_may_be_raised_never_lowered() -> None:
    assert group_floor(5, None) == 5
    assert group_floor(5, 5) == 5
    assert group_floor(5, 8) == 8
    assert group_floor(3, 4) == 4
    for lower in (1, 4):
        with pytest.raises(InvalidInput) as err:
            group_floor(5, lower)
        assert err.value.field == "min_group_size"
        assert "floor of 5" in err.value.message
