"""Spans exported for real: ``OTEL_EXPORTER_OTLP_ENDPOINT`` in the environment, the SDK's
OTLP/HTTP exporter the hub builds from it, and a real receiver decoding the protobuf."""

from __future__ import annotations

import pytest

from tests.support.otlp_receiver import run_receiver
from tests.support.server import new_user, run_hub
from tests.support.tabs import answer, wait_pending, wait_status
from tether import Context, Hub
from tether.config import Settings


def build_hub() -> Hub:
    hub = Hub()

    @hub.task(title="Checked", description="A step, then a confirmation.")
    async def checked(ctx: Context) -> bool:
        await ctx.step("look", lambda: "fine")
        return await ctx.confirm("Ship it?")

    return hub


async def test_spans_reach_the_endpoint_the_environment_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The hub reads the endpoint from the environment and the SDK reads the rest
    (OTEL_RESOURCE_ATTRIBUTES here); the service is named ``tether`` by default, each hub
    is its own instance, and what is queued is sent when the hub stops."""
    async with run_receiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
        monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test")
        monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
        settings = Settings.from_env(hub_id="hub-otlp").with_(static_dir=None)
        assert settings.traces_endpoint == f"{receiver.url}/v1/traces"
        async with run_hub(settings, build_hub()) as hub, new_user(hub) as user:
            sid = (await user.start("checked"))["id"]
            request = (await wait_pending(user, sid, "confirm"))[0]
            assert (await answer(user, sid, request["request_id"], True)).status_code == 200
            assert (await wait_status(user, sid))["status"] == "completed"
        spans = receiver.of_session(sid)  # the hub has stopped: its queue is flushed
    assert receiver.content_types == {"application/x-protobuf"}
    by_name = {s.name: s for s in spans}
    assert sorted(by_name) == ["session.create", "session.request", "session.run",
                               "session.step"]
    assert len(spans) == 4
    create, run = by_name["session.create"], by_name["session.run"]
    assert run.parent_span_id == create.span_id
    assert by_name["session.step"].parent_span_id == run.span_id
    assert by_name["session.request"].attributes["tether.request.kind"] == "confirm"
    assert {s.trace_id for s in spans} == {create.trace_id}
    resource = create.resource
    assert resource["service.name"] == "tether"
    assert resource["service.instance.id"] == "hub-otlp"
    assert resource["deployment.environment"] == "test"
