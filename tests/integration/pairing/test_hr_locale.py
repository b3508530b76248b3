"""The language of a programme's HR contact (`hr_locale`) through the real pairing API: taken at creation, returned,
and a language the messages are not written in refused, naming the field, with nothing created or published."""

from __future__ import annotations

from services.pairing.app import SPEC as PAIRING
from shared.events import decode
from shared.events.pairing import ProgramLaunched
from shared.infra import Infra
from tests import auth, builders
from tests.conftest import ServeFactory
from tests.kafka_helpers import read_topic, topic_keys


async def test_the_api_takes_returns_and_checks_the_hr_language(serve: ServeFactory, infra: Infra) -> None:
    svc = await serve(PAIRING)
    refused_ids: list[str] = []
    async with auth.client(base_url=svc.url) as hr:
        for locale in ("fr", "DE", "", 3):
            bad = builders.programme(hr_locale=locale)
            refused_ids.append(bad["programme_id"])
            refused = await hr.post("/programmes", json=bad)
            assert refused.status_code == 422, refused.text
            error = refused.json()["error"]
            assert error["field"] == "hr_locale", error
            assert "hr_locale" in error["message"], error
            assert (await hr.get(f"/programmes/{bad['programme_id']}")).status_code == 404
            assert bad["programme_id"] not in [x["programme_id"] for x in (await hr.get("/programmes")).json()]

        german = builders.programme(hr_locale="de")
        created = await hr.post("/programmes", json=german)
        assert created.status_code == 201, created.text
        english = builders.programme()  # not given: English
        assert (await hr.post("/programmes", json=english)).status_code == 201
        listed = {x["programme_id"]: x["hr_locale"] for x in (await hr.get("/programmes")).json()}
        assert (listed[german["programme_id"]], listed[english["programme_id"]]) == ("de", "en")
        assert (await hr.get(f"/programmes/{german['programme_id']}")).json()["hr_locale"] == "de"

    # only the two programmes were launched, each with its language; nothing of the refused ones was published
    records = await read_topic(infra.kafka_bootstrap, svc.host.topics.pairing, expect=2)
    keys = await topic_keys(infra.kafka_bootstrap, svc.host.topics.keys)
    events = [decode(r.headers, r.value, keys) for r in records]
    assert not [e for e in events if getattr(e.data, "programme_id", None) in refused_ids]
    launched = {
        e.data.programme_id: e.data.hr_locale
        for e in events
        if isinstance(e.data, ProgramLaunched)
        and e.data.programme_id in (german["programme_id"], english["programme_id"])
    }
    assert launched == {german["programme_id"]: "de", english["programme_id"]: "en"}
