"""Reconnecting with ``after=``: no gap, no duplicate, replay framed, snapshots when trimmed."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import BaseModel

from tests.support.server import RunningHub, User, new_user, run_hub
from tests.support.tabs import Tab, all_events, answer, get_session, wait_pending, wait_status
from tests.support.timing import MS
from tether import Context, Hub
from tether.config import Settings

hub_def = Hub()


class Lines(BaseModel):
    count: int = 50  # at least this many lines; more until someone says stop
    burst: int = 5  # lines between two short sleeps


@hub_def.task()
async def stream_until_stopped(ctx: Context, inputs: Lines) -> dict[str, int]:
    """Streams numbered lines with tiny pauses until its "Stop?" confirmation is answered."""
    stop = asyncio.Event()
    emitted = 0

    async def emit() -> None:
        nonlocal emitted
        while emitted < inputs.count or not stop.is_set():
            await ctx.stream(f"line {emitted}")
            emitted += 1
            if emitted % inputs.burst == 0:
                await asyncio.sleep(MS)  # the task's own pace: bursts, then a breath

    emitter = asyncio.create_task(emit())
    try:
        await ctx.confirm("Stop?")
        stop.set()
        await emitter
    finally:
        emitter.cancel()
    return {"lines": emitted}


@hub_def.task()
async def lines_then_confirm(ctx: Context, inputs: Lines) -> str:
    """Streams ``count`` lines at once, sets some state, then waits for a confirmation."""
    for i in range(inputs.count):
        await ctx.stream(f"line {i}")
    await ctx.set_state(streamed=inputs.count)
    await ctx.confirm("Go on?")
    await ctx.stream("after the confirmation")
    return "done"


def store_settings(request: pytest.FixtureRequest, **changes: Any) -> Settings:
    url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    return Settings(redis_url=url, static_dir=None, **changes)


@pytest.fixture(params=["memory", "redis"])
async def hub(request: pytest.FixtureRequest) -> AsyncIterator[RunningHub]:
    settings = store_settings(request, history_cap=1_000_000)
    async with run_hub(settings, hub_def) as running:
        yield running


@pytest.fixture(params=["memory", "redis"])
async def small_history_hub(request: pytest.FixtureRequest) -> AsyncIterator[RunningHub]:
    async with run_hub(store_settings(request, history_cap=20), hub_def) as running:
        yield running


class Reconnecter:
    """A client that keeps dropping its connection and coming back with ``after=``."""

    def __init__(self, user: User, session_id: str, rng: random.Random) -> None:
        self.user = user
        self.session_id = session_id
        self.rng = rng
        self.events: list[dict[str, Any]] = []
        self.connections = 0

    @property
    def last_seq(self) -> int:
        return self.events[-1]["seq"] if self.events else 0

    async def one_connection(self, *, to_the_end: bool = False) -> None:
        """Connect after our last seq, read a random number of frames, drop the link.

        ``to_the_end``: the session has finished; read its whole replay.
        """
        tab = await Tab.open(self.user, self.session_id, after=self.last_seq)
        self.connections += 1
        if to_the_end:
            await tab.until("replay_complete", timeout=10)
        else:
            for _ in range(self.rng.randrange(0, 40)):
                await tab.read()
        if self.rng.random() < 0.5:
            await tab.ws.close()
        else:  # a dropped network link: no closing handshake at all
            tab.ws.transport.abort()
            await tab.ws.wait_closed()
        # Tab checked replay_start{after,last_seq}, replay_complete before live, and
        # consecutive seqs inside this connection; across connections they must join.
        if tab.events:
            assert tab.events[0]["seq"] == self.last_seq + 1, "gap or dup across reconnects"
        self.events.extend(tab.events)


async def test_hundred_random_reconnects_lose_and_repeat_nothing(user: User) -> None:
    """4 clients reconnect 25 times each at random points while a task keeps streaming;
    each ends with exactly seq 1..L in order, identical to the log."""
    session = await user.start("stream_until_stopped", {"count": 200})
    sid = session["id"]
    clients = [Reconnecter(user, sid, random.Random(seed)) for seed in range(4)]

    async def churn(client: Reconnecter) -> None:
        for _ in range(25):
            await client.one_connection()

    await asyncio.gather(*(churn(c) for c in clients))
    live_during_churn = (await get_session(user, sid))["status"]
    assert live_during_churn == "waiting"  # the task was still streaming throughout
    (stop,) = await wait_pending(user, sid, "confirm")
    assert (await answer(user, sid, stop["request_id"], True)).status_code == 200
    await wait_status(user, sid)
    final = await get_session(user, sid)
    assert final["status"] == "completed"
    for client in clients:
        await client.one_connection(to_the_end=True)

    log = await all_events(user, sid)
    total = final["last_seq"]
    assert [e["seq"] for e in log] == list(range(1, total + 1))
    for client in clients:
        assert [e["seq"] for e in client.events] == list(range(1, total + 1))
        assert client.events == log
        assert client.connections == 26
    lines = [e["content"] for e in log if e["type"] == "stream"]
    assert lines == [f"line {i}" for i in range(final["result"]["lines"])]
    assert len(lines) >= 200


async def test_every_connection_frames_its_replay(user: User) -> None:
    """replay_start carries the asked-for `after` and the log's last seq; the replayed
    events are exactly (after, last_seq]; replay_complete comes before live events."""
    session = await user.start("stream_until_stopped", {"count": 100})
    sid = session["id"]
    first = await Tab.open(user, sid)
    await first.until("stream", content="line 60")
    rng = random.Random(7)
    for _ in range(5):
        after = rng.randrange(0, first.last_seq)
        tab = await Tab.open(user, sid, after=after)
        start = await tab.read()
        assert start["type"] == "replay_start" and start["after"] == after
        target = start["last_seq"]
        assert target >= first.last_seq  # the log holds at least what we saw
        complete = await tab.until("replay_complete")
        assert complete["last_seq"] == target
        assert [e["seq"] for e in tab.events] == list(range(after + 1, target + 1))
        live = await tab.read()  # the task is still streaming: live frames follow
        assert live["seq"] == target + 1
        await tab.ws.close()
    (stop,) = await wait_pending(user, sid, "confirm")
    await answer(user, sid, stop["request_id"], True)
    await wait_status(user, sid)


async def test_trimmed_history_replays_as_snapshot(small_history_hub: RunningHub) -> None:
    """With history_cap=20, after=0 starts with a snapshot whose seq is the last seq it
    covers (the whole session in it), then consecutive seqs, then live events."""
    async with new_user(small_history_hub) as user:
        # Redis trims its stream approximately (whole 100-entry nodes): log well past that.
        session = await user.start("lines_then_confirm", {"count": 300})
        sid = session["id"]
        (ask,) = await wait_pending(user, sid, "confirm")
        covered = (await get_session(user, sid))["last_seq"]
        assert covered > 300

        tab = await Tab.open(user, sid, after=0)
        await tab.until("replay_complete")
        snapshot = tab.events[0]
        assert snapshot["type"] == "snapshot"
        assert snapshot["seq"] == snapshot["session"]["last_seq"] >= covered
        assert snapshot["session"]["state"] == {"streamed": 300}
        assert [r["request_id"] for r in snapshot["session"]["pending"]] == [ask["request_id"]]
        assert [e["seq"] for e in tab.events[1:]] == list(
            range(snapshot["seq"] + 1, snapshot["seq"] + len(tab.events))
        )

        await tab.send(type="confirm", request_id=ask["request_id"], value=True)
        done = await tab.until("task_completed")
        assert done["result"] == "done"
        seqs = [e["seq"] for e in tab.events[1:]]
        assert seqs == list(range(snapshot["seq"] + 1, snapshot["seq"] + 1 + len(seqs)))

        # HTTP gives the same answer: a snapshot first, then consecutive seqs.
        response = await user.http.get(f"/api/sessions/{sid}/events", params={"after": 0})
        page = response.json()
        assert page["events"][0]["type"] == "snapshot"
        rest = [e["seq"] for e in page["events"][1:]]
        assert rest == list(range(page["events"][0]["seq"] + 1, page["last_seq"] + 1))


async def test_reconnect_after_the_end_gets_only_the_tail(user: User) -> None:
    """A finished session replays from `after` exactly, and a caught-up client gets none."""
    session = await user.start("lines_then_confirm", {"count": 5})
    sid = session["id"]
    (ask,) = await wait_pending(user, sid, "confirm")
    await answer(user, sid, ask["request_id"], True)
    final = await wait_status(user, sid)
    last = final["last_seq"]
    tab = await Tab.open(user, sid, after=last - 3)
    await tab.until("replay_complete")
    assert [e["seq"] for e in tab.events] == [last - 2, last - 1, last]
    caught_up = await Tab.open(user, sid, after=last)
    await caught_up.until("replay_complete")
    assert caught_up.events == [] and caught_up.replay_last == last
    await caught_up.ping_pong()
    assert caught_up.events == []  # nothing came before the pong either
