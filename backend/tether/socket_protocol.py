"""uvicorn's sans-I/O WebSocket protocol, trimmed for many idle connections.

A session socket may stay open for days while nothing happens, so what each connection
holds is what a hub's memory is made of. This subclass changes no behaviour of uvicorn's
``websockets-sansio`` implementation, only its per-connection weight:

- the receive queue and the "writable" flag are a list and a flag with waiters made on
  demand, instead of an ``asyncio.Queue`` and an ``asyncio.Event`` (each of which keeps
  several deques, a few KiB per idle connection);
- the parsed handshake (request and response, with all their headers) is dropped once
  the connection is accepted.

``tether serve`` selects it with ``uvicorn.Config(ws=TetherWebSocketProtocol)``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol


class _Inbox:
    """The receive queue: one consumer (the ASGI app's ``receive``), FIFO."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def empty(self) -> bool:
        return not self._items

    async def get(self) -> Any:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.pop(0)


class _Flag:
    """What uvicorn uses of ``asyncio.Event``: set, clear, wait (several waiters)."""

    __slots__ = ("_is_set", "_waiters")

    def __init__(self) -> None:
        self._is_set = False
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._is_set

    def set(self) -> None:
        self._is_set = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._is_set = False

    async def wait(self) -> bool:
        if self._is_set:
            return True
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        await waiter
        return True


class TetherWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's ``websockets-sansio`` protocol with a lighter idle footprint."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = _Inbox()  # type: ignore[assignment]
        self.writable = _Flag()  # type: ignore[assignment]
        self.writable.set()

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept" and self.handshake_complete:
            # Only the handshake used them; they hold every request and response header.
            self.request = None  # type: ignore[assignment]
            self.response = None  # type: ignore[assignment]
