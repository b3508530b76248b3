"""`tandem up`: the whole system on one machine, with nothing but Python.

Starts an embedded Postgres (data kept in .tandem/postgres across restarts) and the local Tansu broker
(or uses KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL when set), the three services as child processes,
seeds demo data through the public APIs, prints what runs where, and on Ctrl-C stops everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from shared import personal, registry, stack
from shared.db import ensure_database, shown, with_database
from shared.localstack import EmbeddedKafka, EmbeddedPostgres, free_port
from shared.tamper import write_signing_key
from shared.topics import Topics, ensure_topics


class MailCatcher:
    """A local SMTP server (aiosmtpd) that saves each message as an .eml file, so the demo's
    notifications can be read without a mail server."""

    def __init__(self, folder: Path, port: int) -> None:
        self.folder = folder
        self.port = port
        self.controller: Any = None

    def start(self) -> MailCatcher:
        from aiosmtpd.controller import Controller

        self.folder.mkdir(parents=True, exist_ok=True)
        folder = self.folder

        class Save:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                name = f"{time.strftime('%Y%m%d-%H%M%S')}-{abs(hash(envelope.original_content)) % 10**8}.eml"
                (folder / name).write_bytes(envelope.original_content or b"")
                return "250 Message accepted for delivery"

        # SMTPUTF8: the demo has people whose address is not ASCII (chloé.9@acme.example)
        self.controller = Controller(Save(), hostname="127.0.0.1", port=self.port, enable_SMTPUTF8=True)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers will; ignore TIME_WAIT
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _pick(port: int) -> int:
    return port if _port_free(port) else free_port()


@dataclass
class LocalSystem:
    data_dir: Path
    demo: bool = True
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    postgres: EmbeddedPostgres | None = None
    kafka: EmbeddedKafka | None = None
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)
    kafka_bootstrap: str = ""
    database_url: str = ""
    mail: Any = None
    hr_token: str = ""
    idp: Any = None
    issuer: str = ""

    def say(self, text: str) -> None:
        print(text, flush=True)

    def start_infrastructure(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.env.get("DATABASE_URL"):
            self.database_url = self.env["DATABASE_URL"]
            self.say(f"postgres   external  {shown(self.database_url)}")
        else:
            self.postgres = EmbeddedPostgres(self.data_dir / "postgres", port=_pick(55432)).start()
            self.database_url = self.postgres.dsn
            self.say(f"postgres   embedded  {shown(self.database_url)}   (data in {self.data_dir / 'postgres'})")
        if self.env.get("KAFKA_BOOTSTRAP_SERVERS"):
            self.kafka_bootstrap = self.env["KAFKA_BOOTSTRAP_SERVERS"]
            self.say(f"kafka      external  {self.kafka_bootstrap}")
        else:
            self.kafka = EmbeddedKafka(port=_pick(19092), log_file=self.data_dir / "tansu.log").start()
            self.kafka_bootstrap = self.kafka.bootstrap
            self.say(f"kafka      embedded  {self.kafka_bootstrap}   (Tansu, memory storage)")
        if self.env.get("TANDEM_OIDC_ISSUER"):
            self.issuer = self.env["TANDEM_OIDC_ISSUER"]
            self.say(f"sign-in    external  {self.issuer}")
        else:
            self.idp = _local_provider(_pick(9400))
            self.issuer = self.idp.issuer
            self.say(f"sign-in    local     {self.issuer}   (OpenID Connect; demo users, password 'tandem')")
        if self.env.get("NOTIFICATIONS_SMTP_HOST"):
            self.say(f"smtp       external  {self.env['NOTIFICATIONS_SMTP_HOST']}")
        else:
            self.mail = MailCatcher(self.data_dir / "mail", _pick(1025)).start()
            self.say(f"smtp       local     127.0.0.1:{self.mail.port}   (mails saved in {self.mail.folder})")

    async def prepare(self) -> None:
        topics = Topics(namespace=self.env.get("TANDEM_TOPIC_NAMESPACE", "tandem"))
        created = await ensure_topics(self.kafka_bootstrap, topics)
        for service in registry.SERVICES:
            await ensure_database(self.database_url, service.database)
        if self.kafka is not None and created:
            # A memory-only broker starts empty. Each service notices that the log it wrote and read is gone
            # (TANDEM_BROKER_LOSS=recover, set below) and republishes its kept outbox, in order.
            self.say("           a fresh broker: each service republishes the events it kept")

    def kek_file(self) -> Path:
        """The local stack's key-encryption key (shared.personal): made once, kept with the data it protects, this
        user's only. In a cluster it is a Secret (deploy/), or a cloud KMS behind the same interface."""
        path = self.data_dir / "kek"
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(personal.new_kek_text())
            self.say(f"keys       a new key-encryption key for personal data in {path}")
        return path

    def signing_key(self) -> Path:
        """The Ed25519 key the services sign checkpoints with: .tandem/signing-key.pem, made (0600) when absent."""
        path = self.data_dir / "signing-key.pem"
        if write_signing_key(path):
            self.say(f"signing    a new checkpoint signing key in {path}")
        return path

    def start_services(self) -> None:
        logs = self.data_dir / "logs"
        logs.mkdir(exist_ok=True)
        ports = {service.name: _pick(service.port) for service in registry.SERVICES}
        self.urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        for service in registry.SERVICES:
            port = ports[service.name]
            env = dict(self.env)
            # where the pages call the APIs and the mails link to: wherever the services landed
            for name, url in self.urls.items():
                env.setdefault(registry.service(name).prefix + "URL", url)
            env.update(
                {
                    "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
                    "DATABASE_URL": self.database_url,
                    "TANDEM_OIDC_ISSUER": self.issuer,
                    f"{service.prefix}HTTP_PORT": str(port),
                    "PYTHONUNBUFFERED": "1",
                }
            )
            env.setdefault("TANDEM_CREATE_DATABASE", "true")  # the local stack makes its own databases
            env.setdefault(personal.KEK_VARIABLE, str(self.kek_file()))  # the key-encryption key of personal data
            env.setdefault("TANDEM_LOG_FORMAT", "text")  # a person reads these logs (production: json)
            env.setdefault("TANDEM_SIGNING_KEY_FILE", str(self.signing_key()))  # checkpoints of the event chains
            if self.mail is not None:
                env.setdefault("NOTIFICATIONS_SMTP_HOST", "127.0.0.1")
                env.setdefault("NOTIFICATIONS_SMTP_PORT", str(self.mail.port))
            if self.kafka is not None:  # the local broker keeps nothing: recover from its loss by ourselves
                env.setdefault("TANDEM_BROKER_LOSS", "recover")
                env.setdefault("TANDEM_CREATE_TOPICS", "true")
            if self.kafka is not None:  # the client settings that suit Tansu (see EmbeddedKafka)
                env.setdefault("KAFKA_SESSION_TIMEOUT_MS", str(EmbeddedKafka.SESSION_TIMEOUT_MS))
                env.setdefault("KAFKA_HEARTBEAT_INTERVAL_MS", str(EmbeddedKafka.HEARTBEAT_INTERVAL_MS))
                env.setdefault("KAFKA_FETCH_MAX_WAIT_MS", str(EmbeddedKafka.FETCH_MAX_WAIT_MS))
            env["TANDEM_PARENT_PID"] = str(os.getpid())  # the service stops when this process dies, however
            log = open(logs / f"{service.name}.log", "ab")  # noqa: SIM115
            self.children[service.name] = subprocess.Popen(
                [sys.executable, "-m", service.package], env=env, stdout=log, stderr=log
            )
        if self.idp is not None:  # the pages sign in and come back to wherever the services landed
            from dataclasses import replace

            web = self.idp.clients["tandem-web"]
            callbacks = tuple(f"{url}/auth/callback" for url in self.urls.values())
            self.idp.add_client(replace(web, redirect_uris=tuple(dict.fromkeys((*web.redirect_uris, *callbacks)))))

    async def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient() as client:
            for service, url in self.urls.items():
                while True:
                    self.check_children()
                    with contextlib.suppress(httpx.TransportError):
                        if (await client.get(f"{url}/health/ready")).status_code == 200:
                            break
                    if time.monotonic() > deadline:
                        raise RuntimeError(
                            f"{service} not ready after {timeout}s; see {self.data_dir}/logs/{service}.log"
                        )
                    await asyncio.sleep(0.2)

    async def issue_hr_token(self) -> None:
        """An integration token for the HR platform (SCIM, file upload) of the local tenant, kept in
        .tandem/hr-token (readable by this user only) so that tools and people can use it."""
        from services.pairing.api.integration import issue_token

        tenant = self.env.get("TANDEM_TENANT", "default")
        conn = await asyncpg.connect(with_database(self.database_url, registry.service("pairing").database))
        try:
            self.hr_token = await issue_token(conn, tenant, "tandem up")
        finally:
            await conn.close()
        path = self.data_dir / "hr-token"
        path.write_text(self.hr_token + "\n")
        path.chmod(0o600)

    def write_stack_file(self) -> Path:
        """Tell the `tandem` commands where this stack is (shared.stack): .tandem/stack.json, this user's only."""
        broker = {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "TANDEM_TOPIC_NAMESPACE": self.env.get("TANDEM_TOPIC_NAMESPACE", "tandem"),
        }
        if self.kafka is not None:  # the client settings that suit the local broker, as the services have them
            broker["KAFKA_SESSION_TIMEOUT_MS"] = str(EmbeddedKafka.SESSION_TIMEOUT_MS)
            broker["KAFKA_HEARTBEAT_INTERVAL_MS"] = str(EmbeddedKafka.HEARTBEAT_INTERVAL_MS)
            broker["KAFKA_FETCH_MAX_WAIT_MS"] = str(EmbeddedKafka.FETCH_MAX_WAIT_MS)
        oidc = {"issuer": self.issuer}
        if self.idp is not None:
            cli = self.idp.clients["tandem-cli"]
            oidc |= {"cli_client_id": cli.client_id, "cli_client_secret": cli.secret or ""}
            hr_cli = self.idp.clients.get("tandem-cli-hr")
            if hr_cli is not None:  # HR's client for `tandem subject export`
                oidc |= {"hr_client_id": hr_cli.client_id, "hr_client_secret": hr_cli.secret or ""}
        smtp = {}
        if self.mail is not None:
            smtp = {"host": "127.0.0.1", "port": str(self.mail.port), "mail_dir": str(self.mail.folder)}
        elif self.env.get("NOTIFICATIONS_SMTP_HOST"):
            smtp = {"host": self.env["NOTIFICATIONS_SMTP_HOST"], "port": self.env.get("NOTIFICATIONS_SMTP_PORT", "")}
        found = stack.Stack(
            pid=os.getpid(),
            started_at=stack.now(),
            data_dir=str(self.data_dir),
            broker=broker,
            database_url=self.database_url,
            databases={s.name: with_database(self.database_url, s.database) for s in registry.SERVICES},
            services=dict(self.urls),
            oidc=oidc,
            smtp=smtp,
        )
        return stack.write(self.data_dir, found)

    def check_children(self) -> None:
        for service, proc in self.children.items():
            if proc.poll() is not None:
                tail = (self.data_dir / "logs" / f"{service}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{service} exited with code {proc.returncode}:\n{tail}")

    def banner(self) -> None:
        self.say("")
        self.say("Tandem is running:")
        for service, url in self.urls.items():
            self.say(f"  {service:<14} {url}   (API docs: {url}/docs)")
        self.say(f"  dashboard      {self.urls['sessions']}/dashboard")
        self.say(f"  HR console     {self.urls['pairing']}/console")
        self.say(f"  portal         {self.urls['sessions']}/me   (mentors and mentees: sign in as lena or ingrid)")
        if self.idp is not None:
            self.say(
                f"  sign in        {self.issuer}: pick a demo user (hr, auditor, operator, lena, ingrid, one of the"
            )
            self.say("                 participants) or type their name with the password 'tandem'; API calls need")
            self.say(
                "                 `Authorization: Bearer <token>` (the page signs in with Authorization Code + PKCE)"
            )
        self.say(
            f"  HR platform    SCIM {self.urls['pairing']}/scim/v2, file sync {self.urls['pairing']}/directory/imports"
        )
        self.say(f"                 bearer token in {self.data_dir / 'hr-token'}")
        self.say(f"  logs           {self.data_dir / 'logs'}")
        self.say(f"  tandem CLI     reads {stack.path_in(self.data_dir)} (e.g. `.venv/bin/tandem status`)")
        if self.mail is not None:
            self.say(f"  mail           {self.mail.folder} (every notification the demo sends, as .eml)")
        self.say("Press Ctrl-C to stop everything.")

    def stop(self) -> None:
        stack.remove(self.data_dir, os.getpid())  # first: the tools stop pointing here
        for proc in self.children.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.children.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.children.clear()
        if self.mail is not None:
            self.mail.stop()
        if self.idp is not None:
            self.idp.stop()
            self.idp = None
        if self.kafka is not None:
            self.kafka.stop()
        if self.postgres is not None:
            self.postgres.stop()
        self.say("stopped: services, broker and database")


def _username(employee_id: str) -> str:
    return {"E-2000": "lena", "E-1000": "ingrid"}.get(employee_id, employee_id.lower())


def _local_provider(port: int) -> Any:
    """The local OpenID Connect provider with the demo's users: HR, an auditor, an operator, and every demo
    participant (their employee id, lower case, is their user name; Lena and Ingrid have short ones)."""
    from services.demo import demo_people
    from shared.identity_provider import DemoUser, LocalIdentityProvider, default_demo

    demo = default_demo()
    known = {u.employee_id for u in demo.users if u.employee_id}
    people = [
        DemoUser(
            _username(p["employee_id"]),
            p["display_name"],
            p["email"],
            ("participant",),
            "default",
            employee_id=p["employee_id"],
        )
        for p in demo_people()
        if p["employee_id"] not in known
    ]
    return LocalIdentityProvider([*demo.users, *people], demo.clients, port=port).start()


async def _run(system: LocalSystem) -> None:
    await system.prepare()
    system.start_services()
    await system.wait_ready()
    await system.issue_hr_token()
    system.write_stack_file()
    if system.demo and system.idp is None:
        system.say("demo data: skipped (it signs in through the local provider; TANDEM_OIDC_ISSUER names another)")
    elif system.demo:
        from services.demo import seed

        idp = system.idp

        def tokens(employee_id: str | None) -> str:
            user = "hr" if employee_id is None else _username(employee_id)
            return str(idp.user_token(user))

        summary = await seed(system.urls, tokens=tokens, integration_token=system.hr_token)
        system.say(f"demo data: {summary}")
    system.banner()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    while not stop.is_set():
        system.check_children()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1.0)


def up(data_dir: Path, demo: bool) -> int:
    system = LocalSystem(data_dir=data_dir, demo=demo)
    try:
        system.start_infrastructure()
        asyncio.run(_run(system))
        return 0
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        system.stop()
