"""SQL of the sessions read model's writes: the per-event path (projection.py) reads an entity's row and
upserts or inserts it; the bulk replay path (bulk.py) COPYs whole tables into a rebuild schema. The rows
themselves (columns, keys, entity <-> row) are in rows.py; only the statements are here."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from services.sessions import rows
from shared.db import Conn


def insert_sql(table: str) -> str:
    columns = rows.COLUMNS[table]
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(f'${i + 1}' for i in range(len(columns)))})"


def upsert_sql(table: str) -> str:
    key = rows.KEYS[table]
    rest = [c for c in rows.COLUMNS[table] if c not in key]
    return f"{insert_sql(table)} ON CONFLICT ({', '.join(key)}) DO UPDATE SET " + ", ".join(
        f"{c} = EXCLUDED.{c}" for c in rest
    )


def select_sql(table: str) -> str:
    key = rows.KEYS[table]
    where = " AND ".join(f"{c} = ${i + 1}" for i, c in enumerate(key))
    return f"SELECT {', '.join(rows.COLUMNS[table])} FROM {table} WHERE {where}"


_SELECT = {table: select_sql(table) for table in rows.KEYS}
_UPSERT = {table: upsert_sql(table) for table in rows.KEYS}
_INSERT = {table: insert_sql(table) for table in ("agreements", "confidence", "sessions", "feedback")}


# --- per event ----------------------------------------------------------------------------------------------


async def find(conn: Conn, table: str, key: tuple[str, ...]) -> Any:
    """The row of an evolving entity (programmes, participants, pairs, goals, sessions) under `key`, or None."""
    return await conn.fetchrow(_SELECT[table], *key)


async def upsert(conn: Conn, table: str, row: dict[str, Any]) -> None:
    """Write an evolving entity's row, replacing the one under its key."""
    await conn.execute(_UPSERT[table], *rows.values(table, row))


async def insert(conn: Conn, table: str, row: dict[str, Any]) -> None:
    """Insert a recorded fact (agreements, confidence, sessions, feedback); a second one breaks the table's key."""
    await conn.execute(_INSERT[table], *rows.values(table, row))


async def pair_change(conn: Conn, tenant: str, event_id: str, pair_id: str, at: datetime, kind: str) -> None:
    await conn.execute(
        "INSERT INTO pair_changes (tenant, event_id, pair_id, at, kind) VALUES ($1, $2, $3, $4, $5)",
        tenant,
        event_id,
        pair_id,
        at,
        kind,
    )


# --- in bulk ------------------------------------------------------------------------------------------------

#: Columns of jsonb type: binary COPY has no jsonb encoder, so they go through a text copy and a cast.
JSONB = {"confidence": ("ratings",), "pairs": ("reasons",)}


async def replace_tables(conn: Conn, schema: str, tables: Iterable[tuple[str, Sequence[dict[str, Any]]]]) -> None:
    """Replace the rows of these tables of the rebuild schema `schema`, in one transaction (COPY)."""
    async with conn.transaction():
        for table, table_rows in tables:
            columns = rows.COLUMNS[table]
            await conn.execute(f'TRUNCATE "{schema}"."{table}"')
            records = [tuple(row[c] for c in columns) for row in table_rows]
            if not records:
                continue
            if table in JSONB:  # binary COPY has no jsonb encoder: copy text, then cast
                await conn.execute(f'CREATE TEMP TABLE bulk_{table} (LIKE "{schema}"."{table}") ON COMMIT DROP')
                for column in JSONB[table]:
                    await conn.execute(f"ALTER TABLE bulk_{table} ALTER COLUMN {column} TYPE text")
                records = [
                    tuple(json.dumps(v) if columns[i] in JSONB[table] else v for i, v in enumerate(record))
                    for record in records
                ]
                await conn.copy_records_to_table(f"bulk_{table}", columns=list(columns), records=records)
                select = ", ".join(f"{c}::jsonb" if c in JSONB[table] else c for c in columns)
                await conn.execute(
                    f'INSERT INTO "{schema}"."{table}" ({", ".join(columns)}) SELECT {select} FROM bulk_{table}'
                )
                continue
            await conn.copy_records_to_table(table, schema_name=schema, columns=list(columns), records=records)


async def use_schema(conn: Conn, schema: str) -> None:
    """Make the rebuild schema `schema` the one unqualified names mean, for the rest of the transaction."""
    await conn.execute(f'SET LOCAL search_path TO "{schema}", public')
