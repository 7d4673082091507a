"""The session writer (writer.py) on the memory store: order, batches, durability,
and no task of its own."""

from __future__ import annotations

import asyncio

import pytest

from tether.errors import LeaseLost
from tether.messages import StreamEvent, event_body, now_iso, seq_of
from tether.store.base import Entry, NewSession, Store
from tether.store.memory import MemoryStore
from tether.writer import SessionWriter

RUNNER = "hub-a"


class Frames:
    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def on_frames(self, session_id: str, frames: list[str]) -> None:
        self.batches.append(list(frames))

    def on_command(self, session_id: str, command: str) -> None: ...

    def on_resync(self) -> None: ...

    def on_outage(self) -> None: ...


async def session(store: Store) -> str:
    new = NewSession(
        id="s1", task="t", owner="u", created_at=now_iso(), inputs_json="{}", version="1",
        runner=RUNNER, first_event='{"ts":"t","type":"status","status":"pending"}',
    )
    session_id, _, _ = await store.create_session(new)
    return session_id


def line(text: str) -> Entry:
    return Entry(body=event_body(StreamEvent(seq=0, ts=now_iso(), content=text)))


async def test_writes_of_one_turn_go_in_one_batch_in_order() -> None:
    store = MemoryStore()
    sid = await session(store)
    seen = Frames()
    await store.subscribe(sid, seen)
    writer = SessionWriter(store, sid, runner=RUNNER)
    for i in range(5):
        await writer.write(line(str(i)))
    last = await writer.write_durable(line("5"))
    assert [seq_of(f) for f in seen.batches[0]] == [2, 3, 4, 5, 6, 7]
    assert len(seen.batches) == 1 and last == 7


async def test_what_is_written_while_a_batch_is_out_goes_in_the_next() -> None:
    store = MemoryStore()
    sid = await session(store)
    seen = Frames()
    await store.subscribe(sid, seen)
    writer = SessionWriter(store, sid, runner=RUNNER)
    await writer.write(line("a"))
    await asyncio.sleep(0)  # the batch goes out; its answer comes in a later turn
    await writer.write(line("b"))
    await writer.write(line("c"))
    assert await writer.write_durable(line("d")) == 5
    assert [[seq_of(f) for f in b] for b in seen.batches] == [[2], [3, 4, 5]]


async def test_a_lost_lease_fails_the_waiters_and_later_writes() -> None:
    store = MemoryStore()
    sid = await session(store)
    writer = SessionWriter(store, sid, runner="someone-else")
    with pytest.raises(LeaseLost):
        await writer.write_durable(line("x"))
    with pytest.raises(LeaseLost):
        await writer.write(line("y"))


async def test_an_idle_writer_runs_no_task() -> None:
    store = MemoryStore()
    sid = await session(store)
    writer = SessionWriter(store, sid, runner=RUNNER)
    before = len(asyncio.all_tasks())
    await writer.write_durable(line("x"))
    await writer.write(line("y"))
    assert len(asyncio.all_tasks()) == before
