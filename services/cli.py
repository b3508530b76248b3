"""The `tandem` command line."""

from __future__ import annotations

import asyncio
import importlib
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Tandem: reverse-mentoring programmes as event-driven services.", no_args_is_help=True)
contracts_app = typer.Typer(help="The event contract (JSON Schemas, AsyncAPI), generated from the code.")
app.add_typer(contracts_app, name="contracts")

SERVICES = ("pairing", "sessions", "notifications")


def _service(name: str) -> str:
    if name not in SERVICES:
        raise typer.BadParameter(f"unknown service {name!r}; choose one of {', '.join(SERVICES)}")
    return name


@app.command()
def up(
    data_dir: Annotated[Path, typer.Option(help="Where the embedded Postgres keeps its data, and the logs.")] = Path(
        ".tandem"
    ),
    demo: Annotated[bool, typer.Option(help="Seed a demo programme through the public APIs.")] = True,
) -> None:
    """Start the whole system: embedded Postgres and broker (or external ones from the environment),
    the three services, and demo data. Ctrl-C stops everything."""
    from services.localrun import up as run_up

    raise typer.Exit(run_up(data_dir.resolve(), demo))


@app.command()
def serve(service: Annotated[str, typer.Argument(callback=_service)]) -> None:
    """Run one service (API, outbox relay, consumer) from environment configuration."""
    importlib.import_module(f"services.{service}.app").main()


@app.command()
def migrate(service: Annotated[str, typer.Argument(help="a service, or 'all'")] = "all") -> None:
    """Apply database migrations (they also run at service start)."""
    from shared.db import migrate as run

    names = SERVICES if service == "all" else (_service(service),)
    for name in names:
        module = importlib.import_module(f"services.{name}.app")
        settings = importlib.import_module(f"services.{name}.config").load_settings()
        applied = asyncio.run(run(settings.database_url, module.SPEC.migrations, service=name))
        typer.echo(f"{name}: {', '.join(applied) if applied else 'up to date'}")


@app.command()
def topics() -> None:
    """Create the topics (idempotent), from KAFKA_BOOTSTRAP_SERVERS and TANDEM_TOPIC_* settings."""
    from shared.config import ServiceSettings
    from shared.topics import ensure_topics

    settings = ServiceSettings.from_env("pairing", database_url="unused")
    created = asyncio.run(ensure_topics(settings.kafka_bootstrap_servers, settings.topics))
    typer.echo(f"created: {', '.join(created) if created else 'nothing, all exist'}")


@contracts_app.command("write")
def contracts_write() -> None:
    """Regenerate docs/contracts from the code."""
    from services.contracts import CONTRACTS_DIR, expected
    from shared.contracts import write

    changed = write(CONTRACTS_DIR, expected())
    typer.echo("\n".join(changed) if changed else "contracts up to date")


@contracts_app.command("check")
def contracts_check() -> None:
    """Fail when docs/contracts differs from the code."""
    from services.contracts import CONTRACTS_DIR, expected
    from shared.contracts import diff

    problems = diff(CONTRACTS_DIR, expected())
    for p in problems:
        typer.echo(p, err=True)
    raise typer.Exit(1 if problems else 0)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    app()


if __name__ == "__main__":
    main()
