"""Prometheus metrics of one service host, served at `GET /metrics` (text exposition format, public like
/health/*). Each host has its own CollectorRegistry (tests run several services in one process).

Every series carries the label `service`:
- `tandem_http_requests_total{method,route,status}`, `tandem_http_request_duration_seconds{method,route}`:
  counted by the HTTP edge (shared.http), the route label is the route template (`/pairs/{pair_id}`), or
  `unmatched`;
- `tandem_outbox_backlog`, `tandem_outbox_oldest_age_seconds`: unpublished outbox rows and the age of the
  oldest (0 when none), read from the database (the partial index on unpublished rows) at most every
  `refresh_interval` seconds by the watchdog, never per scrape or request;
- `tandem_relay_published_total`, `tandem_relay_errors_total`: the relay's own counts;
- `tandem_consumer_lag{topic,partition}`: records not applied yet, per consumed partition, as the broker
  guard last saw them (shared.brokerguard, every few seconds);
- `tandem_dead_letters{status}`: rows of the dead_letters table by its `status` column (a table without one,
  from before the operator tools, counts every row as `dead`);
- `tandem_ready`: 1 when the watchdog finds the service ready, else 0;
- what the service registers itself (ServiceSpec.metrics): a histogram (`histogram`) or a gauge read from
  its database (`db_gauge`), e.g. `tandem_notifications{state}`, `tandem_match_run_duration_seconds`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import asyncpg
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from shared.db import Conn

if TYPE_CHECKING:
    from shared.runtime import ServiceHost

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: The route label of a request no route matched (never the raw path: one series per typo would pile up).
UNMATCHED = "unmatched"
#: Seconds: HTTP requests are mostly milliseconds; a slow report may take seconds.
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

#: The Metrics of the service whose work runs now (set by the HTTP edge and the consumer), so that code far
#: from the host (a handler) can observe its service's metrics.
CURRENT: ContextVar[Metrics | None] = ContextVar("tandem_metrics", default=None)


@dataclass
class DbGauge:
    """A gauge read from the service's database: `read` answers a number per label value."""

    name: str
    documentation: str
    label: str
    read: Callable[[Conn], Awaitable[Mapping[str, float]]]
    #: Label values always shown (0 when the query has no row for them).
    known: tuple[str, ...] = ()
    values: dict[str, float] = field(default_factory=dict)


class Metrics:
    def __init__(self, service: str, *, refresh_interval: float = 5.0) -> None:
        self.service = service
        self.registry = CollectorRegistry(auto_describe=True)
        self.refresh_interval = refresh_interval
        self.http_requests = Counter(
            "tandem_http_requests_total",
            "HTTP requests answered, by method, route template and status.",
            ["service", "method", "route", "status"],
            registry=self.registry,
        )
        self.http_duration = Histogram(
            "tandem_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ["service", "method", "route"],
            buckets=HTTP_BUCKETS,
            registry=self.registry,
        )
        self.db_gauges: list[DbGauge] = []
        self.histograms: dict[str, Histogram] = {}
        self.outbox_backlog = 0
        self.outbox_oldest_age = 0.0
        self.dead_letters: dict[str, float] = {}
        self.refreshed_at = 0.0
        self.host: ServiceHost | None = None

    def observe_http(self, method: str, route: str, status: int, seconds: float) -> None:
        self.http_requests.labels(self.service, method, route, str(status)).inc()
        self.http_duration.labels(self.service, method, route).observe(seconds)

    # --- what a service registers ---------------------------------------------------------------------

    def histogram(self, name: str, documentation: str, buckets: Sequence[float] = Histogram.DEFAULT_BUCKETS) -> None:
        """Register a service histogram (label `service` only); observe it with `observe(name, value)`."""
        if name in self.histograms:
            raise ValueError(f"metric {name} is registered twice")
        self.histograms[name] = Histogram(name, documentation, ["service"], buckets=buckets, registry=self.registry)

    def observe(self, name: str, value: float) -> None:
        histogram = self.histograms.get(name)
        if histogram is None:
            raise KeyError(f"{self.service} has no histogram {name} (register it in its ServiceSpec.metrics)")
        histogram.labels(self.service).observe(value)

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        """Observe the time the block takes in the histogram `name`."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.observe(name, time.perf_counter() - started)

    def db_gauge(
        self,
        name: str,
        documentation: str,
        label: str,
        read: Callable[[Conn], Awaitable[Mapping[str, float]]],
        known: Iterable[str] = (),
    ) -> None:
        """Register a gauge read from the service's database every `refresh_interval` seconds at most: `read`
        (a repository function) answers a number per value of `label`."""
        self.db_gauges.append(DbGauge(name, documentation, label, read, tuple(known)))

    # --- from the database, every few seconds ----------------------------------------------------------

    async def refresh(self, pool: asyncpg.Pool, *, force: bool = False) -> bool:
        """Read the database gauges again, unless they were read less than `refresh_interval` seconds ago.
        True when they were read."""
        now = time.monotonic()
        if not force and now - self.refreshed_at < self.refresh_interval:
            return False
        async with pool.acquire() as conn:
            # The partial index on unpublished rows (outbox_unpublished) serves both, however long the history.
            backlog = await conn.fetchrow(
                "SELECT count(*) AS n, "
                "(SELECT extract(epoch FROM clock_timestamp() - created_at) FROM outbox "
                " WHERE published_at IS NULL ORDER BY position LIMIT 1) AS age "
                "FROM outbox WHERE published_at IS NULL"
            )
            assert backlog is not None  # an aggregate always answers one row
            self.outbox_backlog = int(backlog["n"])
            self.outbox_oldest_age = max(0.0, float(backlog["age"] or 0.0))
            rows = await conn.fetch("SELECT status, count(*) FROM dead_letters GROUP BY status")
            self.dead_letters = {str(k): float(v) for k, v in rows}
            for gauge in self.db_gauges:
                found = await gauge.read(conn)
                gauge.values = {**dict.fromkeys(gauge.known, 0.0), **{str(k): float(v) for k, v in found.items()}}
        self.refreshed_at = time.monotonic()
        return True

    # --- the exposition ---------------------------------------------------------------------------------

    def attach(self, host: ServiceHost) -> None:
        """Expose what the host knows (relay, consumer lag, readiness, the database gauges) at scrape time."""
        self.host = host
        self.registry.register(_HostCollector(self))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _HostCollector(Collector):
    """Reads the host's state when scraped: no work between scrapes, nothing per request."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def describe(self) -> Iterable[Metric]:
        return []  # names come from collect(); describing would run it at registration

    def collect(self) -> Iterable[Metric]:
        m, host = self.metrics, self.metrics.host
        service = m.service

        def gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
            family = GaugeMetricFamily(name, doc, labels=["service"])
            family.add_metric([service], value)
            return family

        yield gauge("tandem_outbox_backlog", "Outbox rows not published yet.", m.outbox_backlog)
        yield gauge(
            "tandem_outbox_oldest_age_seconds",
            "Age of the oldest unpublished outbox row (0 when none).",
            m.outbox_oldest_age,
        )
        relay = host.relay if host is not None else None
        published = CounterMetricFamily("tandem_relay_published", "Events the relay published.", labels=["service"])
        published.add_metric([service], relay.stats.published if relay is not None else 0)
        yield published
        errors = CounterMetricFamily("tandem_relay_errors", "Relay passes that failed to publish.", labels=["service"])
        errors.add_metric([service], relay.stats.errors if relay is not None else 0)
        yield errors
        lag = GaugeMetricFamily(
            "tandem_consumer_lag",
            "Records in a consumed partition not applied yet (as last checked).",
            labels=["service", "topic", "partition"],
        )
        guard = host.guard if host is not None else None
        if guard is not None:
            for (topic, partition), records in sorted(guard.state.partition_lag.items()):
                lag.add_metric([service, topic, str(partition)], records)
        yield lag
        dead = GaugeMetricFamily("tandem_dead_letters", "Dead letters kept, by status.", labels=["service", "status"])
        for status, count in sorted(m.dead_letters.items()):
            dead.add_metric([service, status], count)
        yield dead
        for g in m.db_gauges:
            family = GaugeMetricFamily(g.name, g.documentation, labels=["service", g.label])
            for value, count in sorted(g.values.items()):
                family.add_metric([service, value], count)
            yield family
        ready = host is not None and host.started and not host.watchdog.snapshot()["reasons"]
        yield gauge("tandem_ready", "1 when the service is ready (the watchdog's verdict), else 0.", float(ready))


def current() -> Metrics | None:
    """The Metrics of the service whose work runs now (None outside a request or an event)."""
    return CURRENT.get()


@contextmanager
def timed(name: str) -> Iterator[None]:
    """Observe the block's duration in the current service's histogram `name` (nothing outside a service)."""
    metrics = CURRENT.get()
    if metrics is None:
        yield
        return
    with metrics.timed(name):
        yield


ServiceMetrics = Callable[[Metrics], None]
__all__ = ["CONTENT_TYPE", "CURRENT", "UNMATCHED", "Metrics", "ServiceMetrics", "current", "timed"]
