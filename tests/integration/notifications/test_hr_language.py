"""HR's weekly digest in the language HR gave the programme (issue 15): a programme created with `hr_locale: "de"`
through the real pairing API (its ProgramLaunched over the real broker) gets a German digest, every sentence and
value of it, from the real notifications service to a real SMTP server."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from services.pairing.app import SPEC as PAIRING
from shared.events import pairing as p
from tests import auth, builders
from tests.conftest import ServeFactory
from tests.integration.notifications.test_at_risk import _body
from tests.integration.notifications.test_delivery import Rig, until
from tests.unit.notifications.test_hr_language import ENGLISH_WORDS


async def test_a_programme_created_in_german_gets_a_german_digest(rig: Rig, serve: ServeFactory) -> None:
    pairing = await serve(PAIRING)
    host = await rig.run()
    today = date.today()
    body = builders.programme(
        programme_id=rig.prog,
        name="KI-Tandem 2026",
        starts_on=str(today - timedelta(weeks=8)),
        ends_on=str(today + timedelta(weeks=20)),
        hr_contact_email="hr@acme.example",
        hr_locale="de",
        launch=True,
    )
    async with auth.client(base_url=pairing.url) as hr:
        created = await hr.post("/programmes", json=body)
        assert created.status_code == 201, created.text
        assert created.json()["hr_locale"] == "de"
        [listed] = [x for x in (await hr.get("/programmes")).json() if x["programme_id"] == rig.prog]
        assert listed["hr_locale"] == "de"

    async with host.pool.acquire() as conn:  # its ProgramLaunched reached notifications over the broker
        found = await until(lambda: conn.fetchval("SELECT hr_locale FROM programmes WHERE programme_id = $1", rig.prog))
        assert found == "de"
        # the two people (not the rig's own ProgramLaunched, which would say English), quiet hours off explicitly
        await rig.emit(*[x for x in rig.people() if not isinstance(x, p.ProgramLaunched)])
        await rig.no_quiet_hours()
        since = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        await rig.emit(
            # a pair that began seven weeks ago and never met since: at risk
            rig.created().model_copy(update={"started_on": today - timedelta(weeks=7)}),
            # and a reorganisation flagged it, in the words pairing writes (English)
            p.PairFlagged(
                pair_id=rig.pair,
                programme_id=rig.prog,
                rule="reporting_line",
                detail="Ingrid Hoffmann reports to Lena Yilmaz within 1 management level (the programme allows "
                "none within 2)",
                chain=[f"E{rig.mentee}", f"E{rig.mentor}"],
                since=since,
                directory_revision=3,
                action="left_running",
            ),
        )
        await until(lambda: conn.fetchval("SELECT count(*) FROM flags WHERE pair_id = $1", rig.pair))

    await host.app.state.dispatcher.scan(datetime.now(UTC))
    [digest] = await until(lambda: rig.smtp.mailbox.to("hr@acme.example"))
    assert digest["Subject"] == "KI-Tandem 2026: 2 Tandem(s) brauchen diese Woche Ihre Aufmerksamkeit"
    text = _body(digest).replace("\r\n", "\n")  # mail lines end in CRLF
    assert text.startswith("Hallo,")
    assert re.search(r"^- Ingrid Hoffmann mit Lena Yilmaz: seit \d+ Tagen keine Sitzung$", text, re.MULTILINE), text
    assert (
        "Ingrid Hoffmann berichtet direkt an Lena Yilmaz (das Programm erlaubt keine Berichtslinie innerhalb von "
        "2 Führungsebenen)." in text
    )
    assert "Seit 2. März 2026; läuft weiter." in text
    without_links = re.sub(r"https?://\S+", "", text)
    assert not ENGLISH_WORDS.search(without_links), ENGLISH_WORDS.search(without_links)
