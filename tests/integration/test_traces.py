"""Traces: the spans a real hub makes of a session, caught by the SDK's in-memory exporter.

Each test serves its hub in-process with a tracer provider of its own (what the hub
builds from ``OTEL_EXPORTER_OTLP_ENDPOINT`` is checked against a real OTLP receiver in
test_traces_otlp.py), runs sessions through the HTTP API, and reads the finished spans:
their names, parents, attributes, times and trace ids.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import datetime
from typing import Any

import pytest
import redis.asyncio as aioredis
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from tests.support.server import RunningHub, User, new_user, run_hub, same_user_on
from tests.support.tabs import all_events, answer, wait_pending, wait_status
from tests.support.timing import MS, eventually
from tether import Context, Hub, Retry
from tether.client import Client
from tether.config import Settings

NAME = [{"name": "name", "description": "Your name", "type": "string", "required": True}]
SECRET_NAME = "Ada Quietly-Secret"  # an answer value: it must appear in no span


def double(n: int) -> int:
    return n * 2


def build_hub() -> Hub:
    hub = Hub()

    @hub.task(title="Traced", description="A step, a map of steps, a question, a step.")
    async def traced(ctx: Context) -> dict[str, Any]:
        base = await ctx.step("prepare", lambda: 10)

        async def item(item_ctx: Context, n: int) -> int:
            return await item_ctx.step("double", double, n)

        doubled = await ctx.map(item, [1, 2, 3], concurrency=2)
        who = await ctx.ask(NAME, prompt="Who are you?")
        line = await ctx.step("finish", lambda: f"{who['name']}: {base + sum(doubled)}")
        return {"line": line}

    @hub.task(title="Failing", description="A step that fails twice.")
    async def failing(ctx: Context) -> None:
        def broken() -> None:
            raise ValueError("the disk is full")

        await ctx.step("write", broken, retry=Retry(attempts=2))

    @hub.task(title="Expiring", description="A question nobody answers in time.")
    async def expiring(ctx: Context) -> bool:
        return await ctx.confirm("Go on?", timeout=200 * MS, default=True)

    return hub


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield tracer_provider
    tracer_provider.shutdown()


@contextlib.asynccontextmanager
async def traced_hub(
    provider: TracerProvider, redis_url: str | None, hub_id: str = "hub-a"
) -> AsyncIterator[RunningHub]:
    settings = Settings(
        redis_url=redis_url, static_dir=None, hub_id=hub_id, secret="shared", lease_seconds=30
    )
    async with run_hub(settings, build_hub(), tracer_provider=provider) as running:
        yield running


@pytest.fixture
async def hub(
    provider: TracerProvider, store_url: str | None
) -> AsyncIterator[RunningHub]:
    async with traced_hub(provider, store_url) as running:
        yield running


@pytest.fixture
async def user(hub: RunningHub) -> AsyncIterator[User]:
    async with new_user(hub) as u:
        yield u


# --- reading spans ---------------------------------------------------------------------


def spans_of(exporter: InMemorySpanExporter, session_id: str) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans()
            if (s.attributes or {}).get("tether.session.id") == session_id]


def named(spans: Sequence[ReadableSpan], name: str, **attrs: Any) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name
            and all((s.attributes or {}).get(f"tether.{k.replace('__', '.')}") == v
                    for k, v in attrs.items())]


def one(spans: Sequence[ReadableSpan], name: str, **attrs: Any) -> ReadableSpan:
    found = named(spans, name, **attrs)
    assert len(found) == 1, f"{len(found)} {name} spans with {attrs}: {found}"
    return found[0]


def parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return span.context.span_id


def trace_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return span.context.trace_id


def seconds(span: ReadableSpan) -> float:
    assert span.start_time is not None and span.end_time is not None
    return (span.end_time - span.start_time) / 1e9


def epoch_ns(iso: str) -> int:
    return round(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1e6) * 1000


async def run_ended(exporter: InMemorySpanExporter, session_id: str, count: int = 1) -> None:
    """The session's ``count`` run spans have ended (a run ends just after its last event)."""
    await eventually(
        lambda: len(named(spans_of(exporter, session_id), "session.run")) >= count,
        what=f"{count} session.run span(s)",
    )


# --- the tests -------------------------------------------------------------------------


async def test_a_session_is_one_trace_of_its_run_steps_map_items_and_request(
    user: User, exporter: InMemorySpanExporter
) -> None:
    """session.create → session.run → steps, map → items → their steps, and the request
    span from ask to answer, whose duration covers the time the person took."""
    sid = (await user.start("traced"))["id"]
    request = (await wait_pending(user, sid, "input"))[0]
    waited_from = asyncio.get_running_loop().time()
    await asyncio.sleep(300 * MS)  # the person takes a while: the span must cover it
    waited = asyncio.get_running_loop().time() - waited_from
    response = await answer(user, sid, request["request_id"], {"name": SECRET_NAME})
    assert response.status_code == 200
    assert (await wait_status(user, sid))["status"] == "completed"
    await run_ended(exporter, sid)
    spans = spans_of(exporter, sid)

    create = one(spans, "session.create")
    assert create.parent is None
    assert create.attributes is not None
    assert create.attributes["tether.task"] == "traced"
    assert create.attributes["tether.hub.id"] == "hub-a"
    assert create.attributes["tether.session.created"] is True
    run = one(spans, "session.run")
    assert parent_id(run) == span_id(create)
    assert run.attributes is not None
    assert run.attributes["tether.run.resumed"] is False
    assert run.attributes["tether.session.status"] == "completed"
    assert run.status.status_code is StatusCode.UNSET

    for name in ("prepare", "finish"):
        step = one(spans, "session.step", step__name=name)
        assert parent_id(step) == span_id(run)
        assert step.attributes is not None
        assert step.attributes["tether.step.replayed"] is False
        assert step.attributes["tether.step.attempts"] == 1
        assert step.attributes["tether.step.executor"] == "local"
    mapped = one(spans, "session.map")
    assert parent_id(mapped) == span_id(run)
    assert mapped.attributes is not None
    assert mapped.attributes["tether.map.items"] == 3
    assert mapped.attributes["tether.map.replayed"] == 0
    items = named(spans, "session.map.item")
    assert sorted((s.attributes or {})["tether.map.index"] for s in items) == [0, 1, 2]
    assert {parent_id(s) for s in items} == {span_id(mapped)}
    doubles = named(spans, "session.step", step__name="double")
    assert sorted(parent_id(s) or 0 for s in doubles) == sorted(span_id(s) for s in items)

    asked = one(spans, "session.request")
    assert parent_id(asked) == span_id(run)  # asked by the task itself, not in a step
    assert asked.attributes is not None
    assert asked.attributes["tether.request.kind"] == "input"
    assert asked.attributes["tether.request.id"] == request["request_id"]
    assert asked.attributes["tether.request.outcome"] == "answered"
    assert asked.start_time == epoch_ns(request["created_at"])
    assert seconds(asked) >= waited - 0.001  # its ends are stamps in whole milliseconds
    assert len({trace_id(s) for s in spans}) == 1
    assert len(spans) == 1 + 1 + 2 + 1 + 3 + 3 + 1
    shown = [str(v) for s in spans for v in (s.attributes or {}).values()]
    assert not any(SECRET_NAME in v for v in shown), "an answer value is in a span"


async def test_a_fork_continues_its_source_trace_and_replays_its_steps(
    user: User, exporter: InMemorySpanExporter
) -> None:
    """A fork's session.fork is a child of its source's session.create: one trace; its
    run replays the recorded steps (zero-length spans marked replayed) and asks again."""
    sid = (await user.start("traced"))["id"]
    request = (await wait_pending(user, sid, "input"))[0]
    await answer(user, sid, request["request_id"], {"name": "Ada"})
    await wait_status(user, sid)
    asked = next(e for e in await all_events(user, sid) if e["type"] == "request_user_input")
    response = await user.http.post(f"/api/sessions/{sid}/fork", json={"at_seq": asked["seq"]})
    assert response.status_code == 201, response.text
    fork_id = response.json()["id"]
    again = (await wait_pending(user, fork_id, "input"))[0]
    await answer(user, fork_id, again["request_id"], {"name": "Grace"})
    assert (await wait_status(user, fork_id))["status"] == "completed"
    await run_ended(exporter, fork_id)

    source = spans_of(exporter, sid)
    forked = spans_of(exporter, fork_id)
    fork = one(forked, "session.fork")
    assert fork.attributes is not None
    assert fork.attributes["tether.fork.source"] == sid
    assert fork.attributes["tether.fork.at_seq"] == asked["seq"]
    assert parent_id(fork) == span_id(one(source, "session.create"))
    run = one(forked, "session.run")
    assert parent_id(run) == span_id(fork)
    prepare = one(forked, "session.step", step__name="prepare")
    assert prepare.attributes is not None and prepare.attributes["tether.step.replayed"] is True
    assert parent_id(prepare) == span_id(run)
    assert (one(forked, "session.map").attributes or {})["tether.map.replayed"] == 3
    assert named(forked, "session.map.item") == []  # all three came from the journal
    assert parent_id(one(forked, "session.request")) == span_id(run)
    assert {trace_id(s) for s in source + forked} == {trace_id(fork)}


async def test_a_failing_step_and_its_run_are_errors_with_the_exception(
    user: User, exporter: InMemorySpanExporter
) -> None:
    """Each failed attempt is an exception event on the step span; the step and the run
    end with status ERROR and the exception that ended them."""
    sid = (await user.start("failing"))["id"]
    assert (await wait_status(user, sid))["status"] == "failed"
    await run_ended(exporter, sid)
    spans = spans_of(exporter, sid)
    step = one(spans, "session.step", step__name="write")
    assert step.status.status_code is StatusCode.ERROR
    assert "the disk is full" in (step.status.description or "")
    attempts = [e for e in step.events if e.name == "exception"]
    assert [(e.attributes or {}).get("tether.step.attempt") for e in attempts] == [1, 2, None]
    assert {(e.attributes or {})["exception.type"] for e in attempts} == {"ValueError"}
    run = one(spans, "session.run")
    assert run.status.status_code is StatusCode.ERROR
    assert run.attributes is not None and run.attributes["tether.session.status"] == "failed"
    assert any(e.name == "exception" for e in run.events)


async def test_an_expired_request_is_a_span_up_to_its_deadline(
    user: User, exporter: InMemorySpanExporter
) -> None:
    """A request nobody answers: its span ends when the runner expires it."""
    sid = (await user.start("expiring"))["id"]
    session = await wait_status(user, sid)
    assert session["status"] == "completed" and session["result"] is True
    await run_ended(exporter, sid)
    expired = one(spans_of(exporter, sid), "session.request")
    assert expired.attributes is not None
    assert expired.attributes["tether.request.outcome"] == "expired"
    assert expired.attributes["tether.request.kind"] == "confirm"
    # From its created_at to the expiry's stamp, both in whole milliseconds.
    assert seconds(expired) >= 200 * MS - 0.001


async def test_a_caller_trace_continues_into_the_session(
    hub: RunningHub, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    """``Client.start`` inside a span sends its ``traceparent``: the session's creation
    span is that span's child, in the caller's trace."""
    caller = provider.get_tracer("caller")
    async with Client(hub.base_url) as client:
        with caller.start_as_current_span("caller.work") as work:
            session = await client.start("failing")
        await client.wait(session.id)
    create = one(spans_of(exporter, session.id), "session.create")
    assert create.parent is not None
    assert create.parent.span_id == work.get_span_context().span_id
    assert trace_id(create) == work.get_span_context().trace_id


async def test_a_traceparent_header_on_start_is_the_creation_span_parent(
    user: User, exporter: InMemorySpanExporter
) -> None:
    """A plain W3C ``traceparent`` on ``POST /api/sessions``, and a malformed one (a new
    trace: it is a hint, never an error)."""
    trace_hex, parent_hex = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    response = await user.http.post(
        "/api/sessions", json={"task": "failing", "inputs": {}},
        headers={"traceparent": f"00-{trace_hex}-{parent_hex}-01"},
    )
    assert response.status_code == 201
    create = one(spans_of(exporter, response.json()["id"]), "session.create")
    assert trace_id(create) == int(trace_hex, 16)
    assert parent_id(create) == int(parent_hex, 16)

    bad = await user.http.post(
        "/api/sessions", json={"task": "failing", "inputs": {}},
        headers={"traceparent": "00-not-a-trace-01"},
    )
    assert bad.status_code == 201
    assert one(spans_of(exporter, bad.json()["id"]), "session.create").parent is None


# --- across hubs -----------------------------------------------------------------------


async def test_a_resumed_run_and_its_request_stay_in_the_session_trace(
    redis_url: str, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    """Hub A stops while the session waits; hub B resumes it and takes the answer. Both
    runs are children of the session's creation span; A's ends marked cancelled, B's
    replays the finished steps; the request span, asked on A and answered on B, starts
    when it was asked and hangs under A's run."""
    async with traced_hub(provider, redis_url, "hub-a") as hub_a:
        async with new_user(hub_a) as user:
            sid = (await user.start("traced"))["id"]
            request = (await wait_pending(user, sid, "input"))[0]
            async with traced_hub(provider, redis_url, "hub-b") as hub_b:
                await hub_a.stop()  # graceful: the runner stops, the lease is released
                async with same_user_on(hub_b, user) as user_b:
                    await wait_pending(user_b, sid, "input")
                    response = await answer(user_b, sid, request["request_id"], {"name": "Ada"})
                    assert response.status_code == 200
                    assert (await wait_status(user_b, sid))["status"] == "completed"
                    await run_ended(exporter, sid, count=2)
    spans = spans_of(exporter, sid)
    create = one(spans, "session.create")
    first = one(spans, "session.run", hub__id="hub-a")
    second = one(spans, "session.run", hub__id="hub-b")
    assert parent_id(first) == parent_id(second) == span_id(create)
    assert first.attributes is not None and second.attributes is not None
    assert first.attributes["tether.cancelled"] is True
    assert "tether.session.status" not in first.attributes
    assert second.attributes["tether.run.resumed"] is True
    assert second.attributes["tether.session.status"] == "completed"
    replayed = one(spans, "session.step", step__name="prepare", hub__id="hub-b")
    assert replayed.attributes is not None and replayed.attributes["tether.step.replayed"] is True
    assert parent_id(replayed) == span_id(second)
    assert (one(spans, "session.map", hub__id="hub-b").attributes or {})[
        "tether.map.replayed"] == 3
    asked = one(spans, "session.request")
    assert asked.attributes is not None and asked.attributes["tether.hub.id"] == "hub-b"
    assert parent_id(asked) == span_id(first)
    assert asked.start_time == epoch_ns(request["created_at"])
    assert len({trace_id(s) for s in spans}) == 1


async def test_without_a_provider_nothing_is_traced_or_stored(redis_url: str) -> None:
    """No OTEL_EXPORTER_OTLP_ENDPOINT: no provider, no span context in the session's
    record or its stored request, and the session runs as ever."""
    settings = Settings.from_env({}, redis_url=redis_url, static_dir=None)
    assert settings.traces_endpoint is None
    async with run_hub(settings, build_hub()) as running, new_user(running) as user:
        sid = (await user.start("traced"))["id"]
        await wait_pending(user, sid, "input")
        client = aioredis.Redis.from_url(redis_url, decode_responses=True)
        try:
            record = await client.hgetall(f"tether:{{{sid}}}:rec")
            pending = await client.hgetall(f"tether:{{{sid}}}:pending")
        finally:
            await client.aclose()
    assert record and "trace" not in record
    assert pending and all('"trace":null' in raw for raw in pending.values())
