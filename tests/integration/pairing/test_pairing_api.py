"""The pairing API over the real stack: programmes, enrolment (JSON and CSV), pairs, withdrawal."""

from __future__ import annotations

from typing import Any

import httpx

from services.pairing.app import SPEC as PAIRING
from shared.infra import Infra
from tests import builders
from tests.conftest import ServeFactory
from tests.kafka_helpers import read_topic


async def _programme(client: httpx.AsyncClient, url: str, **overrides: Any) -> str:
    r = await client.post(f"{url}/programmes", json=builders.programme(**overrides))
    assert r.status_code == 201, r.text
    return str(r.json()["programme_id"])


async def test_programme_enrolment_pairing_and_a_withdrawal_mid_programme(serve: ServeFactory, infra: Infra) -> None:
    svc = await serve(PAIRING)
    async with httpx.AsyncClient(base_url=svc.url) as client:
        programme_id = await _programme(client, svc.url)
        mentor, mentee, other_mentee = builders.mentor(capacity=2), builders.mentee(), builders.mentee()
        r = await client.post(f"/programmes/{programme_id}/participants/bulk", json=[mentor, mentee, other_mentee])
        assert r.status_code == 201, r.text
        pairs = []
        for m in (mentee, other_mentee):
            r = await client.post(
                "/pairs",
                json={
                    "programme_id": programme_id,
                    "mentor_id": mentor["participant_id"],
                    "mentee_id": m["participant_id"],
                },
            )
            assert r.status_code == 201, r.text
            pairs.append(r.json()["pair_id"])
        assert (await client.get(f"/programmes/{programme_id}")).json()["state"] == "running"

        # the mentor withdraws mid-programme: both their pairs end in the same transaction
        r = await client.post(f"/participants/{mentor['participant_id']}/withdraw", json={"reason": "withdrawn"})
        assert r.status_code == 200, r.text
        assert sorted(p["pair_id"] for p in r.json()) == sorted(pairs)
        for pair_id in pairs:
            pair = (await client.get(f"/pairs/{pair_id}")).json()
            assert (pair["state"], pair["end_reason"]) == ("ended", "withdrawn")
        assert (await client.get(f"/participants/{mentor['participant_id']}")).json()["status"] == "withdrawn"
        listed = (await client.get("/pairs", params={"programme_id": programme_id, "state": "ended"})).json()
        assert listed["total"] == 2

        again = await client.post(f"/participants/{mentor['participant_id']}/withdraw", json={})
        assert again.status_code == 409

    records = await read_topic(infra.kafka_bootstrap, svc.host.topics.pairing, expect=9)
    types = [dict(r.headers)["ce_type"].decode().rsplit(".", 1)[1] for r in records]
    assert types.count("ParticipantEnrolled") == 3
    assert types.count("PairCreated") == 2
    assert types.count("ParticipantWithdrew") == 1
    assert types.count("PairEnded") == 2
    assert types.count("ProgramLaunched") == 1


async def test_bulk_enrolment_is_all_or_nothing_and_names_row_and_field(serve: ServeFactory) -> None:
    svc = await serve(PAIRING)
    async with httpx.AsyncClient(base_url=svc.url) as client:
        programme_id = await _programme(client, svc.url)
        good, bad = builders.mentor(), builders.mentee(email="not-an-email")
        r = await client.post(f"/programmes/{programme_id}/participants/bulk", json=[good, bad])
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["field"] == "email"
        assert error["details"][0]["row"] == 2
        assert "item 2" in error["message"]
        listed = (await client.get(f"/programmes/{programme_id}/participants")).json()
        assert listed["total"] == 0  # nothing half-applied

        off_topic = builders.mentee(learn_topics={"quantum-cooking": 3})
        r = await client.post(f"/programmes/{programme_id}/participants/bulk", json=[off_topic])
        assert r.status_code == 422
        assert r.json()["error"]["field"] == "learn_topics"


async def test_bulk_enrolment_from_csv(serve: ServeFactory) -> None:
    svc = await serve(PAIRING)
    csv_text = (
        "employee_id,role,display_name,email,department,grade,languages,timezone,availability,teach_topics,learn_topics\n"
        'E-100,mentor,Lena Yilmaz,lena@acme.example,Marketing,4,"de; en",Europe/Berlin,"Tue 09:00-12:00",'
        '"prompt-writing:3; ai-agents:2",\n'
        'E-200,mentee,Ingrid Hoffmann,ingrid@acme.example,Finance,14,de,Europe/Berlin,"Tue 10:00-11:00",,'
        '"prompt-writing:3"\n'
    )
    async with httpx.AsyncClient(base_url=svc.url) as client:
        programme_id = await _programme(client, svc.url)
        r = await client.post(
            f"/programmes/{programme_id}/participants/bulk", content=csv_text, headers={"content-type": "text/csv"}
        )
        assert r.status_code == 201, r.text
        people = {p["employee_id"]: p for p in r.json()}
        assert people["E-100"]["profile"]["teach_topics"] == {"prompt-writing": 3, "ai-agents": 2}
        assert people["E-200"]["profile"]["availability"] == [{"weekday": 1, "start": "10:00", "end": "11:00"}]

        broken = csv_text.replace(",14,", ",fourteen,")
        r = await client.post(
            f"/programmes/{programme_id}/participants/bulk", content=broken, headers={"content-type": "text/csv"}
        )
        assert r.status_code == 422
        assert r.json()["error"]["field"] == "grade"

        dup = await client.post(
            f"/programmes/{programme_id}/participants/bulk", content=csv_text, headers={"content-type": "text/csv"}
        )
        assert dup.status_code == 409  # already enrolled


async def test_hard_rules_refuse_a_hand_made_pair(serve: ServeFactory) -> None:
    svc = await serve(PAIRING)
    async with httpx.AsyncClient(base_url=svc.url) as client:
        programme_id = await _programme(client, svc.url)
        boss = builders.mentee(languages=["en"])
        junior = builders.mentor(languages=["en"], manager_employee_id=boss["employee_id"])
        french = builders.mentee(languages=["fr"])
        r = await client.post(f"/programmes/{programme_id}/participants/bulk", json=[boss, junior, french])
        assert r.status_code == 201, r.text

        line = await client.post(
            "/pairs",
            json={
                "programme_id": programme_id,
                "mentor_id": junior["participant_id"],
                "mentee_id": boss["participant_id"],
            },
        )
        assert line.status_code == 409
        assert "management level" in line.json()["error"]["message"]
        lang = await client.post(
            "/pairs",
            json={
                "programme_id": programme_id,
                "mentor_id": junior["participant_id"],
                "mentee_id": french["participant_id"],
            },
        )
        assert lang.status_code == 409
        assert "share no language" in lang.json()["error"]["message"]
        role = await client.post(
            "/pairs",
            json={
                "programme_id": programme_id,
                "mentor_id": boss["participant_id"],
                "mentee_id": french["participant_id"],
            },
        )
        assert role.status_code == 422
        assert role.json()["error"]["field"] == "mentor_id"
        assert (await client.get("/pairs", params={"programme_id": programme_id})).json()["total"] == 0
