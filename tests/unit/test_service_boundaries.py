"""Each service is built from its own code, `shared/` and the events: no module of one service imports another's.

What one service needs of another comes through the events it consumes (and its own projection of them);
mechanics both use (e.g. the iCalendar format) live in `shared/`."""

from __future__ import annotations

import ast
from pathlib import Path

SERVICES = Path(__file__).resolve().parents[2] / "services"
PACKAGES = sorted(p.name for p in SERVICES.iterdir() if (p / "__init__.py").is_file())


def imported(tree: ast.AST, package: str) -> list[tuple[int, str]]:
    """(line, module) of every import in the module; relative ones resolved within `services.<package>`."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:  # from . import x, from ..y import z: inside the service's own package
                module = f"services.{package}.{module}".rstrip(".")
            found.append((node.lineno, module))
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names if module == "services"]
    return found


def crossings() -> list[str]:
    out = []
    for package in PACKAGES:
        for path in sorted((SERVICES / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            for line, module in imported(tree, package):
                parts = module.split(".")
                if len(parts) >= 2 and parts[0] == "services" and parts[1] in PACKAGES and parts[1] != package:
                    out.append(f"{path.relative_to(SERVICES.parent)}:{line} imports {module}")
    return out


def test_there_are_services_to_check() -> None:
    assert {"notifications", "pairing", "sessions"} <= set(PACKAGES)


def test_no_service_imports_another_service() -> None:
    assert crossings() == []


def test_the_check_sees_an_import_across_services() -> None:
    for source in (
        "from services.sessions.domain.model import Session",
        "import services.pairing.domain",
        "from services import sessions",
        "def f():\n    from services.sessions import repository\n",
    ):
        modules = [m for _, m in imported(ast.parse(source), "notifications")]
        assert any(m.split(".")[1:2] in (["sessions"], ["pairing"]) for m in modules), source
