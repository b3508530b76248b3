"""How long to wait before trying again, and when to stop trying.

Every loop that retries (a consumer's batch, the outbox relay, a parked event) backs off the same way:
capped exponential back-off with jitter, so a hundred replicas that failed together do not retry together,
and a failure that lasts does not turn into a busy loop or a flood of log lines.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """`delay(n)` before the n-th retry: between half and all of min(cap, initial * 2**(n-1)) seconds."""

    initial: float = 0.2
    cap: float = 30.0

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.cap < self.initial:
            raise ValueError(f"back-off needs 0 < initial <= cap (got initial={self.initial}, cap={self.cap})")

    def ceiling(self, attempt: int) -> float:
        return min(self.cap, self.initial * 2.0 ** min(max(attempt - 1, 0), 62))

    def delay(self, attempt: int) -> float:
        top = self.ceiling(attempt)
        return random.uniform(top / 2, top)


@dataclass(frozen=True)
class RetryPolicy:
    """When a failure that is not the infrastructure's (the database and the broker both answer) has been
    tried often enough: after `max_attempts` attempts or `max_seconds` since the first, whichever is first."""

    backoff: Backoff = Backoff()
    max_attempts: int = 5
    max_seconds: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.max_seconds <= 0:
            raise ValueError("a retry policy needs max_attempts >= 1 and max_seconds > 0")

    def exhausted(self, attempts: int, first_failure: float, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        return attempts >= self.max_attempts or now - first_failure >= self.max_seconds


class Streak:
    """A run of consecutive failures of one thing: how many, since when, the last error."""

    def __init__(self) -> None:
        self.attempts = 0
        self.since: float | None = None
        self.error = ""
        self.subject = ""

    def fail(self, subject: str, error: str) -> int:
        if subject != self.subject or self.since is None:
            self.subject, self.attempts, self.since = subject, 0, time.monotonic()
        self.attempts += 1
        self.error = error
        return self.attempts

    def clear(self) -> None:
        self.attempts, self.since, self.error, self.subject = 0, None, "", ""

    @property
    def failing_for(self) -> float:
        return 0.0 if self.since is None else time.monotonic() - self.since
