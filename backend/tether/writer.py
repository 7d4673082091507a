"""The ordered, batching writer between one running session and the store.

A task that streams thousands of lines should not pay a Redis round trip per line, and
must never see its lines reordered or lost. So every write of a session goes through one
``SessionWriter``: entries queue in order and go to the store in batches (one atomic
append per batch, at most one batch in flight), and callers that need durability (a
request being opened, a step result being recorded) wait for their entry's batch. Frames
reach clients only from the store, so "appended before sent" holds for every event.

The writer keeps no task: a write schedules the next batch for the end of the loop turn
(so whatever else the task writes in that turn goes along), the batch goes out with
:meth:`~tether.store.base.Store.append_soon`, and the store's answer is handled in a
callback, which sends what queued meanwhile. A thousand sessions streaming cost no task
per event, and the Redis store joins the batches of every session into one call
(``store/appends.py``).

When the store is unavailable the writer retries the same batch, with the same token,
with capped backoff; producers block once ``max_pending`` entries are queued: a task
waits rather than losing events.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import deque
from collections.abc import Callable
from itertools import islice

from tether.backoff import Backoff
from tether.errors import LeaseLost, StoreUnavailable
from tether.store.base import Entry, Store

log = logging.getLogger(__name__)

MAX_BATCH = 512


class SessionWriter:
    """Appends one session's entries in order, in batches. See the module docstring."""

    __slots__ = (
        "_appended", "_backoff", "_batches", "_closed", "_epoch", "_failure", "_floor",
        "_in_flight", "_max_pending", "_queue", "_runner", "_sending", "_session_id", "_soon",
        "_space", "_span", "_store", "_token", "last_seq",
    )

    def __init__(
        self, store: Store, session_id: str, *, runner: str | None, max_pending: int = 1024,
        appended: Callable[[int], None] | None = None,
    ) -> None:
        """``appended``: told how many events each batch added (the hub's metrics)."""
        self._store = store
        self._appended = appended
        self._session_id = session_id
        self._runner = runner
        self._max_pending = max_pending
        # Made when first needed and dropped when empty: an empty deque still holds a
        # block of 64 slots, and most of the time a waiting session writes nothing.
        self._queue: deque[tuple[Entry, asyncio.Future[int] | None]] | None = None
        # Made only when a producer has to wait for room: most sessions never do.
        self._space: asyncio.Event | None = None
        self._soon: asyncio.Handle | None = None  # the next batch, due this loop turn
        self._in_flight = False  # a batch is with the store (or waiting to be retried)
        self._sending: list[Entry] = []  # the batch in flight: the entries that change
        self._span = 0  # how many queue items (from the head) the batch in flight covers
        self._token = ""  # the batch in flight's token, the same for every retry
        self._floor = 0  # the batch in flight's floor (last_seq when it first went out)
        self._backoff: Backoff | None = None  # while retrying after the store failed
        self._failure: BaseException | None = None
        self._closed = False
        self._epoch = secrets.token_hex(4)  # this writer's batches: "<epoch>:<n>"
        self._batches = 0
        self.last_seq = 0

    async def write(self, entry: Entry) -> None:
        """Queue ``entry``; return at once unless the queue is full."""
        self._raise_if_failed()
        while self._queue is not None and len(self._queue) >= self._max_pending:
            if self._space is None:
                self._space = asyncio.Event()
            self._space.clear()
            await self._space.wait()
            self._raise_if_failed()
        self._push(entry, None)

    async def write_durable(self, entry: Entry) -> int:
        """Queue ``entry`` and wait until it is in the store; return the last seq then.

        Raises:
            RuntimeError: the writer is closed (nothing would ever store the entry).
        """
        self._raise_if_failed()
        if self._closed:
            raise RuntimeError(f"The writer of session {self._session_id} is closed.")
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._push(entry, future)
        return await future

    @property
    def idle(self) -> bool:
        """Nothing is queued or with the store, and nothing failed."""
        return self._queue is None and not self._in_flight and self._failure is None

    async def close(self) -> None:
        """Stop writing (the runner is going away); unwritten entries are dropped. A
        batch already with the store may still land."""
        self.stop()

    def stop(self) -> None:
        """:meth:`close`, from synchronous code."""
        self._closed = True
        if self._soon is not None:
            self._soon.cancel()
            self._soon = None
        self._wake_producers()

    def _raise_if_failed(self) -> None:
        if self._failure is not None:
            raise self._failure

    def _push(self, entry: Entry, future: asyncio.Future[int] | None) -> None:
        if self._queue is None:
            self._queue = deque()
        self._queue.append((entry, future))
        if not self._in_flight and self._soon is None and not self._closed:
            self._soon = asyncio.get_running_loop().call_soon(self._send_next)

    def _send_next(self) -> None:
        """Start the next batch: up to :data:`MAX_BATCH` queued entries."""
        self._soon = None
        while self._queue and not self._closed and self._failure is None:
            queue = self._queue
            size = min(len(queue), MAX_BATCH)
            entries = [e for e, _ in islice(queue, size) if e.body or _has_changes(e)]
            if not entries:  # nothing to store: its waiters have what is stored already
                self._done(size)
                continue
            self._batches += 1
            self._token = f"{self._epoch}:{self._batches}"
            self._floor = self.last_seq
            self._sending = entries
            self._span = size
            self._in_flight = True
            self._submit()
            return

    def _submit(self) -> None:
        # floor: a log that ends below what this writer saw it reach lost its tail (a
        # failover); the store gives it a new epoch (epochs.py).
        future = self._store.append_soon(
            self._session_id, self._sending, runner=self._runner, batch=self._token,
            floor=self._floor,
        )
        future.add_done_callback(self._landed)

    def _landed(self, future: asyncio.Future[int]) -> None:
        if self._closed:
            return
        if future.cancelled():  # the store is closing under a live writer
            exc: BaseException | None = StoreUnavailable("The store closed.")
        else:
            exc = future.exception()
        if isinstance(exc, StoreUnavailable):
            # The same batch again, with the same token: if the lost attempt did land,
            # the store recognises the token and applies nothing twice.
            log.warning("Session %s waits for the store: %s", self._session_id, exc)
            if self._backoff is None:
                self._backoff = Backoff()
            asyncio.get_running_loop().call_later(self._backoff.delay(), self._retry)
            return
        if exc is not None:  # LeaseLost, UnknownSession, bugs: nothing more lands
            self._fail(exc)
            return
        self._backoff = None
        self.last_seq = future.result()
        if self._appended is not None:  # once a batch, not once an event
            self._appended(sum(1 for entry in self._sending if entry.body))
        self._sending = []
        self._in_flight = False
        self._done(self._span)
        self._send_next()

    def _retry(self) -> None:
        if not self._closed:
            self._submit()

    def _done(self, count: int) -> None:
        """The first ``count`` queued entries are stored: answer their waiters."""
        queue = self._queue
        assert queue is not None
        for _ in range(count):
            _, future = queue.popleft()
            if future is not None and not future.done():
                future.set_result(self.last_seq)
        if not queue:
            self._queue = None
        if len(queue) < self._max_pending:
            self._wake_producers()

    def _wake_producers(self) -> None:
        if self._space is not None:
            self._space.set()

    def _fail(self, exc: BaseException) -> None:
        if not isinstance(exc, LeaseLost):
            log.error("Session %s cannot write: %s", self._session_id, exc, exc_info=exc)
        self._failure = exc
        self._in_flight = False
        self._sending = []
        queue, self._queue = self._queue, None
        for _, future in queue or ():
            if future is not None and not future.done():
                future.set_exception(exc)
        self._wake_producers()


def _has_changes(entry: Entry) -> bool:
    return bool(entry.set or entry.pending_add or entry.pending_del or entry.journal)
