"""Each service lists its handlers in one table, `services/<name>/handler_table.py` (issue #13): the event
handlers of everything it consumes (or why an event type is left alone) and its command handlers. The
service's wiring (app.py) uses that table and nothing else."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path
from types import ModuleType
from typing import get_args

import pytest

from services.sessions.domain.commands import Command
from shared import registry
from shared.config import ServiceSettings
from shared.events import ALL_EVENTS
from shared.runtime import ServiceHost
from shared.topics import Topics

SERVICES = Path(__file__).resolve().parents[2] / "services"
NAMES = [s.name for s in registry.SERVICES]


def table(name: str) -> ModuleType:
    return importlib.import_module(f"services.{name}.handler_table")


def consumed_types(name: str) -> set[str]:
    """Every event type published on the topics the service consumes (its wiring, as the contracts read it)."""
    app = importlib.import_module(f"services.{name}.app")
    topics = Topics()
    settings = ServiceSettings(service=name, database_url="postgresql://unused/unused", topics=topics)
    consumed = set(app.SPEC.consumes(settings))
    return {e.TYPE for e in ALL_EVENTS if topics.for_source(e.SOURCE) in consumed}


def handled(name: str) -> set[str]:
    app = importlib.import_module(f"services.{name}.app")
    topics = Topics()
    settings = ServiceSettings(service=name, database_url="postgresql://unused/unused", topics=topics)
    return set(app.SPEC.handlers(ServiceHost(app.SPEC, settings)).by_type)


@pytest.mark.parametrize("name", NAMES)
def test_the_wiring_uses_the_table(name: str) -> None:
    app = importlib.import_module(f"services.{name}.app")
    assert app.SPEC.handlers is table(name).build_handlers


@pytest.mark.parametrize("name", NAMES)
def test_every_consumed_event_type_is_handled_or_ignored_on_purpose(name: str) -> None:
    consumed, ignored = consumed_types(name), set(table(name).IGNORED)
    assert consumed, f"{name} consumes nothing?"
    assert sorted(consumed - handled(name) - ignored) == []
    assert sorted(ignored & handled(name)) == [], "ignored, yet handled"
    assert sorted(ignored - consumed) == [], "ignored, yet not on a consumed topic"
    assert sorted(handled(name) - consumed) == [], "handled, yet not on a consumed topic"


@pytest.mark.parametrize("name", NAMES)
def test_only_the_table_and_the_parts_it_names_build_handlers(name: str) -> None:
    """No other module of the service puts handler sets together (`Handlers.include`)."""
    including = []
    for path in sorted((SERVICES / name).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if any(isinstance(n, ast.Attribute) and n.attr == "include" for n in ast.walk(tree)):
            including.append(path.relative_to(SERVICES).as_posix())
    assert including == [f"{name}/handler_table.py"]


def test_every_sessions_command_has_its_handler() -> None:
    assert set(table("sessions").COMMANDS) == set(get_args(Command))


def test_every_pairing_command_handler_is_in_the_table() -> None:
    handlers = importlib.import_module("services.pairing.handlers")
    public = {
        name
        for name, fn in inspect.getmembers(handlers, inspect.iscoroutinefunction)
        if not name.startswith("_") and fn.__module__ == handlers.__name__
    }
    commands = table("pairing").COMMANDS
    assert set(commands) == public
    assert all(commands[name] is getattr(handlers, name) for name in public)
