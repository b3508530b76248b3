"""The integrator's contract, generated from the code: a JSON Schema per event type and version, and
an AsyncAPI 3.0 document per service (the channels it sends to and receives from, with the event
types on each). Committed under docs/contracts/; a test fails when they drift from the code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shared.events import ALL_EVENTS, EventPayload
from shared.topics import Topics

SCHEMA_BASE = "https://tandem.example/schemas/events"
CE_HEADERS = {
    "type": "object",
    "description": "CloudEvents 1.0 Kafka protocol binding, binary content mode.",
    "required": [
        "ce_specversion",
        "ce_id",
        "ce_source",
        "ce_type",
        "ce_time",
        "ce_subject",
        "ce_tenant",
        "ce_schemaversion",
        "ce_correlationid",
    ],
    "properties": {
        "ce_specversion": {"const": "1.0"},
        "ce_id": {"type": "string", "description": "Unique event id (UUID)."},
        "ce_source": {"type": "string", "description": "Producing service, e.g. /tandem/pairing."},
        "ce_type": {"type": "string", "description": "Stable event type string."},
        "ce_time": {"type": "string", "format": "date-time"},
        "ce_subject": {"type": "string", "description": "Id of the aggregate the event is about."},
        "ce_tenant": {"type": "string"},
        "ce_schemaversion": {"type": "string", "pattern": "^[0-9]+$"},
        "ce_correlationid": {"type": "string"},
        "ce_causationid": {"type": "string"},
        "ce_traceparent": {
            "type": "string",
            "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
            "description": "CloudEvents distributed-tracing extension: the W3C traceparent of the span that wrote "
            "the event (its consumer's span continues that trace).",
        },
        "ce_tracestate": {"type": "string", "description": "W3C tracestate that goes with ce_traceparent, if any."},
        "content-type": {"const": "application/json"},
    },
}


def schema_file(model: type[EventPayload]) -> str:
    return f"{model.TYPE}.v{model.VERSION}.schema.json"


def event_schema(model: type[EventPayload]) -> dict[str, Any]:
    schema = model.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{SCHEMA_BASE}/{schema_file(model)}",
        **schema,
        "x-cloudevents": {
            "type": model.TYPE,
            "source": model.SOURCE,
            "schemaversion": model.VERSION,
            "subject": model.SUBJECT_FIELD,
            "partitionKey": model.KEY_FIELD or model.SUBJECT_FIELD,
            "personalData": model.PERSONAL_DATA,
        },
    }


def _message_name(model: type[EventPayload]) -> str:
    return model.TYPE.rsplit(".", 1)[-1]


def asyncapi(
    service: str, sources: list[str], consumes: dict[str, list[str]], dead_letter: str | None, topics: Topics
) -> dict[str, Any]:
    """AsyncAPI 3.0 for one service. `sources` are the CloudEvents sources it publishes (one topic each);
    `consumes` maps topic -> the event types the service handles."""
    by_type = {m.TYPE: m for m in ALL_EVENTS}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}

    def message_ref(model: type[EventPayload]) -> dict[str, str]:
        name = _message_name(model)
        messages[name] = {
            "name": model.TYPE,
            "title": name,
            "summary": (model.__doc__ or "").strip().split("\n")[0],
            "contentType": "application/json",
            "headers": CE_HEADERS,
            "payload": {"$ref": f"../events/{schema_file(model)}"},
            "bindings": {
                "kafka": {"key": {"type": "string", "description": f"{model.KEY_FIELD or model.SUBJECT_FIELD}"}}
            },
            "x-schema-version": model.VERSION,
        }
        return {"$ref": f"#/components/messages/{name}"}

    def channel_id(topic: str) -> str:
        return topic.replace(f"{topics.namespace}.", "").replace(".", "-")

    for source in sources:
        topic = topics.for_source(source)
        cid = channel_id(topic)
        produced = [m for m in ALL_EVENTS if source == m.SOURCE]
        channels[cid] = {
            "address": topic,
            "description": "Events this service publishes (transactional outbox), keyed by aggregate id.",
            "messages": {_message_name(m): message_ref(m) for m in produced},
            "bindings": {"kafka": {"partitions": topics.partitions, "topicConfiguration": {"retention.ms": -1}}},
        }
        operations[f"publish-{cid}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{cid}"},
            "messages": [{"$ref": f"#/channels/{cid}/messages/{_message_name(m)}"} for m in produced],
        }
    for topic, types in sorted(consumes.items()):
        cid = channel_id(topic)
        handled = [by_type[t] for t in sorted(types)]
        existing = channels.setdefault(cid, {"address": topic, "messages": {}})
        for m in handled:
            existing["messages"][_message_name(m)] = message_ref(m)
        operations[f"consume-{cid}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{cid}"},
            "description": f"Consumer group '{service}': inbox-idempotent, offsets committed after the database.",
            "messages": [{"$ref": f"#/channels/{cid}/messages/{_message_name(m)}"} for m in handled],
            "bindings": {"kafka": {"groupId": {"type": "string", "enum": [service]}}},
        }
    if dead_letter is not None:
        cid = channel_id(dead_letter)
        channels[cid] = {
            "address": dead_letter,
            "description": "Messages this service could not apply, unchanged, with dlq_* headers naming the error.",
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": f"Tandem {service}",
            "version": "1.0.0",
            "description": f"Events of the Tandem {service} service (CloudEvents 1.0, Kafka binary mode).",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": dict(sorted(messages.items()))},
    }


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def expected_files(asyncapis: dict[str, dict[str, Any]]) -> dict[str, str]:
    files = {f"events/{schema_file(m)}": render(event_schema(m)) for m in ALL_EVENTS}
    files.update({f"asyncapi/{name}.asyncapi.json": render(doc) for name, doc in asyncapis.items()})
    return files


def write(folder: Path, files: dict[str, str]) -> list[str]:
    changed = []
    for rel, text in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            changed.append(rel)
    for stale in sorted(set(_existing(folder)) - set(files)):
        (folder / stale).unlink()
        changed.append(stale)
    return changed


def diff(folder: Path, files: dict[str, str]) -> list[str]:
    """What differs between the committed contract and the code, one line per file."""
    problems = []
    for rel, text in sorted(files.items()):
        path = folder / rel
        if not path.exists():
            problems.append(f"missing: {rel}")
        elif path.read_text() != text:
            problems.append(f"differs: {rel}")
    problems += [f"not generated by the code: {rel}" for rel in sorted(set(_existing(folder)) - set(files))]
    return problems


def _existing(folder: Path) -> list[str]:
    return [str(p.relative_to(folder)) for p in folder.rglob("*.json")] if folder.exists() else []
