"""One pipelined connection for the store's script calls, on one Redis (or the primary a
Sentinel names).

Why. The store makes every session write and every answer a Lua call. Through redis-py's
client, each call passes its pool (a condition, a lock, a timeout), its retry wrapper and
its observability hooks: about 100 µs of the hub's CPU per call on the bench machine,
against about 25 µs for the same round trip on a bare asyncio stream (docs/BENCH.md,
"What a script call costs"). At two calls per answered question, that overhead was most of
what a round trip cost the hub.

How. The lane keeps one connection of the store's own pool (``make_connection``: it
connects, authenticates, selects the database, names itself and, behind Sentinel, asks
for the primary as every other connection of the store does, and hiredis packs its
commands). A call writes its packed command at once and waits on a future; one reader task
reads the replies and hands them out in order, since Redis answers a connection's commands
in the order they came. Many calls are in flight on one socket, as in a pipeline, and
nobody waits for a free connection; Redis runs scripts one at a time in any case.

Failures. An error reply is its own call's (a script's ``error_reply``, NOSCRIPT, READONLY
on a primary that is one no longer, which redis-py's Sentinel connection turns into a
ConnectionError after dropping the connection). A connection that fails fails every call
in flight with ConnectionError; the next call connects anew. Each call goes through the
connection's ``Retry`` (redis-py's, the one every command of the store's client gets), so
what a lost connection does to a script call is what it did before the lane.

Not for a Redis Cluster (a connection per node: redis-py's cluster client routes those
calls), nor for writes that wait for replicas (``WAIT`` holds its connection until they
answer; scripts.py sends those through the pool).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError

__all__ = ["ScriptLane"]

log = logging.getLogger(__name__)


class ScriptLane:
    """Script calls on one connection of ``redis``'s pool, pipelined. See the module
    docstring."""

    def __init__(self, redis: aioredis.Redis) -> None:
        make = cast(Callable[[], AbstractConnection], redis.connection_pool.make_connection)
        # One connection object for the lane's life: connect() after a disconnect dials
        # again (behind Sentinel, to whichever primary the sentinels name then).
        self._conn = make()
        self._retry: Retry = self._conn.retry  # what redis-py's own commands retry with
        self._writer: asyncio.StreamWriter | None = None  # while connected
        self._waiting: deque[asyncio.Future[Any]] = deque()
        self._reader: asyncio.Task[None] | None = None
        self._connecting = asyncio.Lock()
        self._closed = False

    async def evalsha(self, script: AsyncScript, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """``script``'s reply, loading it first when this Redis does not have it."""
        command = ("EVALSHA", script.sha, len(keys), *keys, *args)
        try:
            return await self._call(command)
        except NoScriptError:  # a restarted Redis, a new primary: an empty script cache
            # Loaded down the lane too: after a restart every call in flight gets here at
            # once, and a load each through the pool would open as many connections.
            await self._call(("SCRIPT", "LOAD", script.script))
            return await self._call(command)

    async def close(self) -> None:
        """Fail what is in flight and disconnect; later calls raise ConnectionError."""
        self._closed = True
        await self._drop(RedisConnectionError("The store is closing."))

    async def _call(self, command: tuple[Any, ...]) -> Any:
        async def once() -> Any:
            return await self._once(command)

        async def failed(error: Exception) -> None:
            pass  # the reader dropped the connection already; the next try dials again

        return await self._retry.call_with_retry(once, failed)

    async def _once(self, command: tuple[Any, ...]) -> Any:
        writer = self._writer
        if writer is None or self._reader is None:
            writer = await self._connected()
        packed = self._conn.pack_command(*command)  # first: it raises on a bad argument
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        # The place in line and the write in one step: replies come in the order the
        # commands were written. No drain: every caller waits for its reply, which bounds
        # what is buffered, and a caller cancelled in a drain would leave a half-written
        # command on a connection the others share.
        self._waiting.append(future)
        writer.writelines(packed)
        return await future

    async def _connected(self) -> asyncio.StreamWriter:
        async with self._connecting:
            if self._closed:
                raise RedisConnectionError("The store is closed.")
            if self._writer is None or self._reader is None:
                conn = self._conn
                await cast(Callable[[], Awaitable[None]], conn.connect)()
                if self._closed:  # closed while it dialled: leave nothing open behind
                    await conn.disconnect()
                    raise RedisConnectionError("The store is closed.")
                # redis-py keeps its stream writer private; the lane writes to it itself,
                # so that a command is written in the same step it takes its place in line.
                writer = getattr(conn, "_writer", None)
                if not isinstance(writer, asyncio.StreamWriter):
                    await conn.disconnect()
                    raise RuntimeError("redis-py's connection has no stream writer")
                self._writer = writer
                self._reader = asyncio.get_running_loop().create_task(
                    self._read(self._waiting), name="tether-script-lane"
                )
            return self._writer

    async def _read(self, waiting: deque[asyncio.Future[Any]]) -> None:
        """Hand each reply to the call first in line, until the connection fails.

        Between calls the read simply waits: Redis sends nothing on this connection but
        replies, and a call is in line before its command is written.
        """
        try:
            while True:
                try:
                    reply: Any = await self._conn.read_response(timeout=math.inf)
                    error = False
                except RedisConnectionError:
                    raise
                except (OSError, EOFError) as exc:
                    raise RedisConnectionError(str(exc) or type(exc).__name__) from exc
                except RedisError as exc:  # an error reply: that call's alone
                    reply, error = exc, True
                if not waiting:
                    raise RedisConnectionError("Redis sent a reply nothing asked for")
                future = waiting.popleft()
                if future.done():
                    continue  # its caller gave up waiting; the reply is read all the same
                if error:
                    future.set_exception(reply)
                else:
                    future.set_result(reply)
        except Exception as exc:  # the connection failed (or, never yet, this loop did)
            if not isinstance(exc, RedisConnectionError):
                log.error("The script lane's reader failed", exc_info=exc)
                exc = RedisConnectionError(f"The script lane failed: {exc!r}")
            if waiting is self._waiting:  # else a newer connection's reader took over
                self._reader = None  # this task ends here: _drop must not cancel it
                await self._drop(exc)

    async def _drop(self, exc: Exception) -> None:
        """Fail every call in flight with ``exc`` and disconnect."""
        self._writer = None
        reader, self._reader = self._reader, None
        waiting, self._waiting = self._waiting, deque()
        for future in waiting:
            if not future.done():
                future.set_exception(exc)
        if reader is not None and reader is not asyncio.current_task():
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        await self._conn.disconnect()
