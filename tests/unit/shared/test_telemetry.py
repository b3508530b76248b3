"""Observability settings and log lines: values checked with an error naming the variable, JSON and text lines
with the log context and the current span, exceptions as a field."""

from __future__ import annotations

import json
import logging
import sys

import pytest
from opentelemetry.sdk.trace import TracerProvider

from shared.config import ConfigError, ServiceSettings
from shared.telemetry import (
    JsonFormatter,
    TextFormatter,
    build_provider,
    configure_logging,
    context_from_headers,
    current_trace_headers,
    log_context,
)

DB = "postgresql://x/y"


def settings(**env: str) -> ServiceSettings:
    return ServiceSettings.from_env("pairing", {"PAIRING_DATABASE_URL": DB, **env})


def test_observability_settings_default_and_are_read_by_name() -> None:
    plain = settings()
    assert (plain.log_format, plain.log_level, plain.otlp_endpoint, plain.trace_sample_ratio) == (
        "json",
        "INFO",
        None,
        1,
    )
    chosen = settings(
        TANDEM_LOG_FORMAT="text",
        TANDEM_LOG_LEVEL="debug",
        TANDEM_OTLP_ENDPOINT="http://otel-collector:4318",
        TANDEM_TRACE_SAMPLE_RATIO="0.25",
    )
    assert (chosen.log_format, chosen.log_level) == ("text", "DEBUG")
    assert (chosen.otlp_endpoint, chosen.trace_sample_ratio) == ("http://otel-collector:4318", 0.25)
    assert settings(TANDEM_OTLP_ENDPOINT="").otlp_endpoint is None


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("TANDEM_LOG_FORMAT", "xml", "json, text"),
        ("TANDEM_LOG_LEVEL", "LOUD", "DEBUG, INFO"),
        ("TANDEM_OTLP_ENDPOINT", "otel-collector:4318", "http://"),
        ("TANDEM_TRACE_SAMPLE_RATIO", "1.5", "between 0 and 1"),
        ("TANDEM_TRACE_SAMPLE_RATIO", "most", "between 0 and 1"),
    ],
)
def test_a_bad_observability_setting_is_refused_naming_it(variable: str, value: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings(**{variable: value})
    assert variable in str(caught.value)
    assert words in str(caught.value)


def record(message: str, *, exc: bool = False) -> logging.LogRecord:
    info = None
    if exc:
        try:
            raise ValueError("boom")
        except ValueError:
            info = sys.exc_info()
    return logging.LogRecord("tandem.test", logging.WARNING, __file__, 1, message, (), info)


def test_a_json_line_carries_the_log_context_the_span_and_the_exception() -> None:
    provider = TracerProvider()
    with (
        log_context(correlation_id="c-1", causation_id="e-1", tenant="acme"),
        provider.get_tracer("t").start_as_current_span("work") as span,
    ):
        line = json.loads(JsonFormatter("pairing").format(record("it %s", exc=True)))
    ids = span.get_span_context()
    assert line["service"] == "pairing"
    assert (line["level"], line["logger"]) == ("WARNING", "tandem.test")
    assert (line["correlation_id"], line["causation_id"], line["tenant"]) == ("c-1", "e-1", "acme")
    assert line["trace_id"] == format(ids.trace_id, "032x")
    assert line["span_id"] == format(ids.span_id, "016x")
    assert "ValueError: boom" in line["exception"]
    outside = json.loads(JsonFormatter("pairing").format(record("later")))
    assert (outside["correlation_id"], outside["trace_id"]) == (None, None)


def test_a_text_line_is_for_people() -> None:
    with log_context(correlation_id="c-2", tenant="acme"):
        text = TextFormatter("sessions").format(record("hello"))
    assert "WARNING tandem.test hello [service=sessions correlation_id=c-2 tenant=acme]" in text
    assert not text.lstrip().startswith("{")


def test_an_unknown_log_context_field_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown log context field 'user'"), log_context(user="x"):
        pass


def test_the_trace_context_goes_into_ce_headers_and_back() -> None:
    provider = build_provider("pairing")
    with provider.get_tracer("t").start_as_current_span("write") as span:
        headers = dict(current_trace_headers())
    ids = span.get_span_context()
    assert headers["ce_traceparent"] == f"00-{ids.trace_id:032x}-{ids.span_id:016x}-{ids.trace_flags:02x}"
    parent = context_from_headers(headers)
    assert parent is not None
    assert context_from_headers({"ce_traceparent": "not-a-traceparent"}) is None
    assert context_from_headers({}) is None
    assert current_trace_headers() == []  # no span now


def test_a_sample_ratio_outside_0_to_1_is_refused() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        build_provider("pairing", sample_ratio=2)


def test_the_broker_guards_assignment_chatter_is_quiet_unless_debugging() -> None:
    root, chatter = logging.getLogger(), logging.getLogger("aiokafka.consumer.subscription_state")
    saved = (list(root.handlers), root.level, chatter.level)
    try:
        chatter.setLevel(logging.NOTSET)
        configure_logging("sessions", "json", "DEBUG")
        assert chatter.level == logging.NOTSET, "asked for DEBUG: everything"
        configure_logging("sessions", "json", "INFO")
        assert chatter.level == logging.WARNING
        assert root.level == logging.INFO
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        chatter.setLevel(saved[2])
