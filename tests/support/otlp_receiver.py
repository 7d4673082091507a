"""A real OTLP/HTTP trace receiver: ``POST /v1/traces`` on a free port, each body decoded
as an ``ExportTraceServiceRequest`` (opentelemetry-proto) and kept as plain spans."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.server import listen
from tests.support.timing import MS


@dataclass(frozen=True)
class ReceivedSpan:
    """One span as it arrived: ids in hex, attributes as Python values."""

    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]
    resource: dict[str, Any]
    start_ns: int
    end_ns: int
    status_code: int


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind is not None else None


@dataclass
class OtlpReceiver:
    url: str = ""  # the base URL, as OTEL_EXPORTER_OTLP_ENDPOINT names it
    spans: list[ReceivedSpan] = field(default_factory=list)
    content_types: set[str] = field(default_factory=set)

    async def receive(self, request: Request) -> Response:
        body = await request.body()
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        self.content_types.add(request.headers.get("content-type", ""))
        export = ExportTraceServiceRequest.FromString(body)
        for resource_spans in export.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    self.spans.append(ReceivedSpan(
                        name=span.name, trace_id=span.trace_id.hex(), span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex(),
                        attributes={a.key: _value(a.value) for a in span.attributes},
                        resource=resource, start_ns=span.start_time_unix_nano,
                        end_ns=span.end_time_unix_nano, status_code=span.status.code,
                    ))
        return Response(ExportTraceServiceResponse().SerializeToString(),
                        media_type="application/x-protobuf")

    def of_session(self, session_id: str) -> list[ReceivedSpan]:
        return [s for s in self.spans if s.attributes.get("tether.session.id") == session_id]


@contextlib.asynccontextmanager
async def run_receiver() -> AsyncIterator[OtlpReceiver]:
    """Serve a receiver until the block exits, in a thread with its own event loop: a
    test that blocks its loop (waiting for a hub process to stop) must not stall the
    hub's exports, which would then time out and be dropped."""
    receiver = OtlpReceiver()
    app = Starlette(routes=[Route("/v1/traces", receiver.receive, methods=["POST"])])
    sock = await listen()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    failed: list[BaseException] = []

    def serve() -> None:
        try:
            asyncio.run(server.serve(sockets=[sock]))
        except BaseException as exc:  # shown by the waiting test, not lost in the thread
            failed.append(exc)

    thread = threading.Thread(target=serve, name="otlp-receiver", daemon=True)
    thread.start()
    while not server.started:
        if failed:
            raise failed[0]
        await asyncio.sleep(5 * MS)  # poll interval: the server sets `started` itself
    receiver.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        yield receiver
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join)
        sock.close()
