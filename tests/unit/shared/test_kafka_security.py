"""Kafka credentials from the environment, as Strimzi's KafkaUser and cluster-CA secrets provide them."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import pytest

from shared.config import ServiceSettings
from shared.kafka_security import KafkaSecurity


def _ca(tmp: Path) -> Path:
    """A self-signed CA certificate, as the cluster CA secret's ca.crt."""
    key, crt = tmp / "ca.key", tmp / "ca.crt"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(crt),
            "-days",
            "1",
            "-subj",
            "/CN=cluster-ca",
        ],
        check=True,
        capture_output=True,
    )
    return crt


def test_plaintext_by_default() -> None:
    settings = ServiceSettings.from_env("pairing", {"PAIRING_DATABASE_URL": "postgresql://x/y"})
    assert settings.kafka_security.aiokafka() == {}
    assert settings.kafka_security.faststream() is None


def test_scram_over_tls_as_strimzi_issues_it(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("s3cr3t\n")
    env = {
        "PAIRING_DATABASE_URL": "postgresql://x/y",
        "KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
        "KAFKA_SASL_USERNAME": "tandem-pairing",
        "KAFKA_SASL_PASSWORD_FILE": str(secret),
        "KAFKA_SSL_CA_FILE": str(_ca(tmp_path)),
    }
    security = ServiceSettings.from_env("pairing", env).kafka_security
    kwargs = security.aiokafka()
    assert (kwargs["security_protocol"], kwargs["sasl_mechanism"]) == ("SASL_SSL", "SCRAM-SHA-512")
    assert (kwargs["sasl_plain_username"], kwargs["sasl_plain_password"]) == ("tandem-pairing", "s3cr3t")
    assert isinstance(kwargs["ssl_context"], ssl.SSLContext)
    assert "s3cr3t" not in repr(security)  # never in logs


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "KAFKA_SASL_USERNAME"),
        ({"KAFKA_SECURITY_PROTOCOL": "KERBEROS"}, "KAFKA_SECURITY_PROTOCOL"),
        (
            {
                "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                "KAFKA_SASL_MECHANISM": "MD5",
                "KAFKA_SASL_USERNAME": "u",
                "KAFKA_SASL_PASSWORD": "p",
            },
            "KAFKA_SASL_MECHANISM",
        ),
        ({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CERT_FILE": "user.crt"}, "KAFKA_SSL_KEY_FILE"),
    ],
)
def test_incomplete_or_unknown_settings_say_which(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        KafkaSecurity.from_env(env)
