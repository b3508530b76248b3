"""CloudEvents Kafka protocol binding, binary content mode: attributes in `ce_` headers, data as value."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from shared.events.base import EventPayload
from shared.events.envelope import Envelope
from shared.events.registry import UnknownEventType, model_for
from shared.events.upcasting import UpcastError, upcast
from shared.personal import PLACEHOLDER, KeyLookup, KeysNeeded, might_be_sealed, open_fields

CONTENT_TYPE = "application/json"
_REQUIRED = ("id", "source", "type", "specversion", "time", "subject")
_EXTENSIONS = ("tenant", "schemaversion", "correlationid", "causationid")

Headers = list[tuple[str, bytes]]
_ENVELOPE = Envelope[Any]  # parametrised once: `Envelope[Any]` per message costs a lookup each time


@dataclass(frozen=True)
class KafkaRecord:
    key: bytes
    value: bytes
    headers: Headers


class UndecodableEvent(ValueError):
    """A message that can never be applied: not a CloudEvent, unknown type, bad JSON, invalid data."""


def encode(envelope: Envelope[Any]) -> KafkaRecord:
    attrs: dict[str, str] = {
        "specversion": envelope.specversion,
        "id": envelope.id,
        "source": envelope.source,
        "type": envelope.type,
        "time": envelope.time.isoformat().replace("+00:00", "Z"),
        "subject": envelope.subject,
        "tenant": envelope.tenant,
        "schemaversion": str(envelope.schemaversion),
        "correlationid": envelope.correlationid,
    }
    if envelope.causationid:
        attrs["causationid"] = envelope.causationid
    headers: Headers = [(f"ce_{name}", value.encode()) for name, value in attrs.items()]
    headers.append(("content-type", CONTENT_TYPE.encode()))
    return KafkaRecord(
        key=envelope.key.encode(),
        value=envelope.data.model_dump_json().encode(),
        headers=headers,
    )


def _opened(
    model: type[EventPayload], version: int, value: bytes, event_id: str, keys: KeyLookup | None
) -> tuple[EventPayload, list[str]]:
    """Decrypt, upcast and validate a payload with sealed personal fields; also the top-level fields erased."""
    try:
        raw = json.loads(value)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UndecodableEvent(f"data is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise UndecodableEvent("data must be a JSON object")
    if keys is None:
        raise KeysNeeded(f"{model.TYPE} {event_id} holds encrypted personal data and no keyring was given")
    try:
        erased = open_fields(raw, model, event_id, keys)
    except ValueError as exc:
        raise UndecodableEvent(f"{model.TYPE}: {exc}") from None
    try:
        if version != model.VERSION:
            raw = upcast(model.TYPE, version, raw)
        try:
            return model.model_validate(raw), erased
        except ValidationError as exc:  # an erased field of a constrained type (an e-mail): validate a stand-in
            bad = {str(e["loc"][0]) for e in exc.errors() if e["loc"]} & set(erased)
            if not bad:
                raise
            return model.model_validate({**raw, **{name: ERASED_STAND_IN for name in bad}}), erased
    except UpcastError as exc:
        raise UndecodableEvent(str(exc)) from None
    except (ValidationError, KeyError, TypeError) as exc:
        raise UndecodableEvent(f"{model.TYPE} v{version} failed validation: {exc}") from None


#: What an erased field is validated as when the placeholder does not fit its type (it reads as the placeholder).
ERASED_STAND_IN = "erased@example.com"


def header_map(headers: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers or ():
        if isinstance(value, bytes):
            try:
                out[name] = value.decode()
            except UnicodeDecodeError:
                raise UndecodableEvent(f"header {name!r} is not UTF-8") from None
        elif value is not None:
            out[name] = str(value)
    return out


def decode(headers: Any, value: bytes | None, keys: KeyLookup | None = None) -> Envelope[Any]:
    """Parse a binary-mode CloudEvent, upcasting old schema versions, decrypting its personal fields with `keys`
    (shared.personal: a destroyed key reads as the placeholder). Raises UndecodableEvent; KeyNotFound when a key
    is not known (yet), KeysNeeded when the event is encrypted and no keys were given."""
    h = header_map(headers)
    missing = [name for name in _REQUIRED if f"ce_{name}" not in h]
    if missing:
        raise UndecodableEvent(f"not a CloudEvent: missing header(s) {', '.join('ce_' + m for m in missing)}")
    if h["ce_specversion"] != "1.0":
        raise UndecodableEvent(f"unsupported CloudEvents specversion {h['ce_specversion']!r}")
    content_type = h.get("content-type", CONTENT_TYPE)
    if not content_type.startswith(CONTENT_TYPE):
        raise UndecodableEvent(f"unsupported content-type {content_type!r}")
    try:
        model = model_for(h["ce_type"])
    except UnknownEventType as exc:
        raise UndecodableEvent(str(exc)) from None
    try:
        version = int(h.get("ce_schemaversion", "1"))
    except ValueError:
        raise UndecodableEvent(f"ce_schemaversion {h.get('ce_schemaversion')!r} is not an integer") from None
    if value is None:
        raise UndecodableEvent("message has no value")
    erased: list[str] = []
    if model.PERSONAL_FIELDS and might_be_sealed(value):
        data, erased = _opened(model, version, value, h["ce_id"], keys)
    elif version == model.VERSION and value[:1] == b"{":
        try:  # the common case: today's version, parsed and validated in one pass by pydantic-core
            data = model.model_validate_json(value)
        except ValidationError as exc:
            if any(e["type"] == "json_invalid" for e in exc.errors()):
                raise UndecodableEvent(f"data is not valid JSON: {exc.errors()[0]['msg']}") from None
            raise UndecodableEvent(f"{model.TYPE} v{version} failed validation: {exc}") from None
    else:
        try:
            raw = json.loads(value)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise UndecodableEvent(f"data is not valid JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise UndecodableEvent("data must be a JSON object")
        try:
            data = model.model_validate(upcast(model.TYPE, version, raw))
        except UpcastError as exc:
            raise UndecodableEvent(str(exc)) from None
        except (ValidationError, KeyError, TypeError) as exc:
            raise UndecodableEvent(f"{model.TYPE} v{version} failed validation: {exc}") from None
    if erased:  # a field whose key is gone reads as the placeholder, whatever its type asks of it
        data = data.model_copy(update={name: PLACEHOLDER for name in erased if isinstance(getattr(data, name), str)})
    try:
        return _ENVELOPE(
            id=h["ce_id"],
            source=h["ce_source"],
            type=h["ce_type"],
            specversion="1.0",
            time=datetime.fromisoformat(h["ce_time"].replace("Z", "+00:00")),
            subject=h["ce_subject"],
            tenant=h.get("ce_tenant", "default"),
            schemaversion=model.VERSION,
            correlationid=h.get("ce_correlationid", h["ce_id"]),
            causationid=h.get("ce_causationid"),
            data=data,
        )
    except (ValidationError, ValueError) as exc:
        raise UndecodableEvent(f"invalid CloudEvent attributes: {exc}") from None
