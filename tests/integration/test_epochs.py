"""Log epochs on a real Redis: when the store loses events a client was shown (here: a
session's keys restored from an older copy, as a restore from backup or a failover that
lost the log's tail leaves them), no client is shown a reused seq as if it were the old
one. The hub renews the epoch and resets the client, whether the loss is found by the
client's cursor or by the session's writer, whose next append starts below what it saw."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from pydantic import BaseModel

from tests.support.server import RunningHub, User, new_user, run_hub
from tests.support.tabs import (
    Tab,
    all_events,
    answer,
    close_code,
    connect_raw,
    wait_pending,
    wait_status,
)
from tests.support.timing import eventually
from tether import Context, Hub
from tether.config import Settings

hub_def = Hub()


class Pace(BaseModel):
    pause: float = 0.005  # seconds between lines


@hub_def.task()
async def stream_until_stopped(ctx: Context, inputs: Pace) -> int:
    """Streams numbered lines until its "Stop?" confirmation is answered."""
    stop = asyncio.Event()
    emitted = 0

    async def emit() -> None:
        nonlocal emitted
        while not stop.is_set():
            await ctx.stream(f"line {emitted}")
            emitted += 1
            await asyncio.sleep(inputs.pause)

    emitter = asyncio.create_task(emit())
    try:
        await ctx.confirm("Stop?")
        stop.set()
        await emitter
    finally:
        emitter.cancel()
    return emitted


@hub_def.task()
async def two_questions(ctx: Context) -> str:
    for i in range(5):
        await ctx.stream(f"first {i}")
    await ctx.confirm("First?")
    for i in range(5):
        await ctx.stream(f"second {i}")
    await ctx.confirm("Second?")
    return "done"


@pytest.fixture
async def hub(redis_url: str) -> AsyncIterator[RunningHub]:
    async with run_hub(Settings(redis_url=redis_url, static_dir=None), hub_def) as running:
        yield running


@pytest.fixture
async def user(hub: RunningHub) -> AsyncIterator[User]:
    async with new_user(hub) as u:
        yield u


class Backup:
    """A copy of one session's keys (DUMP), put back later in one MULTI (RESTORE
    REPLACE): the session as an older backup of Redis had it."""

    def __init__(self, redis_url: str, session_id: str) -> None:
        self.redis = aioredis.Redis.from_url(redis_url)
        self.pattern = f"tether:{{{session_id}}}:*"
        self.dumps: dict[bytes, bytes] = {}

    async def take(self) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            keys = [k async for k in self.redis.scan_iter(match=self.pattern)]
            for key in keys:
                pipe.dump(key)
            self.dumps = dict(zip(keys, await pipe.execute(), strict=True))

    async def restore(self) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in [k async for k in self.redis.scan_iter(match=self.pattern)]:
                pipe.delete(key)
            for key, dumped in self.dumps.items():
                pipe.restore(key, 0, dumped, replace=True)
            await pipe.execute()

    async def close(self) -> None:
        await self.redis.aclose()


async def page(user: User, session_id: str) -> dict[str, Any]:
    response = await user.http.get(f"/api/sessions/{session_id}/events", params={"limit": 1})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def read_until(tab: Tab, seq: int) -> None:
    while tab.last_seq < seq:
        await tab.read(timeout=10)


async def test_a_writer_that_finds_the_tail_gone_renews_the_epoch_before_reusing_seqs(
    user: User, redis_url: str
) -> None:
    """The store goes back to an older copy while the task streams; the runner's next
    append starts below the seq it had reached, so the same step renews the epoch. A
    client that saw the lost events comes back once the log has grown past its cursor
    again: it is reset (not fed the new events as if they followed the old ones) and
    then shows exactly the stored log."""
    session_id = (await user.start("stream_until_stopped"))["id"]
    backup = Backup(redis_url, session_id)
    try:
        await eventually(lambda: _last_at_least(user, session_id, 10), timeout_ms=10_000)
        await backup.take()
        tab = await Tab.open(user, session_id)
        await read_until(tab, 60)
        seen, epoch = tab.last_seq, tab.epoch
        assert epoch is not None
        await tab.ws.close()

        await backup.restore()
        restored_last = (await page(user, session_id))["last_seq"]
        assert restored_last < seen  # unless the copy is older, this test proves nothing
        await eventually(lambda: _last_at_least(user, session_id, seen + 20), timeout_ms=10_000)
        renewed = (await page(user, session_id))["epoch"]
        assert renewed != epoch, "the append that reused seqs kept the old epoch"

        again = Tab(await connect_raw(user, session_id, f"?after={seen}&epoch={epoch}"), seen)
        start = await again.read()
        assert start["type"] == "replay_start" and start["reset"] is True, start
        assert start["after"] == 0 and start["epoch"] == renewed
        await read_until(again, seen + 20)
        (request,) = await wait_pending(user, session_id, "confirm")
        assert (await answer(user, session_id, request["request_id"], True)).status_code == 200
        await wait_status(user, session_id, ("completed",), timeout_ms=10_000)
        await again.seen_or_until("status", status="completed", timeout=10)
        stored = await all_events(user, session_id)
        assert again.events == stored[: len(again.events)] and again.events[-1] == stored[-1]
    finally:
        await backup.close()


async def _last_at_least(user: User, session_id: str, seq: int) -> bool:
    return int((await page(user, session_id))["last_seq"]) >= seq


async def test_a_client_past_the_end_of_the_log_is_reset_and_others_follow(
    user: User, redis_url: str
) -> None:
    """The store went back to before the first answer; nothing has been written since.
    A client that saw up to the second question comes back: its cursor is past the log's
    end, so the hub renews the epoch and resets it to the log as it is. A second client
    in the old epoch is reset without a second renewal; one that sends no epoch (an older
    client) is reset by its cursor alone."""
    session_id = (await user.start("two_questions"))["id"]
    backup = Backup(redis_url, session_id)
    try:
        (first,) = await wait_pending(user, session_id, "confirm")
        await backup.take()
        assert (await answer(user, session_id, first["request_id"], True)).status_code == 200
        await eventually(lambda: _asks(user, session_id, "Second?"), timeout_ms=5000)
        tab = await Tab.open(user, session_id)
        await tab.until("replay_complete")
        seen, epoch = tab.last_seq, tab.epoch
        await tab.ws.close()

        await backup.restore()
        stored = await all_events(user, session_id)
        assert stored[-1]["seq"] < seen and not any(
            e["type"] == "request_answered" for e in stored
        )
        first_back = Tab(await connect_raw(user, session_id, f"?after={seen}&epoch={epoch}"), seen)
        start = await first_back.read()
        assert start["reset"] is True and start["after"] == 0
        renewed = start["epoch"]
        assert renewed not in (None, epoch)
        await first_back.until("replay_complete")
        assert first_back.events == stored

        other = Tab(await connect_raw(user, session_id, f"?after={seen}&epoch={epoch}"), seen)
        other_start = await other.read()
        assert other_start["reset"] is True and other_start["epoch"] == renewed
        await other.until("replay_complete")
        assert other.events == stored
        # An older client cannot say which epoch it saw its events in: its cursor past the
        # end renews the epoch again, to be safe (new clients then reset once more).
        older = Tab(await connect_raw(user, session_id, f"?after={seen}"), seen)
        older_start = await older.read()
        assert older_start["reset"] is True and older_start["epoch"] not in (epoch, renewed)
        await older.until("replay_complete")
        assert older.events == stored
        renewed = older_start["epoch"]
        current = Tab(await connect_raw(user, session_id, f"?after=2&epoch={renewed}"), 2)
        assert (await current.read())["reset"] is False  # the new epoch resumes as usual
        await current.until("replay_complete")
        assert current.events == stored[2:]
    finally:
        await backup.close()


async def _asks(user: User, session_id: str, prompt: str) -> bool:
    response = await user.http.get(f"/api/sessions/{session_id}")
    return any(r["prompt"] == prompt for r in response.json()["pending"])


async def test_replay_start_names_the_epoch_and_a_bad_epoch_is_refused(user: User) -> None:
    """Every replay_start names the log's epoch (the same on every connection, not a
    reset); an epoch that cannot be one is refused with 1008, like a bad after."""
    session_id = (await user.start("two_questions"))["id"]
    await wait_pending(user, session_id, "confirm")
    one = await Tab.open(user, session_id)
    two = await Tab.open(user, session_id, after=1)
    starts = [await one.read(), await two.read()]
    assert [s["reset"] for s in starts] == [False, False]
    assert starts[0]["epoch"] == starts[1]["epoch"] == (await page(user, session_id))["epoch"]
    bad = await connect_raw(user, session_id, "?after=0&epoch=not%20an%20epoch")
    assert await close_code(bad) == 1008
