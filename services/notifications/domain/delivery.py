"""Delivering one notification: attempts, what a claim found, back-off. Pure: no I/O, no clock, no randomness of
its own.

A notification due to go out is claimed with a lease (`sending`, claimed until ...). Its attempt is recorded and
committed *before* anything is sent; after the server took the message (SMTP 250, a 2xx from a chat webhook) a
receipt row is written in the service's database, then the notification is marked `sent` and NotificationSent goes
to the outbox. A send counts as *shown* to have happened when, and only when, that receipt row exists.

So when a claim lapses while `sending` (the process died, or lost its database, in the middle), the next claim
decides by `resume`:

* a receipt exists: the mail went out; it is marked sent (NotificationSent once) and nothing is sent again;
* no receipt: the send cannot be shown, so it is sent again *with the same Message-ID*. If the process died
  after the server's 250 and before the receipt, the recipient's server gets the mail twice with one Message-ID
  and drops the second: that is the one window in which a mail can go out twice, and why receivers can tell;
* a lapsed claim counts as an attempt (when it did not record one itself, it crashed before sending: the lapse
  is counted for it), so a notification that keeps crashing its sender ends `failed` after the bound instead of
  being retried for ever.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from services.notifications.domain.webhooks import RetryPolicy

NAMESPACE = uuid.UUID("5f0d7d5e-3b7a-4c55-9d0e-3a1c8f6b2e41")

#: 1, 5, 25 then 120 minutes (capped), each scaled by a random factor between 0.5 and 1, five attempts in all:
#: the bound the service always had (1, 5, 30, 120 minutes, then failed), now with jitter.
DEFAULT_RETRY = RetryPolicy(max_attempts=5, base=timedelta(minutes=1), cap=timedelta(hours=2), factor=5.0)


def sent_event_id(tenant: str, notification_id: uuid.UUID | str) -> str:
    """The id of a notification's NotificationSent: one per notification, so the outbox (unique event ids) and
    every consumer see it once, whoever marks it sent and however often."""
    return str(uuid.uuid5(NAMESPACE, f"{tenant}|{notification_id}|NotificationSent"))


@dataclass(frozen=True)
class Claimed:
    """What claiming a notification found."""

    #: attempts recorded so far
    attempts: int
    #: it was `sending` under a claim that ran out (the process died or lost its database mid-way)
    lapsed: bool = False
    #: that lapsed claim had recorded its attempt (so it may have sent)
    attempt_recorded: bool = False
    #: a receipt exists: a server took the message
    delivered: bool = False


Resumption = Literal["complete", "send", "give_up"]


@dataclass(frozen=True)
class Resume:
    action: Resumption
    #: attempts so far, a lapsed claim that recorded none counted
    attempts: int
    reason: str = ""


def resume(claimed: Claimed, policy: RetryPolicy) -> Resume:
    """What to do with a claimed notification before anything else: complete it (it was delivered), send it, or
    give it up (lapsed claims used up the attempts)."""
    if claimed.delivered:
        return Resume("complete", claimed.attempts)
    if not claimed.lapsed:
        return Resume("send", claimed.attempts)
    attempts = claimed.attempts if claimed.attempt_recorded else claimed.attempts + 1
    if attempts >= policy.max_attempts:
        return Resume("give_up", attempts, (
            f"gave up after {attempts} attempts: the last one did not finish (the sender stopped or lost its "
            "database while sending) and no delivery was recorded"
        ))  # fmt: skip
    return Resume("send", attempts)


def next_attempt(policy: RetryPolicy, attempts: int, now: datetime, jitter: float) -> datetime | None:
    """When to try again after the `attempts`-th attempt failed for a passing reason; None once the bound is
    reached (the notification has failed)."""
    if attempts >= policy.max_attempts:
        return None
    return now + policy.delay(attempts, jitter)
