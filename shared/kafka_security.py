"""How the services authenticate to Kafka: SASL/SCRAM and TLS, as Strimzi's KafkaUser and cluster-CA secrets
provide them. One description, turned into FastStream's security object (the consumer) and, through
FastStream's own translation, into aiokafka's keyword arguments (producer, admin client, log readers).

KAFKA_SECURITY_PROTOCOL   PLAINTEXT (default; the local broker), SSL, SASL_PLAINTEXT or SASL_SSL
KAFKA_SASL_MECHANISM      SCRAM-SHA-512 (Strimzi's), SCRAM-SHA-256 or PLAIN
KAFKA_SASL_USERNAME       the KafkaUser's name
KAFKA_SASL_PASSWORD       its password (or KAFKA_SASL_PASSWORD_FILE: the mounted secret's `password` key)
KAFKA_SSL_CA_FILE         the cluster CA certificate (the `<cluster>-cluster-ca-cert` secret's ca.crt)
KAFKA_SSL_CERT_FILE, KAFKA_SSL_KEY_FILE   a client certificate, for mutual TLS (a `tls` KafkaUser)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka.helpers import create_ssl_context
from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from pydantic import SecretStr

from shared.environment import Environment

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = {"SCRAM-SHA-512": SASLScram512, "SCRAM-SHA-256": SASLScram256, "PLAIN": SASLPlaintext}


@dataclass(frozen=True)
class KafkaSecurity:
    protocol: str = "PLAINTEXT"
    mechanism: str = "SCRAM-SHA-512"
    username: str | None = None
    password: SecretStr | None = field(default=None, repr=False)
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.password, str):
            object.__setattr__(self, "password", SecretStr(self.password))
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"KAFKA_SECURITY_PROTOCOL: {self.protocol!r} is not one of {', '.join(PROTOCOLS)}")
        if self.protocol.startswith("SASL"):
            if self.mechanism not in MECHANISMS:
                raise ValueError(f"KAFKA_SASL_MECHANISM: {self.mechanism!r} is not one of {', '.join(MECHANISMS)}")
            if not self.username or not self.password or not self.password.get_secret_value():
                raise ValueError("SASL needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (or _PASSWORD_FILE)")
        if bool(self.cert_file) != bool(self.key_file):
            raise ValueError("mutual TLS needs both KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE")

    @property
    def uses_tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> KafkaSecurity:
        environment: KafkaEnvironment = KafkaEnvironment.read(env)
        return environment.security()

    def faststream(self) -> BaseSecurity | None:
        """FastStream's security object (None: plaintext)."""
        if self.protocol == "PLAINTEXT":
            return None
        context = (
            create_ssl_context(cafile=self.ca_file, certfile=self.cert_file, keyfile=self.key_file)
            if self.uses_tls
            else None
        )
        if self.protocol == "SSL":
            return BaseSecurity(ssl_context=context, use_ssl=True)
        sasl = MECHANISMS[self.mechanism]
        assert self.username is not None
        assert self.password is not None
        return sasl(self.username, self.password.get_secret_value(), ssl_context=context, use_ssl=self.uses_tls)

    def aiokafka(self) -> dict[str, Any]:
        """aiokafka client keyword arguments: producers, consumers and admin clients alike."""
        security = self.faststream()
        return parse_security(security) if security is not None else {}


class KafkaEnvironment(Environment):
    """The KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_* and KAFKA_SSL_* variables."""

    KAFKA_SECURITY_PROTOCOL: str = "PLAINTEXT"
    KAFKA_SASL_MECHANISM: str = "SCRAM-SHA-512"
    KAFKA_SASL_USERNAME: str = ""
    KAFKA_SASL_PASSWORD: SecretStr = SecretStr("")
    KAFKA_SASL_PASSWORD_FILE: str = ""
    KAFKA_SSL_CA_FILE: str = ""
    KAFKA_SSL_CERT_FILE: str = ""
    KAFKA_SSL_KEY_FILE: str = ""

    def security(self) -> KafkaSecurity:
        password = self.KAFKA_SASL_PASSWORD.get_secret_value()
        if not password and self.KAFKA_SASL_PASSWORD_FILE:
            password = Path(self.KAFKA_SASL_PASSWORD_FILE).read_text().strip()
        return KafkaSecurity(
            protocol=self.KAFKA_SECURITY_PROTOCOL.upper(),
            mechanism=self.KAFKA_SASL_MECHANISM.upper(),
            username=self.KAFKA_SASL_USERNAME or None,
            password=SecretStr(password) if password else None,
            ca_file=self.KAFKA_SSL_CA_FILE or None,
            cert_file=self.KAFKA_SSL_CERT_FILE or None,
            key_file=self.KAFKA_SSL_KEY_FILE or None,
        )


PLAINTEXT = KafkaSecurity()
