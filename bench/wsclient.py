"""A minimal WebSocket client that counts frames cheaply, for many sockets in one process.

A full client library spends more CPU per received frame than the servers under test
spend sending it; on a 2-core machine that would measure the client. This one speaks just
enough RFC 6455 for the benchmarks: the upgrade handshake (with a Cookie), unfragmented
server frames, masked client text frames, pongs for the server's pings and the closing
handshake. Both Tether and the peer are read with this same code.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import struct
import time
from collections.abc import Callable
from typing import cast
from urllib.parse import urlsplit

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_STREAM = b'"type":"stream"'
_REPLAY_COMPLETE = b'"type":"replay_complete"'
_REQUEST_CONFIRMATION = b'"type":"request_confirmation"'
_SNAPSHOT = b'"type":"snapshot"'
_SEQ = b'{"seq":'

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


class HandshakeFailed(Exception):
    """The server did not switch protocols."""


def _client_frame(opcode: int, payload: bytes) -> bytes:
    """A final, masked frame; the mask key is zero, so the payload goes out as it is."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    return head + b"\0\0\0\0" + payload


class Tab(asyncio.Protocol):
    """One WebSocket connection and what it saw. See the module docstring.

    Counters: ``streams`` (stream events), ``snapshots``, ``events`` (all numbered events), the
    ``perf_counter`` times of the first and last stream event, and of ``replay_complete``.
    ``on_frame`` (optional) sees every text frame.
    """

    def __init__(self, request: bytes, key: bytes, *, stream_goal: int = 0) -> None:
        self._request = request
        self._accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
        self._buf = bytearray()
        self._upgraded = False
        self.transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[int | None] = loop.create_future()
        self.replayed: asyncio.Future[float] = loop.create_future()
        self.confirm_asked: asyncio.Future[None] = loop.create_future()
        self.stream_goal = stream_goal
        self.streamed: asyncio.Future[None] = loop.create_future()
        self.on_frame: Callable[[bytes], None] | None = None
        self.streams = 0
        self.snapshots = 0
        self.events = 0
        self.frames = 0
        self.bytes = 0
        self.first_stream = 0.0
        self.last_stream = 0.0
        self.sample_stream: bytes = b""

    # --- asyncio.Protocol ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A cast, not isinstance: uvloop's transports are not asyncio.Transport's kind.
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(self._request)

    def connection_lost(self, exc: Exception | None) -> None:
        for future in (self.opened, self.replayed, self.confirm_asked, self.streamed):
            if not future.done():
                future.set_exception(ConnectionResetError(f"connection lost: {exc}"))
                future.exception()  # marked retrieved: nobody may be waiting for it
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        if not self._upgraded and not self._handshake():
            return
        self._frames()

    # --- parsing ---------------------------------------------------------------------

    def _handshake(self) -> bool:
        end = self._buf.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = bytes(self._buf[:end]).decode("latin-1")
        del self._buf[: end + 4]
        status = head.split("\r\n", 1)[0]
        accepted = any(
            line.lower().startswith("sec-websocket-accept:")
            and line.split(":", 1)[1].strip().encode() == self._accept
            for line in head.split("\r\n")
        )
        if status.split(" ")[1:2] != ["101"] or not accepted:
            self.opened.set_exception(HandshakeFailed(status))
            assert self.transport is not None
            self.transport.close()
            return False
        self._upgraded = True
        self.opened.set_result(None)
        return True

    def _frames(self) -> None:
        buf = self._buf
        size = len(buf)
        pos = 0
        while size - pos >= 2:
            b0 = buf[pos]
            length = buf[pos + 1] & 0x7F
            head = 2
            if length == 126:
                if size - pos < 4:
                    break
                length = (buf[pos + 2] << 8) | buf[pos + 3]
                head = 4
            elif length == 127:
                if size - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                head = 10
            end = pos + head + length
            if end > size:
                break
            opcode = b0 & 0x0F
            if opcode == OP_TEXT or opcode == OP_CONT:
                self._text(bytes(buf[pos + head : end]))
            else:
                self._control(opcode, bytes(buf[pos + head : end]))
            pos = end
        if pos:
            del buf[:pos]

    def _text(self, payload: bytes) -> None:
        self.frames += 1
        self.bytes += len(payload)
        if payload.startswith(_SEQ):
            self.events += 1
            if payload.find(_STREAM, 0, 80) >= 0:
                now = time.perf_counter()
                if not self.streams:
                    self.first_stream = now
                    self.sample_stream = payload
                self.last_stream = now
                self.streams += 1
                if self.streams == self.stream_goal and not self.streamed.done():
                    self.streamed.set_result(None)
            elif payload.find(_REQUEST_CONFIRMATION, 0, 80) >= 0:
                if not self.confirm_asked.done():
                    self.confirm_asked.set_result(None)
            elif payload.find(_SNAPSHOT, 0, 80) >= 0:
                self.snapshots += 1
        elif payload.find(_REPLAY_COMPLETE, 0, 40) >= 0 and not self.replayed.done():
            self.replayed.set_result(time.perf_counter())
        if self.on_frame is not None:
            self.on_frame(payload)

    def _control(self, opcode: int, payload: bytes) -> None:
        assert self.transport is not None
        if opcode == OP_PING:
            self.transport.write(_client_frame(OP_PONG, payload))
        elif opcode == OP_CLOSE:
            code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
            if not self.closed.done():
                self.transport.write(_client_frame(OP_CLOSE, payload[:2]))
                self.closed.set_result(code)
            self.transport.close()

    # --- sending ---------------------------------------------------------------------

    def send_text(self, text: str) -> None:
        assert self.transport is not None
        self.transport.write(_client_frame(OP_TEXT, text.encode()))

    async def close(self, timeout: float = 5.0) -> None:
        """The closing handshake (1000), or an abort if the server does not answer."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        transport.write(_client_frame(OP_CLOSE, struct.pack("!H", 1000)))
        try:
            await asyncio.wait_for(asyncio.shield(self.closed), timeout)
        except (TimeoutError, ConnectionError):
            pass
        transport.abort()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


async def connect(
    url: str, *, cookie: str | None = None, stream_goal: int = 0, timeout: float = 30.0
) -> Tab:
    """Open ``ws://host:port/path?query``; returns once the server switched protocols.

    ``stream_goal``: ``Tab.streamed`` resolves when that many stream events arrived.
    """
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or 80
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    key = base64.b64encode(os.urandom(16))
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key.decode()}",
        "Sec-WebSocket-Version: 13",
    ]
    if cookie:
        lines.append(f"Cookie: {cookie}")
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    loop = asyncio.get_running_loop()
    _, tab = await asyncio.wait_for(
        loop.create_connection(lambda: Tab(request, key, stream_goal=stream_goal), host, port),
        timeout,
    )
    try:
        await asyncio.wait_for(asyncio.shield(tab.opened), timeout)
    except BaseException:
        tab.abort()
        raise
    return tab
