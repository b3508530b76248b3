"""What was measured as leaks, kept closed: who may read and change what in the pairing service, the
confidential comment in the audit (JSON and CSV), spreadsheet formulas in exports, ids and page bounds."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from services.pairing.app import SPEC as PAIRING
from shared.events import Envelope, encode
from shared.events.sessions import FeedbackSubmitted
from shared.infra import Infra
from shared.outbox import wait_published
from tests import auth, builders
from tests.conftest import ServeFactory
from tests.directory import enrol
from tests.kafka_helpers import eventually, produce


async def test_participants_see_their_own_and_nothing_else(serve: ServeFactory) -> None:
    svc = await serve(PAIRING)
    mentor, mentee, other = builders.mentor(), builders.mentee(), builders.mentee()
    async with auth.client(base_url=svc.url) as hr:
        programme = builders.programme()
        await hr.post("/programmes", json=programme)
        assert (
            await enrol(hr, svc.url, svc.host, programme["programme_id"], [mentor, mentee, other])
        ).status_code == 201
        pair = (
            await hr.post(
                "/pairs",
                json={
                    "programme_id": programme["programme_id"],
                    "mentor_id": mentor["participant_id"],
                    "mentee_id": mentee["participant_id"],
                },
            )
        ).json()
    async with auth.client(base_url=svc.url, headers={"authorization": ""}) as nobody:
        assert (await nobody.get(f"/participants/{mentee['participant_id']}")).status_code == 401
    async with auth.client("participant", employee_id=mentee["employee_id"], base_url=svc.url) as me:
        assert (await me.get(f"/participants/{mentee['participant_id']}")).status_code == 200
        assert (await me.get(f"/participants/{other['participant_id']}")).status_code == 404  # e-mail, grade: not mine
        assert (await me.get(f"/pairs/{pair['pair_id']}")).status_code == 200
        listed = (await me.get("/pairs")).json()
        assert [p["pair_id"] for p in listed["items"]] == [pair["pair_id"]]
        assert (await me.get(f"/programmes/{programme['programme_id']}")).status_code == 200
        assert (await me.post(f"/programmes/{programme['programme_id']}/close")).status_code == 403
        assert (await me.get("/directory/employees")).status_code == 403
    async with auth.client("participant", employee_id=other["employee_id"], base_url=svc.url) as stranger:
        assert (await stranger.get(f"/pairs/{pair['pair_id']}")).status_code == 404
        assert (await stranger.post(f"/pairs/{pair['pair_id']}/pause", json={})).status_code == 404
        assert (await stranger.get("/pairs")).json()["total"] == 0
    async with auth.client("auditor", base_url=svc.url) as auditor:
        assert (await auditor.post(f"/programmes/{programme['programme_id']}/close")).status_code == 403
        assert (await auditor.get(f"/pairs/{pair['pair_id']}")).status_code == 200


async def test_the_confidential_comment_never_leaves_through_the_audit(serve: ServeFactory, infra: Infra) -> None:
    svc = await serve(PAIRING)
    pair_id = f"pair-{builders.uid('c')}"
    secret = "My mentor keeps cancelling; please do not tell him"
    feedback = FeedbackSubmitted(
        pair_id=pair_id,
        programme_id="prog-c",
        feedback_id=builders.uid("fb"),
        author_id="mentee-c",
        author_role="mentee",
        rating=2,
        confidential_comment=secret,
    )
    record = encode(Envelope.new(feedback, tenant="default", correlation_id='=HYPERLINK("http://evil")'))
    await produce(infra.kafka_bootstrap, svc.host.topics.sessions, [(record.key, record.value, record.headers)])
    async with auth.client("auditor", base_url=svc.url) as auditor:
        timeline = await eventually(lambda: _timeline(auditor, pair_id))
        assert secret not in str(timeline)
        assert timeline[0]["summary"]["confidential_comment"] == "[confidential]"
        exported = (await auditor.get(f"/audit/{pair_id}", params={"format": "csv"})).text
        assert secret not in exported
        row = next(csv.DictReader(io.StringIO(exported)))
        assert row["correlation_id"].startswith("'=")  # a spreadsheet shows it as text, it does not run it
        state = (await auditor.get(f"/audit/{pair_id}", params={"as_of": datetime.now(UTC).isoformat()})).text
        assert secret not in state
    async with auth.client(base_url=svc.url) as hr:
        assert secret in str((await hr.get(f"/audit/{pair_id}")).json())  # HR of the tenant reads it
    async with auth.client(tenant="another", base_url=svc.url) as other_hr:
        assert (await other_hr.get(f"/audit/{pair_id}")).status_code == 404
    await wait_published(svc.host.pool)
    reads = await svc.host.pool.fetch(
        "SELECT payload FROM outbox WHERE event_type = 'tandem.pairing.SensitiveDataAccessed' ORDER BY position"
    )
    whats = [r["payload"] for r in reads]
    assert any("confidential comments included" in w for w in whats)  # HR's read of the comment is on record
    assert any("audit timeline (csv)" in w for w in whats)


async def _timeline(client: object, pair_id: str) -> list[dict[str, object]] | None:
    r = await client.get(f"/audit/{pair_id}")  # type: ignore[attr-defined]
    return r.json() if r.status_code == 200 else None


async def test_ids_and_pages_are_bounded(serve: ServeFactory) -> None:
    svc = await serve(PAIRING)
    async with auth.client(base_url=svc.url) as hr:
        formula = await hr.post("/programmes", json=builders.programme(programme_id='=HYPERLINK("http://x","y")'))
        assert formula.status_code == 422
        assert formula.json()["error"]["field"] == "programme_id"
        slash = await hr.post("/programmes", json=builders.programme(programme_id="a/b"))
        assert (slash.status_code, slash.json()["error"]["field"]) == (422, "programme_id")
        huge = await hr.get("/pairs", params={"offset": "9223372036854775808"})
        assert (huge.status_code, huge.json()["error"]["field"]) == (422, "offset")
        assert (await hr.get("/pairs", params={"limit": 100_000})).status_code == 422
        assert (await hr.get("/pairs/%3Dcmd")).status_code == 422  # an id in a path that could never exist
        assert await svc.host.pool.fetchval("SELECT count(*) FROM programmes") == 0
