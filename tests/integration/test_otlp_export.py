"""Traces really leave the process when TANDEM_OTLP_ENDPOINT is set: a local HTTP server stands in for the
collector and receives the OTLP/HTTP protobuf POST at /v1/traces."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from shared.config import ServiceSettings
from shared.telemetry import build_provider


@dataclass
class Collector:
    url: str
    posts: list[tuple[str, str, bytes]] = field(default_factory=list)


@pytest.fixture
def collector() -> Iterator[Collector]:
    posts: list[tuple[str, str, bytes]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            posts.append((self.path, self.headers.get("content-type", ""), body))
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Collector(f"http://127.0.0.1:{server.server_address[1]}", posts)
    finally:
        server.shutdown()
        server.server_close()


def test_spans_are_exported_to_the_configured_otlp_endpoint(collector: Collector) -> None:
    settings = ServiceSettings.from_env(
        "pairing", {"PAIRING_DATABASE_URL": "postgresql://x/y", "TANDEM_OTLP_ENDPOINT": collector.url}
    )
    provider = build_provider("pairing", endpoint=settings.otlp_endpoint, sample_ratio=settings.trace_sample_ratio)
    with provider.get_tracer("test").start_as_current_span("POST /pairs") as span:
        trace_id = span.get_span_context().trace_id
    assert provider.force_flush(30_000)
    provider.shutdown()

    [(path, content_type, body)] = collector.posts
    assert path == "/v1/traces"
    assert content_type == "application/x-protobuf"
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    [resource_spans] = request.resource_spans
    attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert attributes["service.name"] == "tandem-pairing"
    [exported] = [s for scope in resource_spans.scope_spans for s in scope.spans]
    assert exported.name == "POST /pairs"
    assert int.from_bytes(exported.trace_id, "big") == trace_id
