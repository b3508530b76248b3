"""The `tandem` command line."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import sys
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from aiokafka.errors import KafkaError
from typer.core import TyperGroup

from shared import registry, stack

app = typer.Typer(help="Tandem: reverse-mentoring programmes as event-driven services.", no_args_is_help=True)
contracts_app = typer.Typer(help="The event contract (JSON Schemas, AsyncAPI), generated from the code.")
app.add_typer(contracts_app, name="contracts")
projection_app = typer.Typer(help="Inspect a service's projection (tables built from the log).")
app.add_typer(projection_app, name="projection")
hr_app = typer.Typer(help="The HR platform's way in: integration tokens, full-file sync of the directory.")
app.add_typer(hr_app, name="hr")


#: The commands that start things themselves, or need no broker or database: they read no stack file.
_OWN_SETTINGS = ("up", "serve", "contracts")
#: The running local stack the commands found (shared.stack), or why none is used.
_stack = stack.Found()


@app.callback()
def _local_stack(ctx: typer.Context) -> None:
    # What the environment does not set, a running `tandem up` supplies (.tandem/stack.json): the environment wins.
    global _stack
    if ctx.invoked_subcommand in _OWN_SETTINGS or ctx.resilient_parsing:
        return
    _stack = stack.discover(os.environ, Path.cwd())
    os.environ.update(_stack.defaults(os.environ))


def _need(*, broker: bool = False, databases: tuple[str, ...] = ()) -> None:
    """Refuse in one line when the broker or a service's database is not configured, saying what to set (rather
    than trying a default address where nothing answers)."""
    missing = []
    if broker and not os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        missing.append("no broker: set KAFKA_BOOTSTRAP_SERVERS")
    for service in databases:
        prefix = registry.service(service).prefix
        if not (os.environ.get(f"{prefix}DATABASE_URL") or os.environ.get("DATABASE_URL")):
            missing.append(f"no database for {service}: set {prefix}DATABASE_URL or DATABASE_URL")
    if missing:
        raise _Failed(_stack.missing("; ".join(missing)))


def _need_broker() -> None:
    _need(broker=True)


def _need_database(service: str) -> None:
    _need(databases=(service,))


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
    import asyncpg

    from shared.db import migrate as run
    from shared.production import missing_database_message

    names = registry.NAMES if service == "all" else (_service(service),)
    for name in names:
        _need_database(name)
    for name in names:
        module = importlib.import_module(registry.service(name).app)
        settings = importlib.import_module(registry.service(name).config).load_settings()
        try:
            applied = asyncio.run(run(settings.dsn, module.SPEC.migrations, service=name))
        except asyncpg.InvalidCatalogNameError:
            raise _Failed(missing_database_message(name, settings.dsn)) from None
        typer.echo(f"{name}: {', '.join(applied) if applied else 'up to date'}")


topics_app = typer.Typer(help="The declared topics: create them, or check the broker has them as declared.")
app.add_typer(topics_app, name="topics", invoke_without_command=True)


def _topic_settings() -> Any:
    from shared.config import ServiceSettings

    _need_broker()
    return ServiceSettings.from_env("pairing", database_url="unused")


@topics_app.callback()
def topics(ctx: typer.Context) -> None:
    """Bare `tandem topics`: as `tandem topics create`."""
    if ctx.invoked_subcommand is None:
        topics_create()


@topics_app.command("create")
def topics_create() -> None:
    """Create the missing declared topics (idempotent), from KAFKA_BOOTSTRAP_SERVERS and TANDEM_TOPIC_* settings."""
    from shared.topics import ensure_topics

    settings = _topic_settings()
    created = asyncio.run(
        ensure_topics(settings.kafka_bootstrap_servers, settings.topics, security=settings.kafka_security)
    )
    typer.echo(f"created: {', '.join(created) if created else 'nothing, all exist'}")


@topics_app.command("check")
def topics_check() -> None:
    """Exit 0 when every declared topic exists with its declared partitions and settings (retention); else
    exit 1, listing each difference. Changes nothing."""
    from shared.topics import check_topics

    settings = _topic_settings()
    try:
        problems = asyncio.run(
            check_topics(settings.kafka_bootstrap_servers, settings.topics, security=settings.kafka_security)
        )
    except (KafkaError, OSError, TimeoutError) as exc:
        raise _Failed(f"broker {settings.kafka_bootstrap_servers} does not answer: {type(exc).__name__}") from None
    for problem in problems:
        typer.echo(problem)
    if not problems:
        typer.echo(f"all {len(settings.topics.all_topics(registry.CONSUMERS))} declared topics as declared")
    raise typer.Exit(1 if problems else 0)


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

    _need_database(service)
    spec = importlib.import_module(registry.service(service).app).SPEC
    settings = importlib.import_module(registry.service(service).config).load_settings()
    return spec, settings, spec.handlers(ServiceHost(spec, settings))


@contextlib.asynccontextmanager
async def _rebuilding(service: str, *, batch_size: int, until: datetime | None, title: str) -> AsyncIterator[Any]:
    """A projection rebuild of SERVICE from the Kafka log (shared.replay.Rebuild), as its settings say, prepared,
    with its progress shown under `title`; closed when the block ends."""
    from shared.db import service_migrations
    from shared.progress import EventProgress
    from shared.replay import Rebuild, ReplayStats

    _need(broker=True, databases=(service,))
    spec, settings, handlers = _wiring(service)
    with EventProgress(title) as shown:

        def progress(stats: ReplayStats, total: int) -> None:
            shown.update(stats.read, total, stats.rate)

        rebuild = Rebuild(
            service,
            dsn=settings.dsn,
            bootstrap=settings.kafka_bootstrap_servers,
            topics=spec.consumes(settings),
            handlers=handlers,
            batch_size=batch_size,
            until=until,
            migrations=service_migrations(service, spec.migrations),
            progress=progress,
            security=settings.kafka_security,
        )
        await rebuild.prepare()
        try:
            yield rebuild
        finally:
            await rebuild.close()


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
    as_of = _aware(until, "--until") if until is not None else None

    async def run() -> None:
        async with _rebuilding(service, batch_size=batch_size, until=as_of, title=f"replay {service}") as rebuild:
            if until is not None or not swap:
                await rebuild.run_to_end()
                outcome = f"rebuilt into schema {rebuild.schema}"
            else:
                old = await rebuild.rebuild_and_swap(keep_old=keep_old)
                outcome = f"swapped in; the previous projection is {'kept as ' + old if keep_old else 'dropped'}"
        typer.echo(outcome)
        s = rebuild.stats
        typer.echo(
            f"{s.read} read, {s.applied} applied, {s.duplicates} duplicates, {s.rejected} rejected, "
            f"{s.undecodable} undecodable, {s.after_until} after --until; {s.rate:,.0f} events/s"
        )

    asyncio.run(run())


class _AuditGroup(TyperGroup):
    """`tandem audit <subject>` stays the timeline; `verify` and `checkpoints` are commands of their own."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["timeline", *args]
        return super().parse_args(ctx, args)


audit_app = typer.Typer(
    cls=_AuditGroup,
    no_args_is_help=True,
    help="A subject's timeline from the log (`tandem audit <subject>`), and the log's tamper evidence (verify, "
    "checkpoints).",
)
app.add_typer(audit_app, name="audit")
checkpoints_app = typer.Typer(help="The signed checkpoints of each service's event chains.", no_args_is_help=True)
audit_app.add_typer(checkpoints_app, name="checkpoints")


@audit_app.command("timeline", hidden=True)
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
    _need_broker()
    settings = ServiceSettings.from_env("pairing", database_url="unused")
    tenant = tenant or settings.tenant
    raw = asyncio.run(
        a.read_log(
            settings.kafka_bootstrap_servers,
            settings.topics.event_topics(),
            security=settings.kafka_security,
            keys_topic=settings.topics.keys,
        )
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


def _trusted_key() -> str | None:
    """The public key of TANDEM_SIGNING_KEY_FILE, when set: checkpoints must be signed with it."""
    from shared.chain import public_key_pem
    from shared.tamper import SigningKeyError, load_signing_key

    path = os.environ.get("TANDEM_SIGNING_KEY_FILE")
    if not path:
        return None
    try:
        return public_key_pem(load_signing_key(path))
    except SigningKeyError as exc:
        raise _Failed(str(exc)) from None


@audit_app.command("verify")
def audit_verify(
    service: Annotated[str | None, typer.Option(help="Only this service (default: each one configured).")] = None,
    outbox: Annotated[bool, typer.Option("--outbox", help="Verify the service's outbox table as well.")] = False,
    topic: Annotated[
        list[str] | None,
        typer.Option(help="Read these topics instead of the service's own (repeatable; needs --service)."),
    ] = None,
) -> None:
    """Recompute every hash chain of a service's events in the log (and with --outbox in its outbox) and check its
    latest signed checkpoint. Each changed, removed, inserted or reordered event is reported with where it is. Exit
    1 on any finding, 0 when clean."""
    from shared.db import server_of
    from shared.tamper import verify_service

    if topic and service is None:
        raise typer.BadParameter(
            "--topic needs --service (whose checkpoints and outbox go with it)", param_hint="--topic"
        )
    _need_broker()
    names = [_service(service)] if service else list(registry.NAMES)
    trusted = _trusted_key()
    common = _topic_settings()
    total = 0
    for name in names:
        try:
            dsn: str | None = _dsn(name)
        except _Failed:
            if outbox:
                raise
            dsn = None
            typer.echo(f"({name}: no database configured: its checkpoints are read from the log)", err=True)
        topics = (
            list(topic) if topic else [*registry.service(name).owned_topics(common.topics), common.topics.checkpoints]
        )
        try:
            result = asyncio.run(
                verify_service(
                    name,
                    dsn=dsn,
                    bootstrap=common.kafka_bootstrap_servers,
                    topics=topics,
                    outbox=outbox,
                    security=common.kafka_security,
                    trusted_key=trusted,
                    checkpoint_log=not topic,
                    checkpoint_topic=common.topics.checkpoints,
                )
            )
        except LookupError as exc:
            raise _Failed(str(exc)) from None
        except OSError as exc:  # the broker's are KafkaErrors: this is the database (main() says the broker's)
            where = server_of(dsn) if dsn else "?"
            raise _Failed(f"{name}: database server {where} does not answer ({type(exc).__name__}: {exc})") from None
        for finding in result.findings:
            typer.echo(f"{name}: {finding.line()}")
        for line in result.lines:
            typer.echo(f"{name}: {line}")
        total += len(result.findings)
    typer.echo(f"tamper evidence: {'clean' if not total else f'{total} finding(s)'} ({', '.join(names)})")
    raise typer.Exit(1 if total else 0)


@checkpoints_app.command("export")
def audit_checkpoints_export(
    service: Annotated[str | None, typer.Option(help="Only this service (default: each one configured).")] = None,
    output: Annotated[Path | None, typer.Option(help="Write to this file instead of the terminal.")] = None,
) -> None:
    """Every signed checkpoint as JSON lines, each with what was signed, the signature and the public key (PEM): an
    outside notary verifies them with any Ed25519 implementation and nothing of ours."""
    import json

    from shared.tamper import export_checkpoints

    names = [_service(service)] if service else list(registry.NAMES)
    lines = []
    for name in names:
        lines += [json.dumps(c, sort_keys=True) for c in asyncio.run(export_checkpoints(_dsn(name)))]
    text = "".join(line + "\n" for line in lines)
    if output is not None:
        output.write_text(text)
        typer.echo(f"{len(lines)} checkpoint(s) written to {output}")
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


@projection_app.command("verify")
def projection_verify(
    service: Annotated[str, typer.Argument(callback=_service)],
    batch_size: Annotated[int, typer.Option(min=1)] = 5000,
) -> None:
    """Audit the live projection: rebuild it from the Kafka log beside the live one, hold the live consumer where
    both stand, compare row by row, drop the rebuild. Exit 1 on differences (the audit CronJob runs this)."""

    async def run() -> list[Any]:
        async with _rebuilding(service, batch_size=batch_size, until=None, title=f"verify {service}") as rebuild:
            await rebuild.run_to_end()
            found: list[Any] = await rebuild.rebuild_and_verify()
        return found

    problems = asyncio.run(run())
    for d in problems:
        typer.echo(f"{d.table}: {d.only_live} row(s) only live, {d.only_other} only in the rebuild")
        for example in d.examples:
            typer.echo(f"  {example}")
    typer.echo("the live projection is what the log says" if not problems else f"{len(problems)} table(s) differ")
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

    _need_database("pairing")

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

    _need_database("pairing")
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


keys_app = typer.Typer(
    help="The keys of personal data (shared.personal): make a KEK, re-wrap the data keys after a rotation."
)
app.add_typer(keys_app, name="keys")


@keys_app.command("new-kek")
def keys_new_kek(
    out: Annotated[Path, typer.Argument(help="The file to write (it must not exist); readable by this user only.")],
) -> None:
    """Write a new key-encryption key (32 random bytes, base64) for TANDEM_KEK_FILE."""
    import os

    from shared import personal

    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        typer.echo(f"{out} exists; a KEK is never overwritten (the data keys it wrapped would be lost)", err=True)
        raise typer.Exit(2) from None
    with os.fdopen(fd, "w") as f:
        f.write(personal.new_kek_text())
    typer.echo(f"wrote {out}")


@keys_app.command("rewrap")
def keys_rewrap(service: Annotated[str, typer.Argument(callback=_service)]) -> None:
    """After a KEK rotation (TANDEM_KEK_FILE the new one, TANDEM_KEK_PREVIOUS_FILES the old): re-wrap every data key
    in SERVICE's database with the new KEK and republish the ones it owns; run it for each service, then the old KEK
    can go. The data itself is not touched."""
    from shared import personal
    from shared.config import ServiceSettings
    from shared.db import connect

    settings = ServiceSettings.from_env(service, database_url=_dsn(service))

    async def run() -> tuple[int, int]:
        conn = await connect(settings.dsn)
        try:
            async with conn.transaction():
                return await personal.rewrap(conn, settings.topics, service=service)
        finally:
            await conn.close()

    try:
        rewrapped, republished = asyncio.run(run())
    except personal.KekError as exc:
        typer.echo(f"{service}: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{service}: {rewrapped} data key(s) re-wrapped with {personal.kms().key_id}, {republished} republished")


subject_app = typer.Typer(help="Subject access (GDPR art. 15): everything Tandem holds about one person.")
app.add_typer(subject_app, name="subject")
#: The variable holding the HR access token `tandem subject export` sends.
TOKEN_VARIABLE = "TANDEM_TOKEN"


def _local_hr_token() -> str:
    """An HR access token from the running local stack's provider (its `tandem-cli-hr` client, by client
    credentials), when `tandem up` runs one; else refuse, saying what to set."""
    import httpx

    oidc = _stack.stack.oidc if _stack.stack is not None else {}
    if not (oidc.get("issuer") and oidc.get("hr_client_id")):
        raise _Failed(_stack.missing(f"no token: set {TOKEN_VARIABLE} to an access token of HR of the person's tenant"))
    issuer = oidc["issuer"].rstrip("/")
    try:
        endpoint = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()["token_endpoint"]
        response = httpx.post(
            endpoint,
            data={"grant_type": "client_credentials"},
            auth=(oidc["hr_client_id"], oidc.get("hr_client_secret", "")),
            timeout=10,
        )
        response.raise_for_status()
        return str(response.json()["access_token"])
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        raise _Failed(
            f"the local stack's identity provider {issuer} gave no token ({type(exc).__name__}); set {TOKEN_VARIABLE}"
        ) from None


@subject_app.command("export")
def subject_export(
    employee_id: Annotated[str, typer.Argument(help="The employee id (as in the directory).")],
    tenant: Annotated[
        str | None, typer.Option(help="The tenant expected; the token's decides, another one is refused.")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Write the document to this file instead of the terminal.")] = None,
) -> None:
    """Ask the three services what each holds about EMPLOYEE_ID (their GET /subjects/{employee_id}, with the HR
    access token in TANDEM_TOKEN, else one from the running local stack's provider) and write one JSON document:
    each service's answer as it gave it, with its read time. A service that does not answer fails the export
    (exit 2), and nothing is written. Service URLs: <SERVICE>_URL, else the running local stack's, else
    http://127.0.0.1:<its port>."""
    import json

    from shared import subjects

    token = os.environ.get(TOKEN_VARIABLE, "").strip() or _local_hr_token()
    urls = {of.name: os.environ.get(f"{of.prefix}URL") or f"http://127.0.0.1:{of.port}" for of in registry.SERVICES}
    try:
        document = asyncio.run(subjects.collect(urls, token, employee_id, tenant=tenant))
    except subjects.ExportFailed as exc:
        raise _Failed(f"subject export: {exc}") from None
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    temporary = out.with_name(f".{out.name}.{os.getpid()}")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(out)  # whole or not at all
    known = [name for name, answer in document["services"].items() if answer.get("known")]
    typer.echo(
        f"written to {out}: {employee_id} in tenant {document['tenant']}, "
        f"known to {', '.join(known) if known else 'no service'}"
    )


retention_app = typer.Typer(help="Retention of personal data: expired free text, erasure after leaving.")
app.add_typer(retention_app, name="retention")


@app.command()
def erase(
    employee_id: Annotated[str, typer.Argument(help="The employee to erase (the directory's employee id).")],
    tenant: Annotated[str | None, typer.Option(help="The tenant (default: TANDEM_TENANT, else 'default').")] = None,
    reason: Annotated[str, typer.Option(help="Why (recorded with the erasure).")] = "request",
) -> None:
    """Erase a person: names, addresses and free text in every service; ids and figures stay (SubjectErased)."""
    import getpass

    from services.pairing.config import load_settings
    from services.pairing.handlers import erase_subject
    from shared.db import create_pool
    from shared.errors import DomainError
    from shared.uow import UnitOfWork

    _need_database("pairing")
    settings = load_settings()

    async def run() -> Any:
        pool = await create_pool(settings.dsn, max_size=2)
        try:
            async with UnitOfWork(pool, settings.topics, tenant=tenant or settings.tenant) as uow:
                return await erase_subject(uow, employee_id, reason=reason, requested_by=f"cli:{getpass.getuser()}")
        finally:
            await pool.close()

    try:
        done = asyncio.run(run())
    except DomainError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"erased {done.employee_id} ({len(done.participant_ids)} enrolment(s), {len(done.pair_ids)} pair(s)) at "
        f"{done.erased_at.isoformat()}; the other services scrub their copies when SubjectErased reaches them"
    )


@retention_app.command("run")
def retention_run(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant (default: every tenant with a policy).")] = None,
) -> None:
    """Run the retention job once, now: expire the free text of programmes past their tenant's policy, and erase
    employees that left more than TANDEM_ERASE_AFTER_DAYS days ago (when set)."""
    from datetime import UTC

    from services.pairing.config import load_settings
    from services.pairing.retention import run_once
    from shared.db import create_pool

    _need_database("pairing")
    settings = load_settings()

    async def run() -> Any:
        pool = await create_pool(settings.dsn, max_size=2)
        try:
            return await run_once(
                pool,
                settings.topics,
                now=datetime.now(UTC),
                erase_after_days=settings.erase_after_days,
                tenants=None if tenant is None else {tenant},
            )
        finally:
            await pool.close()

    report = asyncio.run(run())
    for name, programmes in sorted(report.expired.items()):
        typer.echo(f"{name}: free text expired in {len(programmes)} programme(s): {', '.join(programmes)}")
    for name, employee_id in report.erased:
        typer.echo(f"{name}: erased {employee_id} (left more than {settings.erase_after_days} days ago)")
    if not report.expired and not report.erased:
        typer.echo("nothing to do")


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


dlq_app = typer.Typer(help="Dead letters (in each consuming service's database): list, show, redrive after a fix.")
app.add_typer(dlq_app, name="dlq")


def _consumer(name: str | None) -> str | None:
    if name is None:
        return None
    name = _service(name)
    if name not in registry.CONSUMERS:
        raise typer.BadParameter(f"{name} consumes nothing, so it has no dead letters", param_hint="--service")
    return name


def _dsn(service: str) -> str:
    """A service's database, from <SERVICE>_DATABASE_URL or DATABASE_URL (as `tandem migrate` reads it)."""
    from shared.config import ServiceSettings

    _need_database(service)
    settings: Any = ServiceSettings.from_env(service)
    return str(settings.dsn)


def _dlq_services(service: str | None) -> list[tuple[str, str]]:
    """(service, database URL) of the consuming services asked for: the one named, else each one configured."""
    from shared.environment import ConfigError

    if service is not None:
        return [(service, _dsn(service))]
    found, skipped = [], []
    for name in registry.CONSUMERS:
        try:
            found.append((name, _dsn(name)))
        except (ConfigError, _Failed):
            skipped.append(name)
    if not found:
        raise _Failed(
            _stack.missing(
                "no service database configured: set DATABASE_URL (a server for all services) or "
                + " or ".join(f"{registry.service(n).prefix}DATABASE_URL" for n in registry.CONSUMERS)
            )
        )
    for name in skipped:
        typer.echo(f"({name}: skipped, {registry.service(name).prefix}DATABASE_URL is not set)", err=True)
    return found


def _when(value: Any) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "-"


@dlq_app.command("list")
def dlq_list(
    service: Annotated[str | None, typer.Option(help="Only this service's dead letters.")] = None,
    status: Annotated[str | None, typer.Option(help="dead (waiting for an operator) or redriven.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many per service, newest first.")] = 50,
) -> None:
    """The dead letters: id, service, topic/partition/offset, event type, status, reason, when."""
    from shared.operator import STATUSES, list_dead_letters

    if status is not None and status not in STATUSES:
        raise typer.BadParameter(f"choose {' or '.join(STATUSES)}", param_hint="--status")
    rows = []
    for name, dsn in _dlq_services(_consumer(service)):
        rows += [(name, r) for r in asyncio.run(list_dead_letters(dsn, status=status, limit=limit))]
    typer.echo(
        f"{'id':<18} {'where (topic/partition/offset)':<44} {'event type':<38} {'status':<9} {'when':<26} reason"
    )
    for name, r in rows:
        where = f"{r['topic']}/{r['partition']}/{r['offset']}"
        reason = f"{r['kind']}: {r['error']}".replace("\n", " ")
        typer.echo(
            f"{name + '/' + str(r['id']):<18} {where:<44} {(r['event_type'] or '-'):<38} {r['status']:<9} "
            f"{_when(r['dead_at']):<26} {reason[:200]}"
        )
    typer.echo(f"{len(rows)} dead letter(s)")


def _resolve(text: str, service: str | None) -> tuple[str, int]:
    from shared.operator import find_dead_letter, parse_id

    named, number = parse_id(text, service)
    if named is not None:
        return _consumer(named) or named, number
    holders = [name for name, dsn in _dlq_services(None) if asyncio.run(find_dead_letter(dsn, number)) is not None]
    if len(holders) == 1:
        return holders[0], number
    if not holders:
        raise _Failed(f"no dead letter {number} in any configured service's database (`tandem dlq list` shows them)")
    raise _Failed(f"dead letter {number} is ambiguous: {', '.join(f'{h}/{number}' for h in holders)}; give one of them")


@dlq_app.command("show")
def dlq_show(
    dead_letter: Annotated[str, typer.Argument(help="An id as `tandem dlq list` shows it (service/number).")],
    service: Annotated[str | None, typer.Option(help="The service whose dead letter it is.")] = None,
) -> None:
    """The full record of one dead letter: headers, payload (or where to fetch it), reason, history."""
    import json

    from shared.operator import find_dead_letter, presented

    name, number = _resolve(dead_letter, _consumer(service))
    row = asyncio.run(find_dead_letter(_dsn(name), number))
    if row is None:
        raise _Failed(f"no dead letter {name}/{number} (`tandem dlq list` shows them)")
    typer.echo(json.dumps({"id": f"{name}/{number}", **presented(row)}, indent=2, default=str))


@dlq_app.command("redrive")
def dlq_redrive(
    dead_letters: Annotated[list[str] | None, typer.Argument(help="Ids as `tandem dlq list` shows them.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every dead letter still waiting (status dead).")] = False,
    service: Annotated[str | None, typer.Option(help="The service whose dead letters they are.")] = None,
    by: Annotated[str | None, typer.Option(help="Who redrives (recorded); default: the login name.")] = None,
) -> None:
    """Re-publish dead letters to their original topic after the cause was fixed, so that the consumer takes
    them again. Idempotent: the consumer applies each event once, however often it is redriven."""
    import getpass
    from collections import defaultdict

    from shared.config import ServiceSettings
    from shared.operator import dead_letter_ids, redrive

    if bool(dead_letters) == all_:
        raise typer.BadParameter("give dead letter ids, or --all (not both)")
    _need_broker()
    who = by or getpass.getuser()
    wanted: dict[str, list[int]] = defaultdict(list)
    left: list[str] = []
    if all_:
        for name, dsn in _dlq_services(_consumer(service)):
            wanted[name] += asyncio.run(dead_letter_ids(dsn, redrivable=True))
            left += [f"{name}/{i}" for i in asyncio.run(dead_letter_ids(dsn, redrivable=False))]
    else:
        for text in dead_letters or []:
            name, number = _resolve(text, _consumer(service))
            wanted[name].append(number)
    total = 0
    for name, ids in wanted.items():
        if not ids:
            continue
        settings = ServiceSettings.from_env(name)
        for done in asyncio.run(
            redrive(
                settings.dsn,
                name,
                ids,
                bootstrap=settings.kafka_bootstrap_servers,
                by=who,
                security=settings.kafka_security,
            )
        ):
            note = "" if done.reopened else " (the consumer had not kept it as dead-lettered: a copy it may ignore)"
            again = " again" if done.again else ""
            typer.echo(f"{name}/{done.id}: redriven{again} to {done.topic}/{done.partition}/{done.offset}{note}")
            total += 1
    typer.echo(f"{total} dead letter(s) redriven by {who}")
    if left:
        typer.echo(
            f"{len(left)} left dead, as no redrive can apply them (not events, or kept only as references; "
            f"`tandem dlq show` says which): {', '.join(left)}"
        )


def _maybe_service(name: str | None) -> str | None:
    return None if name is None else _service(name)


@app.command()
def status(
    service: Annotated[
        str | None, typer.Option(help="Only this service.", callback=lambda v: v and _service(v))
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
) -> None:
    """Per service: readiness (its /health/ready, reasons), outbox backlog and oldest age, consumer lag per
    topic, dead letters by status. Exit 1 when a service is not ready. Service URLs: <SERVICE>_URL, else the running
    local stack's (.tandem/stack.json), else http://127.0.0.1:<its port>."""
    import json
    import os

    from shared.config import ServiceSettings
    from shared.environment import ConfigError
    from shared.operator import ServiceStatus, consumer_lag, database_figures, readiness

    names = [service] if service else list(registry.NAMES)
    common = _topic_settings()

    async def look(name: str) -> ServiceStatus:
        of = registry.service(name)
        url = os.environ.get(f"{of.prefix}URL") or f"http://127.0.0.1:{of.port}"
        st = ServiceStatus(name, url)
        st.ready, st.reasons = await readiness(url)
        try:
            dsn = ServiceSettings.from_env(name).dsn
        except ConfigError:
            st.problems.append(f"database not configured: set {of.prefix}DATABASE_URL or DATABASE_URL")
        else:
            await database_figures(st, dsn)
        consumed = of.consumed_topics(common.topics)
        if consumed:
            group = f"{common.topics.namespace}.{name}"
            try:
                st.lag = await asyncio.wait_for(
                    consumer_lag(common.kafka_bootstrap_servers, group, consumed, security=common.kafka_security), 45
                )
            except (KafkaError, OSError, TimeoutError) as exc:
                st.problems.append(f"broker {common.kafka_bootstrap_servers} does not answer: {type(exc).__name__}")
        return st

    async def look_all() -> list[ServiceStatus]:
        return list(await asyncio.gather(*(look(n) for n in names)))

    found = asyncio.run(look_all())
    if as_json:
        typer.echo(json.dumps([st.as_json() for st in found], indent=2))
    else:
        typer.echo(f"{'service':<15} {'ready':<6} {'outbox (backlog, oldest)':<26} {'consumer lag':<14} dead letters")
        for st in found:
            outbox = "-" if st.outbox_backlog is None else f"{st.outbox_backlog}"
            if st.outbox_oldest_seconds is not None:
                outbox += f", {st.outbox_oldest_seconds:.0f} s"
            lag = str(sum(st.lag.values())) if st.lag else "-"
            dead = ", ".join(f"{n} {s}" for s, n in st.dead_letters.items()) or "-"
            typer.echo(f"{st.service:<15} {'yes' if st.ready else 'NO':<6} {outbox:<26} {lag:<14} {dead}")
            for topic, n in st.lag.items():
                typer.echo(f"    lag {topic}: {n}")
            for reason in st.reasons:
                typer.echo(f"    not ready: {reason}")
            for problem in st.problems:
                typer.echo(f"    {problem}")
    raise typer.Exit(0 if all(st.ready for st in found) else 1)


class _Failed(Exception):
    """A command that cannot do what it was asked: one line on stderr, exit 2."""


def main() -> None:
    import asyncpg

    from shared.environment import ConfigError
    from shared.operator import OperatorError

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # an unreachable broker is said once, below
    try:
        app()
    except (_Failed, ConfigError, OperatorError) as exc:
        typer.echo(f"tandem: {exc}", err=True)
        raise SystemExit(2) from None
    except KafkaError as exc:  # the broker does not answer, or refuses
        detail = str(exc).removeprefix(f"{type(exc).__name__}: ")
        where = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
        typer.echo(f"tandem: broker {where}: {type(exc).__name__}: {detail}".rstrip(": "), err=True)
        raise SystemExit(2) from None
    except (OSError, TimeoutError) as exc:  # a dependency that does not answer
        typer.echo(f"tandem: {type(exc).__name__}: {exc}".rstrip(": "), err=True)
        raise SystemExit(2) from None
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:  # what the database refused, and why
        typer.echo(f"tandem: database: {type(exc).__name__}: {exc}".rstrip(": "), err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
