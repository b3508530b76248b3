"""Learning records over the real stack: pairing drives, the sessions service records, Kafka carries them."""

from __future__ import annotations

from datetime import UTC, datetime

from services.pairing.app import SPEC as PAIRING
from services.sessions.app import SPEC as SESSIONS
from services.sessions.domain import learning
from shared.events import decode
from shared.events.pairing import ParticipantWithdrew
from tests import auth
from tests.conftest import ServeFactory
from tests.integration.sessions.learning_flows import (
    CONFIDENTIAL,
    OPPORTUNITY,
    consumed,
    emitted,
    learning_records,
    mentorship_with_history,
    recorded,
    sessions_log,
)
from tests.kafka_helpers import eventually, topic_keys


async def test_leaving_the_company_records_left_company_and_closing_records_the_partner(serve: ServeFactory) -> None:
    pairing, sessions = await serve(PAIRING), await serve(SESSIONS)
    h = await mentorship_with_history(pairing, sessions)
    async with auth.client(base_url=pairing.url) as client:
        r = await client.post(f"/participants/{h.mentee_id}/withdraw", json={"reason": "left_company"})
        assert r.status_code == 200, r.text
    await eventually(lambda: recorded(sessions.host, 1))
    [(headers, mentee)] = learning_records(await sessions_log(sessions.host))
    today = datetime.now(UTC).date().isoformat()
    assert mentee == {
        "record_id": learning.record_id(pairing.host.settings.tenant, h.mentee_id, h.programme_id),
        "participant_id": h.mentee_id,
        "employee_id": h.employee_ids[h.mentee_id],
        "programme_id": h.programme_id,
        "programme_name": "AI reverse mentoring 2026",
        "role": "mentee",
        "outcome": "left_company",
        "started_on": today,
        "ended_on": today,
        "sessions_held": 2,
        "hours": 1.5,
        "goals_set": 2,
        "goals_achieved": 1,
    }
    assert headers["ce_id"] == learning.event_id(mentee["record_id"])  # deterministic
    assert headers["ce_subject"] == h.mentee_id
    assert headers["ce_tenant"] == pairing.host.settings.tenant

    # The mentor's pair ended because the mentee left (not "completed"): the mentor is not done yet. Closing the
    # programme records everyone still enrolled without a record: the mentor, completed; the mentee not again.
    async with auth.client(base_url=pairing.url) as client:
        r = await client.post(f"/programmes/{h.programme_id}/close")
        assert r.status_code == 200, r.text
    await eventually(lambda: recorded(sessions.host, 2))
    log = await sessions_log(sessions.host)
    records = learning_records(log)
    assert len(records) == 2
    mentor = next(data for _, data in records if data["participant_id"] == h.mentor_id)
    figures = (mentor["outcome"], mentor["role"], mentor["sessions_held"], mentor["hours"])
    assert figures == ("completed", "mentor", 2, 1.5)
    assert mentor["employee_id"] == h.employee_ids[h.mentor_id]
    assert not any(CONFIDENTIAL.encode() in r.value for r in log)  # the feedback event carries it encrypted...
    keys = await topic_keys(sessions.host.settings.kafka_bootstrap_servers, sessions.host.topics.keys)
    comments = [getattr(decode(r.headers, r.value, keys).data, "confidential_comment", None) for r in log]
    assert CONFIDENTIAL in comments  # ...and it decrypts to the comment
    for _, data in records:  # ...no learning record carries any feedback content
        assert CONFIDENTIAL not in str(data)
        assert OPPORTUNITY not in str(data)


async def test_a_participant_who_completed_and_then_withdraws_keeps_the_one_record(serve: ServeFactory) -> None:
    pairing, sessions = await serve(PAIRING), await serve(SESSIONS)
    h = await mentorship_with_history(pairing, sessions)
    async with auth.client(base_url=pairing.url) as client:
        r = await client.post(f"/pairs/{h.pair_id}/end", json={"reason": "completed"})
        assert r.status_code == 200, r.text
        await eventually(lambda: recorded(sessions.host, 2))
        r = await client.post(f"/participants/{h.mentee_id}/withdraw", json={"reason": "withdrawn"})
        assert r.status_code == 200, r.text
    withdrew = await eventually(lambda: emitted(pairing.host, ParticipantWithdrew.TYPE))
    await eventually(lambda: consumed(sessions.host, withdrew))
    records = learning_records(await sessions_log(sessions.host))
    assert sorted((d["participant_id"], d["outcome"]) for _, d in records) == sorted(
        [(h.mentor_id, "completed"), (h.mentee_id, "completed")]
    )
    assert sessions.host.consumer is not None
    assert sessions.host.consumer.stats.dead_lettered == 0  # the withdrawal applied, it just recorded nothing
