"""The pairing API over the real stack: programmes, enrolment (JSON and CSV), pairs, withdrawal."""

from __future__ import annotations

from typing import Any

import httpx

from services.pairing.app import SPEC as PAIRING
from shared.infra import Infra
from tests import auth, builders
from tests.conftest import ServeFactory
from tests.directory import enrol, enrolment, pair, provision
from tests.kafka_helpers import read_topic


async def _programme(client: httpx.AsyncClient, url: str, **overrides: Any) -> str:
    r = await client.post(f"{url}/programmes", json=builders.programme(**overrides))
    assert r.status_code == 201, r.text
    return str(r.json()["programme_id"])


async def test_programme_enrolment_pairing_and_a_withdrawal_mid_programme(serve: ServeFactory, infra: Infra) -> None:
    svc = await serve(PAIRING)
    async with auth.client(base_url=svc.url) as client:
        programme_id = await _programme(client, svc.url)
        mentor, mentee, other_mentee = builders.mentor(capacity=2), builders.mentee(), builders.mentee()
        r = await enrol(client, svc.url, svc.host, programme_id, [mentor, mentee, other_mentee])
        assert r.status_code == 201, r.text
        profile = r.json()[0]["profile"]
        assert (profile["display_name"], profile["department"]) == (mentor["display_name"], mentor["department"])
        pairs = []
        for m in (mentee, other_mentee):
            r = await pair(client, programme_id, mentor["participant_id"], m["participant_id"])
            assert r.status_code == 201, r.text
            pairs.append(r.json()["pair_id"])
        assert (await client.get(f"/programmes/{programme_id}")).json()["state"] == "running"

        # the mentor withdraws mid-programme: both their pairs end in the same transaction
        r = await client.post(f"/participants/{mentor['participant_id']}/withdraw", json={"reason": "withdrawn"})
        assert r.status_code == 200, r.text
        assert sorted(p["pair_id"] for p in r.json()) == sorted(pairs)
        for pair_id in pairs:
            ended = (await client.get(f"/pairs/{pair_id}")).json()
            assert (ended["state"], ended["end_reason"]) == ("ended", "withdrawn")
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


async def test_a_full_mentor_and_a_paired_mentee_refuse_another_pair(serve: ServeFactory) -> None:
    svc = await serve(PAIRING)
    async with auth.client(base_url=svc.url) as client:
        programme_id = await _programme(client, svc.url)
        mentor, other_mentor, mentee, other_mentee = (
            builders.mentor(),
            builders.mentor(),
            builders.mentee(),
            builders.mentee(),
        )
        r = await enrol(client, svc.url, svc.host, programme_id, [mentor, other_mentor, mentee, other_mentee])
        assert r.status_code == 201, r.text

        async def pair_up(m: dict[str, Any], e: dict[str, Any]) -> httpx.Response:
            return await pair(client, programme_id, m["participant_id"], e["participant_id"])

        assert (await pair_up(mentor, mentee)).status_code == 201
        full = await pair_up(mentor, other_mentee)
        assert full.status_code == 409
        assert full.json()["error"]["code"] == "capacity_exhausted"
        assert "already mentors 1 of 1 possible mentee(s)" in full.json()["error"]["message"]
        taken = await pair_up(other_mentor, mentee)
        assert taken.status_code == 409
        assert taken.json()["error"]["code"] == "already_paired"
        assert taken.json()["error"]["message"] == f"{mentee['display_name']} already has a live pair"


async def test_bulk_enrolment_is_all_or_nothing_and_names_row_and_field(serve: ServeFactory) -> None:
    svc = await serve(PAIRING)
    async with auth.client(base_url=svc.url) as client:
        programme_id = await _programme(client, svc.url)
        good, unknown = builders.mentor(), builders.mentee()
        await provision(client, svc.url, svc.host, [good])  # the second person is not in the directory
        r = await client.post(
            f"/programmes/{programme_id}/participants/bulk", json=[enrolment(good), enrolment(unknown)]
        )
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["field"] == "employee_id"
        assert error["details"][0]["row"] == 2
        assert "item 2" in error["message"]
        assert "not in the directory" in error["message"]
        listed = (await client.get(f"/programmes/{programme_id}/participants")).json()
        assert listed["total"] == 0  # nothing half-applied

        off_topic = builders.mentee(learn_topics={"quantum-cooking": 3})
        r = await enrol(client, svc.url, svc.host, programme_id, [off_topic])
        assert r.status_code == 422
        assert r.json()["error"]["field"] == "learn_topics"

        # the directory owns the profile: an enrolment that states it is refused, naming the field
        r = await client.post(f"/programmes/{programme_id}/participants", json={**enrolment(good), "grade": 3})
        assert r.status_code == 422, r.text
        assert r.json()["error"]["field"] == "grade"
        assert "directory" in r.json()["error"]["message"]
        r = await client.post(f"/programmes/{programme_id}/participants/bulk", json=[good])
        assert r.status_code == 422, r.text
        assert "directory" in r.json()["error"]["message"]


async def test_bulk_enrolment_from_csv(serve: ServeFactory) -> None:
    svc = await serve(PAIRING)
    people = [
        builders.mentor(employee_id="E-100", languages=["de", "en"]),
        builders.mentee(employee_id="E-200", languages=["de"]),
    ]
    csv_text = (
        "employee_id,role,availability,teach_topics,learn_topics\n"
        'E-100,mentor,"Tue 09:00-12:00","prompt-writing:3; ai-agents:2",\n'
        'E-200,mentee,"Tue 10:00-11:00",,"prompt-writing:3"\n'
    )
    async with auth.client(base_url=svc.url) as client:
        programme_id = await _programme(client, svc.url)
        await provision(client, svc.url, svc.host, people)
        r = await client.post(
            f"/programmes/{programme_id}/participants/bulk", content=csv_text, headers={"content-type": "text/csv"}
        )
        assert r.status_code == 201, r.text
        enrolled = {p["employee_id"]: p for p in r.json()}
        assert enrolled["E-100"]["profile"]["teach_topics"] == {"prompt-writing": 3, "ai-agents": 2}
        assert enrolled["E-200"]["profile"]["availability"] == [{"weekday": 1, "start": "10:00", "end": "11:00"}]
        assert enrolled["E-200"]["profile"]["grade"] == people[1]["grade"]  # from the directory

        broken = csv_text.replace("Tue 10:00-11:00", "Tuesday at ten")
        r = await client.post(
            f"/programmes/{programme_id}/participants/bulk", content=broken, headers={"content-type": "text/csv"}
        )
        assert r.status_code == 422
        assert r.json()["error"]["field"] == "availability"

        dup = await client.post(
            f"/programmes/{programme_id}/participants/bulk", content=csv_text, headers={"content-type": "text/csv"}
        )
        assert dup.status_code == 409  # already enrolled: each row named, not Postgres' text
        error = dup.json()["error"]
        assert [d["row"] for d in error["details"]] == [1, 2]
        assert error["message"] == f"row 1: employee E-100 is already enrolled in programme {programme_id}"
        assert "Key (" not in dup.text


async def test_a_csv_uploads_row_errors_name_the_files_line_and_nothing_is_enrolled(serve: ServeFactory) -> None:
    """What the console shows per row: row, the file's line (a quoted cell may span lines), field, message."""
    svc = await serve(PAIRING)
    people = [builders.mentor(employee_id="E-300"), builders.mentee(employee_id="E-400")]
    csv_text = (
        "employee_id,role,teach_topics,learn_topics,goal\n"
        'E-300,mentor,prompt-writing:3,,"a goal\non two lines"\n'
        "E-999,mentor,prompt-writing:3,,\n"
        "E-400,mentee,,underwater-basket-weaving:2,\n"
    )
    async with auth.client(base_url=svc.url) as client:
        programme_id = await _programme(client, svc.url)
        await provision(client, svc.url, svc.host, people)
        url = f"/programmes/{programme_id}/participants/bulk"
        r = await client.post(url, content=csv_text, headers={"content-type": "text/csv"})
        assert r.status_code == 422, r.text
        details = r.json()["error"]["details"]
        assert [(d["row"], d["line"], d["field"]) for d in details] == [(2, 4, "employee_id"), (3, 5, "learn_topics")]
        assert "E-999" in details[0]["message"]
        assert (await client.get(f"/programmes/{programme_id}/participants")).json()["total"] == 0

        # a cell that cannot be read names its row and line too
        unreadable = "employee_id,role,capacity\nE-300,mentor,1\nE-400,mentee,lots\n"
        r = await client.post(url, content=unreadable, headers={"content-type": "text/csv"})
        assert r.status_code == 422, r.text
        assert r.json()["error"]["details"] == [
            {"row": 2, "line": 3, "field": "capacity", "message": "row 2: capacity 'lots' is not a number"}
        ]

        # a JSON list has items, not lines
        r = await client.post(url, json=[{"employee_id": "E-999", "role": "mentor"}])
        assert r.status_code == 422, r.text
        assert "line" not in r.json()["error"]["details"][0]


async def test_hard_rules_refuse_a_hand_made_pair(serve: ServeFactory) -> None:
    svc = await serve(PAIRING)
    async with auth.client(base_url=svc.url) as client:
        programme_id = await _programme(client, svc.url)
        boss = builders.mentee(languages=["en"])
        junior = builders.mentor(languages=["en"], manager_employee_id=boss["employee_id"])
        french = builders.mentee(languages=["fr"])
        r = await enrol(client, svc.url, svc.host, programme_id, [boss, junior, french])
        assert r.status_code == 201, r.text

        line = await pair(client, programme_id, junior["participant_id"], boss["participant_id"])
        assert line.status_code == 409
        assert "management level" in line.json()["error"]["message"]
        lang = await pair(client, programme_id, junior["participant_id"], french["participant_id"])
        assert lang.status_code == 409
        assert "share no language" in lang.json()["error"]["message"]
        role = await pair(client, programme_id, boss["participant_id"], french["participant_id"])
        assert role.status_code == 422
        assert role.json()["error"]["field"] == "mentor_id"
        assert (await client.get("/pairs", params={"programme_id": programme_id})).json()["total"] == 0
