"""The sessions read model scrubs exactly the fields the crypto core shreds: every personal field of a sessions
event has its column in the erasure's list, under the same scope as its data key (so that a replay after an
erasure rebuilds what the live scrub left). A new personal field without its column fails here."""

from __future__ import annotations

from services.sessions.erasure_repository import _TEXT
from shared.events.sessions import SESSIONS_EVENTS
from shared.personal import parse_spec

#: Where an event field lands in the read model, when its column is named otherwise.
COLUMN = {"SessionCancelled.reason": "cancel_reason"}


def test_every_personal_field_of_a_sessions_event_is_scrubbed_under_its_key_scope() -> None:
    scrubbed = {(sets, scope) for _, sets, scope in _TEXT}
    missing = []
    for event in SESSIONS_EVENTS:
        for field, spec in event.PERSONAL_FIELDS.items():
            kind, scope = parse_spec(spec)
            assert kind == "text", f"{event.__name__}.{field}: a sessions event holds only free text"
            column = COLUMN.get(f"{event.__name__}.{field}", field)
            # the key's scope is the pair or the author/participant; the row names it in the same or an equal column
            scope_column = "pair_id" if scope == "pair_id" else {"author_id": "author_id"}.get(scope, "participant_id")
            if not any(f"{column} = " in sets and have == scope_column for sets, have in scrubbed):
                missing.append(f"{event.__name__}.{field} ({spec}) -> {column} by {scope_column}")
    assert not missing, "not scrubbed on erasure:\n" + "\n".join(missing)
