"""Outbound webhooks: the rules, pure (no I/O, no clock, no randomness of its own).

An HR platform subscribes, per tenant, to event types of the topics the notifications service consumes
(pairing and sessions) and receives each matching event as a CloudEvent in structured mode
(`application/cloudevents+json`), signed per Standard Webhooks (https://www.standardwebhooks.com):

* `webhook-id`: the delivery's id, uuid5 of (subscription, event id): the same on every retry and resend,
  so the receiver de-duplicates by it;
* `webhook-timestamp`: Unix seconds of this attempt;
* `webhook-signature`: `v1,<base64 of HMAC-SHA256(secret, "{id}.{timestamp}.{body}")>`.

A delivery is `pending` (not attempted yet), `failed` (an attempt failed, another is due), `delivered`
(a 2xx) or `dead` (the last allowed attempt failed; it stays visible and can be resent). Anything but a
2xx is a failure: other statuses (a redirect too, it is never followed), timeouts and connection errors.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

from standardwebhooks import Webhook

from shared.errors import InvalidInput
from shared.events import Envelope
from shared.events.pairing import PAIRING_EVENTS
from shared.events.sessions import SESSIONS_EVENTS

NAMESPACE = uuid.UUID("1c8125cb-69d6-4176-8a35-5e8a6f7faac2")

#: What can be subscribed to: every event type on the topics the notifications service consumes.
SUBSCRIBABLE: frozenset[str] = frozenset(m.TYPE for m in (*PAIRING_EVENTS, *SESSIONS_EVENTS))

Status = Literal["pending", "failed", "delivered", "dead"]
CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
SECRET_PREFIX = "whsec_"
#: Secret length in bytes (Standard Webhooks: between 24 and 64).
SECRET_BYTES = 32


# --- subscriptions -----------------------------------------------------------------------------------


def check_event_types(event_types: Iterable[str]) -> list[str]:
    """The requested types, de-duplicated in order; 422 on `event_types` naming any that cannot be subscribed to."""
    wanted = list(dict.fromkeys(event_types))
    if not wanted:
        raise InvalidInput("subscribe to at least one event type", field="event_types")
    unknown = [t for t in wanted if t not in SUBSCRIBABLE]
    if unknown:
        raise InvalidInput(
            f"unknown event type(s) {', '.join(unknown)}; subscribable are the pairing and sessions event types "
            "(e.g. tandem.sessions.LearningRecorded)",
            field="event_types",
        )
    return wanted


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str
    port: int


def check_url(url: str, *, allow_insecure: bool, field: str = "url") -> Target:
    """An absolute https URL (http too where the development setting allows it); 422 on `field` otherwise."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise InvalidInput(f"not a valid URL: {exc}", field=field) from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise InvalidInput("the URL must start with https://", field=field)
    if scheme == "http" and not allow_insecure:
        raise InvalidInput("the URL must use https (plain http is refused: events carry personal data)", field=field)
    if not parts.hostname:
        raise InvalidInput("the URL has no host", field=field)
    return Target(url.strip(), scheme, parts.hostname, port or (443 if scheme == "https" else 80))


def literal_address(host: str) -> str | None:
    """The address itself when the host is an IP literal, else None (a name, to be resolved)."""
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def forbidden_address(address: str) -> str | None:
    """Why a receiver at this address is refused (loopback, private, link-local and the like), or None."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for kind, hit in (
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("unspecified", ip.is_unspecified),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
        ("non-public", not ip.is_global),
    ):
        if hit:
            return f"{kind} address {address}"
    return None


def check_addresses(host: str, addresses: Iterable[str], *, allow_private: bool, field: str = "url") -> None:
    """Refuse a host any of whose addresses is not public (unless the development setting allows it)."""
    found = list(addresses)
    if not found:
        raise InvalidInput(f"host {host} does not resolve", field=field)
    if allow_private:
        return
    for address in found:
        reason = forbidden_address(address)
        if reason is not None:
            raise InvalidInput(f"host {host} resolves to a {reason}; receivers must be public", field=field)


def new_secret(random_bytes: bytes) -> str:
    """A signing secret in the Standard Webhooks format: `whsec_` and base64 of random bytes."""
    if len(random_bytes) < 24:
        raise ValueError("a webhook secret needs at least 24 random bytes")
    return SECRET_PREFIX + base64.b64encode(random_bytes).decode()


# --- deliveries --------------------------------------------------------------------------------------


def delivery_id(subscription_id: uuid.UUID, event_id: str) -> uuid.UUID:
    """One delivery per subscription and event; also the `webhook-id` of every attempt."""
    return uuid.uuid5(NAMESPACE, f"{subscription_id}|{event_id}")


def cloudevent(env: Envelope[Any]) -> dict[str, Any]:
    """The CloudEvent in structured mode: context attributes, our extensions, and the payload as `data`."""
    out: dict[str, Any] = {
        "specversion": env.specversion,
        "id": env.id,
        "source": env.source,
        "type": env.type,
        "subject": env.subject,
        "time": env.time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "datacontenttype": env.datacontenttype,
        "tenant": env.tenant,
        "schemaversion": env.schemaversion,
        "correlationid": env.correlationid,
    }
    if env.causationid:
        out["causationid"] = env.causationid
    out["data"] = env.data.model_dump(mode="json")
    return out


def body(env: Envelope[Any]) -> str:
    """The request body: built once when the delivery is planned and sent byte for byte on every attempt."""
    return json.dumps(cloudevent(env), ensure_ascii=False, separators=(",", ":"))


def signed_headers(secret: str, webhook_id: str, at: datetime, payload: str) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt."""
    moment = at.astimezone(UTC)
    return {
        "content-type": CONTENT_TYPE,
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, moment, payload),
    }


def is_success(status_code: int) -> bool:
    return 200 <= status_code < 300


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential back-off with jitter, and a bound on attempts (outbound webhooks, and the notifications'
    own deliveries with another factor: see domain/delivery.py)."""

    max_attempts: int = 8
    base: timedelta = timedelta(seconds=60)
    cap: timedelta = timedelta(hours=6)
    #: How much longer each wait is than the one before (before the cap).
    factor: float = 2.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base <= timedelta(0) or self.cap < self.base:
            raise ValueError("back-off base must be positive and no larger than the cap")
        if self.factor < 1.0:
            raise ValueError("the back-off factor must be at least 1")

    def delay(self, attempts: int, jitter: float) -> timedelta:
        """Wait after the `attempts`-th failed attempt: min(cap, base * factor^(attempts-1)), then scaled into
        [50 %, 100 %] by `jitter` in [0, 1) so that receivers coming back are not hit by every retry at once."""
        if not 0.0 <= jitter < 1.0:
            raise ValueError("jitter must be in [0, 1)")
        exp = self.base.total_seconds() * self.factor ** min(max(attempts - 1, 0), 64)
        capped = timedelta(seconds=min(self.cap.total_seconds(), exp))
        return capped * (0.5 + jitter / 2)

    def after_failure(self, attempts: int, now: datetime, jitter: float) -> tuple[Status, datetime | None]:
        """Status and next attempt after the `attempts`-th attempt failed: `dead` once the bound is reached."""
        if attempts >= self.max_attempts:
            return "dead", None
        return "failed", now + self.delay(attempts, jitter)


def describe_failure(status_code: int | None, error: str | None, headers: Mapping[str, str] | None = None) -> str:
    """The error recorded for a failed attempt, in words."""
    if status_code is None:
        return error or "no answer"
    if 300 <= status_code < 400:
        where = (headers or {}).get("location", "")
        return f"answered {status_code} (redirects are not followed{': ' + where if where else ''})"
    return f"answered {status_code}"
