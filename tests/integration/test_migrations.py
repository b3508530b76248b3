"""Plain SQL migrations: applied once, in order, recorded; projection tables in their own schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shared.db import connect, migrate


async def test_migrations_apply_once_in_order_and_refuse_an_edited_file(new_database: Any, tmp_path: Path) -> None:
    dsn = await new_database("mig")
    folder = tmp_path / "migrations"
    (folder / "projection").mkdir(parents=True)
    (folder / "0001_things.sql").write_text("CREATE TABLE things (id int PRIMARY KEY);")
    (folder / "0002_more.sql").write_text("ALTER TABLE things ADD COLUMN name text;")
    (folder / "projection" / "0001_view.sql").write_text("CREATE TABLE thing_view (id int PRIMARY KEY);")

    first = await migrate(dsn, folder, service="demo")
    assert first[-3:] == ["demo/0001_things", "demo/0002_more", "demo-projection/0001_view"]
    assert first[0].startswith("shared/")
    assert await migrate(dsn, folder, service="demo") == []  # nothing twice

    conn = await connect(dsn)
    try:
        where = {
            r["table_name"]: r["table_schema"]
            for r in await conn.fetch(
                "SELECT table_name, table_schema FROM information_schema.tables "
                "WHERE table_name IN ('things', 'thing_view', 'outbox', 'inbox')"
            )
        }
        assert where == {"things": "public", "thing_view": "projection", "outbox": "public", "inbox": "public"}
        assert await conn.fetchval("SELECT count(*) FROM thing_view") == 0  # found via the search path
    finally:
        await conn.close()

    (folder / "0002_more.sql").write_text("ALTER TABLE things ADD COLUMN other text;")
    with pytest.raises(RuntimeError, match="changed after it was applied"):
        await migrate(dsn, folder, service="demo")


def test_migration_files_must_be_numbered(tmp_path: Path) -> None:
    from shared.db import load_migrations

    (tmp_path / "create_things.sql").write_text("SELECT 1;")
    with pytest.raises(ValueError, match=r"NNNN_description\.sql"):
        load_migrations("demo", tmp_path)
