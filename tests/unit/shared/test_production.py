"""Production mode's settings and what a service says when something it needs is missing."""

from __future__ import annotations

import pytest

from shared.config import ConfigError, ServiceSettings
from shared.production import StartRefused, missing_database_message, topics_message, unmigrated_message

ENV = {"SESSIONS_DATABASE_URL": "postgresql://tandem:secret@db.example:5433/tandem_sessions"}


def test_production_defaults_create_no_database_and_migrate_at_start() -> None:
    s = ServiceSettings.from_env("sessions", ENV)
    assert (s.create_database, s.migrate_at_start, s.create_topics) == (False, True, False)


def test_the_settings_are_read() -> None:
    env = {**ENV, "TANDEM_CREATE_DATABASE": "true", "TANDEM_MIGRATE_AT_START": "off"}
    s = ServiceSettings.from_env("sessions", env)
    assert (s.create_database, s.migrate_at_start) == (True, False)


@pytest.mark.parametrize("name", ["TANDEM_CREATE_DATABASE", "TANDEM_MIGRATE_AT_START"])
def test_a_bad_flag_is_refused_by_name(name: str) -> None:
    with pytest.raises(ConfigError, match=f"{name}='maybe' is not a boolean"):
        ServiceSettings.from_env("sessions", {**ENV, name: "maybe"})


def test_the_missing_database_message_names_database_server_and_remedy() -> None:
    line = missing_database_message("sessions", ENV["SESSIONS_DATABASE_URL"])
    assert line.startswith("sessions: database tandem_sessions does not exist on db.example:5433 ")
    assert "(TANDEM_CREATE_DATABASE is off)" in line
    assert "CloudNativePG Database resource, or createdb tandem_sessions" in line
    assert "secret" not in line


def test_the_unmigrated_message_names_each_migration_and_the_command() -> None:
    line = unmigrated_message("sessions", "tandem_sessions", ["shared/0004_delivery is not applied", "x/0001_y is"])
    assert "shared/0004_delivery is not applied; x/0001_y is" in line
    assert "`tandem migrate sessions`" in line
    assert "TANDEM_MIGRATE_AT_START is off" in line


def test_the_topics_message_names_each_topic_and_both_remedies() -> None:
    line = topics_message("pairing", "kafka:9092", ["topic t.dlq.pairing is missing", "topic t.hr.inbound has 2"])
    assert "topic t.dlq.pairing is missing; topic t.hr.inbound has 2" in line
    assert "Strimzi KafkaTopic" in line
    assert "`tandem topics create`" in line
    assert "kafka:9092" in line


def test_a_refusal_is_a_config_error_so_the_process_prints_one_line() -> None:
    assert issubclass(StartRefused, ConfigError)
