"""Readiness that tells the truth: the service is ready only when it can do its work, and says why not.

Liveness stays simple (the process answers). Readiness, computed by a watchdog every few seconds and
read by `/health/ready`, is *not ready* when:
- the database does not answer;
- the broker does not answer, lost its log, or its topics differ from the declared ones (shared.brokerguard);
- the consumer has events waiting (lag) and made no progress for `ready_stall_seconds`, or the batch at
  hand has been failing for that long;
- the relay (when it is the active publisher) has failed to publish for `ready_relay_grace_seconds`.
Each reason is a sentence in the body's `reasons`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.runtime import ServiceHost

log = logging.getLogger(__name__)


@dataclass
class Progress:
    """When the consumer's positions last moved (or it had nothing to do)."""

    positions: int | None = None
    moved_at: float = 0.0


class Watchdog:
    def __init__(self, host: ServiceHost, *, interval: float = 3.0) -> None:
        self.host = host
        self.interval = interval
        self.progress = Progress(moved_at=time.monotonic())
        self.ticked_at = 0.0
        self.database_error = ""
        self.reasons: list[str] = ["starting"]
        self._metrics_error_logged = 0.0

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # never let the watchdog die: say so instead
                log.exception("watchdog tick failed")
                self.reasons = [f"watchdog: {type(exc).__name__}: {exc}"]
            await asyncio.sleep(self.interval)

    async def tick(self) -> None:
        host = self.host
        s = host.settings
        now = time.monotonic()
        reasons: list[str] = []
        try:
            await asyncio.wait_for(host.pool.fetchval("SELECT 1"), 3)
            self.database_error = ""
        except Exception as exc:
            self.database_error = f"{type(exc).__name__}: {exc}".rstrip(": ")
            reasons.append(f"database unavailable: {self.database_error}")
        guard = host.guard
        if guard is not None and not self.database_error:
            state = await guard.heal()
            reasons += state.problems
            if state.lag is not None and state.progress is not None:
                if state.lag == 0 or state.progress != self.progress.positions:
                    self.progress = Progress(state.progress, now)
                elif now - self.progress.moved_at >= s.ready_stall_seconds:
                    stalled = now - self.progress.moved_at
                    last = host.consumer.stats.last_error if host.consumer is not None else ""
                    reasons.append(
                        f"consumer: {state.lag} events waiting and no progress for {stalled:.0f} s"
                        + (f" (last error: {last})" if last else "")
                    )
        consumer = host.consumer
        if consumer is not None and consumer.streak.failing_for >= s.ready_stall_seconds:
            st = consumer.streak
            reasons.append(
                f"consumer: the batch at {st.subject} has failed for {st.failing_for:.0f} s "
                f"({st.attempts} attempts): {st.error}"
            )
        relay = host.relay
        if relay is not None and relay.streak.failing_for >= s.ready_relay_grace_seconds:
            st = relay.streak
            reasons.append(f"relay: cannot publish for {st.failing_for:.0f} s: {st.error}")
        self.reasons = reasons
        self.ticked_at = now
        if not self.database_error:
            await self._refresh_metrics()

    async def _refresh_metrics(self) -> None:
        """The database gauges of /metrics (at most every few seconds); a failure is logged, never a reason."""
        try:
            await asyncio.wait_for(self.host.metrics.refresh(self.host.pool), 10)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if time.monotonic() - self._metrics_error_logged > 60:
                self._metrics_error_logged = time.monotonic()
                log.warning("reading the metrics from the database failed: %s: %s", type(exc).__name__, exc)

    def snapshot(self) -> dict[str, Any]:
        host = self.host
        out: dict[str, Any] = {"reasons": list(self.reasons)}
        if self.ticked_at and time.monotonic() - self.ticked_at > 4 * self.interval + 30:
            out["reasons"].append(f"watchdog: no check for {time.monotonic() - self.ticked_at:.0f} s")
        if host.guard is not None:
            g = host.guard.state
            out["broker"] = {
                "lag": g.lag,
                "recoveries": g.recoveries,
                "last_recovery": g.last_recovery,
                "mode": host.guard.mode,
            }
        return out
