"""A programme's events, fed through the real broker into the sessions service, give figures equal to
values computed by hand, the small-group rule included."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

from services.sessions.app import SPEC as SESSIONS
from shared.events import Envelope, EventPayload, encode
from shared.events import pairing as p
from shared.events import sessions as s
from shared.infra import Infra
from tests import auth
from tests.conftest import ServeFactory
from tests.kafka_helpers import produce

T0 = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)  # a Monday: ISO week 2026-W03
PROG = "prog-figures"


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def ev(payload: EventPayload, when: datetime) -> Envelope[Any]:
    return Envelope.new(payload, time=when)


def programme_events() -> tuple[list[Envelope[Any]], list[Envelope[Any]]]:
    pairing: list[Envelope[Any]] = [
        ev(
            p.ProgramLaunched(
                programme_id=PROG,
                name="Figures 2026",
                starts_on=date(2026, 1, 12),
                ends_on=date(2026, 6, 30),
                cadence_days=14,
                focus_topics=["prompt-writing", "ai-agents"],
            ),
            at(-3),
        ),
    ]
    for i in range(6):
        for role in ("mentor", "mentee"):
            pairing.append(
                ev(
                    p.ParticipantEnrolled(
                        participant_id=f"{role}{i}",
                        programme_id=PROG,
                        employee_id=f"E-{role}{i}",
                        role=role,
                        display_name=f"{role.title()} {i}",
                        email=f"{role}{i}@acme.example",
                        department="D",
                        grade=3,
                        languages=["en"],
                        teach_topics={"ai-agents": 2} if role == "mentor" else {},
                        learn_topics={"ai-agents": 2} if role == "mentee" else {},
                    ),
                    at(-2),
                )
            )
        pairing.append(
            ev(
                p.PairCreated(pair_id=f"pair{i}", programme_id=PROG, mentor_id=f"mentor{i}", mentee_id=f"mentee{i}"),
                at(0),
            )
        )
    sess: list[Envelope[Any]] = []
    # sessions held: pair0-3 in week W03 (day 1), pair0-1 again in W05 (day 15); pair4/pair5 never meet
    held = [(f"pair{i}", 1, 60) for i in range(4)] + [("pair0", 15, 45), ("pair1", 15, 30)]
    for k, (pair, day, minutes) in enumerate(held):
        sid = f"s{k}"
        sess.append(
            ev(
                s.SessionScheduled(
                    pair_id=pair, programme_id=PROG, session_id=sid, starts_at=at(day), duration_minutes=60
                ),
                at(day - 1),
            )
        )
        sess.append(
            ev(
                s.SessionLogged(
                    pair_id=pair,
                    programme_id=PROG,
                    session_id=sid,
                    held_at=at(day),
                    minutes=minutes,
                    topics=["ai-agents"],
                ),
                at(day + 0.1),
            )
        )
    # goals: two achieved on prompt-writing, one on ai-agents, one set but not achieved
    for g, (pair, topic, achieved) in enumerate(
        [
            ("pair0", "prompt-writing", True),
            ("pair1", "prompt-writing", True),
            ("pair2", "ai-agents", True),
            ("pair3", "ai-agents", False),
        ]
    ):
        sess.append(
            ev(s.GoalSet(pair_id=pair, programme_id=PROG, goal_id=f"g{g}", topic=topic, description="d"), at(1))
        )
        if achieved:
            sess.append(ev(s.GoalAchieved(pair_id=pair, programme_id=PROG, goal_id=f"g{g}"), at(16)))
    # mentee feedback: productivity 4 yes / 1 no (5 people: shown, 80%); new business: only 4 answers (hidden);
    # minutes saved 30, 45, 60, 90, 20 -> median 45
    mentee_answers = [(True, 30, True), (True, 45, False), (True, 60, True), (False, 90, None), (True, 20, False)]
    for i, (gain, minutes, business) in enumerate(mentee_answers):
        sess.append(
            ev(
                s.FeedbackSubmitted(
                    pair_id=f"pair{i}",
                    programme_id=PROG,
                    feedback_id=f"fe{i}",
                    author_id=f"mentee{i}",
                    author_role="mentee",
                    rating=4,
                    productivity_gain=gain,
                    minutes_saved_per_day=minutes,
                    new_business_opportunity=business,
                    opportunity_text="A client tool" if business else None,
                ),
                at(2),
            )
        )
    # mentor feedback: team productivity 5 of 6 yes -> 83%; career: mentor0 first "no" then "yes" (latest counts)
    team = [True, True, True, False, True, True]
    career = [False, True, True, False, True, None]
    for i in range(6):
        sess.append(
            ev(
                s.FeedbackSubmitted(
                    pair_id=f"pair{i}",
                    programme_id=PROG,
                    feedback_id=f"fm{i}",
                    author_id=f"mentor{i}",
                    author_role="mentor",
                    rating=5,
                    team_productivity_gain=team[i],
                    career_benefit=career[i],
                ),
                at(2),
            )
        )
    sess.append(
        ev(
            s.FeedbackSubmitted(
                pair_id="pair0",
                programme_id=PROG,
                feedback_id="fm0b",
                author_id="mentor0",
                author_role="mentor",
                rating=5,
                career_benefit=True,
            ),
            at(20),
        )
    )
    # confidence: only 3 mentees rated start and end -> below 5: not shown
    for i, (start, end) in enumerate([(2, 4), (1, 2), (3, 3)]):
        for phase, value, day in (("start", start, 1), ("end", end, 20)):
            sess.append(
                ev(
                    s.ConfidenceRated(
                        pair_id=f"pair{i}",
                        programme_id=PROG,
                        participant_id=f"mentee{i}",
                        phase=phase,
                        ratings={"ai-agents": value},
                    ),
                    at(day),
                )
            )
    return pairing, sess


async def test_every_figure_equals_the_hand_computed_value(serve: ServeFactory, infra: Infra) -> None:
    sessions = await serve(SESSIONS)
    topics = sessions.host.topics
    pairing_events, sessions_events = programme_events()
    await produce(infra.kafka_bootstrap, topics.pairing, [_m(e) for e in pairing_events])
    await produce(infra.kafka_bootstrap, topics.sessions, [_m(e) for e in sessions_events])
    as_of = at(40).isoformat()  # day 40: pair2/3 quiet since day 1 (39 days), pair4/5 since creation (40 days)
    async with auth.client(base_url=sessions.url) as client:
        for _ in range(200):
            r = await client.get(f"/programmes/{PROG}/outcomes", params={"as_of": as_of})
            if r.status_code == 200 and r.json()["totals"]["goals_achieved"] == 3 and _feedback_done(r.json()):
                break
            await asyncio.sleep(0.05)
        data = r.json()
        lower = await client.get(f"/programmes/{PROG}/outcomes", params={"as_of": as_of, "min_group_size": 3})
        larger = (await client.get(f"/programmes/{PROG}/outcomes", params={"as_of": as_of, "min_group_size": 6})).json()

    assert data["totals"] == {
        "pairs": 6,
        "pairs_active": 6,
        "sessions_held": 6,
        "minutes": 4 * 60 + 45 + 30,
        "goals_achieved": 3,
    }
    fig = {f["key"]: f for f in data["figures"]}
    assert (fig["mentee_productivity_gain"]["value"], fig["mentee_productivity_gain"]["n"]) == (0.8, 5)
    assert fig["mentee_productivity_gain"]["reference"]["value"] == 0.77
    assert fig["mentee_new_business_opportunity"]["value"] is None  # 4 answers < 5
    assert fig["mentee_new_business_opportunity"]["n"] == 4
    assert fig["mentee_new_business_opportunity"]["reason"] == "not enough answers"
    assert (fig["mentee_minutes_saved_per_day"]["value"], fig["mentee_minutes_saved_per_day"]["n"]) == (45, 5)
    assert round(fig["mentor_team_productivity_gain"]["value"], 4) == round(5 / 6, 4)
    assert fig["mentor_team_productivity_gain"]["n"] == 6
    assert (fig["mentor_career_benefit"]["value"], fig["mentor_career_benefit"]["n"]) == (0.8, 5)  # latest answer
    assert fig["mentee_confidence_change"]["value"] is None  # 3 mentees < 5
    assert data["min_group_size"] == 5  # the programme's floor: its launch did not say, so 5
    # a caller may not lower the floor to see what it hides ...
    assert lower.status_code == 422
    assert lower.json()["error"]["field"] == "min_group_size"
    assert "floor of 5" in lower.json()["error"]["message"]
    # ... but may raise it: the 5 mentees' answer is hidden then, the 6 mentors' still shown
    larger_fig = {f["key"]: f for f in larger["figures"]}
    assert larger["min_group_size"] == 6
    assert larger_fig["mentee_productivity_gain"]["value"] is None
    assert larger_fig["mentee_productivity_gain"]["n"] == 5
    assert round(larger_fig["mentor_team_productivity_gain"]["value"], 4) == round(5 / 6, 4)

    weeks = {w["week"]: w for w in data["weeks"]}
    assert weeks["2026-W03"]["sessions_held"] == 4
    assert weeks["2026-W03"]["minutes"] == 240
    assert weeks["2026-W05"]["sessions_held"] == 2
    assert weeks["2026-W05"]["pairs_active"] == 6
    assert {t["topic"]: t["goals_achieved"] for t in data["goals_by_topic"]} == {"prompt-writing": 2, "ai-agents": 1}
    at_risk = {r["pair_id"]: r for r in data["at_risk"]}
    assert set(at_risk) == {"pair2", "pair3", "pair4", "pair5"}  # pair0/1 met on day 15: 25 days < 28
    assert at_risk["pair4"]["days_without_session"] == 40
    assert at_risk["pair2"]["days_without_session"] == 39
    assert at_risk["pair4"]["mentee_name"] == "Mentee 4"


def _feedback_done(data: dict[str, Any]) -> bool:
    return any(f["key"] == "mentor_career_benefit" and f["n"] == 5 and f["value"] == 0.8 for f in data["figures"])


def _m(env: Envelope[Any]) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    rec = encode(env)
    return rec.key, rec.value, rec.headers
