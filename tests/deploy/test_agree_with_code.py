"""The rendered manifests agree with the code: every variable they set is a setting the code reads and the
settings each pod needs are set (and parse); topics and ACLs are the code's topic map; ports, probe paths and
commands exist in the code."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer

from services import manifests
from services.cli import app as cli_app
from services.notifications.dispatch import DispatchSettings
from services.notifications.webhooks.config import WebhookSettings
from shared import registry
from shared.auth import OidcEnvironment
from shared.config import CommonEnvironment, OwnEnvironment, ServiceSettings
from shared.kafka_security import KafkaEnvironment
from shared.runtime import ServiceHost
from shared.topics import Topics
from tests.deploy.rendering import OVERLAYS, environment, named, of_kind, pod_spec, render, workloads

#: Variables in the manifests that are not Tandem settings: libpq's password variable, which asyncpg reads
#: (the URL carries no password), and the audit CronJob's argument, expanded by Kubernetes into its args.
NOT_SETTINGS = {"PGPASSWORD"}
#: The metrics the alerts may use (named in issue 14; the metrics branch defines them).
METRICS = {
    "tandem_http_requests_total",
    "tandem_http_request_duration_seconds",
    "tandem_outbox_backlog",
    "tandem_outbox_oldest_age_seconds",
    "tandem_relay_published_total",
    "tandem_relay_errors_total",
    "tandem_consumer_lag",
    "tandem_dead_letters",
    "tandem_notifications",
    "tandem_match_run_duration_seconds",
    "tandem_ready",
}


def _extra_names(method: Any) -> set[str]:
    """The variables a service's own settings read from its `extra` mapping (`e.get("NAME"...)`, `e["NAME"]`)."""
    source = inspect.getsource(method)
    return {a or b for a, b in re.findall(r'e\.get\("([A-Z_]+)"|e\["([A-Z_]+)"\]', source)}


def known_settings() -> set[str]:
    names = set(CommonEnvironment.model_fields) | set(OidcEnvironment.model_fields)
    names |= set(KafkaEnvironment.model_fields)
    for s in registry.SERVICES:
        names |= {s.prefix + field for field in OwnEnvironment.model_fields}
    extra = _extra_names(DispatchSettings.from_extra) | _extra_names(WebhookSettings.from_extra)
    assert {"SMTP_HOST", "SMTP_FROM", "WEBHOOK_TIMEOUT"} <= extra, extra
    names |= {registry.service("notifications").prefix + n for n in extra}
    return names


def service_of(deployment: dict[str, Any]) -> str:
    return str(deployment["metadata"]["name"]).removeprefix("tandem-")


def container(doc: dict[str, Any]) -> dict[str, Any]:
    (only,) = pod_spec(doc)["containers"]
    return dict(only)


def mounted(doc: dict[str, Any], path: str) -> dict[str, Any]:
    """The volume mounted at `path`'s folder (the file must be one of its items)."""
    folder, file = path.rsplit("/", 1)
    (mount,) = [m for m in container(doc)["volumeMounts"] if m["mountPath"] == folder]
    (volume,) = [v for v in pod_spec(doc)["volumes"] if v["name"] == mount["name"]]
    assert file in [i["path"] for i in volume["secret"]["items"]], f"{path} is not mounted"
    return dict(volume["secret"])


def settings_of(docs: tuple[dict[str, Any], ...], doc: dict[str, Any], service: str, tmp_path: Path) -> ServiceSettings:
    """The settings the pod's container starts with, read by the code itself; the mounted password file stands in
    for the secret."""
    env = environment(docs, container(doc))
    password = tmp_path / "password"
    password.write_text("from-the-secret")
    secret = mounted(doc, env["KAFKA_SASL_PASSWORD_FILE"])
    assert secret["secretName"] == env["KAFKA_SASL_USERNAME"], "the Kafka password is not the user's"
    assert mounted(doc, env["KAFKA_SSL_CA_FILE"])["secretName"] == f"{manifests.KAFKA_CLUSTER}-cluster-ca-cert"
    if doc["kind"] == "Deployment":  # the services sign checkpoints with their own key (production mode needs one)
        assert mounted(doc, env["TANDEM_SIGNING_KEY_FILE"])["secretName"] == f"tandem-{service}-signing-key"
    overrides = {} if f"{service.upper()}_DATABASE_URL" in env else {"database_url": "postgresql://unused/unused"}
    return ServiceSettings.from_env(service, {**env, "KAFKA_SASL_PASSWORD_FILE": str(password)}, **overrides)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_variable_is_a_setting_the_code_reads(overlay: str) -> None:
    known = known_settings()
    docs = render(overlay)
    unknown = {
        f"ConfigMap {cm['metadata']['name']}: {name}"
        for cm in of_kind(docs, "ConfigMap")
        for name in cm.get("data", {})
        if name not in known
    }
    unknown |= {
        f"{w['kind']} {w['metadata']['name']}: {var['name']}"
        for w in workloads(docs)
        for var in container(w).get("env", [])
        if var["name"] not in known | NOT_SETTINGS
    }
    assert not unknown, "not settings the code reads:\n" + "\n".join(sorted(unknown))


def test_an_unknown_variable_would_be_found() -> None:
    assert "TANDEM_PUBLISH_TIMEOUT_SECONDS" in known_settings()
    assert "NOTIFICATIONS_SMTP_HOST" in known_settings()
    assert "TANDEM_PUBLISH_TIMEOUT" not in known_settings()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_starts_with_the_settings_it_needs(overlay: str, tmp_path: Path) -> None:
    docs = render(overlay)
    deployments = of_kind(docs, "Deployment")
    assert sorted(service_of(d) for d in deployments) == sorted(registry.NAMES)
    users = {u["metadata"]["name"] for u in of_kind(docs, "KafkaUser")}
    for d in deployments:
        name = service_of(d)
        env = environment(docs, container(d))
        s = settings_of(docs, d, name, tmp_path)
        assert (s.http_host, s.http_port) == ("0.0.0.0", registry.service(name).port)
        assert s.auth is not None, "TANDEM_OIDC_ISSUER is not set: the API would refuse to start"
        assert s.auth.issuer.startswith("https://")
        assert s.kafka_security.protocol == "SASL_SSL"
        assert s.kafka_security.mechanism == "SCRAM-SHA-512"
        assert s.kafka_security.username == f"tandem-{name}"
        assert s.kafka_security.username in users
        assert s.kafka_bootstrap_servers == f"{manifests.KAFKA_CLUSTER}-kafka-bootstrap:9093"
        assert s.kafka_enable_idempotence, "real Kafka: idempotent producer"
        assert not s.create_topics, "the KafkaTopics declare the topics"
        assert s.broker_loss == "alert"
        assert env["TANDEM_CREATE_DATABASE"] == "false"
        assert env["TANDEM_MIGRATE_AT_START"] == "false", "the migrate Jobs migrate"
        url = urlsplit(s.dsn)
        assert (url.hostname, url.port, url.path) == (f"{name}-db-pooler", 5432, f"/{registry.database_of(name)}")
        assert url.password is None, "no password in a ConfigMap"
        (password,) = [v for v in container(d)["env"] if v["name"] == "PGPASSWORD"]
        assert password["valueFrom"]["secretKeyRef"] == {"name": f"{name}-db-app", "key": "password"}
        assert url.username == named(docs, "Cluster", f"{name}-db")["spec"]["bootstrap"]["initdb"]["owner"]
        assert named(docs, "Cluster", f"{name}-db")["spec"]["bootstrap"]["initdb"]["database"] == url.path[1:]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_jobs_start_with_their_settings(overlay: str, tmp_path: Path) -> None:
    docs = render(overlay)
    jobs = [w for w in workloads(docs) if w["kind"] != "Deployment"]
    assert {container(j)["args"][0] for j in jobs} >= {"migrate", "topics", "replay", "projection"}
    for job in jobs:
        labels = job["spec"].get("jobTemplate", job)["spec"]["template"]["metadata"]["labels"]
        service = labels.get("tandem.dev/database", "pairing")
        s = settings_of(docs, job, service, tmp_path)
        assert s.kafka_security.username in {u["metadata"]["name"] for u in of_kind(docs, "KafkaUser")}
    for name in registry.NAMES:
        migrate = named(docs, "Job", f"tandem-migrate-{name}")
        assert container(migrate)["args"] == ["migrate", name]
        assert migrate["metadata"]["labels"]["tandem.dev/stage"] == "migrate"


def _is_group(command: Any) -> bool:
    return hasattr(command, "commands")


def _command(path: list[str]) -> tuple[Any, list[str]]:
    """The CLI command the arguments name, and the arguments left for it (typer's click objects)."""
    command: Any = typer.main.get_command(cli_app)
    rest = list(path)
    while _is_group(command) and rest and rest[0] in command.commands:
        command = command.commands[rest.pop(0)]
    return command, rest


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_commands_exist_in_the_cli(overlay: str) -> None:
    for w in workloads(render(overlay)):
        args = container(w)["args"]
        command, rest = _command(args)
        assert not _is_group(command), f"{w['metadata']['name']}: {args} names no command"
        options = {o for p in command.params for o in getattr(p, "opts", [])}
        for arg in rest:
            if arg.startswith("--"):
                assert arg in options, f"{w['metadata']['name']}: {command.name} has no option {arg}"
        arguments = [p for p in command.params if type(p).__name__.endswith("Argument")]
        for p, value in zip(arguments, [a for a in rest if not a.startswith("-")], strict=False):
            if p.name == "service":
                assert value in registry.NAMES, f"{w['metadata']['name']}: unknown service {value}"


def test_a_missing_command_would_be_found() -> None:
    command, _ = _command(["projection", "nonsense"])
    assert _is_group(command)


def _routes(name: str) -> set[str]:
    spec = __import__(registry.service(name).app, fromlist=["SPEC"]).SPEC
    host = ServiceHost(spec, ServiceSettings(service=name, database_url="postgresql://unused/unused"))
    return {getattr(r, "path", "") for r in host.app.routes}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_ports_and_probe_paths_exist_in_the_code(overlay: str) -> None:
    docs = render(overlay)
    for d in of_kind(docs, "Deployment"):
        name = service_of(d)
        c = container(d)
        routes = _routes(name)
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        own = OwnEnvironment.read(environment(docs, c), registry.service(name).prefix)
        assert ports == {"http": registry.service(name).port, "metrics": own.METRICS_PORT}, (
            "the API's port, and /metrics on a port of its own (set, so that the ingress cannot reach it)"
        )
        assert ports["http"] == own.HTTP_PORT
        probes = {p: c[p]["httpGet"] for p in ("startupProbe", "readinessProbe", "livenessProbe")}
        assert probes["livenessProbe"]["path"] == "/health/live"
        assert probes["readinessProbe"]["path"] == probes["startupProbe"]["path"] == "/health/ready"
        for probe in probes.values():
            assert probe["path"] in routes, f"{name} has no route {probe['path']}"
            assert probe["port"] == "http"
        service = named(docs, "Service", f"tandem-{name}")
        (sport,) = service["spec"]["ports"]
        assert (sport["port"], sport["targetPort"]) == (registry.service(name).port, "http")
        assert service["spec"]["selector"].items() <= d["spec"]["template"]["metadata"]["labels"].items()
    (monitor,) = of_kind(docs, "PodMonitor")
    for endpoint in monitor["spec"]["podMetricsEndpoints"]:
        assert endpoint["port"] == "metrics"
        assert endpoint["path"] == "/metrics"  # what ServiceHost.metrics_server serves
    for rule in of_kind(docs, "Ingress")[0]["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            target = named(docs, "Service", path["backend"]["service"]["name"])
            assert path["backend"]["service"]["port"]["name"] in [p["name"] for p in target["spec"]["ports"]]


def test_a_missing_route_would_be_found() -> None:
    assert "/health/ready" in _routes("sessions")
    assert "/health/readiness" not in _routes("sessions")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_topics_are_the_codes(overlay: str) -> None:
    docs = render(overlay)
    topics: Topics = CommonEnvironment.read(named(docs, "ConfigMap", "tandem-common")["data"]).topics()
    rendered = {t["spec"]["topicName"]: t["spec"] for t in of_kind(docs, "KafkaTopic")}
    assert sorted(rendered) == sorted(topics.all_topics(registry.CONSUMERS))
    replicas = 3 if overlay == "production" else 1
    assert topics.replication_factor == replicas
    for name, spec in rendered.items():
        assert spec["partitions"] == topics.partitions == 6, name
        assert spec["replicas"] == topics.replication_factor, name
        declared = topics.configs_for(name)
        assert {k: str(v) for k, v in spec["config"].items() if k in declared} == declared, name
        assert spec["config"]["retention.ms"] == "-1"
        assert spec["config"]["min.insync.replicas"] == (2 if overlay == "production" else 1)
    assert rendered[topics.keys]["config"]["cleanup.policy"] == "compact"  # the data keys: latest record per key
    (pool,) = of_kind(docs, "KafkaNodePool")
    assert pool["spec"]["replicas"] == replicas
    kafka = named(docs, "Kafka", manifests.KAFKA_CLUSTER)["spec"]["kafka"]
    assert kafka["config"]["auto.create.topics.enable"] is False


def _granted(docs: tuple[dict[str, Any], ...], user: str) -> dict[tuple[str, str], set[str]]:
    spec = named(docs, "KafkaUser", user)["spec"]
    assert spec["authentication"]["type"] == "scram-sha-512"
    return {(a["resource"]["type"], a["resource"]["name"]): set(a["operations"]) for a in spec["authorization"]["acls"]}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_acls_follow_what_each_service_publishes_and_consumes(overlay: str) -> None:
    docs = render(overlay)
    topics = Topics()
    declared = topics.all_topics(registry.CONSUMERS)
    users = {u["metadata"]["name"] for u in of_kind(docs, "KafkaUser")}
    assert users == {f"tandem-{n}" for n in registry.NAMES} | {"tandem-operator", "tandem-hr-integration"}
    for s in registry.SERVICES:
        granted = _granted(docs, f"tandem-{s.name}")
        may_write = set(s.owned_topics(topics)) | ({topics.dead_letter(s.name)} if s.consumes else set())
        may_write.add(topics.keys)  # its own data keys (shared.personal)
        may_write.add(topics.checkpoints)  # each service's signed checkpoints (shared.tamper)
        assert {name for (kind, name), ops in granted.items() if "Write" in ops} == may_write
        for t in [*s.consumed_topics(topics), topics.keys]:  # everyone's data keys, mirrored
            assert "Read" in granted[("topic", t)], f"{s.name} cannot read {t}"
        for t in declared:
            assert {"Describe", "DescribeConfigs"} <= granted[("topic", t)], f"{s.name} cannot describe {t}"
        groups = {name for (kind, name) in granted if kind == "group"}
        assert groups == ({f"{topics.namespace}.{s.name}"} if s.consumes else set())
        for ops in granted.values():
            assert ops <= {"Read", "Write", "Describe", "DescribeConfigs"}, "more than least privilege"
    operator = _granted(docs, "tandem-operator")
    redriven = {t for s in registry.SERVICES for t in s.consumed_topics(topics)}  # `tandem dlq redrive` writes back
    assert {name for (kind, name), ops in operator.items() if "Write" in ops} == redriven
    assert {name for (kind, name) in operator if kind == "topic"} == set(declared)
    groups = {f"{topics.namespace}.{s.name}" for s in registry.SERVICES if s.consumes}
    described = {name: ops for (kind, name), ops in operator.items() if kind == "group"}
    assert described == {g: {"Describe"} for g in groups}, "the operator only describes the groups, it joins none"
    assert _granted(docs, "tandem-hr-integration") == {("topic", topics.hr_inbound): {"Write", "Describe"}}
    # and exactly what the code derives (services/manifests.py), which also writes the README's table
    for p in manifests.principals():
        assert named(docs, "KafkaUser", p.name)["spec"]["authorization"]["acls"] == manifests.acls(p)


def test_generated_strimzi_files_are_current() -> None:
    assert manifests.differences() == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_alerts_use_the_services_metrics(overlay: str) -> None:
    (rules,) = of_kind(render(overlay), "PrometheusRule")
    alerts = [r for g in rules["spec"]["groups"] for r in g["rules"]]
    used = {m for r in alerts for m in re.findall(r"\btandem_[a-z_]+", r["expr"])}
    assert used <= METRICS, used - METRICS
    assert {"tandem_dead_letters", "tandem_consumer_lag", "tandem_outbox_oldest_age_seconds"} <= used
    assert {"tandem_notifications", "tandem_ready"} <= used
    for r in alerts:  # gauges from a service's database repeat on every replica
        for metric in ("tandem_dead_letters", "tandem_outbox_oldest_age_seconds", "tandem_notifications"):
            for m in re.finditer(rf"\b{metric}\b", r["expr"]):
                assert "max by (service" in r["expr"][: m.start()].rsplit("sum by", 1)[-1], r["alert"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_public_urls_are_the_ingress_hosts(overlay: str) -> None:
    """The pages call the APIs at <SERVICE>_URL and CORS allows those origins: each must be its service's host."""
    docs = render(overlay)
    data = named(docs, "ConfigMap", "tandem-common")["data"]
    hosts = {
        rule["http"]["paths"][0]["backend"]["service"]["name"].removeprefix("tandem-"): rule["host"]
        for rule in named(docs, "Ingress", "tandem")["spec"]["rules"]
    }
    assert set(hosts) == set(registry.NAMES)
    for name, host in hosts.items():
        url = urlsplit(data[f"{name.upper()}_URL"])
        assert (url.scheme, url.hostname) == ("https", host), name
