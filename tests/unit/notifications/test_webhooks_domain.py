"""Outbound webhooks, the pure rules: what may be subscribed, where to, the CloudEvent, signing, retries."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from services.notifications.domain import webhooks as w
from shared.errors import InvalidInput
from shared.events import Envelope
from shared.events.notifications import NotificationSent
from shared.events.pairing import PairEnded
from shared.events.sessions import LearningRecorded


def test_subscribable_types_are_those_of_pairing_and_sessions() -> None:
    assert LearningRecorded.TYPE in w.SUBSCRIBABLE
    assert PairEnded.TYPE in w.SUBSCRIBABLE
    assert NotificationSent.TYPE not in w.SUBSCRIBABLE  # notifications does not consume its own topic
    assert w.check_event_types([PairEnded.TYPE, LearningRecorded.TYPE, PairEnded.TYPE]) == [
        PairEnded.TYPE,
        LearningRecorded.TYPE,
    ]
    with pytest.raises(InvalidInput, match=r"tandem\.sessions\.Nope") as err:
        w.check_event_types([LearningRecorded.TYPE, "tandem.sessions.Nope"])
    assert err.value.field == "event_types"
    with pytest.raises(InvalidInput) as err:
        w.check_event_types([])
    assert err.value.field == "event_types"


@pytest.mark.parametrize(
    ("url", "insecure", "host", "port"),
    [
        ("https://hr.example.com/hooks", False, "hr.example.com", 443),
        ("https://hr.example.com:8443/hooks?x=1", False, "hr.example.com", 8443),
        ("http://127.0.0.1:9000/h", True, "127.0.0.1", 9000),
        ("https://[2001:db8::1]/h", False, "2001:db8::1", 443),
    ],
)
def test_good_urls(url: str, insecure: bool, host: str, port: int) -> None:
    target = w.check_url(url, allow_insecure=insecure)
    assert (target.host, target.port) == (host, port)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://hr.example.com/hooks", "https"),
        ("ftp://hr.example.com/", "https"),
        ("hr.example.com/hooks", "https"),
        ("https:///nohost", "no host"),
        ("https://hr.example.com:99999/", "not a valid URL"),
    ],
)
def test_bad_urls_name_the_url_field(url: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as err:
        w.check_url(url, allow_insecure=False)
    assert err.value.field == "url"


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.9", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("fe80::1", "link-local"),
        ("::ffff:127.0.0.1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "non-public"),  # carrier-grade NAT
        ("fd00::1", "private"),
    ],
)
def test_addresses_that_are_not_public_are_refused(address: str, kind: str) -> None:
    reason = w.forbidden_address(address)
    assert reason is not None
    assert reason.startswith(kind)
    with pytest.raises(InvalidInput, match=kind) as err:
        w.check_addresses("hooks.example", ["93.184.215.14", address], allow_private=False)
    assert err.value.field == "url"
    w.check_addresses("hooks.example", [address], allow_private=True)  # the development setting


def test_public_addresses_pass_and_a_name_that_does_not_resolve_does_not() -> None:
    assert w.forbidden_address("93.184.215.14") is None
    assert w.forbidden_address("2606:4700::1111") is None
    w.check_addresses("hooks.example", ["93.184.215.14"], allow_private=False)
    with pytest.raises(InvalidInput, match="does not resolve"):
        w.check_addresses("nowhere.invalid", [], allow_private=True)
    assert w.literal_address("[::1]") == "::1"
    assert w.literal_address("hooks.example") is None


def test_the_secret_is_standard_webhooks_format() -> None:
    secret = w.new_secret(bytes(range(32)))
    assert secret.startswith("whsec_")
    Webhook(secret)  # the library accepts it
    with pytest.raises(ValueError, match="24"):
        w.new_secret(b"short")


def envelope() -> Envelope[LearningRecorded]:
    data = LearningRecorded(
        record_id="r-1",
        participant_id="p-1",
        employee_id="E-1",
        programme_id="prog",
        programme_name="KI-Tandem",
        role="mentee",
        outcome="completed",
        ended_on=datetime(2026, 7, 10).date(),
        sessions_held=4,
        hours=3.5,
        goals_set=2,
        goals_achieved=1,
    )
    return Envelope.new(data, tenant="acme", time=datetime(2026, 7, 10, 12, 0, tzinfo=UTC), causation_id="ev-0")


def test_the_cloudevent_is_structured_mode_with_our_extensions() -> None:
    env = envelope()
    event = json.loads(w.body(env))
    assert event == {
        "specversion": "1.0",
        "id": env.id,
        "source": "/tandem/sessions",
        "type": LearningRecorded.TYPE,
        "subject": "p-1",
        "time": "2026-07-10T12:00:00Z",
        "datacontenttype": "application/json",
        "tenant": "acme",
        "schemaversion": 1,
        "correlationid": env.correlationid,
        "causationid": "ev-0",
        "data": env.data.model_dump(mode="json"),
    }
    assert w.body(env) == w.body(env)  # the same bytes on every attempt


def test_signed_headers_verify_with_the_standard_webhooks_library() -> None:
    secret = w.new_secret(b"k" * 32)
    payload = w.body(envelope())
    delivery = w.delivery_id(uuid.uuid4(), "event-1")
    now = datetime.now(UTC)
    headers = w.signed_headers(secret, str(delivery), now, payload)
    assert headers["webhook-id"] == str(delivery)
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert headers["webhook-signature"].startswith("v1,")
    assert headers["content-type"].startswith("application/cloudevents+json")
    assert Webhook(secret).verify(payload, headers)["type"] == LearningRecorded.TYPE
    with pytest.raises(WebhookVerificationError):
        Webhook(w.new_secret(b"x" * 32)).verify(payload, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(payload.replace("3.5", "9.5"), headers)


def test_the_delivery_id_is_one_per_subscription_and_event() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    assert w.delivery_id(a, "e") == w.delivery_id(a, "e")
    assert len({w.delivery_id(a, "e"), w.delivery_id(b, "e"), w.delivery_id(a, "f")}) == 3


def test_backoff_is_exponential_capped_and_jittered_within_half_to_full() -> None:
    policy = w.RetryPolicy(max_attempts=8, base=timedelta(seconds=60), cap=timedelta(minutes=30))
    assert [policy.delay(n, 0.999999).total_seconds() // 1 for n in range(1, 7)] == [59, 119, 239, 479, 959, 1799]
    assert [policy.delay(n, 0.0).total_seconds() for n in range(1, 7)] == [30, 60, 120, 240, 480, 900]
    assert policy.delay(1000, 0.0) == timedelta(minutes=15)  # capped, no overflow
    with pytest.raises(ValueError, match="jitter"):
        policy.delay(1, 1.0)


def test_after_the_bound_a_delivery_is_dead() -> None:
    policy = w.RetryPolicy(max_attempts=3, base=timedelta(seconds=1), cap=timedelta(seconds=10))
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert policy.after_failure(1, now, 0.0) == ("failed", now + timedelta(seconds=0.5))
    assert policy.after_failure(2, now, 0.0) == ("failed", now + timedelta(seconds=1))
    assert policy.after_failure(3, now, 0.5) == ("dead", None)
    with pytest.raises(ValueError, match="max_attempts"):
        w.RetryPolicy(max_attempts=0)


def test_only_2xx_succeeds_and_a_redirect_says_it_was_not_followed() -> None:
    assert [w.is_success(c) for c in (199, 200, 204, 299, 300, 302, 404, 500)] == [
        False,
        True,
        True,
        True,
        False,
        False,
        False,
        False,
    ]
    assert "not followed" in w.describe_failure(302, None, {"location": "https://elsewhere.example/"})
    assert w.describe_failure(503, None) == "answered 503"
    assert w.describe_failure(None, "timed out") == "timed out"
