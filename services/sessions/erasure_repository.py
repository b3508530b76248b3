"""SQL of erasure and retention in the sessions service's read model (schema `projection`, or a rebuild schema on
the search path during a replay): names, addresses and free text become the placeholder; ids, counts, ratings,
minutes saved and every other figure stay, so the dashboard and the exports show the same numbers."""

from __future__ import annotations

from collections.abc import Sequence

from shared.db import Conn
from shared.erasure import PLACEHOLDER

#: Reason parameters that name a person (docs/rationale-reasons.md).
PERSON_PARAMS = ("mentee", "mentor")


def _scrub_reasons(column: str) -> str:
    sets = "".join(
        f" || CASE WHEN r ? '{p}' THEN jsonb_build_object('{p}', '{PLACEHOLDER}') ELSE '{{}}'::jsonb END"
        for p in PERSON_PARAMS
    )
    return (
        f"(SELECT coalesce(jsonb_agg(r{sets} ORDER BY n), '[]'::jsonb) "
        f"FROM jsonb_array_elements({column}) WITH ORDINALITY AS x(r, n))"
    )


#: Free text of a pair's records, by table: (column, how it is scrubbed); the condition keeps empty text empty.
_TEXT = {
    "agreements": ("learning_focus = CASE WHEN learning_focus = '' THEN '' ELSE $3 END",),
    "goals": ("description = CASE WHEN description = '' THEN '' ELSE $3 END",),
    "sessions": (
        "agenda = CASE WHEN agenda = '' THEN '' ELSE $3 END",
        "cancel_reason = CASE WHEN cancel_reason = '' THEN '' ELSE $3 END",
        # as many items as there were: a count stays a count
        "action_items = array_fill($3::text, ARRAY[cardinality(action_items)])",
    ),
    "feedback": (
        "opportunity_text = CASE WHEN coalesce(opportunity_text, '') = '' THEN opportunity_text ELSE $3 END",
        "confidential_comment = CASE WHEN coalesce(confidential_comment, '') = '' THEN confidential_comment "
        "ELSE $3 END",
    ),
}


async def quoted_names(conn: Conn, tenant: str, participant_ids: Sequence[str]) -> list[str]:
    """The names and addresses the read model knows these participants by (what a dead letter may quote)."""
    rows = await conn.fetch(
        "SELECT display_name, email FROM participants WHERE tenant = $1 AND participant_id = ANY($2::text[])",
        tenant,
        list(participant_ids),
    )
    return [v for r in rows for v in (r["display_name"], r["email"]) if v]


async def scrub_subject(conn: Conn, tenant: str, participant_ids: Sequence[str], pair_ids: Sequence[str]) -> None:
    """An erased person: their enrolments' names and addresses, and everything written in their pairs."""
    await conn.execute(
        "UPDATE participants SET display_name = $3, email = $3 WHERE tenant = $1 AND participant_id = ANY($2::text[])",
        tenant,
        list(participant_ids),
        PLACEHOLDER,
    )
    await conn.execute(
        "UPDATE pairs SET rationale = CASE WHEN rationale = '' THEN '' ELSE $3 END, "
        f"reasons = {_scrub_reasons('reasons')} WHERE tenant = $1 AND pair_id = ANY($2::text[])",
        tenant,
        list(pair_ids),
        PLACEHOLDER,
    )
    for table, sets in _TEXT.items():
        await conn.execute(
            f"UPDATE {table} SET {', '.join(sets)} WHERE tenant = $1 AND pair_id = ANY($2::text[])",
            tenant,
            list(pair_ids),
            PLACEHOLDER,
        )


async def scrub_programme_text(conn: Conn, tenant: str, programme_id: str) -> None:
    """A programme whose free text expired: what people wrote in it (agreements' learning focus, goals, agendas,
    cancellation reasons, action items, feedback text and confidential comments). Numbers and ratings stay."""
    for table, sets in _TEXT.items():
        where = (
            "pair_id IN (SELECT pair_id FROM pairs WHERE tenant = $1 AND programme_id = $2)"
            if table == "agreements"
            else "programme_id = $2"
        )
        await conn.execute(
            f"UPDATE {table} SET {', '.join(sets)} WHERE tenant = $1 AND {where}", tenant, programme_id, PLACEHOLDER
        )
