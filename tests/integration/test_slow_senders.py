"""Clients that send slowly cannot hold connections: a request head that is not complete
within TETHER_HEADER_TIMEOUT (slowloris: a header byte at a time) and a keep-alive
connection idle for TETHER_KEEPALIVE_TIMEOUT are closed; a normal client is served."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from tests.support.server import RunningHub, run_hub
from tests.support.timing import MS
from tether import Context, Hub
from tether.config import Settings

hub_def = Hub()


@hub_def.task()
async def noop(ctx: Context) -> None:
    """Does nothing."""


HEAD_TIMEOUT = 1000 * MS
KEEPALIVE = 500 * MS


@pytest.fixture
async def hub() -> AsyncIterator[RunningHub]:
    settings = Settings(static_dir=None, header_timeout=HEAD_TIMEOUT, keepalive_timeout=KEEPALIVE)
    async with run_hub(settings, hub_def) as running:
        yield running


async def open_raw(hub: RunningHub) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = hub.base_url.removeprefix("http://").split(":")
    return await asyncio.open_connection(host, int(port))


async def test_a_header_byte_at_a_time_is_disconnected(hub: RunningHub) -> None:
    reader, writer = await open_raw(hub)
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 10_000
    started = time.monotonic()
    closed_after: float | None = None
    for byte in request:
        try:
            writer.write(bytes([byte]))
            await writer.drain()
            # A byte every 100 ms (scaled): the head would take 1000 s to arrive.
            data = await asyncio.wait_for(reader.read(1024), 100 * MS)
        except TimeoutError:
            continue
        except ConnectionError:
            data = b""
        assert data == b"", data  # no answer: the head never completed
        closed_after = time.monotonic() - started
        break
    writer.close()
    assert closed_after is not None, "the hub kept the slow connection open"
    assert HEAD_TIMEOUT * 0.9 <= closed_after < HEAD_TIMEOUT + 3000 * MS


async def test_a_silent_connection_is_disconnected(hub: RunningHub) -> None:
    reader, writer = await open_raw(hub)
    started = time.monotonic()
    assert await asyncio.wait_for(reader.read(1024), HEAD_TIMEOUT + 3000 * MS) == b""
    assert time.monotonic() - started >= HEAD_TIMEOUT * 0.9
    writer.close()


async def test_keep_alive_serves_requests_then_closes_when_idle(hub: RunningHub) -> None:
    reader, writer = await open_raw(hub)
    for _ in range(3):  # each request on time, on the same connection
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
    # Slower than the head deadline in total, but each request's head arrived at once:
    # only idleness closes the connection now.
    started = time.monotonic()
    assert await asyncio.wait_for(reader.read(1024), KEEPALIVE + 3000 * MS) == b""
    assert time.monotonic() - started >= KEEPALIVE * 0.9
    writer.close()
