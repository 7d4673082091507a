"""tracing.py and its settings, without a hub: which variables turn traces on, how trace
context is carried in strings, and the spans one session's trace object makes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tether.config import Settings, traces_endpoint_from
from tether.messages import Request, Session
from tether.records import PendingRequest
from tether.store.base import SessionRecord
from tether.tracing import (
    NO_TRACE,
    Tracing,
    context_of,
    open_tracing,
    trace_headers,
    traceparent_of,
)

PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    yield InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield tracer_provider
    tracer_provider.shutdown()


def record(trace_context: str | None = None) -> SessionRecord:
    session = Session(
        id="s1", task="report", status="running", owner="ana", created_at="2026-01-01T00:00:00Z",
        updated_at="2026-01-01T00:00:00Z", inputs={}, state={}, pending=[], result=None,
        error=None, last_seq=1,
    )
    return SessionRecord(session=session, version="1", runner="hub-a", cancel_requested=False,
                         requests={}, trace=trace_context)


def pending(trace_context: str | None = None) -> PendingRequest:
    request = Request(request_id="r1", kind="confirm", prompt="Ship?",
                      created_at="2026-01-01T10:00:00.250Z")
    return PendingRequest(request=request, journal_key="m1[2]/confirm1", trace=trace_context)


# --- which variables turn it on ----------------------------------------------------------


@pytest.mark.parametrize(("env", "endpoint"), [
    ({}, None),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, "http://collector:4318/v1/traces"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/otel/"}, "http://c:4318/otel/v1/traces"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
      "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://t:443/in"}, "https://t:443/in"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, None),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, None),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
      "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, "http://c:4318/v1/traces"),
])
def test_the_standard_variables_decide_where_spans_go(
    env: dict[str, str], endpoint: str | None
) -> None:
    assert traces_endpoint_from(env) == endpoint
    assert Settings.from_env(env).traces_endpoint == endpoint


def test_a_protocol_the_hub_does_not_ship_is_refused_by_name() -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
    with pytest.raises(ValueError, match="OTEL_EXPORTER_OTLP_PROTOCOL='grpc'"):
        traces_endpoint_from(env)


def test_an_endpoint_that_is_not_an_http_url_is_refused() -> None:
    with pytest.raises(ValueError, match="http:// or https://"):
        Settings.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"})


def test_without_an_endpoint_there_is_no_provider() -> None:
    tracing = open_tracing(Settings(), hub_id="hub-a")
    assert not tracing.enabled
    assert tracing.session(record(PARENT)) is NO_TRACE
    with tracing.creating("s1", "report", headers={"traceparent": PARENT}) as opening:
        assert opening.traceparent is None
    tracing.close()  # nothing to close


def test_an_endpoint_builds_an_exporting_provider_named_by_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    settings = Settings(traces_endpoint="http://127.0.0.1:9/v1/traces")
    tracing = open_tracing(settings, hub_id="hub-a")
    try:
        assert tracing.enabled
        resource = tracing._tracer.resource  # type: ignore[union-attr]
        assert resource.attributes["service.name"] == "tether"
        assert resource.attributes["service.instance.id"] == "hub-a"
    finally:
        tracing.close()
    monkeypatch.setenv("OTEL_SERVICE_NAME", "billing-hub")
    named = open_tracing(settings, hub_id="hub-b")
    try:
        assert named._tracer.resource.attributes["service.name"] == "billing-hub"  # type: ignore[union-attr]
    finally:
        named.close()


# --- trace context as strings ------------------------------------------------------------


def test_trace_context_round_trips_through_a_traceparent_string() -> None:
    span = trace.get_current_span(context_of(PARENT))
    assert traceparent_of(span) == PARENT
    assert format(span.get_span_context().trace_id, "032x") == PARENT.split("-")[1]


@pytest.mark.parametrize("bad", ["", "00-xyz-01", "00-" + "0" * 32 + "-" + "0" * 16 + "-01"])
def test_a_malformed_traceparent_starts_a_new_trace(bad: str) -> None:
    assert not trace.get_current_span(context_of(bad)).get_span_context().is_valid


def test_only_the_trace_context_headers_are_taken() -> None:
    assert trace_headers({"content-type": "application/json"}) is None
    assert trace_headers({"traceparent": PARENT}) == {"traceparent": PARENT}
    assert trace_headers({"traceparent": PARENT, "tracestate": "a=1", "x": "y"}) == {
        "traceparent": PARENT, "tracestate": "a=1"
    }


# --- one session's spans -----------------------------------------------------------------


def test_off_every_hook_does_nothing() -> None:
    with NO_TRACE.run(resumed=False) as run, NO_TRACE.step("s", "step1") as step:
        assert run is None and step is None
    NO_TRACE.step_replayed("s", "step1")
    NO_TRACE.finished(None, "failed", ValueError("x"))
    NO_TRACE.request_closed(pending(), "answered", at="2026-01-01T10:00:01Z")
    assert NO_TRACE.asking(pending()).trace is None


def test_a_request_span_runs_from_its_creation_to_its_close_under_the_asker(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    session = Tracing(provider, hub_id="hub-b").session(record(PARENT))
    with session.run(resumed=True):
        with session.step("look", "step1") as step:
            asked = session.asking(pending())
    assert step is not None and asked.trace == traceparent_of(step)
    session.request_closed(asked, "answered", at="2026-01-01T10:00:03.750Z")
    spans = {s.name: s for s in exporter.get_finished_spans()}
    request = spans["session.request"]
    assert request.start_time is not None and request.end_time is not None
    assert request.end_time - request.start_time == 3_500_000_000
    assert request.parent is not None
    assert request.parent.span_id == step.get_span_context().span_id
    assert dict(request.attributes or {}) == {
        "tether.session.id": "s1", "tether.task": "report", "tether.hub.id": "hub-b",
        "tether.request.id": "r1", "tether.request.kind": "confirm",
        "tether.request.outcome": "answered", "tether.request.key": "m1[2]/confirm1",
    }
    run = spans["session.run"]
    assert run.parent is not None and format(run.parent.span_id, "016x") == PARENT.split("-")[2]


def test_a_request_asked_untraced_hangs_under_the_session_context(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    Tracing(provider).request_closed(record(PARENT), pending(), "expired",
                                     at="2026-01-01T10:00:00Z")  # a clock behind: no negative
    (span,) = exporter.get_finished_spans()
    assert span.parent is not None and format(span.parent.span_id, "016x") == PARENT[36:52]
    assert span.end_time == span.start_time


def test_a_cancelled_block_is_marked_not_failed(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    session = Tracing(provider).session(record())
    with pytest.raises(KeyboardInterrupt), session.map("m1", 3, concurrency=2, replayed=1):
        raise KeyboardInterrupt
    (span,) = exporter.get_finished_spans()
    assert span.parent is None  # the record had no trace context: a trace of its own
    assert (span.attributes or {})["tether.cancelled"] is True
    assert span.status.is_unset and not span.events
