"""uvicorn's sans-I/O WebSocket protocol, trimmed for many idle connections.

A session socket may stay open for days while nothing happens, so what each connection
holds is what a hub's memory is made of. This subclass changes no behaviour of uvicorn's
``websockets-sansio`` implementation, only its per-connection weight:

- the receive queue and the "writable" flag are a list and a flag with waiters made on
  demand, instead of an ``asyncio.Queue`` and an ``asyncio.Event`` (each of which keeps
  several deques, a few KiB per idle connection);
- the parsed handshake (request and response, with all their headers) is dropped once
  the connection is accepted.

It also turns Nagle's algorithm off on every session socket (see :func:`set_nodelay`) and,
so that a burst of small frames still leaves in large segments, sends all the writes of
one event-loop turn as one (:class:`_TurnWriter`). And it can send a text frame without a
coroutine when nothing holds it back (:meth:`TetherWebSocketProtocol.send_text_now`), so
that a live event reaches a tab without a task of its own (see :func:`text_sender`).

``tether serve`` selects it with ``uvicorn.Config(ws=TetherWebSocketProtocol)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from typing import Any, cast

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState


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


def set_nodelay(transport: asyncio.BaseTransport) -> None:
    """Set ``TCP_NODELAY`` on a TCP transport's socket (other transports are left alone).

    A session exchange writes small frames back to back (``request_answered``, then the
    task's next event). With Nagle's algorithm on, the kernel holds each second small
    write until the first is acknowledged, and the client delays that ACK by ~40 ms.
    asyncio sets the option itself only when the listening socket was created with
    ``proto=IPPROTO_TCP``; a socket made with ``proto=0`` (``socket.socket()``, as an
    inherited ``--fd``, a test server or a process manager may hand uvicorn) silently
    leaves it off. Setting it here, per accepted connection, does not depend on who
    made the listening socket.
    """
    sock = transport.get_extra_info("socket")
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    with contextlib.suppress(OSError):  # the peer may already be gone; nothing to speed up
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _TurnWriter:
    """The connection's transport, except that the writes made during one turn of the
    event loop go to the kernel as one write, at the end of the turn.

    With Nagle's algorithm off, every ``write`` is its own TCP segment: a fan-out batch of
    a thousand 170-byte frames was a thousand segments and a thousand ``send`` calls, and
    streaming throughput fell by a third. Joined, the batch is a few large segments, one
    call, and no frame waits longer than the rest of the turn that wrote it.
    Everything else is the transport's own (``__getattr__``); ``close`` sends what is
    pending first, ``abort`` drops it.
    """

    __slots__ = ("_pending", "_transport")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._pending: list[bytes] | None = None

    def write(self, data: bytes) -> None:
        if not data:
            return
        if self._pending is None:
            self._pending = [data]
            asyncio.get_running_loop().call_soon(self._flush)
        else:
            self._pending.append(data)

    def _flush(self) -> None:
        pending, self._pending = self._pending, None
        if pending and not self._transport.is_closing():
            self._transport.write(b"".join(pending))

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending = None
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class TetherWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's ``websockets-sansio`` protocol with a lighter idle footprint and no
    Nagle delay."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = _Inbox()  # type: ignore[assignment]
        self.writable = _Flag()  # type: ignore[assignment]
        self.writable.set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        set_nodelay(transport)
        if isinstance(transport, _TurnWriter):  # an upgraded HTTP connection's own
            super().connection_made(transport)
            return
        # A cast, not isinstance: uvloop's transports are not asyncio.Transport's kind.
        super().connection_made(_TurnWriter(cast(asyncio.Transport, transport)))  # type: ignore[arg-type]

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept" and self.handshake_complete:
            # Only the handshake used them; they hold every request and response header.
            self.request = None  # type: ignore[assignment]
            self.response = None  # type: ignore[assignment]

    def send_text_now(self, text: str) -> bool:
        """Send ``text`` as a text frame, as ``send({"type": "websocket.send", ...})``
        would, if that would not wait: True if it was sent. False when the connection is
        not open for frames (the handshake is not done, a close was sent, the peer went)
        or the transport asked to pause writing: the caller then awaits ``send``, which
        waits or raises exactly as the ASGI interface says.
        """
        if (
            not self.handshake_complete or self.close_sent or self.disconnected
            or self.initial_response is not None or not self.writable.is_set()
        ):
            return False
        try:
            self.conn.send_text(text.encode())
        except InvalidState:  # closing: send() raises ClientDisconnected for it
            return False
        self.transport.write(b"".join(self.conn.data_to_send()))
        return True


def text_sender(send: Callable[..., Any]) -> Callable[[str], bool] | None:
    """The synchronous sender of the connection behind an ASGI ``send``: the
    :meth:`~TetherWebSocketProtocol.send_text_now` of the protocol that handed it to the
    app, or None when another server (or a wrapper) made ``send``."""
    protocol = getattr(send, "__self__", None)
    if isinstance(protocol, TetherWebSocketProtocol):
        return protocol.send_text_now
    return None
