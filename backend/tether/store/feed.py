"""The process's one Redis reader: every subscribed session channel over one connection.

Subscriptions are reference counted per session; the first listener of a session sends
SUBSCRIBE and waits for Redis to confirm it, so that an event published after
:meth:`RedisFeed.subscribe` returns is always delivered. When the connection drops, the
reader reconnects with capped exponential backoff, subscribes to everything again and
tells every listener to refill from the log (``on_resync``): Pub/Sub may lose messages
while disconnected, the numbered log never does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import RedisError

from tether.backoff import Backoff
from tether.errors import StoreUnavailable
from tether.store.base import SessionListener

log = logging.getLogger(__name__)

SUBSCRIBE_TIMEOUT = 10.0
HEARTBEAT_INTERVAL = 10.0
SUBSCRIBE_BATCH = 500


class RedisFeed:
    """Fans Pub/Sub messages out to in-process listeners. One per process."""

    def __init__(self, redis: aioredis.Redis, *, channel_prefix: str) -> None:
        self._redis = redis
        self._prefix = channel_prefix
        # A list, not a set, per session: most have one or two listeners (its runner, the
        # fan-out), and an empty set alone is 216 bytes where a short list is 72.
        self._listeners: dict[str, list[SessionListener]] = {}
        self._confirms: dict[str, list[asyncio.Future[None]]] = {}
        self._subscribed: set[str] = set()
        self._confirm_all: set[str] = set()
        self._conn: AbstractConnection | None = None
        self._write_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._last_pong = 0.0
        self._closing = False

    async def start(self) -> None:
        await self._connect()
        self._tasks = [
            asyncio.create_task(self._read_loop(), name="tether-feed-reader"),
            asyncio.create_task(self._heartbeat(), name="tether-feed-heartbeat"),
        ]

    async def close(self) -> None:
        self._closing = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._conn is not None:
            await self._conn.disconnect()

    # --- subscriptions ---------------------------------------------------------------

    async def subscribe(self, session_id: str, listener: SessionListener) -> None:
        listeners = self._listeners.setdefault(session_id, [])
        if listener not in listeners:
            listeners.append(listener)
        channel = self._prefix + session_id
        future: asyncio.Future[None] | None = None
        async with self._write_lock:
            if channel not in self._subscribed:
                future = asyncio.get_running_loop().create_future()
                self._confirms.setdefault(channel, []).append(future)
                self._subscribed.add(channel)
                with contextlib.suppress(RedisError, OSError):
                    # On failure the reader reconnects and subscribes to everything again.
                    await self._send_locked("SUBSCRIBE", channel)
            elif self._confirms.get(channel):
                future = self._confirms[channel][-1]
        if future is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(future), SUBSCRIBE_TIMEOUT)
        except TimeoutError as exc:
            # Forget this attempt, so a later subscribe waits for a confirmation of its own
            # and not for this one, which may never come.
            waiting = self._confirms.get(channel, [])
            if future in waiting:
                waiting.remove(future)
            if not waiting:
                self._confirms.pop(channel, None)
                self._subscribed.discard(channel)  # the next subscribe sends SUBSCRIBE again
            raise StoreUnavailable("Redis did not confirm a subscription in time.") from exc

    async def unsubscribe(self, session_id: str, listener: SessionListener) -> None:
        listeners = self._listeners.get(session_id)
        if listeners is None:
            return
        if listener in listeners:
            listeners.remove(listener)
        if listeners:
            return
        del self._listeners[session_id]
        channel = self._prefix + session_id
        async with self._write_lock:
            # Decided under the lock, so a subscribe racing with us cannot be undone.
            if session_id not in self._listeners and channel in self._subscribed:
                self._subscribed.discard(channel)
                with contextlib.suppress(RedisError, OSError):
                    await self._send_locked("UNSUBSCRIBE", channel)

    # --- the connection --------------------------------------------------------------

    async def _connect(self) -> None:
        pool = self._redis.connection_pool
        kwargs = dict(pool.connection_kwargs)
        kwargs["socket_timeout"] = None  # the heartbeat, not a read timeout, finds dead links
        # RESP2 on purpose: redis-py >= 8 speaks RESP3 by default, where (p)subscribe
        # confirmations, messages and PONGs arrive as push frames that read_response() hands
        # to a push handler instead of returning them, so _dispatch would never see them and
        # every subscribe() would time out. In RESP2 they are plain arrays.
        kwargs["protocol"] = 2
        conn: AbstractConnection = pool.connection_class(**kwargs)
        await conn.connect()  # type: ignore[no-untyped-call]
        self._conn = conn
        async with self._write_lock:
            self._subscribed = {self._prefix + sid for sid in self._listeners}
            # One SUBSCRIBE per channel now: its confirmation answers every waiter of the
            # channel, and waiters of channels nobody listens to any more are let go.
            for channel in list(self._confirms):
                if channel not in self._subscribed:
                    for future in self._confirms.pop(channel):
                        if not future.done():
                            future.set_result(None)  # no listener is left to care
            self._confirm_all = set(self._confirms)
            for batch in _batches(sorted(self._subscribed), SUBSCRIBE_BATCH):
                await self._send_locked("SUBSCRIBE", *batch)
        self._last_pong = asyncio.get_running_loop().time()

    async def _send(self, *args: Any) -> None:
        async with self._write_lock:
            await self._send_locked(*args)

    async def _send_locked(self, *args: Any) -> None:
        conn = self._conn
        if conn is None:
            raise RedisError("not connected")
        await conn.send_command(*args, check_health=False)

    async def _read_loop(self) -> None:
        backoff = Backoff()
        while not self._closing:
            try:
                if self._conn is None:
                    await self._connect()
                    backoff.reset()
                    log.info("Redis feed reconnected; refilling %d sessions", len(self._listeners))
                    self._resync_all()
                message = await self._conn.read_response() if self._conn else None
            except (RedisError, OSError) as exc:
                if self._closing:
                    return
                self._drop_connection(exc)
                await backoff.wait()
                continue
            if isinstance(message, list):
                try:
                    self._dispatch(message)
                except Exception:  # one listener's bug must not stop every session's feed
                    log.exception("A feed listener failed on %r", message[:2])

    def _drop_connection(self, exc: BaseException) -> None:
        if self._conn is not None:
            log.warning("Redis feed lost its connection: %s", exc)
            conn, self._conn = self._conn, None
            for listeners in list(self._listeners.values()):
                for listener in list(listeners):
                    listener.on_outage()
            task = asyncio.create_task(conn.disconnect(nowait=True))
            self._tasks.append(task)
            task.add_done_callback(self._tasks.remove)

    async def _heartbeat(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(HEARTBEAT_INTERVAL)
            conn = self._conn
            if conn is None:
                continue
            if loop.time() - self._last_pong > 3 * HEARTBEAT_INTERVAL:
                await conn.disconnect(nowait=True)  # the reader sees the error and reconnects
                continue
            with contextlib.suppress(RedisError, OSError):
                await self._send("PING")

    def _resync_all(self) -> None:
        for listeners in list(self._listeners.values()):
            for listener in list(listeners):
                listener.on_resync()

    # --- messages --------------------------------------------------------------------

    def _dispatch(self, message: list[Any]) -> None:
        kind = message[0]
        if kind == "message":
            self._deliver(message[1], message[2])
        elif kind == "subscribe":
            channel = message[1]
            waiting = self._confirms.get(channel)
            if waiting:
                if channel in self._confirm_all:  # the resubscription after a reconnect
                    self._confirm_all.discard(channel)
                    done, waiting[:] = list(waiting), []
                else:
                    done = [waiting.pop(0)]
                if not waiting:
                    del self._confirms[channel]
                for future in done:
                    if not future.done():
                        future.set_result(None)
        elif kind == "pong":
            self._last_pong = asyncio.get_running_loop().time()

    def _deliver(self, channel: str, data: str) -> None:
        session_id = channel[len(self._prefix):]
        listeners = self._listeners.get(session_id)
        if not listeners:
            return
        hand_over(session_id, data, listeners)


def hand_over(key: str, data: str, listeners: Sequence[SessionListener]) -> None:
    """Give one published message to ``key``'s listeners: ``E`` + frames joined by
    newlines (what the append scripts publish), or ``C`` + a command (``notify``)."""
    if data.startswith("E"):
        frames = data[1:].split("\n")
        for listener in list(listeners):
            listener.on_frames(key, frames)
    elif data.startswith("C"):
        for listener in list(listeners):
            listener.on_command(key, data[1:])


def _batches(items: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
