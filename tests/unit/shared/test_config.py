"""Settings from the environment (pydantic-settings): every variable by its name, defaults, errors that name
the variable, and secrets that never show."""

from __future__ import annotations

import logging

import pytest

from shared.config import ConfigError, ServiceSettings
from shared.db import shown

DB = "postgresql://x/y"
SECRETS = ("db-pa55word", "sasl-pa55word", "smtp-pa55word", "server-pa55word")


def test_defaults_are_those_of_the_settings_themselves() -> None:
    settings = ServiceSettings.from_env("sessions", {"SESSIONS_DATABASE_URL": DB})
    assert settings == ServiceSettings(service="sessions", database_url=DB, http_port=8002, extra={"DATABASE_URL": DB})
    assert settings.dsn == DB
    assert settings.auth is None


def test_every_variable_is_read_by_its_name() -> None:
    env = {
        "DATABASE_URL": "postgresql://u:pw@db:5432/postgres",
        "PAIRING_HTTP_HOST": "0.0.0.0",
        "PAIRING_HTTP_PORT": "9001",
        "KAFKA_BOOTSTRAP_SERVERS": "k:9093",
        "KAFKA_ENABLE_IDEMPOTENCE": "yes",
        "TANDEM_TOPIC_NAMESPACE": "t2",
        "TANDEM_TOPIC_PARTITIONS": "3",
        "TANDEM_TOPIC_REPLICATION_FACTOR": "2",
        "TANDEM_TENANT": "acme",
        "KAFKA_SESSION_TIMEOUT_MS": "6000",
        "KAFKA_HEARTBEAT_INTERVAL_MS": "2000",
        "KAFKA_FETCH_MAX_WAIT_MS": "50",
        "KAFKA_LINGER_MS": "5",
        "TANDEM_RETRY_INITIAL_SECONDS": "0.5",
        "TANDEM_RETRY_MAX_DELAY_SECONDS": "20",
        "TANDEM_RETRY_MAX_ATTEMPTS": "9",
        "TANDEM_RETRY_MAX_SECONDS": "120",
        "TANDEM_PARK_TIMEOUT_SECONDS": "60",
        "TANDEM_PARK_SWEEP_SECONDS": "2",
        "TANDEM_READY_STALL_SECONDS": "40",
        "TANDEM_READY_RELAY_GRACE_SECONDS": "15",
        "TANDEM_PUBLISH_TIMEOUT_SECONDS": "7",
        "TANDEM_BROKER_LOSS": "recover",
        "TANDEM_CREATE_TOPICS": "on",
        "TANDEM_OIDC_ISSUER": " https://idp/ ",
        "TANDEM_OIDC_AUDIENCE": "aud",
        "TANDEM_OIDC_ALGORITHMS": "RS256, ES256",
        "TANDEM_OIDC_LEEWAY_SECONDS": "5",
        "TANDEM_OIDC_ROLES_CLAIM": "realm_access.roles",
        "TANDEM_OIDC_TENANT_CLAIM": "tid",
        "TANDEM_OIDC_EMPLOYEE_CLAIM": "emp",
        "TANDEM_OIDC_ROLE_MAP": "Tandem.HR=hr",
        "TANDEM_OIDC_TENANT_MAP": "g=acme",
        "TANDEM_OIDC_WEB_CLIENT_ID": "web",
    }
    s = ServiceSettings.from_env("pairing", env)
    assert s.dsn == "postgresql://u:pw@db:5432/tandem_pairing"
    assert (s.http_host, s.http_port, s.kafka_bootstrap_servers, s.kafka_enable_idempotence) == (
        "0.0.0.0",
        9001,
        "k:9093",
        True,
    )
    assert (s.topics.namespace, s.topics.partitions, s.topics.replication_factor) == ("t2", 3, 2)
    assert (s.tenant, s.tenants) == ("acme", frozenset({"acme"}))
    assert (s.kafka_session_timeout_ms, s.kafka_heartbeat_interval_ms, s.kafka_fetch_max_wait_ms) == (6000, 2000, 50)
    assert s.kafka_linger_ms == 5
    retry = s.consumer_policy.retry
    assert (retry.backoff.initial, retry.backoff.cap, retry.max_attempts, retry.max_seconds) == (0.5, 20.0, 9, 120.0)
    assert (s.consumer_policy.park_timeout, s.consumer_policy.park_sweep_interval) == (60.0, 2.0)
    assert s.publish_timeout_seconds == 7.0
    assert (s.ready_stall_seconds, s.ready_relay_grace_seconds, s.broker_loss, s.create_topics) == (
        40.0,
        15.0,
        "recover",
        True,
    )
    auth = s.auth
    assert auth is not None
    assert (auth.issuer, auth.audience, auth.algorithms, auth.leeway_seconds) == (
        "https://idp/",
        "aud",
        ("RS256", "ES256"),
        5,
    )
    assert (auth.roles_claim, auth.tenant_claim, auth.employee_claim, auth.web_client_id) == (
        "realm_access.roles",
        "tid",
        "emp",
        "web",
    )
    assert (dict(auth.role_map), dict(auth.tenant_map), auth.tenants) == (
        {"Tandem.HR": "hr"},
        {"g": "acme"},
        frozenset({"acme"}),
    )
    assert dict(s.extra) == {"HTTP_HOST": "0.0.0.0", "HTTP_PORT": "9001"}
    tenants = ServiceSettings.from_env("pairing", {**env, "TANDEM_TENANTS": "a, b,,"}).tenants
    assert tenants == frozenset({"a", "b"})


def test_the_process_environment_is_read_when_no_mapping_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFICATIONS_DATABASE_URL", DB)
    monkeypatch.setenv("NOTIFICATIONS_HTTP_PORT", "9103")
    monkeypatch.setenv("TANDEM_TENANT", "acme")
    s = ServiceSettings.from_env("notifications")
    assert (s.dsn, s.http_port, s.tenant) == (DB, 9103, "acme")


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("TANDEM_TOPIC_PARTITIONS", "six", "TANDEM_TOPIC_PARTITIONS='six': input should be a valid integer"),
        ("PAIRING_HTTP_PORT", "80a", "PAIRING_HTTP_PORT='80a': input should be a valid integer"),
        ("KAFKA_ENABLE_IDEMPOTENCE", "maybe", "KAFKA_ENABLE_IDEMPOTENCE='maybe' is not a boolean"),
        ("TANDEM_CREATE_TOPICS", "2", "TANDEM_CREATE_TOPICS='2' is not a boolean"),
        ("TANDEM_OIDC_ROLE_MAP", "hr", "TANDEM_OIDC_ROLE_MAP='hr' is not a list of name=value pairs"),
        ("TANDEM_OIDC_LEEWAY_SECONDS", "x", "TANDEM_OIDC_LEEWAY_SECONDS='x'"),
        ("KAFKA_SECURITY_PROTOCOL", "KERBEROS", "KAFKA_SECURITY_PROTOCOL: 'KERBEROS' is not one of"),
    ],
)
def test_a_bad_value_is_refused_naming_its_variable(name: str, value: str, words: str) -> None:
    env = {"PAIRING_DATABASE_URL": DB, "TANDEM_OIDC_ISSUER": "https://idp", name: value}
    with pytest.raises(ConfigError, match="^bad configuration for pairing: " + words.replace("(", r"\(")):
        ServiceSettings.from_env("pairing", env)


def test_no_database_says_which_variables() -> None:
    with pytest.raises(ConfigError, match=r"^set PAIRING_DATABASE_URL \(or DATABASE_URL"):
        ServiceSettings.from_env("pairing", {})
    with pytest.raises(ConfigError, match="set SESSIONS_DATABASE_URL"):
        ServiceSettings.from_env("sessions", {"SESSIONS_DATABASE_URL": ""})


def test_secrets_never_show_in_settings_printed_or_logged(caplog: pytest.LogCaptureFixture) -> None:
    env = {
        "NOTIFICATIONS_DATABASE_URL": "postgresql://tandem:db-pa55word@db/n",
        "DATABASE_URL": "postgresql://admin:server-pa55word@db/postgres",
        "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "KAFKA_SASL_USERNAME": "u",
        "KAFKA_SASL_PASSWORD": "sasl-pa55word",
        "NOTIFICATIONS_SMTP_PASSWORD": "smtp-pa55word",
        "NOTIFICATIONS_SMTP_HOST": "mail",
    }
    s = ServiceSettings.from_env("notifications", env)
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("settings %s / %r", s, s)
    for text in (repr(s), str(s), s.model_dump_json(exclude={"extra"}), caplog.text, repr(dict(s.extra).keys())):
        for secret in SECRETS:
            assert secret not in text
    assert "mail" in repr(s.extra)  # what is no secret still shows
    # still there for those who need them
    assert s.dsn == "postgresql://tandem:db-pa55word@db/n"
    assert s.extra["SMTP_PASSWORD"] == "smtp-pa55word"
    assert s.kafka_security.aiokafka()["sasl_plain_password"] == "sasl-pa55word"


def test_an_error_about_settings_shows_no_secret() -> None:
    env = {
        "PAIRING_DATABASE_URL": "postgresql://u:db-pa55word@h/d",
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_PASSWORD": "sasl-pa55word",
        "TANDEM_TOPIC_PARTITIONS": "x",
    }
    for broken in (env, {**env, "TANDEM_TOPIC_PARTITIONS": "6"}):
        with pytest.raises(ConfigError) as caught:
            ServiceSettings.from_env("pairing", broken)
        assert not any(secret in str(caught.value) for secret in SECRETS)


def test_replace_validates_like_a_new_instance() -> None:
    s = ServiceSettings.from_env("pairing", {"PAIRING_DATABASE_URL": DB})
    other = s.replace(database_url="postgresql://a/b", http_port="9000")
    assert (other.dsn, other.http_port, s.http_port) == ("postgresql://a/b", 9000, 8001)
    assert ServiceSettings.from_env("pairing", {}, database_url="unused").dsn == "unused"


@pytest.mark.parametrize(
    ("dsn", "printed"),
    [
        ("postgresql://u:s3cr3t@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("postgresql://h/db?sslmode=require&password=s3cr3t", "postgresql://h/db?sslmode=require&password=***"),
        ("postgresql://postgres@127.0.0.1:55432/postgres", "postgresql://postgres@127.0.0.1:55432/postgres"),
    ],
)
def test_a_database_url_is_printed_without_its_password(dsn: str, printed: str) -> None:
    assert shown(dsn) == printed


def test_public_urls_and_web_origins_are_read_and_checked() -> None:
    import pytest

    from shared.config import ServiceSettings
    from shared.environment import ConfigError

    env = {
        "DATABASE_URL": "postgresql://u@h/db",
        "SESSIONS_URL": "https://sessions.acme.example/",
        "TANDEM_WEB_ORIGINS": "https://intranet.acme.example, ",
    }
    settings = ServiceSettings.from_env("notifications", env)
    assert settings.public_urls["sessions"] == "https://sessions.acme.example"
    assert settings.public_urls["pairing"] == "http://127.0.0.1:8001"
    assert "https://sessions.acme.example" in settings.web_origins
    assert "https://intranet.acme.example" in settings.web_origins
    for variable, value in (("PAIRING_URL", "pairing.acme.example"), ("TANDEM_WEB_ORIGINS", "ftp://x")):
        with pytest.raises(ConfigError, match=variable):
            ServiceSettings.from_env("notifications", {**env, variable: value})


def test_erasure_after_leaving_and_the_retention_interval() -> None:
    base = {"PAIRING_DATABASE_URL": DB}
    settings = ServiceSettings.from_env("pairing", base)
    assert (settings.erase_after_days, settings.retention_interval_seconds) == (None, 3600.0)  # never, hourly
    assert ServiceSettings.from_env("pairing", {**base, "TANDEM_ERASE_AFTER_DAYS": ""}).erase_after_days is None
    set_ = ServiceSettings.from_env(
        "pairing", {**base, "TANDEM_ERASE_AFTER_DAYS": "90", "TANDEM_RETENTION_INTERVAL_SECONDS": "60"}
    )
    assert (set_.erase_after_days, set_.retention_interval_seconds) == (90, 60.0)
    for wrong in ("0", "-3", "ninety", "1.5"):
        with pytest.raises(ConfigError, match="TANDEM_ERASE_AFTER_DAYS"):
            ServiceSettings.from_env("pairing", {**base, "TANDEM_ERASE_AFTER_DAYS": wrong})
    with pytest.raises(ConfigError, match="TANDEM_RETENTION_INTERVAL_SECONDS"):
        ServiceSettings.from_env("pairing", {**base, "TANDEM_RETENTION_INTERVAL_SECONDS": "0"})
