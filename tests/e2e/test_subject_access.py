"""Subject access (GDPR art. 15), end to end: the three services run together over the real broker and Postgres
(mail to a real SMTP server), one person is seeded with records in every service through the public APIs, and
`tandem subject export` (run for real, as a process) writes one document that holds every seeded record of theirs,
compared by ids and values, and nothing of their partner's. Every row of every table of the three databases that
names the person is found in the answer (so a table the answer forgets fails here). Another tenant's HR learns
nothing, a participant is refused, a malformed id is a 422 naming the field, and each read is in the log."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared import registry, stack
from shared.db import Conn
from shared.events.pairing import PairCreated
from shared.identity_provider import LocalIdentityProvider
from tests import auth, builders
from tests.conftest import Running, ServeAllFactory
from tests.directory import enrol, provision
from tests.integration.notifications.receiver import Receiver
from tests.integration.notifications.servers import SmtpServer
from tests.kafka_helpers import eventually

ROOT = Path(__file__).resolve().parents[2]
#: Tables of the messaging machinery (the log's copies, positions, dead letters): not records about a person.
MECHANICS = {
    "outbox",
    "inbox",
    "consumer_positions",
    "producer_positions",
    "projection_state",
    "dead_letters",
    "parked",
    "schema_migrations",
    "data_keys",  # wrapped keys (shared.personal): the means to read the data, answered decrypted
}
#: Rows that name the person among others': answered as the person's entries, not whole (checked apart).
PARTIAL = {("pairing", "match_runs"), ("pairing", "programmes")}
CONFIDENTIAL = f"Only HR may know: {uuid.uuid4().hex}"
PARTNER_SECRET = f"The partner's own secret: {uuid.uuid4().hex}"
AGENDA = f"Prompt patterns for board memos {uuid.uuid4().hex[:6]}"
ACTION = f"Try the memo template {uuid.uuid4().hex[:6]}"
CANCELLED_BECAUSE = f"Board meeting moved {uuid.uuid4().hex[:6]}"
GOAL = f"Check the numbers myself {uuid.uuid4().hex[:6]}"
FOCUS = f"Board memos with AI {uuid.uuid4().hex[:6]}"
NEVER_WITH = f"mentor-{uuid.uuid4().hex[:8]}"


@dataclass
class System:
    pairing: Running
    sessions: Running
    notifications: Running
    smtp: SmtpServer
    receiver: Receiver

    @property
    def urls(self) -> dict[str, str]:
        return {"pairing": self.pairing.url, "sessions": self.sessions.url, "notifications": self.notifications.url}

    def running(self, service: str) -> Running:
        found: Running = getattr(self, service)
        return found


@dataclass
class Seeded:
    person: dict[str, Any]  # the mentee: the data subject
    partner: dict[str, Any]  # the mentor: a second person
    programme_id: str
    pair_id: str
    other_participant_id: str  # the person's enrolment in a second programme, left unmatched by its match run
    match_run_id: str
    held_session_id: str
    cancelled_session_id: str
    goal_id: str
    feedback_id: str
    partner_feedback_id: str
    welcome_id: str


@pytest.fixture
def smtp() -> Any:
    with SmtpServer() as server:
        yield server


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """The HR platform's webhook endpoint."""
    r = await Receiver().start()
    yield r
    await r.stop()


@pytest.fixture
async def system(serve_all: ServeAllFactory, smtp: SmtpServer, receiver: Receiver) -> System:
    extra = {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
        "DISPATCH_INTERVAL": "0.05",
        "SCAN_INTERVAL": "3600",
        "WEBHOOK_ALLOW_INSECURE": "true",  # the receiver is plain http on the loopback
        "WEBHOOK_INTERVAL": "0.05",
    }
    running = await serve_all(notifications={"extra": extra})
    return System(running["pairing"], running["sessions"], running["notifications"], smtp=smtp, receiver=receiver)


def _created(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code in (200, 201), r.text
    data: dict[str, Any] = r.json()
    return data


async def seed(system: System) -> Seeded:
    """One person (a mentee) with records in every service, and their mentor: through the public APIs only."""
    person, partner = builders.mentee(), builders.mentor()
    async with auth.client(base_url=system.pairing.url) as hr:
        programme_id = _created(await hr.post("/programmes", json=builders.programme()))["programme_id"]
        r = await enrol(hr, system.pairing.url, system.pairing.host, programme_id, [partner, person])
        assert r.status_code == 201, r.text
        # quiet hours off, each with their own token: the welcome goes at once (and preferences are stored)
        for who in (person, partner):
            async with httpx.AsyncClient(base_url=system.notifications.url, headers=auth.of(who)) as own:
                body = {"locale": who["locale"], "quiet_start": None, "quiet_end": None}

                async def put(own: httpx.AsyncClient = own, who: dict[str, Any] = who, body: Any = body) -> bool:
                    r = await own.put(f"/recipients/{who['participant_id']}/preferences", json=body)
                    return r.status_code == 200

                await eventually(put)
    async with auth.client(base_url=system.notifications.url) as hr:  # the HR platform hears of every new pair
        body = {"url": system.receiver.url, "event_types": [PairCreated.TYPE], "description": "HR platform"}
        subscription_id = _created(await hr.post("/webhooks/subscriptions", json=body))["subscription_id"]
    async with auth.client(base_url=system.pairing.url) as hr:
        pair = _created(
            await hr.post(
                "/pairs",
                json={
                    "programme_id": programme_id,
                    "mentor_id": partner["participant_id"],
                    "mentee_id": person["participant_id"],
                },
            )
        )
        pair_id = pair["pair_id"]
        # a second programme where the person waits alone: its match run leaves them unmatched, with the reason
        # (and HR's policy there says never to pair them with a given mentor: a rule about them)
        other = {**person, "participant_id": builders.uid("mentee")}
        policy = {"never_pair": [[NEVER_WITH, other["participant_id"]]]}
        second = _created(await hr.post("/programmes", json=builders.programme(matching_policy=policy)))
        second = second["programme_id"]
        r = await enrol(hr, system.pairing.url, system.pairing.host, second, [other])
        assert r.status_code == 201, r.text
        run = _created(await hr.post(f"/programmes/{second}/match-runs", json={}))
        assert [u["participant_id"] for u in run["unmatched"]] == [other["participant_id"]]

    mine = auth.of(person)
    async with auth.client(base_url=system.sessions.url) as hr:

        async def known() -> bool:
            return (await hr.get(f"/pairs/{pair_id}")).status_code == 200

        await eventually(known)
        for who in (person, partner):
            r = await hr.post(
                f"/pairs/{pair_id}/agreement",
                json={
                    "participant_id": who["participant_id"],
                    "meeting_rhythm": "every two weeks",
                    "confidentiality": True,
                    "learning_focus": FOCUS,
                },
            )
            assert r.status_code == 201, r.text
        goal = _created(await hr.post(f"/pairs/{pair_id}/goals", json={"topic": "data-analysis", "description": GOAL}))
        goal_id = goal["events"][0]["data"]["goal_id"]
        r = await hr.post(
            f"/pairs/{pair_id}/confidence",
            json={"participant_id": person["participant_id"], "phase": "start", "ratings": {"prompt-writing": 2}},
        )
        assert r.status_code == 201, r.text
        held_at = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
        held = _created(
            await hr.post(f"/pairs/{pair_id}/sessions", json={"starts_at": held_at.isoformat(), "agenda": AGENDA})
        )
        held_id = held["events"][0]["data"]["session_id"]
        r = await hr.post(
            f"/pairs/{pair_id}/sessions/{held_id}/log",
            json={"held_at": held_at.isoformat(), "minutes": 50, "action_items": [ACTION]},
        )
        assert r.status_code == 200, r.text
        later = (held_at + timedelta(days=10)).isoformat()
        cancelled = _created(await hr.post(f"/pairs/{pair_id}/sessions", json={"starts_at": later}))
        cancelled_id = cancelled["events"][0]["data"]["session_id"]
        r = await hr.post(f"/pairs/{pair_id}/sessions/{cancelled_id}/cancel", json={"reason": CANCELLED_BECAUSE})
        assert r.status_code == 200, r.text
    async with httpx.AsyncClient(base_url=system.sessions.url, headers=mine) as own:
        feedback = {
            "feedback_id": builders.uid("fb"),
            "author_id": person["participant_id"],
            "session_id": held_id,
            "rating": 5,
            "productivity_gain": True,
            "confidential_comment": CONFIDENTIAL,
        }
        assert (await own.post(f"/pairs/{pair_id}/feedback", json=feedback)).status_code == 201
    async with httpx.AsyncClient(base_url=system.sessions.url, headers=auth.of(partner)) as own:
        theirs = {
            "feedback_id": builders.uid("fb"),
            "author_id": partner["participant_id"],
            "session_id": held_id,
            "rating": 4,
            "confidential_comment": PARTNER_SECRET,
        }
        assert (await own.post(f"/pairs/{pair_id}/feedback", json=theirs)).status_code == 201

    # the welcome reaches the person's mailbox; then the pair ends as completed: a learning record each
    async def welcomed() -> Any:
        return await system.notifications.host.pool.fetchval(
            "SELECT notification_id FROM notifications WHERE recipient_id = $1 AND rule = 'welcome' "
            "AND status = 'sent'",
            person["participant_id"],
        )

    welcome_id = await eventually(welcomed)
    assert system.smtp.mailbox.to(person["email"])
    async with auth.client(base_url=system.pairing.url) as hr:
        assert (await hr.post(f"/pairs/{pair_id}/end", json={"reason": "completed"})).status_code == 200

    async def settled() -> bool:
        pool = system.sessions.host.pool
        records = await pool.fetchval(
            "SELECT count(*) FROM learning_records WHERE participant_id = $1", person["participant_id"]
        )
        feedback_rows = await pool.fetchval("SELECT count(*) FROM feedback WHERE pair_id = $1", pair_id)
        ended = await system.notifications.host.pool.fetchval("SELECT state FROM pairs WHERE pair_id = $1", pair_id)
        hooks = await system.notifications.host.pool.fetchval(
            "SELECT count(*) FROM webhook_deliveries WHERE subscription_id = $1", uuid.UUID(subscription_id)
        )
        return bool(records == 1 and feedback_rows == 2 and ended == "ended" and hooks == 1)

    await eventually(settled)
    return Seeded(
        person=person,
        partner=partner,
        programme_id=programme_id,
        pair_id=pair_id,
        other_participant_id=other["participant_id"],
        match_run_id=run["match_run_id"],
        held_session_id=held_id,
        cancelled_session_id=cancelled_id,
        goal_id=goal_id,
        feedback_id=feedback["feedback_id"],
        partner_feedback_id=theirs["feedback_id"],
        welcome_id=str(welcome_id),
    )


async def export(
    system: System, employee_id: str, out: Path, *extra: str, stack_file: Path | None = None
) -> tuple[int, str, str]:
    """`tandem subject export` as a process, against the running services: with an HR token in TANDEM_TOKEN and
    the services' URLs in the environment, or (`stack_file`) with neither, as against `tandem up`."""
    env = {k: v for k, v in os.environ.items() if k != "TANDEM_TOKEN" and not k.endswith("_URL")}
    env |= {"PYTHONPATH": str(ROOT), "TANDEM_STACK_FILE": str(stack_file or "")}
    if stack_file is None:
        env["TANDEM_TOKEN"] = auth.token("hr")
        env |= {f"{registry.service(name).prefix}URL": url for name, url in system.urls.items()}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli",
        "subject",
        "export",
        employee_id,
        "--out",
        str(out),
        *extra,
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await process.communicate()
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


def rows(document: dict[str, Any], service: str, section: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = document["services"][service]["records"][section]
    return found


def by(items: list[dict[str, Any]], key: str) -> dict[Any, dict[str, Any]]:
    return {item[key]: item for item in items}


_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT")


async def rows_naming(conn: Conn, ids: list[str], *, unless: Sequence[str] = ()) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table of a service's database (public and projection) in which one of `ids` is a whole
    value somewhere (a column, an array element, a JSON string), by table; the messaging machinery left out. A row
    that names one of `unless` (another person's ids: their own feedback, mail, agreement) is left out."""
    tables = await conn.fetch(
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_schema IN ('public', 'projection') AND table_type = 'BASE TABLE'"
    )
    found: dict[str, list[dict[str, Any]]] = {}
    wanted, theirs = _any(ids), _any(list(unless))
    for t in tables:
        if t["table_name"] in MECHANICS:
            continue
        for (row,) in await conn.fetch(f'SELECT to_jsonb(t) FROM "{t["table_schema"]}"."{t["table_name"]}" t'):
            text = json.dumps(row)
            if wanted.search(text) and not (unless and theirs.search(text)):
                found.setdefault(t["table_name"], []).append(row)
    return found


def _any(ids: list[str]) -> re.Pattern[str]:
    # a whole JSON string value, or one within a text column that holds JSON (its quotes escaped)
    return re.compile("|".join(f'"{re.escape(i)}\\\\?"' for i in ids) or "(?!)")


def answered(row: dict[str, Any], answer: dict[str, Any]) -> bool:
    """A database row is in the answer: some row of some section has each of its values (timestamps are
    written differently by Postgres's JSON and the API's, so they are left out of the comparison)."""
    wanted = {k: v for k, v in row.items() if not (isinstance(v, str) and _TIMESTAMP.match(v))}
    return any(
        all(k in candidate and candidate[k] == v for k, v in wanted.items())
        for section in answer["records"].values()
        for candidate in section
    )


async def test_a_subject_access_export_holds_every_record_of_the_person_and_none_of_another(
    system: System, tmp_path: Path
) -> None:
    s = await seed(system)
    person, partner = s.person, s.partner
    out = tmp_path / "subject.json"

    code, stdout, stderr = await export(system, person["employee_id"], out, "--tenant", "default")
    assert code == 0, stderr
    assert f"written to {out}" in stdout
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["employee_id"] == person["employee_id"]
    assert document["tenant"] == "default"
    assert datetime.fromisoformat(document["exported_at"])
    assert sorted(document["services"]) == ["notifications", "pairing", "sessions"]
    for name, answer in document["services"].items():
        assert answer["service"] == name
        assert answer["employee_id"] == person["employee_id"]
        assert answer["known"] is True
        assert datetime.fromisoformat(answer["read_at"])

    # pairing: the directory record, both enrolments, the pair, the unmatched entry
    [record] = rows(document, "pairing", "directory")
    assert (record["employee_id"], record["email"], record["display_name"]) == (
        person["employee_id"],
        person["email"],
        person["display_name"],
    )
    assert record["department"] == person["department"]
    assert record["grade"] == person["grade"]
    enrolments = by(rows(document, "pairing", "enrolments"), "participant_id")
    assert sorted(enrolments) == sorted([person["participant_id"], s.other_participant_id])
    assert enrolments[person["participant_id"]]["profile"]["goal"] == person["goal"]
    [pair] = rows(document, "pairing", "pairs")
    assert (pair["pair_id"], pair["as_role"], pair["state"]) == (s.pair_id, "mentee", "ended")
    assert pair["mentor_id"] == partner["participant_id"]
    assert pair["rationale"]
    [unmatched] = rows(document, "pairing", "unmatched")
    assert unmatched["match_run_id"] == s.match_run_id
    assert unmatched["entry"]["participant_id"] == s.other_participant_id
    assert unmatched["entry"]["reason"]

    rules = {(r["policy_of"], r["rule"], tuple(r["entry"])) for r in rows(document, "pairing", "matching_rules")}
    assert rules == {
        ("programme", "never_pair", (NEVER_WITH, s.other_participant_id)),
        ("match run", "never_pair", (NEVER_WITH, s.other_participant_id)),
    }

    # sessions: the pair, the agreement, the goal, both sessions, their own feedback, the rating, the record
    both = sorted([person["participant_id"], s.other_participant_id])
    participants = rows(document, "sessions", "participants")
    assert sorted(p["participant_id"] for p in participants) == both
    assert {p["employee_id"] for p in participants} == {person["employee_id"]}
    assert [p["pair_id"] for p in rows(document, "sessions", "pairs")] == [s.pair_id]
    assert {a["learning_focus"] for a in rows(document, "sessions", "agreements")} == {FOCUS}
    assert [(g["goal_id"], g["description"]) for g in rows(document, "sessions", "goals")] == [(s.goal_id, GOAL)]
    sessions = by(rows(document, "sessions", "sessions"), "session_id")
    assert sessions[s.held_session_id]["agenda"] == AGENDA
    assert sessions[s.held_session_id]["action_items"] == [ACTION]
    assert sessions[s.cancelled_session_id]["status"] == "cancelled"
    assert sessions[s.cancelled_session_id]["cancel_reason"] == CANCELLED_BECAUSE
    [feedback] = rows(document, "sessions", "feedback")
    assert (feedback["feedback_id"], feedback["confidential_comment"]) == (s.feedback_id, CONFIDENTIAL)
    [rating] = rows(document, "sessions", "confidence")
    assert rating["ratings"] == {"prompt-writing": 2}
    assert rating["participant_id"] == person["participant_id"]
    [learning] = rows(document, "sessions", "learning_records")
    assert (learning["participant_id"], learning["outcome"]) == (person["participant_id"], "completed")

    # notifications: the recipient, the preferences, the welcome sent (with its receipt), the pair
    recipients = by(rows(document, "notifications", "recipients"), "participant_id")
    assert sorted(recipients) == both
    recipient = recipients[person["participant_id"]]
    assert (recipient["email"], recipient["display_name"]) == (person["email"], person["display_name"])
    [preferences] = rows(document, "notifications", "preferences")
    assert preferences["recipient_id"] == person["participant_id"]
    assert preferences["quiet_start"] is None
    notifications = by(rows(document, "notifications", "notifications"), "notification_id")
    assert notifications[s.welcome_id]["status"] == "sent"
    assert {n["recipient_id"] for n in notifications.values()} <= set(both)
    assert s.welcome_id in {r["notification_id"] for r in rows(document, "notifications", "receipts")}
    assert [p["pair_id"] for p in rows(document, "notifications", "pairs")] == [s.pair_id]
    [delivery] = rows(document, "notifications", "webhook_deliveries")  # the pair's PairCreated, to the HR platform
    assert delivery["event_type"] == PairCreated.TYPE
    assert json.loads(delivery["body"])["data"]["pair_id"] == s.pair_id
    assert {x["session_id"] for x in rows(document, "notifications", "sessions")} == {
        s.held_session_id,
        s.cancelled_session_id,
    }

    # nothing of the partner's own: their record, enrolment, feedback (and its confidential comment), mail
    text = out.read_text(encoding="utf-8")
    for theirs in (partner["employee_id"], partner["email"], s.partner_feedback_id, PARTNER_SECRET):
        assert theirs not in text

    # every row of every table that names the person is in their service's answer
    # (and every row about their pair or their notifications, but the partner's own, is in it too)
    ids = [person["employee_id"], person["participant_id"], s.other_participant_id]
    theirs = [partner["employee_id"], partner["participant_id"]]
    notification_ids = [str(n) for n in notifications]
    for service in registry.NAMES:
        answer = document["services"][service]
        async with system.running(service).host.pool.acquire() as conn:
            found = await rows_naming(conn, ids)
            about = await rows_naming(conn, [s.pair_id, *notification_ids], unless=theirs)
        assert found, service
        for table, table_rows in about.items():
            found.setdefault(table, []).extend(table_rows)
        for table, table_rows in found.items():
            if (service, table) in PARTIAL:
                continue
            for row in table_rows:
                assert answered(row, answer), f"{service}.{table}: {row} is not in the answer"
    async with system.pairing.host.pool.acquire() as conn:  # the rows answered in part
        partial = await rows_naming(conn, ids)
    assert [run["match_run_id"] for run in partial["match_runs"]] == [s.match_run_id]
    assert len(partial["programmes"]) == 1

    # each read is in the log: SensitiveDataAccessed with the employee as subject, by HR
    for service in registry.NAMES:
        events = await system.running(service).host.pool.fetch(
            "SELECT payload FROM outbox WHERE event_type = $1 AND subject = $2",
            f"tandem.{service}.SensitiveDataAccessed",
            person["employee_id"],
        )
        reads = [json.loads(e["payload"]) for e in events]
        reads = [r.get("data", r) for r in reads]
        assert [(r["what"], r["role"]) for r in reads] == [("subject access (GDPR art. 15)", "hr")], service


async def test_another_tenant_learns_nothing_a_participant_is_refused_a_bad_id_is_named(system: System) -> None:
    s = await seed(system)
    employee_id = s.person["employee_id"]
    for service, url in system.urls.items():
        async with auth.client("hr", tenant="other-tenant", base_url=url) as other:
            r = await other.get(f"/subjects/{employee_id}")
        assert r.status_code == 200, r.text
        answer = r.json()
        assert (answer["tenant"], answer["known"]) == ("other-tenant", False), service
        assert answer["records"], service
        assert not any(answer["records"].values()), service

        async with httpx.AsyncClient(base_url=url, headers=auth.of(s.person)) as own:
            r = await own.get(f"/subjects/{employee_id}")
        assert r.status_code == 403, (service, r.text)

        async with auth.client(base_url=url) as hr:
            r = await hr.get("/subjects/not%20an%20id")
            assert r.status_code == 422, (service, r.text)
            assert r.json()["error"]["field"] == "employee_id"
            r = await hr.get(f"/subjects/{builders.uid('E')}")
            assert r.status_code == 200, r.text
            assert r.json()["known"] is False
            assert not any(r.json()["records"].values())


async def test_against_the_local_stack_the_export_signs_in_as_its_hr_client(
    system: System, tmp_path: Path, identity_provider: LocalIdentityProvider
) -> None:
    """Without TANDEM_TOKEN, a running `tandem up` (its stack file) gives the services' URLs and an HR token from
    its provider (the `tandem-cli-hr` client, by client credentials)."""
    person = builders.mentee()
    async with auth.client(base_url=system.pairing.url) as hr:
        await provision(hr, system.pairing.url, system.pairing.host, [person])
    client = identity_provider.clients["tandem-cli-hr"]
    found = stack.Stack(
        pid=os.getpid(),  # alive: the file is used
        started_at=stack.now(),
        data_dir=str(tmp_path),
        broker={"KAFKA_BOOTSTRAP_SERVERS": system.pairing.host.settings.kafka_bootstrap_servers},
        database_url="postgresql://unused@127.0.0.1:1/unused",
        databases={},
        services=system.urls,
        oidc={
            "issuer": identity_provider.issuer,
            "hr_client_id": client.client_id,
            "hr_client_secret": client.secret or "",
        },
    )
    out = tmp_path / "subject.json"
    code, stdout, stderr = await export(system, person["employee_id"], out, stack_file=stack.write(tmp_path, found))
    assert code == 0, stderr
    assert f"written to {out}" in stdout
    document = json.loads(_text(out))
    assert document["tenant"] == auth.DEFAULT_TENANT
    [record] = document["services"]["pairing"]["records"]["directory"]
    assert record["email"] == person["email"]
    assert [a["known"] for a in document["services"].values()] == [True, False, False]


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


async def test_an_export_fails_naming_the_service_that_does_not_answer(system: System, tmp_path: Path) -> None:
    out = tmp_path / "subject.json"
    dead = f"http://127.0.0.1:{_closed_port()}"
    unreachable = System(
        system.pairing, system.sessions, Running(system.notifications.host, dead), system.smtp, system.receiver
    )
    code, _stdout, stderr = await export(unreachable, builders.uid("E"), out)
    assert code == 2
    assert stderr.startswith("tandem: subject export: notifications")
    assert "does not answer" in stderr
    assert len(stderr.strip().splitlines()) == 1
    assert _files(tmp_path) == []  # no file, not even a half-written one


def _files(folder: Path) -> list[Path]:
    return list(folder.iterdir())


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port
