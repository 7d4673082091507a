"""The ordered, batching writer between one running session and the store.

A task that streams thousands of lines should not pay a Redis round trip per line, and
must never see its lines reordered or lost. So every write of a session goes through one
``SessionWriter``: entries queue in order, one flusher task appends them in batches (one
atomic Lua call per batch), and callers that need durability (a request being opened, a
step result being recorded) wait for their entry's batch. Frames reach clients only from
the store, so "appended before sent" holds for every event.

When the store is unavailable the flusher retries with capped backoff and producers block
once ``max_pending`` entries are queued: a task waits rather than losing events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import deque

from tether.backoff import Backoff
from tether.errors import LeaseLost, StoreUnavailable
from tether.store.base import Entry, Store

log = logging.getLogger(__name__)

MAX_BATCH = 512


class SessionWriter:
    """Appends one session's entries in order, in batches. See the module docstring."""

    def __init__(
        self, store: Store, session_id: str, *, runner: str | None, max_pending: int = 1024
    ) -> None:
        self._store = store
        self._session_id = session_id
        self._runner = runner
        self._max_pending = max_pending
        self._queue: deque[tuple[Entry, asyncio.Future[int] | None]] = deque()
        self._space = asyncio.Event()
        self._space.set()
        self._flusher: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None
        self._epoch = secrets.token_hex(4)  # this writer's batches: "<epoch>:<n>"
        self._batches = 0
        self.last_seq = 0

    async def write(self, entry: Entry) -> None:
        """Queue ``entry``; return at once unless the queue is full."""
        self._raise_if_failed()
        while len(self._queue) >= self._max_pending:
            self._space.clear()
            await self._space.wait()
            self._raise_if_failed()
        self._queue.append((entry, None))
        self._ensure_flusher()

    async def write_durable(self, entry: Entry) -> int:
        """Queue ``entry`` and wait until it is in the store; return the last seq then."""
        self._raise_if_failed()
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._queue.append((entry, future))
        self._ensure_flusher()
        return await future

    async def close(self) -> None:
        """Stop flushing (the runner is going away); unwritten entries are dropped."""
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher

    def _raise_if_failed(self) -> None:
        if self._failure is not None:
            raise self._failure

    def _ensure_flusher(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(
                self._flush_loop(), name=f"tether-writer-{self._session_id}"
            )

    async def _flush_loop(self) -> None:
        while self._queue:
            batch = [self._queue[i] for i in range(min(len(self._queue), MAX_BATCH))]
            entries = [entry for entry, _ in batch if entry.body or _has_changes(entry)]
            try:
                if entries:
                    self._batches += 1
                    self.last_seq = await self._append(entries, f"{self._epoch}:{self._batches}")
            except Exception as exc:  # LeaseLost, UnknownSession, bugs: nothing more lands
                self._fail(exc)
                return
            for _ in batch:
                _, future = self._queue.popleft()
                if future is not None and not future.done():
                    future.set_result(self.last_seq)
            if len(self._queue) < self._max_pending:
                self._space.set()

    async def _append(self, entries: list[Entry], token: str) -> int:
        """Append one batch, retrying while the store is away. A retry sends the same
        batch with the same token: if the lost attempt did land, the store recognises
        the token and applies nothing twice."""
        backoff = Backoff()
        while True:
            try:
                return await self._store.append(
                    self._session_id, entries, runner=self._runner, batch=token
                )
            except StoreUnavailable as exc:
                log.warning("Session %s waits for the store: %s", self._session_id, exc)
                await backoff.wait()

    def _fail(self, exc: Exception) -> None:
        if not isinstance(exc, LeaseLost):
            log.error("Session %s cannot write: %s", self._session_id, exc, exc_info=exc)
        self._failure = exc
        while self._queue:
            _, future = self._queue.popleft()
            if future is not None and not future.done():
                future.set_exception(exc)
        self._space.set()


def _has_changes(entry: Entry) -> bool:
    return bool(entry.set or entry.pending_add or entry.pending_del or entry.journal)
