"""The `tandem` command line."""

from __future__ import annotations

import asyncio
import importlib
import logging
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from shared import registry

app = typer.Typer(help="Tandem: reverse-mentoring programmes as event-driven services.", no_args_is_help=True)
contracts_app = typer.Typer(help="The event contract (JSON Schemas, AsyncAPI), generated from the code.")
app.add_typer(contracts_app, name="contracts")
projection_app = typer.Typer(help="Inspect a service's projection (tables built from the log).")
app.add_typer(projection_app, name="projection")
hr_app = typer.Typer(help="The HR platform's way in: integration tokens, full-file sync of the directory.")
app.add_typer(hr_app, name="hr")


def _service(name: str) -> str:
    try:
        return registry.service(name).name
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


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
    from shared.environment import ConfigError

    try:
        importlib.import_module(registry.service(service).app).main()
    except ConfigError as exc:  # a missing or bad variable: its name, not a traceback
        typer.echo(f"tandem serve {service}: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command()
def migrate(service: Annotated[str, typer.Argument(help="a service, or 'all'")] = "all") -> None:
    """Apply database migrations (they also run at service start)."""
    from shared.db import migrate as run

    names = registry.NAMES if service == "all" else (_service(service),)
    for name in names:
        module = importlib.import_module(registry.service(name).app)
        settings = importlib.import_module(registry.service(name).config).load_settings()
        applied = asyncio.run(run(settings.dsn, module.SPEC.migrations, service=name))
        typer.echo(f"{name}: {', '.join(applied) if applied else 'up to date'}")


@app.command()
def topics() -> None:
    """Create the topics (idempotent), from KAFKA_BOOTSTRAP_SERVERS and TANDEM_TOPIC_* settings."""
    from shared.config import ServiceSettings
    from shared.topics import ensure_topics

    settings = ServiceSettings.from_env("pairing", database_url="unused")
    created = asyncio.run(
        ensure_topics(settings.kafka_bootstrap_servers, settings.topics, security=settings.kafka_security)
    )
    typer.echo(f"created: {', '.join(created) if created else 'nothing, all exist'}")


def _aware(value: str, option: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO 8601 time", param_hint=option) from None
    if parsed.tzinfo is None:
        raise typer.BadParameter("give a time zone, e.g. 2026-03-01T12:00:00Z", param_hint=option)
    return parsed


def _wiring(service: str) -> tuple[Any, Any, Any]:
    from shared.runtime import ServiceHost

    spec = importlib.import_module(registry.service(service).app).SPEC
    settings = importlib.import_module(registry.service(service).config).load_settings()
    return spec, settings, spec.handlers(ServiceHost(spec, settings))


@app.command()
def replay(
    service: Annotated[str, typer.Argument(callback=_service)],
    until: Annotated[
        str | None, typer.Option(help="Rebuild the projection as it stood at this time (ISO 8601 with zone); no swap.")
    ] = None,
    swap: Annotated[bool, typer.Option(help="Swap the rebuilt projection in once caught up with the live one.")] = True,
    keep_old: Annotated[bool, typer.Option(help="Keep the replaced schema (for diff or rollback).")] = True,
    batch_size: Annotated[int, typer.Option(min=1)] = 5000,
) -> None:
    """Rebuild SERVICE's projection from the Kafka log into a fresh schema while the live one keeps
    serving; then swap it in atomically (or, with --until, keep it beside the live one)."""
    from shared.db import service_migrations
    from shared.progress import EventProgress
    from shared.replay import Rebuild, ReplayStats

    spec, settings, handlers = _wiring(service)
    as_of = _aware(until, "--until") if until is not None else None

    async def run() -> None:
        with EventProgress(f"replay {service}") as shown:

            def progress(stats: ReplayStats, total: int) -> None:
                shown.update(stats.read, total, stats.rate)

            rebuild = Rebuild(
                service,
                dsn=settings.dsn,
                bootstrap=settings.kafka_bootstrap_servers,
                topics=spec.consumes(settings),
                handlers=handlers,
                batch_size=batch_size,
                until=as_of,
                migrations=service_migrations(service, spec.migrations),
                progress=progress,
                security=settings.kafka_security,
            )
            await rebuild.prepare()
            try:
                if until is not None or not swap:
                    await rebuild.run_to_end()
                    outcome = f"rebuilt into schema {rebuild.schema}"
                else:
                    old = await rebuild.rebuild_and_swap(keep_old=keep_old)
                    outcome = f"swapped in; the previous projection is {'kept as ' + old if keep_old else 'dropped'}"
            finally:
                await rebuild.close()
        typer.echo(outcome)
        s = rebuild.stats
        typer.echo(
            f"{s.read} read, {s.applied} applied, {s.duplicates} duplicates, {s.rejected} rejected, "
            f"{s.undecodable} undecodable, {s.after_until} after --until; {s.rate:,.0f} events/s"
        )

    asyncio.run(run())


@app.command()
def audit(
    subject: Annotated[str, typer.Argument(help="A pair, participant, programme or employee id.")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="The subject's state as known then (ISO 8601).")] = None,
    output_format: Annotated[str, typer.Option("--format", help="table, json or csv")] = "table",
    output: Annotated[Path | None, typer.Option(help="Write to this file instead of the terminal.")] = None,
    tenant: Annotated[str | None, typer.Option(help="The tenant (default: TANDEM_TENANT, else 'default').")] = None,
) -> None:
    """The full timeline of SUBJECT from the log (time, event, who caused it, what changed), or with --as-of
    its state exactly as the system knew it then (for an employee: their record, manager included). The same
    answer every time it is asked."""
    import json

    from services.pairing import audit as _pairing  # noqa: F401  (each service registers its kinds)
    from services.sessions import audit as _sessions  # noqa: F401
    from shared import audit as a
    from shared.config import ServiceSettings

    if output_format not in ("table", "json", "csv"):
        raise typer.BadParameter("choose table, json or csv", param_hint="--format")
    moment = _aware(as_of, "--as-of") if as_of else None
    settings = ServiceSettings.from_env("pairing", database_url="unused")
    tenant = tenant or settings.tenant
    raw = asyncio.run(
        a.read_log(settings.kafka_bootstrap_servers, settings.topics.event_topics(), security=settings.kafka_security)
    )
    events = a.for_reader(raw, tenant, confidential=False)  # confidential text is for HR, through the API
    if moment is not None:
        state = a.state_as_of(events, subject, moment, a.registered(tenant))
        text = json.dumps(state, indent=2, sort_keys=True, default=str) + "\n"
    else:
        rows = [e.row() for e in a.timeline(events, subject)]
        if output_format == "json":
            text = json.dumps(rows, indent=2, sort_keys=True, default=str) + "\n"
        elif output_format == "csv":
            text = a.to_csv(rows)
        else:
            lines = [f"{'time':<27} {'event':<34} {'caused by':<38} what"]
            for r in rows:
                what = ", ".join(f"{k}={v}" for k, v in (r["changes"] or r["summary"]).items())
                lines.append(
                    f"{r['time'][:26]:<27} {r['type'].split('.')[-1]:<34} {(r['causation_id'] or '-'):<38} {what[:160]}"
                )
            text = "\n".join(lines) + f"\n{len(rows)} event(s) about {subject}\n"
    if output is not None:
        output.write_text(text)
        typer.echo(f"written to {output}")
    else:
        typer.echo(text, nl=False)


@projection_app.command("diff")
def projection_diff(
    service: Annotated[str, typer.Argument(callback=_service)],
    against: Annotated[str, typer.Option(help="The schema to compare the live projection with.")],
) -> None:
    """Compare the live projection with another schema (e.g. a rebuild) row by row; exit 1 on differences."""
    from shared.replay import diff

    _, settings, _ = _wiring(service)
    problems = asyncio.run(diff(settings.dsn, against))
    for d in problems:
        typer.echo(f"{d.table}: {d.only_live} row(s) only live, {d.only_other} only in {against}")
        for example in d.examples:
            typer.echo(f"  {example}")
    if not problems:
        typer.echo("no differences")
    raise typer.Exit(1 if problems else 0)


@hr_app.command("token")
def hr_token(
    tenant: Annotated[str, typer.Option(help="The tenant the HR platform provisions.")],
    name: Annotated[str, typer.Option(help="What the token is for, e.g. 'entra-scim'.")] = "hr-platform",
) -> None:
    """Issue a bearer token for the HR platform's SCIM client and file upload. It is shown once."""
    from services.pairing.api.integration import issue_token
    from services.pairing.config import load_settings
    from shared.db import connect

    async def run() -> str:
        conn = await connect(load_settings().dsn)
        try:
            return await issue_token(conn, tenant, name)
        finally:
            await conn.close()

    typer.echo(asyncio.run(run()))


@hr_app.command("import")
def hr_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The HR platform's export (CSV, UTF-8).")],
    tenant: Annotated[str | None, typer.Option(help="The tenant (default: TANDEM_TENANT, else 'default').")] = None,
    complete: Annotated[bool, typer.Option(help="The file lists every employee: whoever is missing has left.")] = False,
    dry_run: Annotated[bool, typer.Option(help="Show what would change; change nothing.")] = False,
    as_of: Annotated[str | None, typer.Option(help="When the export was taken (ISO 8601 with zone).")] = None,
) -> None:
    """Sync the employee directory with a full export: only the differences become events."""
    import json

    from services.pairing.config import load_settings
    from services.pairing.directory_import import csv_rows, run_import
    from shared.db import create_pool
    from shared.errors import InvalidInput

    settings = load_settings()
    moment = _aware(as_of, "--as-of") if as_of else None

    def rows() -> Any:
        with file.open(encoding="utf-8", newline="") as stream:
            yield from csv_rows(stream)

    async def run() -> Any:
        pool = await create_pool(settings.dsn, max_size=2)
        try:
            return await run_import(
                pool,
                settings.topics,
                tenant or settings.tenant,
                rows,
                complete=complete,
                dry_run=dry_run,
                as_of=moment,
            )
        finally:
            await pool.close()

    try:
        report = asyncio.run(run())
    except InvalidInput as exc:
        typer.echo(f"error: {exc.message}", err=True)
        for detail in exc.details[1:20]:
            typer.echo(f"       {detail['message']}", err=True)
        raise typer.Exit(2) from None
    except UnicodeDecodeError:
        typer.echo("error: the file must be UTF-8", err=True)
        raise typer.Exit(2) from None
    what = "would change (dry run, nothing changed)" if dry_run else "changed"
    typer.echo(
        f"{report.rows} rows: {report.hired} hired, {report.rehired} rehired, {report.updated} updated, "
        f"{report.left} left, {report.ignored} ignored (older than the directory), {report.unchanged} unchanged; "
        f"{report.participants_updated} enrolments updated, {report.withdrawn} withdrawn, {report.flagged} pairs "
        f"flagged; {what}. Directory revision {report.revision}."
    )
    for change in report.changes[:50]:
        typer.echo(json.dumps(change))


@contracts_app.command("write")
def contracts_write() -> None:
    """Regenerate docs/contracts, the README's generated tables and the Strimzi topics and users from the code."""
    from services import docs, manifests
    from services.contracts import CONTRACTS_DIR, expected
    from shared.contracts import write

    changed = write(CONTRACTS_DIR, expected())
    changed += manifests.write()
    if docs.write():
        changed.append("README.md (access matrix, Kafka ACLs)")
    typer.echo("\n".join(changed) if changed else "contracts up to date")


@contracts_app.command("check")
def contracts_check() -> None:
    """Fail when docs/contracts differs from the code."""
    from services import docs, manifests
    from services.contracts import CONTRACTS_DIR, expected
    from shared.contracts import diff

    problems = diff(CONTRACTS_DIR, expected()) + manifests.differences()
    if docs.render(docs.README.read_text()) != docs.README.read_text():
        problems.append("differs: README.md's generated tables (access matrix, Kafka ACLs)")
    for p in problems:
        typer.echo(p, err=True)
    raise typer.Exit(1 if problems else 0)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    app()


if __name__ == "__main__":
    main()
