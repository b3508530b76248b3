"""SQL lives in repository modules only: `repository.py` or `<something>_repository.py` of a service (issue #13).

Every other module of services/*/ (API routers, command handlers, projections, the dispatcher, the webhooks
worker...) calls a repository function instead of asyncpg. The check walks each module's syntax tree and
fails on an asyncpg call (fetch, fetchrow, fetchval, execute, executemany, copy_*, cursor, prepare) whose
statement is written in place (a string, an f-string, or strings joined), and on any string that begins like
a SQL statement. Migrations (plain .sql files) and shared/ (mechanics: outbox, inbox, dead letters) are out
of scope."""

from __future__ import annotations

import ast
import re
from pathlib import Path

SERVICES = Path(__file__).resolve().parents[2] / "services"

#: asyncpg's connection and pool methods that take a statement
ASYNCPG_CALLS = frozenset(
    {"fetch", "fetchrow", "fetchval", "execute", "executemany", "cursor", "prepare", "copy_from_query"}
)
#: a string that begins like a SQL statement (upper case, as every statement in this code base is written)
SQL = re.compile(
    r"^\s*(SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM|WITH \w+ AS|TRUNCATE|CREATE|ALTER TABLE|"
    r"COPY|LOCK TABLE|DROP)\b"
)
#: asyncpg's COPY calls name tables: any of them is SQL work
COPY_CALLS = frozenset({"copy_records_to_table", "copy_to_table", "copy_from_table"})


def is_repository(path: Path) -> bool:
    return path.stem == "repository" or path.stem.endswith("_repository")


def _literal(node: ast.AST) -> bool:
    """A statement written in place: a string, an f-string, or a concatenation / %-format with one."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp):
        return _literal(node.left) or _literal(node.right)
    return False


def _text(node: ast.AST) -> str:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
    return ""


def sql_in(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, what) of every piece of SQL in a module."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name = node.func.attr
            if name in COPY_CALLS or (name in ASYNCPG_CALLS and node.args and _literal(node.args[0])):
                found.append((node.lineno, f"asyncpg call .{name}(...)"))
        elif isinstance(node, (ast.Constant, ast.JoinedStr)) and SQL.match(_text(node)):
            found.append((node.lineno, f"SQL string {_text(node)[:40]!r}"))
    return sorted(set(found))


def misplaced() -> list[str]:
    out = []
    for path in sorted(SERVICES.rglob("*.py")):
        if is_repository(path) or "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        out += [f"{path.relative_to(SERVICES.parent)}:{line}: {what}" for line, what in sql_in(tree)]
    return out


def test_sql_only_in_repository_modules() -> None:
    assert misplaced() == []


def test_there_are_repositories_with_sql() -> None:
    repositories = [p for p in SERVICES.rglob("*.py") if is_repository(p)]
    assert {p.parent.name for p in repositories} >= {"pairing", "sessions", "notifications"}
    assert all(sql_in(ast.parse(p.read_text(encoding="utf-8"))) for p in repositories)


def test_the_check_sees_sql_written_in_place() -> None:
    module = ast.parse(
        "async def f(conn, pool, t):\n"
        "    await conn.fetchrow('SELECT 1')\n"
        "    await pool.execute(f'DELETE FROM {t}')\n"
        "    await conn.fetch('SELECT a ' + 'FROM b')\n"
        "    await conn.copy_records_to_table(t, records=[])\n"
        "    q = 'UPDATE pairs SET state = $1'\n"
    )
    assert sorted({line for line, _ in sql_in(module)}) == [2, 3, 4, 5, 6]


def test_the_check_leaves_other_calls_alone() -> None:
    module = ast.parse(
        "async def f(conn, uow, handlers, c):\n"
        "    await handlers.execute(uow, c)\n"
        "    await repo.find(conn, 'pairs', ('t', 'p'))\n"
        "    '''Select the pairs to remind.'''\n"
    )
    assert sql_in(module) == []
