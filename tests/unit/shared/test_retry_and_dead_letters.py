"""Pure parts of delivery under faults: back-off, retry policy, dead-letter fingerprints, settings."""

from __future__ import annotations

import pytest
from aiokafka import ConsumerRecord

from shared.config import ConfigError, ServiceSettings
from shared.deadletters import DeadLetter, fingerprint
from shared.retry import Backoff, RetryPolicy, Streak


def record(
    offset: int = 5, timestamp: int = 1000, value: bytes = b"{bad", **kw: object
) -> ConsumerRecord[bytes, bytes]:
    fields: dict[str, object] = {
        "topic": "t.pairing.events", "partition": 1, "offset": offset, "timestamp": timestamp, "timestamp_type": 0,
        "key": b"k", "value": value, "checksum": None, "serialized_key_size": 1,
        "serialized_value_size": len(value), "headers": [("a", b"1")],
    }  # fmt: skip
    fields.update(kw)
    return ConsumerRecord(**fields)  # type: ignore[arg-type]


def test_back_off_doubles_up_to_its_cap_with_jitter_in_the_upper_half() -> None:
    b = Backoff(0.2, 10.0)
    assert [b.ceiling(n) for n in (1, 2, 3, 4)] == [0.2, 0.4, 0.8, 1.6]
    assert b.ceiling(50) == 10.0
    assert b.ceiling(10_000) == 10.0  # no overflow however long it fails
    delays = [b.delay(3) for _ in range(200)]
    assert all(0.4 <= d <= 0.8 for d in delays)
    assert len(set(delays)) > 100  # jittered: replicas that failed together do not retry together


def test_a_back_off_that_makes_no_sense_is_refused() -> None:
    with pytest.raises(ValueError, match="initial"):
        Backoff(0.0, 1.0)
    with pytest.raises(ValueError, match="initial"):
        Backoff(5.0, 1.0)


def test_a_retry_policy_stops_at_its_attempts_or_its_time_whichever_comes_first() -> None:
    policy = RetryPolicy(max_attempts=3, max_seconds=10)
    assert not policy.exhausted(2, first_failure=100.0, now=105.0)
    assert policy.exhausted(3, first_failure=100.0, now=101.0)
    assert policy.exhausted(1, first_failure=100.0, now=110.0)


def test_a_streak_starts_again_for_another_subject() -> None:
    streak = Streak()
    assert streak.fail("a/0/1", "boom") == 1
    assert streak.fail("a/0/1", "boom") == 2
    assert streak.fail("a/0/9", "other") == 1
    streak.clear()
    assert streak.failing_for == 0.0


def test_a_dead_letter_without_event_id_is_known_by_its_place_and_content() -> None:
    same = fingerprint(record())
    assert fingerprint(record()) == same  # a redelivery of the same record
    # a broker that lost its log hands out the same offset again, to another record
    assert fingerprint(record(timestamp=2000)) != same
    assert fingerprint(record(value=b"{other")) != same
    assert fingerprint(record(headers=[("a", b"2")])) != same
    assert DeadLetter(record(), "undecodable", "x").fingerprint == same
    assert DeadLetter(record(), "rejected", "x", event_id="e-1").fingerprint == "e-1"


def test_delivery_settings_are_read_and_bad_ones_named() -> None:
    env = {"PAIRING_DATABASE_URL": "postgresql://x/y", "TANDEM_RETRY_MAX_ATTEMPTS": "7",
           "TANDEM_PARK_TIMEOUT_SECONDS": "90", "TANDEM_BROKER_LOSS": "recover",
           "TANDEM_CREATE_TOPICS": "true"}  # fmt: skip
    s = ServiceSettings.from_env("pairing", env)
    assert s.consumer_policy.retry.max_attempts == 7
    assert s.consumer_policy.park_timeout == 90.0
    assert (s.broker_loss, s.create_topics) == ("recover", True)
    defaults = ServiceSettings.from_env("pairing", {"PAIRING_DATABASE_URL": "postgresql://x/y"})
    assert (defaults.broker_loss, defaults.create_topics) == ("alert", False)
    for name, value, words in [
        ("TANDEM_BROKER_LOSS", "panic", "TANDEM_BROKER_LOSS='panic' is not one of alert, recover"),
        ("TANDEM_RETRY_MAX_ATTEMPTS", "0", "TANDEM_RETRY_MAX_ATTEMPTS='0' must be a whole number"),
        ("TANDEM_PARK_TIMEOUT_SECONDS", "soon", "TANDEM_PARK_TIMEOUT_SECONDS='soon' is not a number of seconds"),
        ("TANDEM_READY_STALL_SECONDS", "-1", "must be more than 0"),
        ("TANDEM_RETRY_MAX_DELAY_SECONDS", "0.1", "is below TANDEM_RETRY_INITIAL_SECONDS"),
    ]:
        with pytest.raises(ConfigError, match=words.replace("(", r"\(")):
            ServiceSettings.from_env("pairing", {"PAIRING_DATABASE_URL": "postgresql://x/y", name: value})
