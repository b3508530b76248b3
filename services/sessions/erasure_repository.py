"""SQL of erasure and retention in the sessions service's read model (schema `projection`, or a rebuild schema on
the search path during a replay): names, addresses and free text become the placeholder; ids, counts, ratings,
minutes saved and every other figure stay, so the dashboard and the exports show the same numbers."""

from __future__ import annotations

from collections.abc import Sequence

from shared.db import Conn
from shared.erasure import PLACEHOLDER

#: What a list field of an event reads as once its key is destroyed (shared.personal): empty. The read models
#: write the same, so that a replay rebuilds exactly what the live scrub left.
ERASED_LIST = "'[]'::jsonb"


def _text(column: str) -> str:
    """SQL: the text column as the placeholder, unless empty (an empty field is not encrypted, so stays empty)."""
    return f"{column} = CASE WHEN coalesce({column}, '') = '' THEN {column} ELSE $3 END"


#: Free text people wrote, as (table, how it is scrubbed, the column holding the scope of its data key): each
#: field goes exactly when its key in the log goes (shared/events/sessions.py, PERSONAL_FIELDS), so that a replay
#: rebuilds what the live scrub left.
_TEXT: tuple[tuple[str, str, str], ...] = (
    ("agreements", _text("meeting_rhythm"), "pair_id"),
    ("agreements", _text("learning_focus"), "participant_id"),
    ("goals", _text("description"), "pair_id"),
    ("sessions", f"{_text('agenda')}, {_text('cancel_reason')}, action_items = '{{}}'", "pair_id"),
    ("feedback", f"{_text('opportunity_text')}, {_text('confidential_comment')}", "author_id"),
)


async def quoted_names(conn: Conn, tenant: str, participant_ids: Sequence[str]) -> list[str]:
    """The names and addresses the read model knows these participants by (what a dead letter may quote)."""
    rows = await conn.fetch(
        "SELECT display_name, email FROM participants WHERE tenant = $1 AND participant_id = ANY($2::text[])",
        tenant,
        list(participant_ids),
    )
    return [v for r in rows for v in (r["display_name"], r["email"]) if v]


async def scrub_subject(conn: Conn, tenant: str, participant_ids: Sequence[str], pair_ids: Sequence[str]) -> None:
    """An erased person: their enrolments' names and addresses, what their pairs' records hold about the pair
    (rationales, agreements' rhythm, goals, sessions), and what they wrote themselves (learning focus, feedback)."""
    await conn.execute(
        "UPDATE participants SET display_name = $3, email = $3 WHERE tenant = $1 AND participant_id = ANY($2::text[])",
        tenant,
        list(participant_ids),
        PLACEHOLDER,
    )
    await conn.execute(
        "UPDATE pairs SET rationale = CASE WHEN rationale = '' THEN '' ELSE $3 END, "
        f"reasons = {ERASED_LIST} WHERE tenant = $1 AND pair_id = ANY($2::text[])",
        tenant,
        list(pair_ids),
        PLACEHOLDER,
    )
    for table, sets, scope in _TEXT:
        ids = pair_ids if scope == "pair_id" else participant_ids
        await conn.execute(
            f"UPDATE {table} SET {sets} WHERE tenant = $1 AND {scope} = ANY($2::text[])", tenant, list(ids), PLACEHOLDER
        )


async def scrub_programme_text(conn: Conn, tenant: str, programme_id: str) -> None:
    """A programme whose free text expired: what people wrote in it (agreements' learning focus, goals, agendas,
    cancellation reasons, action items, feedback text and confidential comments). Numbers and ratings stay."""
    for table, sets, _ in _TEXT:
        where = (
            "pair_id IN (SELECT pair_id FROM pairs WHERE tenant = $1 AND programme_id = $2)"
            if table == "agreements"
            else "programme_id = $2"
        )
        await conn.execute(
            f"UPDATE {table} SET {sets} WHERE tenant = $1 AND {where}", tenant, programme_id, PLACEHOLDER
        )
