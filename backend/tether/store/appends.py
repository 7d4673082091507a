"""The append batcher: every session's appends of one event-loop turn, in one store write.

A hub running a thousand sessions that each stream a little makes thousands of small
appends a second. One round trip each (a pooled connection, a script call, a reply) costs
the hub far more than the append itself, and every writer waits behind the others for a
connection. So the Redis store hands each append to an :class:`AppendBatcher`:
:meth:`~AppendBatcher.submit` queues it and returns a future; at the end of the loop turn
everything queued goes out as one write (one Lua call for all of them), and each future
gets its own append's result, or the error that append alone would have raised.

Nothing is weakened by the grouping. The write applies each append as a single append
would (its own lease check, its own batch token, its seqs without gaps) and one refused
append does not affect the others. A caller learns of its append only once the whole
write returned, so "appended before sent" holds as before. Appends of one session are
applied in the order they were submitted as long as each waits for the one before (the
session writer does); nothing orders two appends in flight at once, as before.

While ``max_in_flight`` writes are under way, newly submitted appends wait and go
together in the next write: under load the batches grow instead of the queue of round
trips, and an idle store holds no task at all.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from tether.store.base import Entry

MAX_BATCH = 256  # appends per write: bounds how long one write holds Redis
MAX_IN_FLIGHT = 2


@dataclass(slots=True)  # made per append, so not frozen (which costs 3x to make)
class Append:
    """One :meth:`~tether.store.base.Store.append` call's arguments."""

    session_id: str
    entries: Sequence[Entry]
    runner: str | None = None
    batch: str | None = None
    floor: int = 0  # the last seq the caller saw the log reach (epochs.py)


# What a batch write returns for each append, in order: its last seq, or the exception
# that append would have raised (LeaseLost, UnknownSession).
Outcome = int | BaseException
WriteMany = Callable[[Sequence[Append]], Awaitable[Sequence[Outcome]]]


def settle(waiters: Sequence[asyncio.Future[int]], outcomes: Sequence[Outcome]) -> None:
    """Hand each waiter its append's outcome (waiters whose caller gave up are skipped)."""
    if len(outcomes) != len(waiters):
        fail(waiters, RuntimeError(
            f"A batch write returned {len(outcomes)} results for {len(waiters)} appends."
        ))
        return
    for waiter, outcome in zip(waiters, outcomes, strict=True):
        if waiter.done():
            continue
        if isinstance(outcome, BaseException):
            waiter.set_exception(outcome)
        else:
            waiter.set_result(outcome)


def fail(waiters: Sequence[asyncio.Future[int]], exc: BaseException) -> None:
    """The whole write failed: every append of it failed the same way."""
    for waiter in waiters:
        if not waiter.done():
            waiter.set_exception(exc)


class AppendBatcher:
    """Gathers appends into batch writes. See the module docstring.

    Args:
        write: applies a batch of appends in one store step and returns one outcome per
            append; raising (the store is unavailable) fails every append of the batch.
        max_batch: at most this many appends per write.
        max_in_flight: at most this many writes under way at once.
    """

    __slots__ = ("_in_flight", "_max_batch", "_max_in_flight", "_queue", "_scheduled",
                 "_tasks", "_write")

    def __init__(
        self, write: WriteMany, *, max_batch: int = MAX_BATCH,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        if max_batch < 1 or max_in_flight < 1:
            raise ValueError("max_batch and max_in_flight must be at least 1")
        self._write = write
        self._max_batch = max_batch
        self._max_in_flight = max_in_flight
        self._queue: deque[tuple[Append, asyncio.Future[int]]] = deque()
        self._scheduled = False
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def queued(self) -> int:
        """Appends waiting for a write to start."""
        return len(self._queue)

    @property
    def writing(self) -> int:
        """Writes under way (each in a task that ends when nothing is queued)."""
        return len(self._tasks)

    def submit(self, append: Append) -> asyncio.Future[int]:
        """Queue ``append`` for the next write; the future gets its last seq or error.

        Cancelling the future only stops the caller waiting: once queued, the append is
        written all the same (like an append whose reply was lost).
        """
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[int] = loop.create_future()
        self._queue.append((append, waiter))
        if not self._scheduled and self._in_flight < self._max_in_flight:
            # At the end of this turn: whatever else this turn appends goes along.
            self._scheduled = True
            loop.call_soon(self._start)
        return waiter

    def _start(self) -> None:
        self._scheduled = False
        while self._queue and self._in_flight < self._max_in_flight:
            self._in_flight += 1
            task = asyncio.get_running_loop().create_task(
                self._drain(self._take()), name="tether-appends"
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _take(self) -> list[tuple[Append, asyncio.Future[int]]]:
        return [self._queue.popleft() for _ in range(min(len(self._queue), self._max_batch))]

    async def _drain(self, batch: list[tuple[Append, asyncio.Future[int]]]) -> None:
        """Write ``batch``, then the next while any is queued (one task, many writes)."""
        try:
            while batch:
                waiters = [waiter for _, waiter in batch]
                try:
                    outcomes = await self._write([append for append, _ in batch])
                except asyncio.CancelledError:
                    for waiter in waiters:  # the store is closing
                        waiter.cancel()
                    raise
                except Exception as exc:
                    fail(waiters, exc)
                else:
                    settle(waiters, outcomes)
                batch = self._take()
        finally:
            self._in_flight -= 1

    async def close(self) -> None:
        """Stop: writes under way are cancelled, and so is every queued append."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        while self._queue:
            _, waiter = self._queue.popleft()
            waiter.cancel()
