"""A hub on the memory store that restarted says so: a session from before the restart
gets 404 ``unknown_session`` / close 4404 with a message that explains where it went."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import httpx
import websockets
from pydantic import BaseModel
from websockets.exceptions import ConnectionClosed

from tests.support.server import RunningHub, new_user, run_hub
from tests.support.timing import MS
from tether import Context, Hub
from tether.config import Settings
from tether.envelope import MAX_CLOSE_REASON_BYTES
from tether.sessions import new_session_id

hub_def = Hub()
SECRET = "memory-restart-test"  # both hubs recognise the same browser


class NoInputs(BaseModel):
    pass


@hub_def.task()
async def waits(ctx: Context, inputs: NoInputs) -> bool:
    return await ctx.confirm("Go?")


async def _http_error(hub: RunningHub, cookie: dict[str, str], session_id: str) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=hub.base_url, headers=cookie, timeout=5) as http:
        response = await http.get(f"/api/sessions/{session_id}")
    assert response.status_code == 404, response.text
    error: dict[str, str] = response.json()["error"]
    return error


async def _close(hub: RunningHub, cookie: dict[str, str], session_id: str) -> tuple[int, str]:
    url = f"{hub.ws_url}/ws/sessions/{session_id}?after=0"
    async with websockets.connect(url, additional_headers=cookie) as ws:
        try:
            await asyncio.wait_for(ws.recv(), 5000 * MS)
        except ConnectionClosed as exc:
            assert exc.rcvd is not None
            return exc.rcvd.code, exc.rcvd.reason
    raise AssertionError("the hub sent a frame instead of closing")


async def test_a_session_from_before_a_memory_hub_restarted_explains_itself() -> None:
    settings = Settings(static_dir=None, secret=SECRET)
    async with run_hub(settings, hub_def) as first, new_user(first) as user:
        old = (await user.start("waits"))["id"]
        cookie = user.cookie_header
    before = time.time()
    async with run_hub(settings, hub_def) as second:
        after = time.time()
        error = await _http_error(second, cookie, old)
        code, reason = await _close(second, cookie, old)
        unknown = await _http_error(second, cookie, new_session_id())
    assert error["code"] == "unknown_session"
    message = error["message"]
    assert message.startswith("The hub keeps sessions in memory and restarted at ")
    assert "TETHER_REDIS_URL" in message
    stamp = message.split("restarted at ", 1)[1].split(";", 1)[0]
    restarted = datetime.fromisoformat(stamp).timestamp()
    assert int(before) <= restarted <= after
    # The socket says the same, whole: the message fits a close frame.
    assert (code, reason) == (4404, message)
    assert len(reason.encode()) <= MAX_CLOSE_REASON_BYTES
    # A session id made after the restart was never there: the plain answer.
    assert unknown["code"] == "unknown_session"
    assert "restarted" not in unknown["message"]


async def test_an_unknown_session_on_redis_is_not_blamed_on_a_restart(redis_url: str) -> None:
    settings = Settings(static_dir=None, secret=SECRET, redis_url=redis_url)
    old = "000000000001" + "0" * 16  # made in 1970, never stored
    async with run_hub(settings, hub_def) as hub, new_user(hub) as user:
        error = await _http_error(hub, user.cookie_header, old)
        code, reason = await _close(hub, user.cookie_header, old)
    assert error["code"] == "unknown_session"
    assert "restarted" not in error["message"]
    assert code == 4404 and "restarted" not in reason
