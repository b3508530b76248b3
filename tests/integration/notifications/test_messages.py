"""Messages that read right (issue 15), through the real consumer, broker, Postgres and SMTP server: a feedback request
only to who has not answered for that session (whichever comes first), the welcome of a pair that met before Tandem
recorded it, and a German welcome with its rationale in German and its links on the participant portal."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from email.message import Message
from typing import Any

from shared.events import pairing as p
from shared.events import sessions as s
from tests.integration.notifications.test_delivery import Rig, until


def mail(rig: Rig, who: str) -> list[Message]:
    return rig.smtp.mailbox.to(f"{who}@acme.example")


def body(message: Message) -> str:
    part = next(x for x in message.walk() if x.get_content_type() == "text/plain")
    text: str = part.get_content()
    return text


async def status(rig: Rig, who: str, rule: str) -> list[str]:
    return sorted(n["status"] for n in await rig.history(who) if n["rule"] == rule)


def feedback(rig: Rig, session_id: str, author: str) -> s.FeedbackSubmitted:
    return s.FeedbackSubmitted(
        pair_id=rig.pair,
        programme_id=rig.prog,
        feedback_id=f"fb-{session_id}-{author}",
        session_id=session_id,
        author_id=author,
        author_role="mentor" if author == rig.mentor else "mentee",
        rating=5,
    )


def held(rig: Rig, session_id: str, at: datetime) -> list[Any]:
    return [
        s.SessionScheduled(
            pair_id=rig.pair, programme_id=rig.prog, session_id=session_id, starts_at=at, duration_minutes=45
        ),
        s.SessionLogged(pair_id=rig.pair, programme_id=rig.prog, session_id=session_id, held_at=at, minutes=45),
    ]


async def drain(rig: Rig) -> None:
    assert rig.host is not None
    while await rig.host.app.state.dispatcher.dispatch_due():
        pass


async def test_a_feedback_request_goes_only_to_who_has_not_answered_for_the_session_whichever_comes_first(
    rig: Rig,
) -> None:
    # the dispatcher waits (an hour between rounds) until the test drives it, so what is planned stays planned
    await rig.run(DISPATCH_INTERVAL="3600")
    await rig.emit(*rig.people())
    await rig.no_quiet_hours()
    await rig.emit(rig.created())
    await until(lambda: rig.history(rig.mentee))
    earlier = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0)

    # the mentor's answer is known before the session's log arrives: no request is planned for them
    first, logged = held(rig, "s1", earlier)
    await rig.emit(first, feedback(rig, "s1", rig.mentor), logged)
    await until(lambda: status(rig, rig.mentee, "feedback_request"))
    # the log and everything before it on the pair's partition are applied: the mentor's request was never planned
    assert await status(rig, rig.mentor, "feedback_request") == []

    # both requests planned; then the mentee answers: theirs is cancelled, the mentor's stays
    await rig.emit(*held(rig, "s2", earlier + timedelta(hours=1)))
    await until(lambda: has(status(rig, rig.mentor, "feedback_request"), ["planned"]))
    await until(lambda: has(status(rig, rig.mentee, "feedback_request"), ["planned", "planned"]))
    await rig.emit(feedback(rig, "s2", rig.mentee))
    await until(lambda: has(status(rig, rig.mentee, "feedback_request"), ["cancelled", "planned"]))

    await drain(rig)
    to_mentor = [m for m in mail(rig, rig.mentor) if "feedback" in body(m)]
    to_mentee = [m for m in mail(rig, rig.mentee) if "Rückmeldung" in body(m)]
    assert len(to_mentor) == 1  # s2 only: s1 was answered before its log came
    assert f"http://sessions.example/me/pairs/{rig.pair}/feedback?session=s2" in body(to_mentor[0])
    assert len(to_mentee) == 1  # s1 only: s2 was answered while its request waited
    assert f"http://sessions.example/me/pairs/{rig.pair}/feedback?session=s1" in body(to_mentee[0])
    assert await status(rig, rig.mentee, "feedback_request") == ["cancelled", "sent"]
    assert await status(rig, rig.mentor, "feedback_request") == ["sent"]


async def has(found: Any, expected: list[str]) -> bool:
    return bool(await found == expected)


async def test_a_pair_that_began_before_it_was_recorded_gets_no_now_formed_welcome_and_a_german_one_reads_german(
    rig: Rig,
) -> None:
    await rig.run()
    await rig.emit(*rig.people())
    await rig.no_quiet_hours()
    reasons = [
        {"code": "covers_goals", "covered": 1, "goals": 1, "topics": ["ai-agents"], "mentee": "Ingrid"},
        {"code": "shared_languages", "languages": ["de", "en"]},
    ]
    moved_in = p.PairCreated(
        pair_id=rig.pair,
        programme_id=rig.prog,
        mentor_id=rig.mentor,
        mentee_id=rig.mentee,
        rationale="Covers Ingrid's goal: AI agents; both speak German and English.",
        reasons=[p.Reason.model_validate(r) for r in reasons],
        origin="match_run",
        started_on=date.today() - timedelta(weeks=8),
    )
    await rig.emit(moved_in)
    [to_mentee] = await until(lambda: mail(rig, rig.mentee))  # German
    [to_mentor] = await until(lambda: mail(rig, rig.mentor))  # English
    german, english = body(to_mentee), body(to_mentor)
    assert "ist jetzt auf Tandem" in str(to_mentee["Subject"])
    assert "Sie bilden jetzt ein Tandem" not in german
    assert "erstes Treffen" not in german
    assert "Warum Sie beide: Deckt Ingrids Ziel ab: KI-Agenten; beide sprechen Deutsch und Englisch." in german
    assert f"http://sessions.example/me/pairs/{rig.pair}" in german
    assert "http://sessions.example/me/preferences" in german
    assert "you are now a Tandem pair" not in english
    assert "first meeting" not in english
    assert "Why you two: Covers Ingrid's goal: AI agents; both speak German and English." in english
