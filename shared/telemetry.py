"""Logs and traces: what a line of log says about where it comes from, and the trace it belongs to.

Log context lives in contextvars, set where work enters a service: the HTTP edge (shared.http
CorrelationMiddleware: correlation id, tenant once the caller is known), the consumer (per event: its
correlationid, its id as the causation id of what follows, its tenant) and the relay (per row). Every log
line carries them, and the current span's trace and span id (TANDEM_LOG_FORMAT=json: one JSON object a line;
text: for people, under `tandem up`).

Traces: one TracerProvider per process, built here (`configure_tracing`, the first service host to start
decides: TANDEM_OTLP_ENDPOINT, TANDEM_TRACE_SAMPLE_RATIO). A trace goes from the HTTP request through the
unit of work that writes outbox rows (each row keeps the W3C `traceparent` current at write time, as the
CloudEvents distributed-tracing extension, Kafka header `ce_traceparent`), the relay that publishes it, and
the consumer, whose span has that traceparent as its parent and is current while the handlers run, so the
events they emit carry the same trace id.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import threading
import traceback
from collections.abc import Iterator, Mapping
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

SERVICE: ContextVar[str | None] = ContextVar("tandem_service", default=None)
CORRELATION_ID: ContextVar[str | None] = ContextVar("tandem_correlation_id", default=None)
CAUSATION_ID: ContextVar[str | None] = ContextVar("tandem_causation_id", default=None)
TENANT: ContextVar[str | None] = ContextVar("tandem_tenant", default=None)

_VARS: dict[str, ContextVar[str | None]] = {
    "service": SERVICE,
    "correlation_id": CORRELATION_ID,
    "causation_id": CAUSATION_ID,
    "tenant": TENANT,
}

#: CloudEvents distributed-tracing extension attributes, as Kafka headers (binary mode).
TRACEPARENT_HEADER = "ce_traceparent"
TRACESTATE_HEADER = "ce_tracestate"

_PROPAGATOR = TraceContextTextMapPropagator()
_TRACER_NAME = "tandem"


# --- log context -----------------------------------------------------------------------------------------


@contextlib.contextmanager
def log_context(**values: str | None) -> Iterator[None]:
    """Set log context fields (service, correlation_id, causation_id, tenant) for the block."""
    tokens: list[tuple[ContextVar[str | None], Token[str | None]]] = []
    for name, value in values.items():
        var = _VARS.get(name)
        if var is None:
            raise ValueError(f"unknown log context field {name!r} (one of {', '.join(_VARS)})")
        tokens.append((var, var.set(value)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def context_fields() -> dict[str, str | None]:
    """The log context of the current task, and the current span's trace and span ids (None without one)."""
    out = {name: var.get() for name, var in _VARS.items()}
    span = trace.get_current_span().get_span_context()
    out["trace_id"] = format(span.trace_id, "032x") if span.is_valid else None
    out["span_id"] = format(span.span_id, "016x") if span.is_valid else None
    return out


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, service, the log context, exception."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        fields = context_fields()
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **fields,
            "service": fields["service"] or self.service,
        }
        if record.exc_info:
            line["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        elif record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """For people (`tandem up`): time, level, logger, message, then the context that is set."""

    def __init__(self, service: str) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = context_fields()
        fields["service"] = fields["service"] or self.service
        context = " ".join(f"{k}={v}" for k, v in fields.items() if v and k != "span_id")
        if not context:
            return text
        first, newline, rest = text.partition("\n")
        return f"{first} [{context}]{newline}{rest}"


def configure_logging(service: str, fmt: str = "json", level: str = "INFO") -> None:
    """The process's log lines (a service process: shared.runtime.serve_process)."""
    if fmt not in ("json", "text"):
        raise ValueError(f"log format {fmt!r} is not one of json, text")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service) if fmt == "json" else TextFormatter(service))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # aiokafka says at INFO each time a consumer's assignment changes, and the broker guard reads a partition's
    # last record by assignment every few seconds: two lines a tick per service, unless DEBUG is asked for.
    if level.upper() != "DEBUG":
        logging.getLogger("aiokafka.consumer.subscription_state").setLevel(logging.WARNING)


# --- traces ------------------------------------------------------------------------------------------------

_provider: TracerProvider | None = None
_provider_lock = threading.Lock()


def build_provider(service: str, *, endpoint: str | None = None, sample_ratio: float = 1.0) -> TracerProvider:
    """A TracerProvider: parent-based sampling at `sample_ratio` for new traces, and an OTLP/HTTP exporter to
    `endpoint` (its /v1/traces) when one is given."""
    if not 0.0 <= sample_ratio <= 1.0:
        raise ValueError(f"trace sample ratio {sample_ratio} is not between 0 and 1")
    provider = TracerProvider(
        resource=Resource.create({"service.name": f"tandem-{service}", "service.namespace": "tandem"}),
        sampler=ParentBased(TraceIdRatioBased(sample_ratio)),
    )
    if endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        url = endpoint.rstrip("/")
        url = url if url.endswith("/v1/traces") else f"{url}/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=url)))
    return provider


def configure_tracing(service: str, *, endpoint: str | None = None, sample_ratio: float = 1.0) -> TracerProvider:
    """The process's TracerProvider, built by the first caller (the first service host to start); later
    callers get the same one."""
    global _provider
    with _provider_lock:
        if _provider is None:
            _provider = build_provider(service, endpoint=endpoint, sample_ratio=sample_ratio)
        return _provider


def provider() -> TracerProvider:
    """The process's TracerProvider (built with the defaults when no service configured it)."""
    return _provider or configure_tracing("process")


def tracer() -> trace.Tracer:
    return provider().get_tracer(_TRACER_NAME)


def shutdown_tracing() -> None:
    """Export what is buffered (a stopping process)."""
    if _provider is not None:
        _provider.shutdown()


def current_trace_headers() -> list[tuple[str, str]]:
    """The current span's W3C trace context as CloudEvents extension headers (ce_traceparent, ce_tracestate);
    empty without a valid span."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    out = []
    if "traceparent" in carrier:
        out.append((TRACEPARENT_HEADER, carrier["traceparent"]))
        if carrier.get("tracestate"):
            out.append((TRACESTATE_HEADER, carrier["tracestate"]))
    return out


def context_from_headers(headers: Mapping[str, str]) -> Context | None:
    """The trace context named by W3C headers (`traceparent`/`tracestate`, or their CloudEvents `ce_` forms);
    None when there is none (or it is malformed)."""
    carrier = {}
    for name in ("traceparent", "tracestate"):
        value = headers.get(name) or headers.get(f"ce_{name}")
        if value:
            carrier[name] = value
    if "traceparent" not in carrier:
        return None
    context = _PROPAGATOR.extract(carrier)
    if not trace.get_current_span(context).get_span_context().is_valid:
        return None
    return context


@contextlib.contextmanager
def continuing(headers: Any) -> Iterator[None]:
    """Make the trace context a Kafka record carries (ce_traceparent) current for the block (a parked event
    applied later continues its trace)."""
    parent = context_from_headers(record_headers(headers))
    if parent is None:
        yield
        return
    token = otel_context.attach(parent)
    try:
        yield
    finally:
        otel_context.detach(token)


def record_headers(headers: Any) -> dict[str, str]:
    """A Kafka record's trace headers as text (a header that is not UTF-8 is left out)."""
    out: dict[str, str] = {}
    for name, value in headers or ():
        if name in (TRACEPARENT_HEADER, TRACESTATE_HEADER) and value:
            try:
                out[name] = value.decode() if isinstance(value, bytes) else str(value)
            except UnicodeDecodeError:
                continue
    return out
