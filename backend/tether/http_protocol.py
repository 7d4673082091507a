"""uvicorn's h11 HTTP protocol with a deadline for reading each request's head.

uvicorn closes a keep-alive connection that stays idle (``timeout_keep_alive``), but once
a client has sent one byte of a request it waits for the rest for ever: a client that
sends a header byte a second (slowloris) holds a connection, and its buffers, for as long
as it likes, and a few thousand such clients exhaust the hub. This subclass closes a
connection whose request line and headers are not complete within ``header_timeout``
seconds of its first byte (or of the connection, for the first request). The body is
read by the app, with its own size limits; WebSockets leave this protocol on upgrade.

It also sets ``TCP_NODELAY`` on each connection and sends the writes of one event-loop
turn as one, as session sockets do (:mod:`tether.socket_protocol`): an answer's head and
body leave in one segment, at once, whoever made the listening socket. A connection that
upgrades to a WebSocket hands the same writer on.

``tether serve`` selects it with ``uvicorn.Config(http=http_protocol(timeout))``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import cast

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from tether.socket_protocol import _TurnWriter, set_nodelay

log = logging.getLogger(__name__)


class HeadTimeoutProtocol(H11Protocol):
    header_timeout: float = 10.0
    _head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        set_nodelay(transport)
        super().connection_made(_TurnWriter(transport))  # type: ignore[arg-type]
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE:
            self._arm()  # the first bytes of the next request: its head has a deadline now
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm()  # the head is in; from here the app reads (or upgrades)

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        self._disarm()
        super().handle_websocket_upgrade(event)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Idle between requests: uvicorn's keep-alive timer watches that, until a byte comes.
        self._disarm()

    def _arm(self) -> None:
        if self._head_deadline is None:
            self._head_deadline = self.loop.call_later(self.header_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _too_slow(self) -> None:
        self._head_deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            log.debug("Closing a connection that sent no request head in %s s", self.header_timeout)
            self.transport.close()


def http_protocol(header_timeout: float) -> type[HeadTimeoutProtocol]:
    """The protocol class for ``uvicorn.Config(http=...)`` with this deadline."""
    return cast(
        "type[HeadTimeoutProtocol]",
        type("HeadTimeoutProtocol", (HeadTimeoutProtocol,), {"header_timeout": header_timeout}),
    )
