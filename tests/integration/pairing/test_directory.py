"""The employee directory over the real broker and Postgres: HR events, the file sync, the reporting line over
the whole org chart, reorganisations, leave, leavers, tenants and the org chart's history in the log."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from services.pairing import repository
from services.pairing.app import SPEC as PAIRING
from services.pairing.domain import directory
from shared.events import Envelope, EventPayload, decode, encode, hr
from shared.events.directory import DIRECTORY_EVENTS
from shared.infra import Infra
from shared.outbox import wait_published
from tests import auth, builders
from tests.cli import cli_env, tandem
from tests.conftest import Running, ServeFactory
from tests.directory import pair, token
from tests.kafka_helpers import eventually, produce, read_topic, topic_keys

ROOT = Path(__file__).resolve().parents[3]


def person(employee_id: str, name: str, **kw: Any) -> dict[str, Any]:
    """A directory record as the HR platform sends it."""
    return {
        "employee_id": employee_id,
        "display_name": name,
        "email": f"{employee_id.lower()}@acme.example",
        "department": "Finance",
        "grade": 10,
        "languages": ["de", "en"],
        "timezone": "Europe/Berlin",
        "locale": "de-DE",
        **kw,
    }


async def sync(svc: Running, records: list[dict[str, Any]], *, tenant: str | None = None, **params: Any) -> Any:
    async with auth.client(base_url=svc.url) as client:
        r = await client.post(
            "/directory/imports",
            json=records,
            params=params,
            headers={"authorization": f"Bearer {await token(svc.host, tenant)}"},
        )
    assert r.status_code == 200, r.text
    return r.json()


async def publish(svc: Running, infra: Infra, *events: Envelope[Any]) -> None:
    await produce(
        infra.kafka_bootstrap,
        svc.host.topics.hr_inbound,
        [(e.key.encode(), encode(e).value, encode(e).headers) for e in events],
    )


def hr_event(payload: EventPayload, at: datetime | None = None, *, tenant: str = "default") -> Envelope[Any]:
    return Envelope.new(payload, tenant=tenant, time=at or datetime.now(UTC))


async def employee(client: httpx.AsyncClient, employee_id: str) -> dict[str, Any]:
    r = await client.get(f"/directory/employees/{employee_id}")
    return r.json() if r.status_code == 200 else {}


def mentor_enrolment(employee_id: str, **kw: Any) -> dict[str, Any]:
    return {"employee_id": employee_id, "role": "mentor", "teach_topics": {"prompt-writing": 3}, **kw}


def mentee_enrolment(employee_id: str, **kw: Any) -> dict[str, Any]:
    return {"employee_id": employee_id, "role": "mentee", "learn_topics": {"prompt-writing": 3}, **kw}


async def programme(client: httpx.AsyncClient, **policy: Any) -> str:
    body = builders.programme(matching_policy={"reporting_line_levels": 2, **policy})
    r = await client.post("/programmes", json=body)
    assert r.status_code == 201, r.text
    return str(body["programme_id"])


async def enrol(client: httpx.AsyncClient, programme_id: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    r = await client.post(f"/programmes/{programme_id}/participants/bulk", json=rows)
    assert r.status_code == 201, r.text
    return list(r.json())


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


async def test_the_reporting_line_walks_the_whole_org_chart_and_a_late_manager_flags_a_live_pair(
    serve: ServeFactory, infra: Infra
) -> None:
    """The issue's case: E003 (manager E002, in no programme and not yet known) mentors E001 (E002's manager)."""
    svc = await serve(PAIRING)
    e1, e2, e3 = uid("E001"), uid("E002"), uid("E003")
    await sync(
        svc, [person(e1, "Dr. Ingrid Hoffmann", grade=16), person(e3, "Lena Yilmaz", grade=4, manager_employee_id=e2)]
    )
    async with auth.client(base_url=svc.url) as client:
        pending = (await client.get("/directory/pending-managers")).json()
        assert [(p["employee_id"], p["manager_employee_id"]) for p in pending if p["employee_id"] == e3] == [(e3, e2)]
        first = await programme(client)
        mentor, mentee = await enrol(client, first, [mentor_enrolment(e3), mentee_enrolment(e1)])
        r = await pair(client, first, mentor["participant_id"], mentee["participant_id"])
        assert r.status_code == 201, r.text  # nothing known links them yet
        pair_id = r.json()["pair_id"]

        # The HR platform hires E002 (E001's report, E003's manager): E003 now sits two levels below E001.
        hired = hr_event(
            hr.EmployeeHired(
                employee_id=e2,
                display_name="Tom Berger",
                email=f"{e2}@acme.example",
                department="Finance",
                grade=12,
                manager_employee_id=e1,
                languages=["de"],
            )
        )
        await publish(svc, infra, hired)

        async def flagged() -> dict[str, Any] | None:
            p = (await client.get(f"/pairs/{pair_id}")).json()
            return p if p["flag"] else None

        flagged_pair = await eventually(flagged)
        assert flagged_pair["state"] == "paused"  # the programme's default policy pauses flagged pairs
        assert flagged_pair["pause_cause"] == "flag"
        assert flagged_pair["flag"]["rule"] == "reporting_line"
        assert flagged_pair["flag"]["chain"] == [e3, e2, e1]
        assert flagged_pair["flag"]["action"] == "paused"
        listed = (await client.get("/pairs", params={"flagged": "true", "programme_id": first})).json()
        assert [p["pair_id"] for p in listed["items"]] == [pair_id]
        assert e3 not in {p["employee_id"] for p in (await client.get("/directory/pending-managers")).json()}

        # A new programme: the match run never proposes them, and HR cannot pair them by hand.
        second = await programme(client)
        mentor2, mentee2 = await enrol(client, second, [mentor_enrolment(e3), mentee_enrolment(e1)])
        run = (await client.post(f"/programmes/{second}/match-runs", json={})).json()
        assert run["proposals"] == []
        assert {u["reason_code"] for u in run["unmatched"]} >= {"reporting_line"}
        assert run["directory_revision"] >= 3
        refused = await pair(client, second, mentor2["participant_id"], mentee2["participant_id"])
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "hard_rule"

    await wait_published(svc.host.pool)
    records = await read_topic(infra.kafka_bootstrap, svc.host.topics.directory, expect=3)
    keys = await topic_keys(infra.kafka_bootstrap, svc.host.topics.keys)
    events = [decode(r.headers, r.value, keys) for r in records]
    by_employee = {e.data.employee_id: e for e in events if e.type == "tandem.directory.EmployeeHired"}
    assert by_employee[e2].data.origin == "hr_event"
    assert by_employee[e2].data.source_event_id == hired.id
    assert by_employee[e2].causationid == hired.id
    pairing_events = await read_topic(infra.kafka_bootstrap, svc.host.topics.pairing, expect=10)
    keys = await topic_keys(infra.kafka_bootstrap, svc.host.topics.keys)
    assert "tandem.pairing.PairFlagged" in {decode(r.headers, r.value, keys).type for r in pairing_events}


async def test_hr_events_out_of_order_duplicated_or_invalid(serve: ServeFactory, infra: Infra) -> None:
    svc = await serve(PAIRING)
    e = uid("E100")
    t0 = datetime.now(UTC) - timedelta(hours=3)
    record = {
        "employee_id": e,
        "display_name": "Anna Kowalska",
        "email": f"{e}@acme.example",
        "department": "Legal",
        "grade": 12,
        "languages": ["pl", "EN"],
    }
    hired = hr_event(hr.EmployeeHired(**record, manager_employee_id="M1"), t0)
    newer = hr_event(hr.EmployeeUpdated(**record, manager_employee_id="M2"), t0 + timedelta(hours=2))
    older = hr_event(hr.EmployeeUpdated(**record, manager_employee_id="M3"), t0 + timedelta(hours=1))
    bad_language = hr_event(hr.EmployeeUpdated(**{**record, "languages": ["Deutsch"]}), t0 + timedelta(hours=3))
    unknown_leaver = hr_event(hr.EmployeeLeft(employee_id=uid("E404"), left_on=t0.date()))
    after_the_bad = hr_event(
        hr.EmployeeUpdated(**{**record, "department": "Tax"}, manager_employee_id="M2"),
        t0 + timedelta(hours=2, minutes=30),
    )
    await publish(svc, infra, hired, newer, older, newer, bad_language, unknown_leaver, after_the_bad)

    async with auth.client(base_url=svc.url) as client:

        async def settled() -> dict[str, Any] | None:
            current = await employee(client, e)
            return current if current.get("department") == "Tax" else None

        current = await eventually(settled)
    assert current["manager_employee_id"] == "M2"  # the older change did not overwrite the newer one
    assert current["languages"] == ["pl", "en"]  # normalised: EN -> en
    assert current["revision"] == 3  # hired, newer, after_the_bad: the older, the duplicate and the bad made none

    await wait_published(svc.host.pool)
    records = await read_topic(infra.kafka_bootstrap, svc.host.topics.directory, expect=4)
    keys = await topic_keys(infra.kafka_bootstrap, svc.host.topics.keys)
    mine = [decode(r.headers, r.value, keys) for r in records]
    mine = [x for x in mine if x.data.employee_id == e]
    assert [x.type.rsplit(".", 1)[1] for x in mine] == [
        "EmployeeHired",
        "EmployeeUpdated",
        "EmployeeChangeIgnored",
        "EmployeeUpdated",
    ]  # (the duplicate of `newer` changed nothing and recorded nothing)
    assert mine[2].data.source_event_id == older.id

    dead = await read_topic(infra.kafka_bootstrap, svc.host.topics.dead_letter("pairing"), expect=2)
    reasons = {dict(d.headers)["ce_id"].decode(): dict(d.headers)["dlq_error"].decode() for d in dead}
    assert "languages" in reasons[bad_language.id]
    assert "BCP 47" in reasons[bad_language.id]
    assert "not in the directory" in reasons[unknown_leaver.id]


async def test_a_reorganisation_flags_pairs_and_hr_keeps_one_and_ends_the_other(
    serve: ServeFactory, infra: Infra
) -> None:
    svc = await serve(PAIRING)
    boss, mid, junior, boss2, mid2, junior2, spare = (uid(x) for x in ("B", "M", "J", "B2", "M2", "J2", "S"))
    await sync(
        svc,
        [
            person(boss, "Dr. Sabine Keller", grade=16),
            person(mid, "Max Wolf", grade=11),
            person(junior, "Noah Fischer", grade=4, manager_employee_id=mid),
            person(boss2, "Philippe Moreau", grade=16),
            person(mid2, "Clara Koch", grade=11),
            person(junior2, "Mia Wagner", grade=4, manager_employee_id=mid2),
            person(spare, "Emma Schulz", grade=3),
        ],
    )
    async with auth.client(base_url=svc.url) as client:
        pausing = await programme(client)
        running = await programme(client, flagged_pairs="keep_running")
        m1, e1 = await enrol(client, pausing, [mentor_enrolment(junior), mentee_enrolment(boss)])
        m2, e2, m3 = await enrol(
            client, running, [mentor_enrolment(junior2), mentee_enrolment(boss2), mentor_enrolment(spare)]
        )
        kept_id = (await pair(client, pausing, m1["participant_id"], e1["participant_id"])).json()["pair_id"]
        ended_id = (await pair(client, running, m2["participant_id"], e2["participant_id"])).json()["pair_id"]

        # The reorganisation: both middle managers now report to the seniors their juniors mentor.
        result = await sync(
            svc,
            [
                person(mid, "Max Wolf", grade=11, manager_employee_id=boss),
                person(mid2, "Clara Koch", grade=11, manager_employee_id=boss2),
            ],
        )
        assert (result["updated"], result["flagged"]) == (2, 2)
        kept = (await client.get(f"/pairs/{kept_id}")).json()
        ended = (await client.get(f"/pairs/{ended_id}")).json()
        assert (kept["state"], kept["flag"]["action"]) == ("paused", "paused")
        assert (ended["state"], ended["flag"]["action"]) == ("active", "left_running")
        assert kept["flag"]["chain"] == [junior, mid, boss]

        # resolving needs a reason; a pair that is not flagged cannot be resolved
        bad = await client.post(f"/pairs/{kept_id}/flag/resolve", json={"decision": "keep"})
        assert bad.status_code == 422
        assert bad.json()["error"]["field"] == "reason"

        keep = {"decision": "keep", "reason": "works council agreed"}
        r = await client.post(f"/pairs/{kept_id}/flag/resolve", json=keep)
        assert r.status_code == 200, r.text
        kept = r.json()["pair"]
        assert (kept["state"], kept["flag"], kept["flag_override"]["reason"]) == (
            "active",
            None,
            "works council agreed",
        )
        assert "hr-default-staff" in kept["flag_override"]["by"]  # who decided: the signed-in caller
        assert (await client.post("/directory/recheck")).json()["flagged"] == 0  # kept: not flagged again

        end = {"decision": "end", "reason": "new reporting line"}
        r = await client.post(f"/pairs/{ended_id}/flag/resolve", json=end)
        assert r.status_code == 200, r.text
        assert (r.json()["pair"]["state"], r.json()["pair"]["end_reason"]) == ("ended", "rematched")
        [proposal] = r.json()["rematch"]["proposals"]
        assert (proposal["mentee_id"], proposal["mentor_id"]) == (e2["participant_id"], m3["participant_id"])
        again = await client.post(f"/pairs/{ended_id}/flag/resolve", json={"decision": "keep", "reason": "x"})
        assert again.status_code == 409

        # another reporting line is another conflict, flagged despite the override; undoing it clears the flag
        await sync(svc, [person(junior, "Noah Fischer", grade=4, manager_employee_id=boss)])
        again_flagged = (await client.get(f"/pairs/{kept_id}")).json()
        assert (again_flagged["state"], again_flagged["flag"]["chain"]) == ("paused", [junior, boss])
        await sync(svc, [person(junior, "Noah Fischer", grade=4, manager_employee_id=spare)])
        cleared = (await client.get(f"/pairs/{kept_id}")).json()
        assert (cleared["state"], cleared["flag"], cleared["pause_cause"]) == ("active", None, None)

    await wait_published(svc.host.pool)
    keys = await topic_keys(infra.kafka_bootstrap, svc.host.topics.keys)
    types = [
        decode(r.headers, r.value, keys).type.rsplit(".", 1)[1]
        for r in await read_topic(infra.kafka_bootstrap, svc.host.topics.pairing, expect=12)
    ]
    assert types.count("PairFlagged") == 3
    assert types.count("PairFlagResolved") == 3  # kept, ended, cleared


async def test_the_file_sync_dry_run_apply_complete_and_row_errors(serve: ServeFactory, infra: Infra) -> None:
    svc = await serve(PAIRING)
    tenant = uid("tenant")
    ids = [uid("F") for _ in range(4)]
    header = "employee_id,display_name,email,department,grade,manager_employee_id,languages,status\n"
    rows = [f"{ids[0]},Katharina Albers,ka@acme.example,Executive,20,,de; en,active\n"]
    rows += [f"{i},Person {i},{i}@acme.example,Sales,8,{ids[0]},EN,active\n" for i in ids[1:]]
    upload = {"authorization": f"Bearer {await token(svc.host, tenant)}", "content-type": "text/csv"}
    async with auth.client(base_url=svc.url) as client:
        dry = (
            await client.post(
                "/directory/imports", content=header + "".join(rows), headers=upload, params={"dry_run": "true"}
            )
        ).json()
        assert (dry["hired"], dry["dry_run"], dry["rows"]) == (4, True, 4)
        async with svc.host.pool.acquire() as conn:
            assert await repository.directory_revision(conn, tenant) == 0  # a dry run changes nothing
        applied = (await client.post("/directory/imports", content=header + "".join(rows), headers=upload)).json()
        assert (applied["hired"], applied["revision"]) == (4, 4)
        again = (await client.post("/directory/imports", content=header + "".join(rows), headers=upload)).json()
        assert (again["hired"], again["updated"], again["unchanged"]) == (0, 0, 4)  # only differences are events

        # a complete file without ids[3] and with ids[2] moved: one leaver (inferred), one update
        complete = [rows[0], rows[1], rows[2].replace(",Sales,", ",Legal,")]
        preview = (
            await client.post(
                "/directory/imports",
                content=header + "".join(complete),
                headers=upload,
                params={"complete": "true", "dry_run": "true"},
            )
        ).json()
        assert (preview["updated"], preview["left"], preview["unchanged"]) == (1, 1, 2)
        partial = (await client.post("/directory/imports", content=header + "".join(complete), headers=upload)).json()
        assert partial["left"] == 0  # without complete=true, absence is not leaving
        done = (
            await client.post(
                "/directory/imports", content=header + "".join(complete), headers=upload, params={"complete": "true"}
            )
        ).json()
        assert (done["left"], done["updated"]) == (1, 0)

        # a bad row: 422 naming row and field, nothing applied
        async with svc.host.pool.acquire() as conn:
            before = await repository.directory_revision(conn, tenant)
        broken = header + rows[0] + rows[1].replace(",EN,", ",xx,") + rows[2].replace(",8,", ",eight,")
        r = await client.post("/directory/imports", content=broken, headers=upload)
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert (error["field"], error["details"][0]["row"]) == ("languages", 2)
        assert error["message"].startswith("row 2: languages")
        assert [d["field"] for d in error["details"]] == ["languages", "grade"]
        async with svc.host.pool.acquire() as conn:
            assert await repository.directory_revision(conn, tenant) == before
        no_token = await client.post(
            "/directory/imports", content=header, headers={"content-type": "text/csv", "authorization": ""}
        )
        assert no_token.status_code == 401
        assert no_token.headers["www-authenticate"].startswith("Bearer")
        unknown_column = await client.post(
            "/directory/imports", content="employee_id,display_name,email,shoe_size\n", headers=upload
        )
        assert (unknown_column.status_code, unknown_column.json()["error"]["field"]) == (422, "shoe_size")

    # the same sync from the command line, dry run first
    path = ROOT / "test-artifacts" / f"{tenant}.csv"
    path.parent.mkdir(exist_ok=True)
    path.write_text(header + "".join(rows))
    env = cli_env(infra.kafka_bootstrap, svc.host, PAIRING_DATABASE_URL=svc.host.settings.dsn)
    cli = ["hr", "import", str(path), "--tenant", tenant]
    dry_cli = await tandem(*cli, "--dry-run", env=env)
    assert dry_cli.returncode == 0, dry_cli.stderr
    assert "1 rehired" in dry_cli.stdout
    assert "dry run, nothing changed" in dry_cli.stdout
    real = await tandem(*cli, env=env)
    assert real.returncode == 0, real.stderr
    assert "1 rehired" in real.stdout
    path.write_text(header + rows[0].replace(",de; en,", ",Deutsch,"))
    bad = await tandem(*cli, env=env)
    assert bad.returncode == 2
    assert "row 1: languages" in bad.stderr


async def test_en_and_en_match_and_the_same_employee_id_in_two_tenants_is_two_people(serve: ServeFactory) -> None:
    svc = await serve(PAIRING)
    junior, senior = uid("E"), uid("E")
    await sync(
        svc,
        [
            person(junior, "Ethan Clarke", grade=4, languages=["en"]),
            person(senior, "Margaret Hughes", grade=15, languages=["EN"]),
        ],
    )
    other = uid("globex")
    await sync(svc, [person(junior, "Someone Else", grade=9, languages=["fr"])], tenant=other)
    async with svc.host.pool.acquire() as conn:
        ours = await repository.get_employee(conn, "default", junior)
        theirs = await repository.get_employee(conn, other, junior)
    assert (ours.display_name, theirs.display_name) == ("Ethan Clarke", "Someone Else")
    async with auth.client(base_url=svc.url) as client:
        assert (await employee(client, senior))["languages"] == ["en"]
        programme_id = await programme(client)
        await enrol(client, programme_id, [mentor_enrolment(junior), mentee_enrolment(senior)])
        run = (await client.post(f"/programmes/{programme_id}/match-runs", json={})).json()
        assert len(run["proposals"]) == 1
        assert "English" in run["proposals"][0]["rationale"]
        # an employee only another tenant knows cannot be enrolled here
        stranger = uid("E")
        await sync(svc, [person(stranger, "Nobody Here", grade=4)], tenant=other)
        r = await client.post(f"/programmes/{programme_id}/participants", json=mentor_enrolment(stranger))
        assert r.status_code == 422
        assert "not in the directory" in r.json()["error"]["message"]


async def test_leave_of_absence_pauses_return_resumes_leaving_ends_rehire_enrols_again(
    serve: ServeFactory, infra: Infra
) -> None:
    svc = await serve(PAIRING)
    junior, senior = uid("E"), uid("E")
    await sync(svc, [person(junior, "Jonas Becker", grade=4), person(senior, "Stefan Braun", grade=15)])
    record = {
        "employee_id": senior,
        "display_name": "Stefan Braun",
        "email": f"{senior}@acme.example",
        "department": "Finance",
        "grade": 15,
        "languages": ["de"],
    }
    async with auth.client(base_url=svc.url) as client:
        programme_id = await programme(client)
        m, e = await enrol(client, programme_id, [mentor_enrolment(junior), mentee_enrolment(senior)])
        pair_id = (await pair(client, programme_id, m["participant_id"], e["participant_id"])).json()["pair_id"]

        async def pair_state(want: str) -> dict[str, Any] | None:
            p = (await client.get(f"/pairs/{pair_id}")).json()
            return p if p["state"] == want else None

        t = datetime.now(UTC)
        await publish(svc, infra, hr_event(hr.EmployeeUpdated(**record, status="on_leave"), t))
        paused = await eventually(lambda: pair_state("paused"))
        assert paused["pause_cause"] == "leave"
        assert (await client.post(f"/pairs/{pair_id}/resume")).status_code == 409  # the return resumes it
        await publish(svc, infra, hr_event(hr.EmployeeUpdated(**record, status="active"), t + timedelta(seconds=1)))
        await eventually(lambda: pair_state("active"))

        # a new address reaches the enrolment (and from there sessions and notifications)
        moved = {**record, "email": f"new-{senior}@acme.example"}
        await publish(svc, infra, hr_event(hr.EmployeeUpdated(**moved), t + timedelta(seconds=2)))

        async def new_address() -> bool:
            p = (await client.get(f"/participants/{e['participant_id']}")).json()
            return bool(p["profile"]["email"] == moved["email"])

        await eventually(new_address)

        await publish(
            svc, infra, hr_event(hr.EmployeeLeft(employee_id=senior, left_on=t.date()), t + timedelta(seconds=3))
        )
        ended = await eventually(lambda: pair_state("ended"))
        assert ended["end_reason"] == "left_company"
        [waiting] = (await client.get(f"/programmes/{programme_id}/waiting-for-partner")).json()
        assert (waiting["participant_id"], waiting["pair_id"]) == (m["participant_id"], pair_id)
        assert waiting["end_reason"] == "left_company"
        rematch = await client.post(f"/pairs/{pair_id}/rematch")  # the partner is offered a new partner
        assert rematch.status_code == 201, rematch.text
        assert rematch.json()["kind"] == "rematch"
        assert [u["reason_code"] for u in rematch.json()["unmatched"]] == ["no_mentees"]  # nobody else enrolled
        assert (await client.get(f"/participants/{e['participant_id']}")).json()["status"] == "withdrawn"
        r = await client.post(f"/programmes/{programme_id}/participants", json=mentee_enrolment(senior))
        assert r.status_code == 422  # someone who left cannot be enrolled

        await publish(svc, infra, hr_event(hr.EmployeeHired(**moved), t + timedelta(seconds=4)))

        async def rehired() -> bool:
            return (await employee(client, senior)).get("status") == "active"

        await eventually(rehired)
        r = await client.post(f"/programmes/{programme_id}/participants", json=mentee_enrolment(senior))
        assert r.status_code == 201, r.text


async def test_who_was_the_manager_on_a_date_and_a_match_run_can_be_replayed_from_the_log(
    serve: ServeFactory, infra: Infra
) -> None:
    svc = await serve(PAIRING)
    worker, first_boss, second_boss, senior = uid("W"), uid("B1"), uid("B2"), uid("S")
    await sync(
        svc,
        [
            person(first_boss, "First Boss", grade=14),
            person(second_boss, "Second Boss", grade=14),
            person(worker, "Lucas Martin", grade=4, manager_employee_id=first_boss),
            person(senior, "Claire Dubois", grade=15),
        ],
    )
    await wait_published(svc.host.pool)
    await asyncio.sleep(0.05)
    between = datetime.now(UTC)
    await asyncio.sleep(0.05)
    await sync(svc, [person(worker, "Lucas Martin", grade=4, manager_employee_id=second_boss)])
    async with auth.client(base_url=svc.url) as client:
        programme_id = await programme(client)
        await enrol(client, programme_id, [mentor_enrolment(worker), mentee_enrolment(senior)])
        run = (await client.post(f"/programmes/{programme_id}/match-runs", json={})).json()
        await wait_published(svc.host.pool)
        then = (await client.get(f"/audit/{worker}", params={"as_of": between.isoformat()})).json()
        now = (await client.get(f"/audit/{worker}", params={"as_of": datetime.now(UTC).isoformat()})).json()
    assert (then["kind"], then["manager_employee_id"]) == ("employee", first_boss)
    assert now["manager_employee_id"] == second_boss

    env = cli_env(infra.kafka_bootstrap, svc.host)
    out = await tandem("audit", worker, "--as-of", between.isoformat(), env=env, check=True)
    assert json.loads(out.stdout)["manager_employee_id"] == first_boss

    # The run recorded the directory revision it read: fold the directory topic up to it, take the same
    # reporting lines, and the hash is the one recorded.
    records = await read_topic(infra.kafka_bootstrap, svc.host.topics.directory, expect=5)
    directory_types = {m.TYPE for m in DIRECTORY_EVENTS}
    state: dict[str, directory.Employee | None] = {}
    keys = await topic_keys(infra.kafka_bootstrap, svc.host.topics.keys)
    for r in records:
        env_ = decode(r.headers, r.value, keys)
        applies = env_.type in directory_types and env_.type != "tandem.directory.EmployeeChangeIgnored"
        if applies and env_.tenant == "default" and env_.data.revision <= run["directory_revision"]:
            state[env_.data.employee_id] = directory.evolve(state.get(env_.data.employee_id), env_.data)
    chart: dict[str, str] = {}
    for start in (worker, senior):
        current = start
        for _ in range(2):  # the programme's reporting_line_levels
            record = state.get(current)
            if record is None or record.manager_employee_id is None:
                break
            chart[current] = current = record.manager_employee_id
    assert repository.chart_hash(chart) == run["org_chart_hash"]


async def test_a_file_sync_killed_half_way_converges_when_run_again(serve: ServeFactory, infra: Infra) -> None:
    svc = await serve(PAIRING)
    tenant = uid("crash")
    n = 12_000
    path = ROOT / "test-artifacts" / f"{tenant}.csv"
    path.parent.mkdir(exist_ok=True)
    with path.open("w") as f:
        f.write("employee_id,display_name,email,department,grade,manager_employee_id,languages\n")
        for k in range(n):
            f.write(f"C{k:05d},Person {k},c{k}@acme.example,Sales,8,{'C00000' if k else ''},de\n")
    env = cli_env(infra.kafka_bootstrap, svc.host, PAIRING_DATABASE_URL=svc.host.settings.dsn)
    cli = [sys.executable, "-m", "services", "hr", "import", str(path), "--tenant", tenant]
    proc = await asyncio.create_subprocess_exec(*cli, cwd=ROOT, env=env)
    count = "SELECT count(*) FROM employees WHERE tenant = $1"
    while (await svc.host.pool.fetchval(count, tenant)) < 2_000:  # some chunks committed...
        assert proc.returncode is None, "the import ended before it could be killed"
        await asyncio.sleep(0.05)
    proc.kill()  # ... then kill -9, mid-way
    await proc.wait()
    half = await svc.host.pool.fetchval(count, tenant)
    assert 0 < half < n

    rerun = await asyncio.to_thread(subprocess.run, cli, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{n - half} hired" in rerun.stdout  # only what the killed run had not committed
    assert await svc.host.pool.fetchval(count, tenant) == n
    hires = await svc.host.pool.fetchval(
        "SELECT count(*) FROM outbox WHERE event_type = 'tandem.directory.EmployeeHired' AND headers::text LIKE $1",
        f'%"ce_tenant", "{tenant}"%',
    )
    assert hires == n  # each employee hired once, whatever the crash
    async with svc.host.pool.acquire() as conn:
        assert await repository.directory_revision(conn, tenant) == n
