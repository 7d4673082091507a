"""WebSocket keepalive of ``tether serve``: a ping every TETHER_PING_INTERVAL, and a
client that does not answer one within the same time is closed (README, configuration).
The silent client is a raw TCP socket that completes the handshake and then only reads,
since every WebSocket library answers pings on its own."""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import time

import websockets

from tests.e2e.durable_checks import TASKS, StartHub
from tests.support.follow import Person
from tests.support.tabs import Tab
from tests.support.timing import MS

PING = 0x9
CLOSE = 0x8


async def silent_client(person: Person, url: str, path: str) -> tuple[list[int], int | None]:
    """Open a WebSocket by hand and never answer anything; return the opcodes the hub
    sent and its close code (None: it dropped the connection without one)."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    key = base64.b64encode(os.urandom(16)).decode()
    cookie = person.cookie_header["Cookie"]
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Cookie: {cookie}\r\n\r\n".encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    opcodes: list[int] = []
    try:
        while True:
            first, second = await reader.readexactly(2)
            length = second & 0x7F  # a server's frames are not masked
            if length == 126:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", await reader.readexactly(8))
            payload = await reader.readexactly(length)
            opcodes.append(first & 0x0F)
            if first & 0x0F == CLOSE:
                code: int | None = struct.unpack("!H", payload[:2])[0] if payload else None
                return opcodes, code
    except asyncio.IncompleteReadError:
        return opcodes, None
    finally:
        writer.close()


async def test_a_client_that_stops_answering_pings_is_closed(
    hub_procs: StartHub, redis_url: str
) -> None:
    """With a 0.3 s ping interval, a client that reads but never answers is pinged and
    then closed with 1011 about two intervals after it connected; a client on the same
    session that answers pings is still served afterwards."""
    interval = 300 * MS
    hub = hub_procs(TASKS, redis_url=redis_url, hub_id="hub-ping",
                    TETHER_PING_INTERVAL=str(interval))
    person = await Person.sign_in(hub)
    session_id = await person.start(hub, "changing", {})  # waits for an answer: no events
    # The answering client: websockets answers pings by itself.
    answering = await websockets.connect(
        f"{hub.ws_url}/ws/sessions/{session_id}?after=0",
        additional_headers=person.cookie_header, max_queue=None,
    )
    tab = Tab(answering, 0)
    await tab.until("replay_complete")
    started = time.monotonic()
    opcodes, code = await asyncio.wait_for(
        silent_client(person, hub.base_url, f"/ws/sessions/{session_id}?after=0"),
        timeout=20 * interval + 5,
    )
    lasted = time.monotonic() - started
    print(f"an unanswering client was closed after {lasted:.2f} s (interval {interval} s)")
    assert PING in opcodes, opcodes
    assert code == 1011, (opcodes, code)
    assert lasted >= 2 * interval * 0.9, f"closed after {lasted:.2f} s, before a ping timed out"
    await tab.ping_pong()  # answered pings for as long: still open
    await answering.close()
