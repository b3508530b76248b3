"""What erasure and retention do to an outbound webhook delivery already planned or sent: its body (the CloudEvent
as the HR platform gets it, decrypted) loses the personal fields whose data key was destroyed, as the log's copy
did (a text reads as the placeholder, a list as empty). Pure."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from shared.events.registry import UnknownEventType, model_for
from shared.personal import KINDS, PLACEHOLDER, parse_spec


def _places(data: dict[str, Any], path: str) -> list[tuple[dict[str, Any], str, bool]]:
    """(container, field, inside a list item) of one personal field path ('email', 'proposals[].rationale')."""
    head, sep, item = path.partition("[].")
    if not sep:
        return [(data, head, False)]
    return [(x, item, True) for x in data.get(head) or () if isinstance(x, dict)]


def scrubbed_body(
    body: str,
    *,
    scope_ids: Collection[str] = (),
    programme_id: str | None = None,
    kinds: Collection[str] = KINDS,
) -> str | None:
    """The body with every personal field of these kinds erased whose key scope is one of `scope_ids` (a list
    item: also when it names one of them, as a proposal names its mentor and mentee), or, with `programme_id`,
    every one of an event of that programme. None when nothing changes (or the body is not an event we know)."""
    try:
        event = json.loads(body)
        model = model_for(str(event.get("type")))
    except (ValueError, AttributeError, UnknownEventType):
        return None
    data = event.get("data")
    if not isinstance(data, dict):
        return None
    whole = programme_id is not None and data.get("programme_id") == programme_id
    ids = set(scope_ids)
    changed = False
    for path, spec in model.PERSONAL_FIELDS.items():
        kind, id_field = parse_spec(spec)
        if kind not in kinds:
            continue
        for container, name, in_item in _places(data, path):
            value = container.get(name)
            if value in (None, "", [], PLACEHOLDER):
                continue
            scope = container.get(id_field, data.get(id_field)) if in_item else data.get(id_field)
            named = in_item and any(isinstance(v, str) and v in ids for v in container.values())
            if whole or str(scope) in ids or named:
                container[name] = [] if isinstance(value, list) else PLACEHOLDER
                changed = True
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")) if changed else None
