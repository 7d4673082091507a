"""Traces: OpenTelemetry spans of sessions, their runs, steps, map items and requests.

Off unless an OTLP endpoint is configured (``OTEL_EXPORTER_OTLP_ENDPOINT``, read by
:meth:`~tether.config.Settings.from_env`): then :func:`open_tracing` builds an SDK tracer
provider that batches spans to it over OTLP/HTTP, and the SDK reads the other standard
variables itself (``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``,
``OTEL_TRACES_SAMPLER``, ``OTEL_EXPORTER_OTLP_HEADERS``, ``OTEL_BSP_*``, …). Off, every
method here returns at its first line, before any attribute is built, and the SDK is
not even imported.

The span tree of one session (docs/TRACING.md says why it is shaped so)::

    session.create | session.fork    the POST that made it; its context is stored
    ├── session.run                  one per run: the first, and each resume
    │   ├── session.step             ctx.step (a replayed one too, zero-length)
    │   └── session.map              ctx.map
    │       └── session.map.item     each item that runs in this run
    └── session.request              ask → answer, under the span that asked

A session outlives processes and a request may wait for days, so no span stays open
across one: the session's own context (a W3C ``traceparent``) is kept in its record when
it is created, every run of it is a child of that context, whichever hub runs it, and a
fork's creation span is a child of its source's. A request's span is made whole when it
closes — by whichever hub records the answer, or by the runner that expires it — with
the request's stored ``created_at`` as its start and the context of the span that asked
(kept in the stored request) as its parent.

Attributes name the session, task, hub, step, request kind and id: never an input, an
answer value, a user or a secret.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, Status, StatusCode, Tracer, TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from tether.config import Settings, redacted

if TYPE_CHECKING:
    from tether.records import PendingRequest
    from tether.store.base import NewSession, SessionRecord

log = logging.getLogger(__name__)

SERVICE_NAME = "tether"  # unless OTEL_SERVICE_NAME (or OTEL_RESOURCE_ATTRIBUTES) names one
_W3C = TraceContextTextMapPropagator()
_NO_SPAN: AbstractContextManager[None] = nullcontext()

RequestOutcome = Literal["answered", "expired"]
R = TypeVar("R")


def traceparent_of(span: Span) -> str | None:
    """``span``'s context as a W3C ``traceparent`` header value (None for a span that
    has none: the API's invalid span)."""
    carrier: dict[str, str] = {}
    _W3C.inject(carrier, context=trace.set_span_in_context(span))
    return carrier.get("traceparent")


def trace_headers(headers: Mapping[str, str]) -> dict[str, str] | None:
    """The W3C Trace Context headers of an HTTP request (``traceparent`` and, with it,
    ``tracestate``); None when it has no ``traceparent``."""
    parent = headers.get("traceparent")
    if not parent:
        return None
    state = headers.get("tracestate")
    return {"traceparent": parent, **({"tracestate": state} if state else {})}


def context_of(headers: Mapping[str, str] | str | None) -> Context:
    """The context ``traceparent`` (and ``tracestate``) headers carry, or a plain
    ``traceparent`` value; an empty context (a new trace) when there is none or it is
    not valid W3C Trace Context."""
    if not headers:
        return Context()
    carrier = {"traceparent": headers} if isinstance(headers, str) else headers
    return _W3C.extract(carrier, context=Context())


def _ns(iso: str) -> int:
    """Epoch nanoseconds of an ISO-8601 stamp as the hub writes them (``now_iso``)."""
    stamp = datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    return round(stamp * 1e6) * 1000  # exact to the microsecond (the stamps have ms)


def _failed(span: Span, exc: BaseException) -> None:
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"[:200]))
    span.record_exception(exc)


@contextlib.contextmanager
def _current(
    tracer: Tracer, name: str, parent: Context | None, attributes: dict[str, Any]
) -> Iterator[Span]:
    """A span current while the block runs. An ``Exception`` leaving the block sets
    status ERROR with an exception event; a ``BaseException`` (the task cancelled, the
    hub shutting down, ``ctx.cancel``) only marks the span ``tether.cancelled``."""
    with tracer.start_as_current_span(
        name, context=parent, attributes=attributes,
        record_exception=False, set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except Exception as exc:
            _failed(span, exc)
            raise
        except BaseException:
            span.set_attribute("tether.cancelled", True)
            raise


@dataclass(slots=True)
class Opening:
    """The span of a session being created: ``traceparent`` is what its record keeps."""

    span: Span | None = None
    traceparent: str | None = None

    def traced(self, new: NewSession) -> NewSession:
        """``new`` with this span's context as the session's own (``new`` when off)."""
        return new if self.traceparent is None else replace(new, trace=self.traceparent)

    def made(self, session_id: str, *, created: bool) -> None:
        """The store answered: ``session_id`` (another one's, for an idempotent repeat)."""
        if self.span is not None:
            self.span.set_attribute("tether.session.id", session_id)
            self.span.set_attribute("tether.session.created", created)


class SessionTrace:
    """The spans of one session's run. Made by :meth:`Tracing.session`; without a tracer
    (tracing off) every method returns at once."""

    def __init__(self, tracer: Tracer | None, record: SessionRecord | None, hub_id: str) -> None:
        self._tracer = tracer
        self._base: dict[str, Any] = {}
        self._root = Context()
        if tracer is not None and record is not None:
            self._base = {"tether.session.id": record.session.id,
                          "tether.task": record.session.task, "tether.hub.id": hub_id}
            self._root = context_of(record.trace)

    @property
    def enabled(self) -> bool:
        return self._tracer is not None

    # --- the run ---

    def run(self, *, resumed: bool) -> AbstractContextManager[Span | None]:
        """The span of this run, current while it lasts (the task's own task inherits
        it); a child of the session's stored context."""
        if self._tracer is None:
            return _NO_SPAN
        return _current(self._tracer, "session.run", self._root,
                        {**self._base, "tether.run.resumed": resumed})

    def finished(self, span: Span | None, status: str, error: BaseException | None) -> None:
        """The run ends the session as ``status`` (``failed``: with ``error``)."""
        if span is None:
            return
        span.set_attribute("tether.session.status", status)
        if status == "failed" and error is not None:
            _failed(span, error)
        elif status == "failed":  # e.g. a result that is not JSON
            span.set_status(Status(StatusCode.ERROR, "failed"))

    # --- steps and maps ---

    def step(
        self, name: str, key: str, *, executor: str = "local"
    ) -> AbstractContextManager[Span | None]:
        """The span of a ``ctx.step`` that runs (its attempts, retry waits and offers);
        ``executor``: where its function runs (``local``: in the runner's process)."""
        if self._tracer is None:
            return _NO_SPAN
        return _current(self._tracer, "session.step", None, {
            **self._base, "tether.step.name": name, "tether.step.key": key,
            "tether.step.replayed": False, "tether.step.executor": executor,
        })

    def step_replayed(self, name: str, key: str) -> None:
        """A ``ctx.step`` whose result came from the journal: a zero-length span."""
        if self._tracer is None:
            return
        self._tracer.start_span("session.step", attributes={
            **self._base, "tether.step.name": name, "tether.step.key": key,
            "tether.step.replayed": True,
        }).end()

    def attempt_failed(self, span: Span | None, attempt: int, exc: BaseException) -> None:
        """Attempt ``attempt`` of the step raised ``exc`` (retried or not)."""
        if span is not None:
            span.record_exception(exc, attributes={"tether.step.attempt": attempt})

    def attempts(self, span: Span | None, attempt: int) -> None:
        """The step ran ``attempt`` attempts in all."""
        if span is not None:
            span.set_attribute("tether.step.attempts", attempt)

    def map(self, key: str, items: int, *, concurrency: int,
            replayed: int) -> AbstractContextManager[Span | None]:
        """The span of a ``ctx.map``; ``replayed`` items had finished in an earlier run
        (they get no span of their own: a resumed map of thousands would flood it)."""
        if self._tracer is None:
            return _NO_SPAN
        return _current(self._tracer, "session.map", None, {
            **self._base, "tether.map.key": key, "tether.map.items": items,
            "tether.map.concurrency": concurrency, "tether.map.replayed": replayed,
        })

    async def map_item(self, key: str, index: int, work: Awaitable[R]) -> R:
        """Await ``work``, one ``ctx.map`` item's function, inside the item's span (from
        when it has a slot to its result; its steps and questions are the span's
        children)."""
        if self._tracer is None:
            return await work
        with _current(self._tracer, "session.map.item", None,
                      {**self._base, "tether.map.key": key, "tether.map.index": index}):
            return await work

    # --- requests ---

    def asking(self, pending: PendingRequest) -> PendingRequest:
        """``pending`` as it is stored: with the context of the span asking now, the
        parent of its request span wherever it closes."""
        if self._tracer is None:
            return pending
        return pending.model_copy(update={"trace": traceparent_of(trace.get_current_span())})

    def request_closed(
        self, pending: PendingRequest, outcome: RequestOutcome, *, at: str
    ) -> None:
        """``pending`` closed at ``at``: its span, from when it was created to then."""
        if self._tracer is None:
            return
        request = pending.request
        attributes = {**self._base, "tether.request.id": request.request_id,
                      "tether.request.kind": request.kind, "tether.request.outcome": outcome}
        if pending.journal_key:
            attributes["tether.request.key"] = pending.journal_key
        parent = context_of(pending.trace) if pending.trace else self._root
        start = _ns(request.created_at)
        span = self._tracer.start_span(
            "session.request", context=parent, attributes=attributes, start_time=start
        )
        span.end(end_time=max(start, _ns(at)))


NO_TRACE = SessionTrace(None, None, "")
"""The spans of a run without tracing: none (every method returns at once)."""


class Tracing:
    """The hub's tracer, or none (tracing off). One per process: :func:`open_tracing`."""

    def __init__(
        self, provider: TracerProvider | None = None, *, hub_id: str = "",
        shutdown: Callable[[], object] | None = None,
    ) -> None:
        """``shutdown``: what :meth:`close` calls (the provider's, when it is ours)."""
        self._tracer = provider.get_tracer("tether") if provider is not None else None
        self.hub_id = hub_id
        self._shutdown = shutdown

    def close(self) -> None:
        """Export the spans still queued and stop (blocking: up to the exporter's
        timeout, ``OTEL_EXPORTER_OTLP_TIMEOUT``)."""
        if self._shutdown is not None:
            self._shutdown()

    @property
    def enabled(self) -> bool:
        return self._tracer is not None

    def session(self, record: SessionRecord) -> SessionTrace:
        """The spans of a run of ``record``'s session."""
        if self._tracer is None:
            return NO_TRACE
        return SessionTrace(self._tracer, record, self.hub_id)

    def creating(
        self, session_id: str, task: str, *, headers: Mapping[str, str] | None = None
    ) -> AbstractContextManager[Opening]:
        """The ``session.create`` span, current while the session is made; a child of
        the caller's context when ``headers`` carry a W3C ``traceparent``."""
        if self._tracer is None:
            return nullcontext(Opening())
        return self._opening("session.create", context_of(headers), {
            "tether.session.id": session_id, "tether.task": task, "tether.hub.id": self.hub_id,
        })

    def forking(
        self, session_id: str, source: SessionRecord, *, at_seq: int
    ) -> AbstractContextManager[Opening]:
        """The ``session.fork`` span of ``session_id``, forked from ``source``: a child
        of the source's context, so a fork belongs to its source's trace."""
        if self._tracer is None:
            return nullcontext(Opening())
        return self._opening("session.fork", context_of(source.trace), {
            "tether.session.id": session_id, "tether.task": source.session.task,
            "tether.hub.id": self.hub_id, "tether.fork.source": source.session.id,
            "tether.fork.at_seq": at_seq,
        })

    @contextlib.contextmanager
    def _opening(self, name: str, parent: Context, attributes: dict[str, Any]) -> Iterator[Opening]:
        assert self._tracer is not None
        with _current(self._tracer, name, parent, attributes) as span:
            yield Opening(span, traceparent_of(span))

    def request_closed(
        self, record: SessionRecord, pending: PendingRequest, outcome: RequestOutcome, *,
        at: str,
    ) -> None:
        """An answer to ``pending`` in ``record``'s session was recorded (on any hub)."""
        if self._tracer is not None:
            self.session(record).request_closed(pending, outcome, at=at)


def open_tracing(
    settings: Settings, *, hub_id: str, provider: TracerProvider | None = None
) -> Tracing:
    """The hub's tracing: ``provider`` when given (it stays the caller's to shut down),
    else an OTLP/HTTP exporting one when ``settings.traces_endpoint`` is set, else off.

    The provider is not installed as OpenTelemetry's global one: a task that makes spans
    of its own through the API gets them into the session's trace by configuring the
    global provider itself (the current span inside a step is the step's).
    """
    if provider is not None:
        return Tracing(provider, hub_id=hub_id)
    if settings.traces_endpoint is None:
        return Tracing(hub_id=hub_id)
    # Imported only when tracing is on: a hub without it never loads the SDK.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({"service.instance.id": hub_id})
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
        resource = resource.merge(Resource({"service.name": SERVICE_NAME}))
    # The sampler comes from OTEL_TRACES_SAMPLER / _ARG (the SDK's default otherwise:
    # parent-based, always on), so a caller's unsampled trace stays unsampled.
    sdk = SdkTracerProvider(resource=resource, shutdown_on_exit=False)
    sdk.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.traces_endpoint)))
    log.info("Traces go to %s", redacted(settings.traces_endpoint))
    return Tracing(sdk, hub_id=hub_id, shutdown=sdk.shutdown)
