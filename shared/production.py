"""Production mode: what a service says when it finds its database, schema or topics missing at start.

Outside the local stack a service creates nothing (TANDEM_CREATE_DATABASE off, TANDEM_MIGRATE_AT_START off,
TANDEM_CREATE_TOPICS off): the cluster declares databases and topics, and a `tandem migrate` Job migrates
before the Deployments roll. A service that finds one of them missing stops with one line saying which and
what to do (shared.runtime.serve_process prints it and exits non-zero).
"""

from __future__ import annotations

from collections.abc import Sequence

from shared.db import database_name, server_of
from shared.environment import ConfigError


class StartRefused(ConfigError):
    """The service may not start: something it needs is missing and it may not create it."""


def missing_database_message(service: str, dsn: str) -> str:
    database = database_name(dsn)
    return (
        f"{service}: database {database} does not exist on {server_of(dsn)} (TANDEM_CREATE_DATABASE is off): "
        f"create it (CloudNativePG Database resource, or createdb {database}), "
        "or set TANDEM_CREATE_DATABASE=true to let the service create it"
    )


def unmigrated_message(service: str, database: str, problems: Sequence[str]) -> str:
    return (
        f"{service}: the schema of database {database} lacks this code's migrations "
        f"(TANDEM_MIGRATE_AT_START is off): {'; '.join(problems)}. Run `tandem migrate {service}` "
        "(the migrate Job) with this release, or set TANDEM_MIGRATE_AT_START=true"
    )


def topics_message(service: str, bootstrap: str, problems: Sequence[str]) -> str:
    return (
        f"{service}: the declared topics are not as declared on {bootstrap} (TANDEM_CREATE_TOPICS is off): "
        f"{'; '.join(problems)}. Declare them (Strimzi KafkaTopic) or run `tandem topics create`"
    )


def production_mode(create_database: bool, migrate_at_start: bool, create_topics: bool) -> bool:
    """Production mode: the service creates nothing (the three creation settings off)."""
    return not (create_database or migrate_at_start or create_topics)


def signing_key_message(service: str) -> str:
    return (
        f"{service}: TANDEM_SIGNING_KEY_FILE is not set: in production mode (TANDEM_CREATE_DATABASE, "
        "TANDEM_MIGRATE_AT_START and TANDEM_CREATE_TOPICS off) each service signs checkpoints of its event chains. "
        "Mount an Ed25519 private key (PEM) from a Secret and name its file"
    )
