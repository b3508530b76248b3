"""The committed JSON Schemas and AsyncAPI documents are exactly what the code generates."""

from __future__ import annotations

import json

from services.contracts import CONTRACTS_DIR, expected
from shared import contracts


def test_committed_contracts_match_the_code() -> None:
    problems = contracts.diff(CONTRACTS_DIR, expected())
    assert not problems, "run `tandem contracts write` and commit docs/contracts:\n" + "\n".join(problems)


def test_every_asyncapi_message_points_at_a_committed_schema() -> None:
    files = expected()
    for name, text in files.items():
        if not name.startswith("asyncapi/"):
            continue
        doc = json.loads(text)
        assert doc["asyncapi"] == "3.0.0"
        for message in doc["components"]["messages"].values():
            ref = message["payload"]["$ref"].removeprefix("../")
            assert ref in files, ref


def test_consumers_are_described_with_the_event_types_they_handle() -> None:
    sessions = json.loads(expected()["asyncapi/sessions.asyncapi.json"])
    receive = sessions["operations"]["consume-pairing-events"]
    handled = {m["$ref"].rsplit("/", 1)[-1] for m in receive["messages"]}
    assert {"PairCreated", "PairEnded"} <= handled


def test_the_readme_tables_are_what_the_code_says() -> None:
    """The access matrix and the Kafka ACLs in the README are generated (tandem contracts write)."""
    from services import docs

    text = docs.README.read_text()
    assert docs.render(text) == text, "run `tandem contracts write` and commit README.md"
    assert "| pairing | `POST /programmes` | hr |" in text
