"""Every bad frame and bad request gets its documented answer, and the hub keeps serving.

WebSocket: bad frames get an ``error`` frame and the same connection keeps working (a
ping still gets its pong); policy breaches close with their documented code. HTTP: every
failure is ``{"error": {"code", "message", "fields"?}}`` with the fitting status.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets
from pydantic import BaseModel, Field

from tests.support.server import RunningHub, User, new_user, run_hub
from tests.support.tabs import (
    Frame,
    Tab,
    answer,
    close_code,
    connect_raw,
    wait_pending,
    wait_status,
)
from tether import Context, Hub
from tether.config import Settings

hub_def = Hub()


class Pick(BaseModel):
    n: int = Field(ge=1, le=10, description="A number from 1 to 10")


class Knobs(BaseModel):
    rounds: int = Field(1, ge=1, le=5)


@hub_def.task()
async def pick_and_confirm(ctx: Context, inputs: Knobs) -> dict[str, Any]:
    """Asks for a number, then a confirmation: room for every kind of bad answer."""
    picked = await ctx.ask(Pick, prompt="Pick a number")
    ok = await ctx.confirm("Sure?")
    return {"n": picked.n, "ok": ok, "rounds": inputs.rounds}


@pytest.fixture
async def hub(redis_url: str) -> AsyncIterator[RunningHub]:
    async with run_hub(Settings(redis_url=redis_url, static_dir=None), hub_def) as running:
        yield running


async def expect_error(tab: Tab, raw: str | Frame, code: str, ref: str | None = None) -> Frame:
    """Send ``raw``; expect the ``error`` frame ``code``; then prove the socket still works."""
    await tab.ws.send(raw if isinstance(raw, str) else json.dumps(raw))
    frame = await tab.until("error")
    assert frame["code"] == code, frame
    assert isinstance(frame["message"], str) and frame["message"]
    if ref is not None:
        assert frame["ref"] == ref
    await tab.ping_pong()
    return frame


# --- WebSocket: error frames, same connection keeps working ------------------------


async def test_every_bad_frame_gets_its_error_and_the_socket_survives(user: User) -> None:
    """invalid_json, unknown_type, invalid_message, unknown_request, invalid_value,
    already_answered and session_finished, all on one connection that keeps working."""
    session = await user.start("pick_and_confirm")
    tab = await Tab.open(user, session["id"])
    ask = await tab.until("request_user_input")
    rid = ask["request_id"]

    await expect_error(tab, "{not json", "invalid_json")
    await expect_error(tab, "", "invalid_json")
    await expect_error(tab, "[" * 30_000, "invalid_json")  # too deep to decode
    await expect_error(tab, {"type": "launch_rockets", "ref": "a"}, "unknown_type", "a")
    await expect_error(tab, {"ref": "b"}, "unknown_type", "b")
    await expect_error(tab, "[1, 2]", "invalid_message")
    await expect_error(tab, '"ping"', "invalid_message")
    await expect_error(tab, "null", "invalid_message")
    wrong = await expect_error(
        tab, {"type": "confirm", "request_id": rid, "value": "yes", "ref": "c"},
        "invalid_message", "c",
    )
    assert "value" in wrong["fields"]
    await expect_error(tab, {"type": "ping", "extra": 1}, "invalid_message")
    await expect_error(tab, {"type": "user_input", "request_id": rid, "values": [1]},
                       "invalid_message")
    await expect_error(tab, {"type": "cancel", "ref": 7}, "invalid_message")
    await expect_error(tab, {"type": "user_input", "request_id": 5, "values": {}},
                       "invalid_message")
    # A confirm aimed at an input request is the wrong kind of answer.
    await expect_error(tab, {"type": "confirm", "request_id": rid, "value": True},
                       "invalid_message")
    await expect_error(tab, {"type": "confirm", "request_id": "nope", "value": True, "ref": "d"},
                       "unknown_request", "d")
    await expect_error(tab, {"type": "retry", "value": True}, "unknown_request")  # none open
    bad = await expect_error(
        tab, {"type": "user_input", "request_id": rid, "values": {"n": 99}, "ref": "e"},
        "invalid_value", "e",
    )
    assert set(bad["fields"]) == {"n"}
    missing = await expect_error(
        tab, {"type": "user_input", "request_id": rid, "values": {}}, "invalid_value"
    )
    assert set(missing["fields"]) == {"n"}
    # Still open after all of that: a valid answer is taken (ack) and recorded.
    await tab.send(type="user_input", request_id=rid, values={"n": 3}, ref="ok")
    ack = await tab.until("ack")
    assert ack["ref"] == "ok"
    answered = await tab.seen_or_until("request_answered", request_id=rid)
    assert answered["value"] == {"n": 3}
    await expect_error(tab, {"type": "user_input", "request_id": rid, "values": {"n": 4}},
                       "already_answered")

    confirm = await tab.seen_or_until("request_confirmation")
    await tab.send(type="confirm", request_id=confirm["request_id"], value=True)
    done = await tab.until("task_completed")
    assert done["result"] == {"n": 3, "ok": True, "rounds": 1}
    await tab.until("status", status="completed")
    await expect_error(tab, {"type": "confirm", "request_id": confirm["request_id"],
                             "value": False}, "session_finished")
    await expect_error(tab, {"type": "cancel", "ref": "late"}, "session_finished", "late")
    # Exactly one answer of each request was recorded.
    assert len(tab.of_type("request_answered")) == 2


async def test_binary_frame_closes_1003(user: User) -> None:
    """A binary frame closes the connection with 1003."""
    session = await user.start("pick_and_confirm")
    tab = await Tab.open(user, session["id"])
    await tab.until("replay_complete")
    await tab.ws.send(b'{"type":"ping"}')
    assert await tab.closed_with() == 1003


async def test_unauthenticated_socket_closes_4401(hub: RunningHub, user: User) -> None:
    """A WebSocket without the identity cookie (or with a forged one) is closed 4401."""
    session = await user.start("pick_and_confirm")
    url = f"{hub.ws_url}/ws/sessions/{session['id']}"
    async with websockets.connect(url) as anonymous:
        assert await close_code(anonymous) == 4401
    forged = {"Cookie": "tether_user=u_1234.deadbeefdeadbeefdeadbeefdeadbeef"}
    async with websockets.connect(url, additional_headers=forged) as ws:
        assert await close_code(ws) == 4401


async def test_unknown_session_closes_4404(user: User) -> None:
    """A session id that does not exist closes with 4404."""
    ws = await user.connect("0" * 28)
    assert await close_code(ws) == 4404


@pytest.mark.parametrize(
    "query", ["?after=-1", "?after=abc", "?after=1.5", "?after=", "?after=" + "9" * 5000]
)
async def test_bad_after_closes_1008(user: User, query: str) -> None:
    """`after` that is not a non-negative integer closes with 1008."""
    session = await user.start("pick_and_confirm")
    ws = await connect_raw(user, session["id"], query)
    assert await close_code(ws) == 1008


async def test_foreign_origin_closes_1008(hub: RunningHub, user: User) -> None:
    """A browser page from another origin may not open the socket: 1008."""
    session = await user.start("pick_and_confirm")
    ws = await connect_raw(user, session["id"], "", origin="http://evil.example")
    assert await close_code(ws) == 1008
    same = await connect_raw(user, session["id"], "", origin=hub.base_url)
    tab = Tab(same, 0)
    await tab.until("replay_complete")


# --- WebSocket: limits ---------------------------------------------------------------


@pytest.fixture
async def strict_hub() -> AsyncIterator[RunningHub]:
    """A hub with tiny limits: 1 KiB frames, bursts of 5 messages, 1 a second after."""
    settings = Settings(
        static_dir=None, max_frame_bytes=1024, rate_per_second=1.0, rate_burst=5
    )
    async with run_hub(settings, hub_def) as running:
        yield running


async def test_frame_over_the_size_limit_closes_1009(strict_hub: RunningHub) -> None:
    """A frame of exactly max_frame_bytes is served; one byte more closes with 1009."""
    limit = strict_hub.settings.max_frame_bytes
    async with new_user(strict_hub) as user:
        session = await user.start("pick_and_confirm")
        tab = await Tab.open(user, session["id"])
        await tab.until("replay_complete")
        await tab.ws.send(ping_of_size(limit))
        await tab.until("pong")
        await tab.ws.send(ping_of_size(limit + 1))
        assert await tab.closed_with() == 1009


def ping_of_size(size: int) -> str:
    """A ping frame of exactly ``size`` bytes, padded with JSON whitespace (a ``ref`` is
    limited to 128 characters)."""
    bare = json.dumps({"type": "ping"})
    frame = bare[:-1] + " " * (size - len(bare)) + "}"
    assert len(frame.encode()) == size
    return frame


async def test_flooding_messages_closes_1008(strict_hub: RunningHub) -> None:
    """Past the burst allowance, a client that keeps sending is closed with 1008."""
    async with new_user(strict_hub) as user:
        session = await user.start("pick_and_confirm")
        tab = await Tab.open(user, session["id"])
        await tab.until("replay_complete")
        for _ in range(5):  # the burst allowance is served
            await tab.ping_pong()
        for _ in range(20):
            await tab.send(type="ping")
        assert await tab.closed_with() == 1008


# --- HTTP ------------------------------------------------------------------------------


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The protocol's error shape: {"error": {"code", "message", "fields"?}} only."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert set(error) <= {"code", "message", "fields"}
    if "fields" in error:
        assert isinstance(error["fields"], dict) and error["fields"]
    return error


async def test_bad_start_requests(user: User) -> None:
    """Malformed JSON 400, wrong types 422, unknown task 404, invalid inputs 422 with
    fields, oversized body 413."""
    http = user.http
    headers = {"content-type": "application/json"}
    assert_error(await http.post("/api/sessions", content=b"{oops", headers=headers),
                 400, "invalid_json")
    assert_error(await http.post("/api/sessions", content=b"", headers=headers),
                 400, "invalid_json")
    assert_error(await http.post("/api/sessions", content=b"[" * 100_000, headers=headers),
                 400, "invalid_json")  # nesting too deep to decode is bad JSON, not a 500
    wrong = assert_error(await http.post("/api/sessions", json={"task": 5}), 422,
                         "invalid_message")
    assert "task" in wrong["fields"]
    assert_error(await http.post("/api/sessions", json=["pick_and_confirm"]), 422,
                 "invalid_message")
    assert_error(await http.post("/api/sessions", json={"task": "pick_and_confirm",
                                                        "inputs": [1]}), 422, "invalid_message")
    assert_error(await http.post("/api/sessions", json={"task": "pick_and_confirm",
                                                        "extra": 1}), 422, "invalid_message")
    assert_error(await http.post("/api/sessions", json={"task": "no_such_task"}), 404,
                 "unknown_task")
    invalid = assert_error(
        await http.post("/api/sessions", json={"task": "pick_and_confirm",
                                               "inputs": {"rounds": 99}}),
        422, "invalid_inputs",
    )
    assert set(invalid["fields"]) == {"rounds"}
    big = {"task": "pick_and_confirm", "inputs": {"x": "y" * (2 * 1024 * 1024)}}
    assert_error(await http.post("/api/sessions", json=big), 413, "payload_too_large")
    # Nothing of that started a session.
    assert (await http.get("/api/sessions")).json()["sessions"] == []


async def test_idempotency_key(user: User) -> None:
    """Repeating a start with the same Idempotency-Key returns the same session (200);
    the same key with another body is 422."""
    body = {"task": "pick_and_confirm", "inputs": {"rounds": 2}}
    key = {"Idempotency-Key": "start-1"}
    first = await user.http.post("/api/sessions", json=body, headers=key)
    assert first.status_code == 201
    again = await user.http.post("/api/sessions", json=body, headers=key)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    other = {"task": "pick_and_confirm", "inputs": {"rounds": 3}}
    assert_error(await user.http.post("/api/sessions", json=other, headers=key), 422,
                 "idempotency_key_reused")
    assert_error(await user.http.post("/api/sessions", json=body,
                                      headers={"Idempotency-Key": "k" * 201}),
                 422, "invalid_query")
    listed = (await user.http.get("/api/sessions")).json()["sessions"]
    assert [s["id"] for s in listed] == [first.json()["id"]]


async def test_bad_session_requests(user: User) -> None:
    """Unknown session 404, unknown request 404, bad answers 422, a second answer 409,
    cancelling a finished session 409, bad query parameters 422."""
    http = user.http
    ghost = "0" * 28
    for response in (
        await http.get(f"/api/sessions/{ghost}"),
        await http.get(f"/api/sessions/{ghost}/events"),
        await http.post(f"/api/sessions/{ghost}/cancel"),
        await answer(user, ghost, "r1", True),
    ):
        assert_error(response, 404, "unknown_session")

    sid = (await user.start("pick_and_confirm"))["id"]
    (ask,) = await wait_pending(user, sid, "input")
    rid = ask["request_id"]
    assert_error(await answer(user, sid, "nope", {"n": 1}), 404, "unknown_request")
    bad = assert_error(await answer(user, sid, rid, {"n": "many"}), 422, "invalid_value")
    assert set(bad["fields"]) == {"n"}
    assert_error(await answer(user, sid, rid, [1]), 422, "invalid_value")
    assert_error(await http.post(f"/api/sessions/{sid}/requests/{rid}", json={"v": 1}), 422,
                 "invalid_message")
    assert_error(await http.post(f"/api/sessions/{sid}/requests/{rid}", content=b"{",
                                 headers={"content-type": "application/json"}),
                 400, "invalid_json")
    assert (await answer(user, sid, rid, {"n": 2})).status_code == 200
    assert_error(await answer(user, sid, rid, {"n": 2}), 409, "already_answered")
    (confirm,) = await wait_pending(user, sid, "confirm")
    assert_error(await answer(user, sid, confirm["request_id"], "yes"), 422, "invalid_value")

    for path, params in (
        (f"/api/sessions/{sid}/events", {"after": "-1"}),
        (f"/api/sessions/{sid}/events", {"after": "abc"}),
        (f"/api/sessions/{sid}/events", {"limit": "0"}),
        (f"/api/sessions/{sid}/events", {"limit": "1000000"}),
        ("/api/sessions", {"status": "sleeping"}),
        ("/api/sessions", {"limit": "many"}),
        ("/api/sessions", {"limit": "101"}),
    ):
        error = assert_error(await http.get(path, params=params), 422, "invalid_query")
        assert set(error["fields"]) <= set(params)

    assert (await answer(user, sid, confirm["request_id"], False)).status_code == 200
    assert (await wait_status(user, sid))["status"] == "completed"
    assert_error(await http.post(f"/api/sessions/{sid}/cancel"), 409, "already_finished")
    assert_error(await answer(user, sid, confirm["request_id"], True), 409, "session_finished")


async def test_unknown_routes_answer_in_the_error_shape(user: User) -> None:
    """Unknown /api routes are 404 and a wrong method 405, both in the error shape."""
    assert_error(await user.http.get("/api/nothing/here"), 404, "not_found")
    assert_error(await user.http.post("/api/sessions/x/y/z", json={}), 404, "not_found")
    assert_error(await user.http.patch("/api/tasks"), 405, "method_not_allowed")


async def test_hub_still_serves_after_bad_input_and_describes_itself(
    hub: RunningHub, user: User
) -> None:
    """After a barrage of bad requests: /healthz, /readyz (Redis up) and a new session
    work, and /openapi.json describes every HTTP path."""
    for _ in range(3):
        garbage = await user.http.post("/api/sessions", content=b"\xff\xfe\x00", headers={
            "content-type": "application/json"})
        assert_error(garbage, 400, "invalid_json")
        odd = await user.http.get("/api/sessions/%00/events?after=%ff")
        assert 400 <= odd.status_code < 500 and "error" in odd.json()
    assert (await user.http.get("/healthz")).json() == {"status": "ok"}
    ready = await user.http.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}
    session = await user.start("pick_and_confirm")
    assert session["status"] in ("pending", "running", "waiting")

    spec = (await user.http.get("/openapi.json")).json()
    assert spec["openapi"].startswith("3.")
    expected = {
        "/api/tasks": {"get"},
        "/api/sessions": {"get", "post"},
        "/api/sessions/{session_id}": {"get"},
        "/api/sessions/{session_id}/events": {"get"},
        "/api/sessions/{session_id}/cancel": {"post"},
        "/api/sessions/{session_id}/requests/{request_id}": {"post"},
        "/healthz": {"get"},
        "/metrics": {"get"},
        "/readyz": {"get"},
    }
    for path, methods in expected.items():
        assert path in spec["paths"], path
        assert methods <= set(spec["paths"][path]), path
