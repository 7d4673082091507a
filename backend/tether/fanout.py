"""Fan-out: from the process's one feed to every WebSocket watching a session.

Each connection has an :class:`Outbox`: a bounded queue and one writer task. The feed
only ever calls :meth:`Outbox.offer`, which never blocks: a connection whose queue is
full is closed with 4008 and nobody else waits for it. Frames arrive already encoded,
once, and the same string is queued for every tab.

An outbox goes through three phases, and its ``last`` seq makes the joins exact:

1. **replay**: frames ``after < seq <= L`` read from the log (``L`` = last seq when the
   connection opened), framed by ``replay_start`` / ``replay_complete``. Live frames that
   arrive meanwhile are not queued, only noted.
2. **catch-up**: frames that were appended during the replay, read from the log.
3. **live**: frames from the feed. A frame at or below ``last`` is a duplicate and is
   dropped; a frame beyond ``last + 1`` means the feed lost something (a Redis reconnect)
   and the gap is filled from the log first.

Whenever a read from the log finds that events past ``last`` are gone (the history cap),
a ``snapshot`` stands in for them: its seq is the one just before the oldest kept event,
its session is the session as it is when it is sent, and every kept event follows it, so
the client's cursor goes on from the snapshot's seq with no gap (PROTOCOL.md §4).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Literal

from tether.closecodes import CloseCode
from tether.epochs import plan_replay
from tether.messages import ReplayComplete, ReplayStart, Session, SnapshotEvent, now_iso, seq_of
from tether.store.base import ACCESS_CHANGED, EventRange, Store

log = logging.getLogger(__name__)

READ_CHUNK = 2000
_RESYNC = ""  # a queue marker: re-read the log (never a real frame: frames are JSON)

Phase = Literal["replay", "catchup", "live", "closed"]


class Outbox:
    """One connection's ordered, bounded send path. See the module docstring.

    An idle connection holds no task: a writer task exists while there is something to
    send that has to wait (the replay, a gap to fill from the log, a client that does not
    read fast enough) and ends when the queue is empty. A live frame that can go at once
    goes without one (``send_now``).
    """

    __slots__ = (
        "_close", "_limit", "_newest", "_on_error", "_queue", "_replayed", "_send", "_send_now",
        "_snapshot", "_store", "_writer", "after", "epoch", "last", "phase", "recheck",
        "session_id",
    )

    def __init__(
        self,
        *,
        store: Store,
        session_id: str,
        after: int,
        send: Callable[[str], Awaitable[None]],
        snapshot: Callable[[], Awaitable[Session]],
        close: Callable[[CloseCode, str], None],
        on_error: Callable[[BaseException], None],
        limit: int,
        recheck: Callable[[], None] | None = None,
        epoch: str | None = None,
        replayed: Callable[[float, int], None] | None = None,
        send_now: Callable[[str], bool] | None = None,
    ) -> None:
        """``recheck``: called when the session's shares or links lose someone, so the
        connection can ask again whether its caller still may watch. ``epoch``: the log
        epoch the client's ``after`` counts in (None: it did not say; epochs.py).
        ``replayed``: told how long the replay took and how many events it sent (the hub's
        metrics). ``send_now``: sends a frame if it can without waiting (True), as
        ``send`` would; else False, and the frame goes through the writer task."""
        self._replayed = replayed
        self.session_id = session_id
        self.recheck = recheck
        self.after = after
        self.epoch = epoch
        self.last = after
        self._store = store
        self._send = send
        self._send_now = send_now
        self._snapshot = snapshot
        self._close = close
        self._on_error = on_error
        self._limit = limit
        self._queue: deque[str] | None = None  # made when first needed: most stay idle
        self._writer: asyncio.Task[None] | None = None
        self._newest = 0
        self.phase: Phase = "replay"

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        """Begin: replay, catch up, then send live frames as they come."""
        self._spawn(self._replay_then_live())

    async def stop(self) -> None:
        self.phase = "closed"
        writer = self._writer
        if writer is not None and not writer.done():
            writer.cancel()
            # Wait for it to unwind; its own failure is logged by _writer_done, and a
            # cancellation of this coroutine still propagates (asyncio.wait does not eat it).
            await asyncio.wait([writer])

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        self._writer = asyncio.create_task(coro, name=f"ws-writer-{self.session_id}")
        self._writer.add_done_callback(self._writer_done)

    def _writer_done(self, task: asyncio.Task[None]) -> None:
        if task is self._writer:
            self._writer = None
        if not task.cancelled() and task.exception() is not None:
            self.phase = "closed"
            self._on_error(task.exception())  # type: ignore[arg-type]
        elif self.phase == "live" and self._queue:
            self._spawn(self._drain())  # frames came in as the last writer finished

    # --- called by the feed and the reader (never block) -----------------------------

    def offer(self, frames: Sequence[str], newest: int) -> None:
        """New frames from the feed for this session, in seq order; ``newest`` is the
        last one's seq (read once by the fan-out, not once per tab)."""
        if self.phase == "closed":
            return
        self._newest = max(self._newest, newest)
        if self.phase == "live":
            self._enqueue(frames)

    def control(self, frame: str) -> None:
        """A control frame (ack, error, pong) to send in order with the events."""
        if self.phase != "closed":
            self._enqueue((frame,))

    def resync(self) -> None:
        """The feed may have lost frames: re-read the log past ``last``."""
        if self.phase == "live":
            self._enqueue((_RESYNC,))

    def shut(self, code: CloseCode, reason: str) -> None:
        """Stop sending and close the connection with ``code``."""
        if self.phase != "closed":
            self.phase = "closed"
            self._queue = None
            if self._writer is not None:
                self._writer.cancel()  # it may be stuck on a client that does not read
            self._close(code, reason)

    def _enqueue(self, frames: Sequence[str]) -> None:
        queue = self._queue
        if queue is None and self._writer is None and self.phase == "live":
            frames = self._send_at_once(frames)
            if not frames:
                return
        if queue is None:
            queue = self._queue = deque()
        if len(queue) + len(frames) > self._limit:
            self.shut(CloseCode.TOO_SLOW, "Too slow: reconnect with after=.")
            return
        queue.extend(frames)
        if self.phase == "live" and self._writer is None:
            self._spawn(self._drain())

    def _send_at_once(self, frames: Sequence[str]) -> Sequence[str]:
        """Send, without a task, the frames that need no wait: in order, up to the first
        that needs one (a gap to fill from the log, a socket that cannot take it now),
        which is returned with the rest for the writer task. Only while live with
        nothing queued and no writer, so the order is :meth:`_drain`'s."""
        send_now = self._send_now
        if send_now is None:
            return frames
        for i, frame in enumerate(frames):
            if frame == _RESYNC:
                return frames[i:]
            if frame[2] != "s":  # a control frame: {"type":...
                if not send_now(frame):
                    return frames[i:]
                continue
            seq = seq_of(frame)
            if seq <= self.last:
                continue
            if seq > self.last + 1 or not send_now(frame):
                return frames[i:]
            self.last = seq
        return ()

    # --- the writer ------------------------------------------------------------------

    async def _replay_then_live(self) -> None:
        started = time.perf_counter()
        await self._replay()
        if self._replayed is not None:
            self._replayed(time.perf_counter() - started, self.last - self.after)
        await self._catch_up()
        await self._drain()

    async def _replay(self) -> None:
        chunk = await self._store.read_events(self.session_id, after=self.after, limit=READ_CHUNK)
        chunk, reset = await self._check_epoch(chunk)
        target = chunk.last_seq
        self.last = min(self.after, target)
        start = ReplayStart(after=self.after, last_seq=target, epoch=self.epoch, reset=reset)
        await self._send(start.model_dump_json())
        while self.last < target and await self._send_chunk(chunk, upto=target):
            if self.last < target:
                chunk = await self._read()
        await self._send(ReplayComplete(last_seq=max(target, self.last)).model_dump_json())

    async def _check_epoch(self, chunk: EventRange) -> tuple[EventRange, bool]:
        """Hold the client's position against the log's epoch (epochs.py): renew the epoch
        when the log lost what the client saw, give a log that has none its first, and
        start from the beginning when the client's view is void. Returns the first chunk
        to replay and whether the client must reset."""
        plan = plan_replay(
            after=self.after, epoch=self.epoch, log_last=chunk.last_seq, log_epoch=chunk.epoch
        )
        epoch = chunk.epoch
        if plan.lost or epoch is None:
            epoch = await self._store.renew_epoch(
                self.session_id, replacing=chunk.epoch if plan.lost else None
            )
            if plan.lost:
                log.warning(
                    "Session %s: a client saw events up to %d, the log ends at %d; "
                    "its epoch is now %s", self.session_id, self.after, chunk.last_seq, epoch,
                )
        self.epoch = epoch
        if not plan.reset:
            return chunk, False
        self.after = 0
        return await self._store.read_events(self.session_id, after=0, limit=READ_CHUNK), True

    async def _catch_up(self) -> None:
        self.phase = "catchup"
        while self._newest > self.last:
            await self._send_from_log(self._newest)
        if self.phase == "catchup":  # no await since the check: nothing can slip between
            self.phase = "live"

    async def _drain(self) -> None:
        """Send what is queued, then end (the next frame starts a new writer)."""
        while self.phase == "live" and self._queue:
            frame = self._queue.popleft()
            if frame == _RESYNC:
                await self._send_from_log(None)
            elif frame[2] != "s":  # a control frame: {"type":...
                await self._send(frame)
            else:
                seq = seq_of(frame)
                if seq <= self.last:
                    continue
                if seq > self.last + 1:
                    await self._send_from_log(seq - 1)
                    if seq <= self.last:  # the fill ended in a snapshot that covers it
                        continue
                await self._send(frame)
                self.last = seq
        if not self._queue:
            self._queue = None

    async def _read(self) -> EventRange:
        return await self._store.read_events(self.session_id, after=self.last, limit=READ_CHUNK)

    async def _send_chunk(self, chunk: EventRange, *, upto: int | None) -> bool:
        """Send the frames of ``chunk`` past ``last`` (up to ``upto``; None: all), after a
        snapshot when the ones right after ``last`` are gone. True if anything was sent."""
        sent = False
        if chunk.trimmed and chunk.gone_upto > self.last:
            await self._send_snapshot(chunk.gone_upto)
            sent = True
        for frame in chunk.frames:
            seq = seq_of(frame)
            if upto is not None and seq > upto:
                break
            if seq > self.last:
                await self._send(frame)
                self.last = seq
                sent = True
        return sent

    async def _send_snapshot(self, seq: int) -> None:
        """Events up to ``seq`` are gone: send the session in their place, as it is now.

        Now rather than as of ``seq`` (which nothing keeps): every kept event after ``seq``
        follows, and each of them re-applies to the same final view (a later status,
        state or progress replaces an earlier one; requests open and close by id)."""
        session = await self._snapshot()
        frame = SnapshotEvent(seq=seq, ts=now_iso(), session=session)
        await self._send(frame.model_dump_json())
        self.last = seq

    async def _send_from_log(self, upto: int | None) -> None:
        """Send logged frames after ``last`` up to ``upto`` (None: all there are)."""
        while upto is None or self.last < upto:
            chunk = await self._read()
            if not await self._send_chunk(chunk, upto=upto):
                return
            if upto is None and self.last >= chunk.last_seq:
                return


class Fanout:
    """The registry of outboxes per session; the store feed's listener for all of them."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._outboxes: dict[str, set[Outbox]] = {}

    @property
    def connections(self) -> int:
        return sum(len(boxes) for boxes in self._outboxes.values())

    async def attach(self, outbox: Outbox) -> None:
        """Register ``outbox``; returns once no later event of its session can be missed."""
        boxes = self._outboxes.setdefault(outbox.session_id, set())
        boxes.add(outbox)
        await self._store.subscribe(outbox.session_id, self)

    async def detach(self, outbox: Outbox) -> None:
        boxes = self._outboxes.get(outbox.session_id)
        if boxes is None or outbox not in boxes:
            return
        boxes.discard(outbox)
        if not boxes:
            del self._outboxes[outbox.session_id]
            await self._store.unsubscribe(outbox.session_id, self)

    def all_outboxes(self) -> list[Outbox]:
        return [box for boxes in self._outboxes.values() for box in boxes]

    # --- SessionListener -------------------------------------------------------------

    def on_frames(self, session_id: str, frames: Sequence[str]) -> None:
        outboxes = self._outboxes.get(session_id)
        if not outboxes or not frames:
            return
        newest = seq_of(frames[-1])
        for outbox in list(outboxes):
            outbox.offer(frames, newest)

    def on_command(self, session_id: str, command: str) -> None:
        if command != ACCESS_CHANGED:
            return
        for outbox in list(self._outboxes.get(session_id, ())):
            if outbox.recheck is not None:
                outbox.recheck()

    def on_resync(self) -> None:
        for outbox in self.all_outboxes():
            outbox.resync()

    def on_outage(self) -> None:
        """The store's feed dropped: tell every client, who reconnects with ``after=``.

        Keeping the sockets open would leave tabs silently stale while the store is away;
        a close with 1012 makes each of them show "reconnecting" and resume exactly.
        """
        for outbox in self.all_outboxes():
            outbox.shut(CloseCode.SERVICE_RESTART, "The hub lost its store; reconnect with after=.")
