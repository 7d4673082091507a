"""``Outbox`` and ``Fanout`` on the real memory store: the joins that make a tab see every
seq exactly once — long replays read in chunks, frames that arrive during the replay, a
feed that lost or repeated frames (what the Redis feed does across a reconnect), a
resync — and the edges of the bounded queue.

The outbox is driven as ``ws.py`` drives it; ``Client`` is the socket side (what was
sent, what close code was asked for), and can hold a send to play a client that does not
read. Where a test plays the feed (``offer`` with frames left out, ``resync``) it says so.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.integration.test_store_contract import create_running, stream
from tests.support.timing import eventually
from tether.fanout import READ_CHUNK, Fanout, Outbox
from tether.messages import Session
from tether.store.base import Entry
from tether.store.memory import MemoryStore


@pytest.fixture
async def store() -> AsyncIterator[MemoryStore]:
    store = MemoryStore(history_cap=20_000, finished_ttl=3600, lease_seconds=30)
    await store.start()
    yield store
    await store.close()


class Client:
    """The WebSocket side of one outbox."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.closed: list[int] = []
        self.errors: list[BaseException] = []
        self.hold_at: int | None = None  # the number of the send to hold, from 1
        self.held = asyncio.Event()
        self.release = asyncio.Event()
        self.cancelled = False

    async def send(self, text: str) -> None:
        if self.hold_at is not None and len(self.sent) + 1 == self.hold_at:
            self.held.set()
            try:
                await self.release.wait()
            except asyncio.CancelledError:
                self.cancelled = True
                raise
        self.sent.append(json.loads(text))

    def close(self, code: int, reason: str) -> None:
        self.closed.append(code)

    def seqs(self) -> list[int]:
        return [e["seq"] for e in self.sent if "seq" in e and e["type"] != "snapshot"]

    def types(self) -> list[str]:
        return [e["type"] for e in self.sent]


def outbox_for(store: MemoryStore, session_id: str, client: Client, *, after: int = 0,
               limit: int = 1000) -> Outbox:
    async def snapshot() -> Session:
        record = await store.get_session(session_id)
        assert record is not None
        return record.session

    return Outbox(store=store, session_id=session_id, after=after, send=client.send,
                  snapshot=snapshot, close=client.close, on_error=client.errors.append,
                  limit=limit)


async def last_seq(store: MemoryStore, session_id: str) -> int:
    return (await store.read_events(session_id, after=0, limit=1)).last_seq


async def lines(store: MemoryStore, session_id: str, n: int) -> None:
    await store.append(session_id, [Entry(body=stream(f"line {i}")) for i in range(n)])


async def frames_after(store: MemoryStore, session_id: str, after: int) -> list[str]:
    return (await store.read_events(session_id, after=after, limit=100_000)).frames


async def live(fanout: Fanout, outbox: Outbox, client: Client) -> None:
    await fanout.attach(outbox)
    outbox.start()
    await eventually(lambda: outbox.phase == "live", what="the live phase")


async def test_a_replay_longer_than_a_read_chunk_is_complete_and_framed(
    store: MemoryStore,
) -> None:
    """A replay of 2.3 read chunks, from the start and from the middle of a chunk: every
    seq once, in order, between replay_start and replay_complete."""
    session_id = await create_running(store)
    await lines(store, session_id, 2 * READ_CHUNK + 600)
    last = await last_seq(store, session_id)
    for after in (0, READ_CHUNK + 17):
        client = Client()
        outbox = outbox_for(store, session_id, client, after=after)
        outbox.start()
        await eventually(lambda c=client: c.types()[-1:] == ["replay_complete"],  # type: ignore[misc]
                         what="the replay")
        start = client.sent[0]
        assert start == {"type": "replay_start", "after": after, "last_seq": last,
                         "epoch": start["epoch"], "reset": False}
        assert isinstance(start["epoch"], str) and start["epoch"]
        assert client.seqs() == list(range(after + 1, last + 1))
        assert client.sent[-1]["last_seq"] == last
        await outbox.stop()


async def test_events_appended_during_a_long_replay_follow_its_end_once(
    store: MemoryStore,
) -> None:
    """While a client reads a long replay slowly, more events are logged (the feed offers
    them): replay_complete comes at the seq the connection opened with, then the new
    events follow, each once, then live ones."""
    session_id = await create_running(store)
    await lines(store, session_id, READ_CHUNK + 500)
    target = await last_seq(store, session_id)
    fanout = Fanout(store)
    client = Client()
    client.hold_at = 100
    outbox = outbox_for(store, session_id, client, limit=5)
    await fanout.attach(outbox)
    outbox.start()
    await client.held.wait()
    # Ten events in two batches while the replay is held: far more than the queue limit
    # of 5, but nothing is queued during a replay.
    await lines(store, session_id, 4)
    await lines(store, session_id, 6)
    client.release.set()
    await eventually(lambda: outbox.phase == "live", what="the live phase")
    assert client.closed == []
    complete = client.types().index("replay_complete")
    assert client.sent[complete]["last_seq"] == target
    assert client.seqs() == list(range(1, target + 11))
    await lines(store, session_id, 2)
    await eventually(lambda: client.seqs()[-1] == target + 12, what="live events")
    assert client.seqs() == list(range(1, target + 13))
    await fanout.detach(outbox)
    await outbox.stop()


async def test_an_event_logged_between_attach_and_replay_is_sent_once(
    store: MemoryStore,
) -> None:
    """The feed offers an event the replay also reads (logged after attach, before the
    replay's read): it is sent once and the outbox goes live."""
    session_id = await create_running(store)
    fanout = Fanout(store)
    client = Client()
    outbox = outbox_for(store, session_id, client)
    await fanout.attach(outbox)
    await lines(store, session_id, 3)
    outbox.start()
    await eventually(lambda: outbox.phase == "live", timeout_ms=2000, what="the live phase")
    last = await last_seq(store, session_id)
    assert client.seqs() == list(range(1, last + 1))
    await fanout.detach(outbox)
    await outbox.stop()


async def test_a_gap_in_the_feed_is_filled_from_the_log_and_repeats_are_dropped(
    store: MemoryStore,
) -> None:
    """Playing a feed that lost frames: offered only the newest of four new frames, the
    outbox sends the three before it from the log, then it; offered frames it already
    sent (with a new one behind them), it sends only the new one."""
    session_id = await create_running(store)
    client = Client()
    outbox = outbox_for(store, session_id, client)  # not attached: this test is the feed
    outbox.start()
    await eventually(lambda: outbox.phase == "live", what="the live phase")
    start = await last_seq(store, session_id)
    await lines(store, session_id, 4)
    new = await frames_after(store, session_id, start)
    outbox.offer(new[-1:], start + 4)
    await eventually(lambda: client.seqs()[-1:] == [start + 4], what="the gap filled")
    assert client.seqs() == list(range(1, start + 5))
    await lines(store, session_id, 1)
    newer = await frames_after(store, session_id, start + 4)
    outbox.offer([*new[1:], *newer], start + 5)
    await eventually(lambda: client.seqs()[-1:] == [start + 5], what="the new frame")
    assert client.seqs() == list(range(1, start + 6))
    await lines(store, session_id, 2)  # a gap of exactly one frame
    newest = await frames_after(store, session_id, start + 6)
    outbox.offer(newest, start + 7)
    await eventually(lambda: client.seqs()[-1:] == [start + 7], what="the one-frame gap")
    assert client.seqs() == list(range(1, start + 8))
    await outbox.stop()


async def test_a_resync_sends_what_the_feed_missed(store: MemoryStore) -> None:
    """After the feed reconnects (``Fanout.on_resync``), every live outbox re-reads the log
    past its last seq: events logged while nothing was offered reach each tab once."""
    session_id = await create_running(store)
    clients = [Client(), Client()]
    outboxes = [outbox_for(store, session_id, c) for c in clients]
    fanout = Fanout(store)
    for outbox, client in zip(outboxes, clients, strict=True):
        await live(fanout, outbox, client)
    await store.unsubscribe(session_id, fanout)  # the feed goes quiet: frames are missed
    await lines(store, session_id, 3)
    last = await last_seq(store, session_id)
    fanout.on_resync()
    for client in clients:
        await eventually(lambda c=client: c.seqs()[-1:] == [last],  # type: ignore[misc]
                         what="the resync")
        assert client.seqs() == list(range(1, last + 1))
    for outbox in outboxes:
        await outbox.stop()


async def test_control_frames_go_out_in_order_with_events(store: MemoryStore) -> None:
    """A control frame (an ack) queued between two events is sent between them, as is."""
    session_id = await create_running(store)
    client = Client()
    outbox = outbox_for(store, session_id, client)
    fanout = Fanout(store)
    await live(fanout, outbox, client)
    client.hold_at = len(client.sent) + 1
    await lines(store, session_id, 1)
    await client.held.wait()
    outbox.control('{"type":"ack","ref":"x"}')
    await lines(store, session_id, 1)
    client.release.set()
    await eventually(lambda: len(client.sent) >= client.hold_at + 2, what="three sends")  # type: ignore[operator]
    assert client.types()[-3:] == ["stream", "ack", "stream"]
    await outbox.stop()


async def test_the_queue_holds_exactly_its_limit_and_closes_4008_beyond(
    store: MemoryStore,
) -> None:
    """A client that does not read: with a limit of 3, three frames wait behind the one
    being sent; the fourth closes the connection with 4008 and the stuck send is
    cancelled."""
    session_id = await create_running(store)
    client = Client()
    outbox = outbox_for(store, session_id, client, limit=3)
    fanout = Fanout(store)
    await live(fanout, outbox, client)
    client.hold_at = len(client.sent) + 1
    await lines(store, session_id, 1)
    await client.held.wait()  # this frame left the queue and is being sent
    for _ in range(3):
        await lines(store, session_id, 1)
    assert client.closed == []
    await lines(store, session_id, 1)
    assert client.closed == [4008]
    await eventually(lambda: client.cancelled, what="the stuck send cancelled")
    await fanout.detach(outbox)
    await outbox.stop()


async def test_one_batch_bigger_than_the_limit_closes_4008(store: MemoryStore) -> None:
    session_id = await create_running(store)
    client = Client()
    outbox = outbox_for(store, session_id, client, limit=3)
    fanout = Fanout(store)
    await live(fanout, outbox, client)
    client.hold_at = len(client.sent) + 1
    await lines(store, session_id, 1)
    await client.held.wait()
    await lines(store, session_id, 4)
    assert client.closed == [4008]
    await outbox.stop()


async def test_stop_cancels_a_send_stuck_on_a_client_that_does_not_read(
    store: MemoryStore,
) -> None:
    session_id = await create_running(store)
    client = Client()
    client.hold_at = 2  # the first event of the replay
    outbox = outbox_for(store, session_id, client)
    outbox.start()
    await client.held.wait()
    await asyncio.wait_for(outbox.stop(), 5)
    assert client.cancelled


async def test_a_failing_send_closes_the_outbox_and_is_reported(store: MemoryStore) -> None:
    """A send that raises (the client went away) ends the outbox: the error is reported
    once and later frames are not offered to it."""
    session_id = await create_running(store)
    errors: list[BaseException] = []
    sent: list[str] = []

    async def send(text: str) -> None:
        if sent:
            raise OSError("gone")
        sent.append(text)

    outbox = Outbox(store=store, session_id=session_id, after=0, send=send,
                    snapshot=lambda: None,  # type: ignore[arg-type,return-value]
                    close=lambda code, reason: None, on_error=errors.append, limit=10)
    outbox.start()
    await eventually(lambda: bool(errors), what="the error")
    assert outbox.phase == "closed" and [type(e) for e in errors] == [OSError]
    await outbox.stop()


async def test_tabs_leave_one_by_one_and_the_rest_keep_receiving(store: MemoryStore) -> None:
    """``connections`` counts attached outboxes; detaching one tab (twice, or one never
    attached) leaves the others' live events flowing; the last one out unsubscribes."""
    session_id = await create_running(store)
    fanout = Fanout(store)
    clients = [Client(), Client()]
    outboxes = [outbox_for(store, session_id, c) for c in clients]
    for outbox, client in zip(outboxes, clients, strict=True):
        await live(fanout, outbox, client)
    assert fanout.connections == 2
    await fanout.detach(outbox_for(store, session_id, Client()))  # never attached
    await fanout.detach(outboxes[0])
    await fanout.detach(outboxes[0])
    assert fanout.connections == 1
    await lines(store, session_id, 1)
    last = await last_seq(store, session_id)
    await eventually(lambda: clients[1].seqs()[-1:] == [last], what="the live event")
    assert clients[0].seqs()[-1] == last - 1
    await fanout.detach(outboxes[1])
    assert fanout.connections == 0
    await lines(store, session_id, 1)  # no listener left: nothing is offered, nothing fails
    for outbox in outboxes:
        await outbox.stop()


async def test_a_lost_store_feed_closes_every_tab_with_1012(store: MemoryStore) -> None:
    session_id = await create_running(store)
    fanout = Fanout(store)
    clients = [Client(), Client()]
    for client in clients:
        await live(fanout, outbox_for(store, session_id, client), client)
    fanout.on_outage()
    assert [c.closed for c in clients] == [[1012], [1012]]
    for outbox in fanout.all_outboxes():
        await outbox.stop()
