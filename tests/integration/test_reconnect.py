"""Reconnecting with ``after=``: no gap, no duplicate, replay framed, and past the history
cap a snapshot followed by every event the hub still keeps."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import BaseModel

from tests.support.server import RunningHub, User, new_user, run_hub
from tests.support.tabs import Tab, all_events, answer, get_session, wait_pending, wait_status
from tests.support.timing import MS, eventually
from tests.support.view import fold, of_session
from tether import Context, Hub
from tether.config import Settings

hub_def = Hub()
CAP = 20  # small_history_hub's history_cap


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


class Ticks(BaseModel):
    count: int = 300


@hub_def.task()
async def long_ticker(ctx: Context, inputs: Ticks) -> dict[str, int]:
    """Two progress bars and some state, ``count`` lines, then "Finish?" and one more line."""
    await ctx.progress(1, 4, label="setup")
    await ctx.set_state(phase="ticking")
    for i in range(inputs.count):
        await ctx.stream(f"tick {i}")
    await ctx.progress(inputs.count, inputs.count)
    await ctx.set_state(phase="asking")
    await ctx.confirm("Finish?")
    await ctx.stream("finished")
    return {"ticks": inputs.count}


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
    async with run_hub(store_settings(request, history_cap=CAP), hub_def) as running:
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


async def events_page(user: User, sid: str, after: int, limit: int = 1000) -> dict[str, Any]:
    response = await user.http.get(
        f"/api/sessions/{sid}/events", params={"after": after, "limit": limit}
    )
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def kept_log(user: User, sid: str, snapshot_seq: int) -> list[dict[str, Any]]:
    """The events the hub keeps after ``snapshot_seq``, read from that point (not a
    trimmed one, so no snapshot is involved in reading them)."""
    events = await all_events(user, sid, after=snapshot_seq)
    assert all(e["type"] != "snapshot" for e in events)
    return events


async def long_ticker_waiting(user: User, count: int = 300) -> tuple[str, dict[str, Any]]:
    """A ``long_ticker`` session well past the cap (Redis trims whole 100-entry nodes),
    waiting at "Finish?"; returns its id and the open request."""
    session = await user.start("long_ticker", {"count": count})
    sid = session["id"]
    (ask,) = await wait_pending(user, sid, "confirm")
    assert (await get_session(user, sid))["last_seq"] > count
    return sid, ask


@pytest.mark.parametrize("after", [0, 5])
async def test_a_refresh_past_the_cap_gets_a_snapshot_then_every_kept_event(
    small_history_hub: RunningHub, after: int
) -> None:
    """A tab that comes back from a trimmed point (a refresh: after=0) gets one snapshot
    whose seq is just before the oldest kept event, then every event the hub keeps, in
    order, then live events; its view is the session's."""
    async with new_user(small_history_hub) as user:
        sid, ask = await long_ticker_waiting(user)
        tab = await Tab.open(user, sid, after=after)
        await tab.until("replay_complete")
        snapshot, *tail = tab.events
        assert snapshot["type"] == "snapshot"
        assert after < snapshot["seq"] < tab.replay_last
        assert tail == await kept_log(user, sid, snapshot["seq"])
        assert len(tail) >= CAP
        assert [e["type"] for e in tail[-2:]] == ["request_confirmation", "status"]
        assert [e["content"] for e in tail if e["type"] == "stream"][-1] == "tick 299"
        session = await get_session(user, sid)
        assert snapshot["session"]["pending"] == session["pending"]
        assert fold(tab.events) == of_session(session)

        await tab.send(type="confirm", request_id=ask["request_id"], value=True)
        await tab.until("status", status="completed")
        final = await wait_status(user, sid)
        assert fold(tab.events) == of_session(final)
        assert tab.events[-1] == (await events_page(user, sid, final["last_seq"] - 1))[
            "events"][0]


async def test_progress_survives_a_refresh_past_the_cap(small_history_hub: RunningHub) -> None:
    """Progress reported before the kept tail (the "setup" bar) is in the snapshot, and
    the refreshed tab ends with the same bars as the tab that watched from the start."""
    async with new_user(small_history_hub) as user:
        session = await user.start("long_ticker", {"count": 300})
        sid = session["id"]
        watcher = await Tab.open(user, sid)
        await watcher.until("request_confirmation")
        refreshed = await Tab.open(user, sid)
        await refreshed.until("replay_complete")
        snapshot = refreshed.events[0]
        assert snapshot["type"] == "snapshot"
        assert all(e.get("label") != "setup" for e in refreshed.events[1:])  # trimmed
        bars = {"setup": {"done": 1, "total": 4}, "": {"done": 300, "total": 300}}
        assert snapshot["session"]["progress"] == bars
        assert (await get_session(user, sid))["progress"] == bars
        assert fold(refreshed.events).progress == fold(watcher.events).progress == {
            "setup": (1, 4), "": (300, 300)}


async def test_two_tabs_stopped_at_different_points_end_with_the_same_view(
    small_history_hub: RunningHub,
) -> None:
    """Two tabs leave a streaming session at different lines, the session goes on far
    past the cap and ends; both come back from where they were and end with the same
    view as the session and with its last event."""
    async with new_user(small_history_hub) as user:
        session = await user.start("stream_until_stopped", {"count": 50})
        sid = session["id"]
        early = await Tab.open(user, sid)
        for _ in range(30):
            await early.read()
        await early.ws.close()
        late = await Tab.open(user, sid)
        await late.until("stream", where=lambda e: e["seq"] > early.last_seq + 300)
        await late.ws.close()
        left = [list(early.events), list(late.events)]

        async def moved_on() -> bool:
            return (await get_session(user, sid))["last_seq"] > late.last_seq + 500

        await eventually(moved_on, timeout_ms=20_000, what="the session to stream on")
        (stop,) = await wait_pending(user, sid, "confirm")
        assert (await answer(user, sid, stop["request_id"], True)).status_code == 200
        final = await wait_status(user, sid, timeout_ms=60_000)

        tails = []
        for before, tab in zip(left, (early, late), strict=True):
            back = await Tab.open(user, sid, after=tab.last_seq)
            await back.until("replay_complete", timeout=30)
            snapshot = back.events[0]
            assert snapshot["type"] == "snapshot" and snapshot["seq"] > tab.last_seq
            tails.append(back.events[1:])
            assert back.events[1:] == await kept_log(user, sid, snapshot["seq"])
            assert back.last_seq == final["last_seq"]
            assert fold(before + back.events) == of_session(final)
        assert tails[0] == tails[1]
        assert tails[0][-1]["type"] == "status" and tails[0][-1]["status"] == "completed"


async def test_events_pages_from_a_trimmed_point(small_history_hub: RunningHub) -> None:
    """GET .../events?after= a trimmed point: a snapshot (seq just before the oldest kept
    event) then kept events, at most ``limit`` per page; paging on from the last seq of
    each page reads every kept event once, and ends at the log's last seq."""
    async with new_user(small_history_hub) as user:
        sid, ask = await long_ticker_waiting(user)
        await answer(user, sid, ask["request_id"], True)
        final = await wait_status(user, sid)
        first = await events_page(user, sid, after=3, limit=8)
        snapshot = first["events"][0]
        assert snapshot["type"] == "snapshot" and snapshot["seq"] > 3
        assert len(first["events"]) == 8 and first["last_seq"] == final["last_seq"]
        pages, read = [first], first["events"][1:]
        while read[-1]["seq"] < final["last_seq"]:
            page = await events_page(user, sid, after=read[-1]["seq"], limit=8)
            assert 0 < len(page["events"]) <= 8
            assert page["events"][0]["type"] != "snapshot"
            pages.append(page)
            read.extend(page["events"])
        assert [e["seq"] for e in read] == list(range(snapshot["seq"] + 1, final["last_seq"] + 1))
        assert read == await kept_log(user, sid, snapshot["seq"])
        tab = await Tab.open(user, sid, after=3)
        await tab.until("replay_complete")
        assert tab.events[0]["seq"] == snapshot["seq"] and tab.events[1:] == read
        assert fold([snapshot, *read]) == of_session(final)


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
