"""A tab that stops reading is closed with 4008; nobody else waits for it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import websockets
from pydantic import BaseModel

from tests.support.server import RunningHub, new_user, run_hub
from tests.support.tabs import (
    Tab,
    all_events,
    answer,
    slow_tab_closed_4008,
    small_buffer_socket,
    wait_status,
)
from tether import Context, Hub
from tether.config import Settings

SEND_QUEUE = 256
SMALL_CAP = 300  # far fewer events than a flood writes
hub_def = Hub()


class Flood(BaseModel):
    count: int
    size: int
    group: int = 8


@hub_def.task()
async def flood(ctx: Context, inputs: Flood) -> int:
    """Streams ``count`` lines of ``size`` bytes. Every ``group`` lines it waits until they
    are stored (a recorded step), so no single batch from the feed is anywhere near the
    send queue: only a client that stops reading can overflow its queue. It starts
    once "Go?" is confirmed, so every tab is live by then."""
    await ctx.confirm("Go?")
    padding = "x" * (inputs.size - 8)
    for i in range(inputs.count):
        await ctx.stream(f"{i:08d}{padding}")
        if i % inputs.group == inputs.group - 1:
            await ctx.step("stored", lambda: None)
    return inputs.count


@pytest.fixture(params=["memory", "redis"])
async def hub(request: pytest.FixtureRequest) -> AsyncIterator[RunningHub]:
    url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    settings = Settings(redis_url=url, static_dir=None, send_queue=SEND_QUEUE)
    async with run_hub(settings, hub_def) as running:
        yield running


@pytest.fixture(params=["memory", "redis"])
async def small_history_hub(request: pytest.FixtureRequest) -> AsyncIterator[RunningHub]:
    url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    settings = Settings(
        redis_url=url, static_dir=None, send_queue=SEND_QUEUE, history_cap=SMALL_CAP
    )
    async with run_hub(settings, hub_def) as running:
        yield running


async def test_a_tab_closed_4008_past_the_cap_comes_back_to_the_kept_tail(
    small_history_hub: RunningHub,
) -> None:
    """A slow tab closed with 4008 that comes back after the hub trimmed past its cursor
    gets a snapshot (seq just before the oldest kept event), then every kept event to the
    end: no gap after the snapshot, and the end of the session."""
    count, size = 1500, 16 * 1024
    async with new_user(small_history_hub) as user:
        session = await user.start("flood", {"count": count, "size": size})
        sid = session["id"]
        slow = await slow_tab_closed_4008(user, sid)
        final = await wait_status(user, sid, timeout_ms=60_000)
        assert await slow.closed_with(timeout=30) == 4008
        assert slow.last_seq < final["last_seq"] - 2 * SMALL_CAP  # its cursor is trimmed

        again = await Tab.open(user, sid, after=slow.last_seq, max_size=None)
        await again.until("replay_complete", timeout=30)
        snapshot, *tail = again.events
        assert snapshot["type"] == "snapshot" and snapshot["seq"] > slow.last_seq
        assert tail == await all_events(user, sid, after=snapshot["seq"])
        assert len(tail) >= SMALL_CAP and again.last_seq == final["last_seq"]
        assert [e["content"][:8] for e in tail if e["type"] == "stream"][-1] == f"{count - 1:08d}"
        assert snapshot["session"]["status"] == "completed"


async def test_slow_tab_is_closed_4008_and_others_get_everything(hub: RunningHub) -> None:
    """With a small send queue, a tab that reads nothing is closed with 4008 while two
    other tabs receive every event; the slow tab reconnects with after= and gets the
    rest exactly."""
    # 1500 x 16 KiB = 24 MiB: more than the kernel buffers (a few MiB) plus the queue.
    count, size = 1500, 16 * 1024
    async with new_user(hub) as user:
        session = await user.start("flood", {"count": count, "size": size})
        sid = session["id"]
        # The slow tab: a tiny TCP receive buffer and a one-message incoming queue, and
        # nobody reads from it until the end.
        slow_ws = await websockets.connect(
            f"{hub.ws_url}/ws/sessions/{sid}?after=0",
            sock=small_buffer_socket(hub.base_url), max_queue=1,
            additional_headers=user.cookie_header, max_size=None,
        )
        user.sockets.append(slow_ws)
        slow = Tab(slow_ws, 0)
        fast = [await Tab.open(user, sid, max_size=None) for _ in range(2)]
        for tab in (slow, *fast):  # all three live: past their replay
            go = await tab.seen_or_until("request_confirmation")
            if not tab.replay_done:
                await tab.until("replay_complete")
        assert (await answer(user, sid, go["request_id"], True)).status_code == 200

        done = await asyncio.gather(*(tab.until("task_completed", timeout=60) for tab in fast))
        assert all(d["result"] == count for d in done)
        final = await wait_status(user, sid)
        total = final["last_seq"]
        for tab in fast:
            if tab.last_seq < total:
                await tab.until("status", status="completed")
            assert [e["seq"] for e in tab.events] == list(range(1, total + 1))
            lines = [e["content"][:8] for e in tab.of_type("stream")]
            assert lines == [f"{i:08d}" for i in range(count)]

        # Now read the slow tab: what it got is a gap-free prefix, then the 4008 close.
        code = await slow.closed_with(timeout=30)
        assert code == 4008
        assert slow.last_seq < total, "the slow tab was not behind at all"
        assert [e["seq"] for e in slow.events] == list(range(1, slow.last_seq + 1))

        # Reconnecting with after= its last seq yields exactly the rest.
        again = await Tab.open(user, sid, after=slow.last_seq, max_size=None)
        await again.until("replay_complete", timeout=30)
        assert [e["seq"] for e in again.events] == list(range(slow.last_seq + 1, total + 1))
        log = await all_events(user, sid)
        assert slow.events + again.events == log
