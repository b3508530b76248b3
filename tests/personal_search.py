"""Search a whole database for text: every column of every table of every schema but Postgres' own, cast to text."""

from __future__ import annotations

from collections.abc import Iterable

from shared.db import connect


async def places_holding(dsn: str, needles: Iterable[str]) -> list[str]:
    """`schema.table.column: needle` for each column where one of the needles appears (case-insensitive)."""
    wanted = [n for n in needles if n]
    conn = await connect(dsn)
    try:
        columns = await conn.fetch(
            "SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns c "
            "JOIN information_schema.tables t USING (table_schema, table_name) "
            "WHERE t.table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') "
            "ORDER BY 1, 2, 3"
        )
        found = []
        for c in columns:
            table = f'"{c["table_schema"]}"."{c["table_name"]}"'
            column = f'"{c["column_name"]}"'
            for needle in wanted:
                if c["data_type"] == "bytea":  # raw bytes (a parked record, a dead letter): the needle's bytes
                    query = (
                        f"SELECT EXISTS (SELECT 1 FROM {table} WHERE position(convert_to($1, 'UTF8') in {column}) > 0)"
                    )
                    hit = await conn.fetchval(query, needle)
                else:
                    query = f"SELECT EXISTS (SELECT 1 FROM {table} WHERE position($1 in lower({column}::text)) > 0)"
                    hit = await conn.fetchval(query, needle.lower())
                if hit:
                    found.append(f"{c['table_schema']}.{c['table_name']}.{c['column_name']}: {needle}")
        return found
    finally:
        await conn.close()
