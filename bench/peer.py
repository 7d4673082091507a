"""The peer: a bare ``websockets`` (asyncio API) server sending frames from memory.

``python -m bench.peer --port 0`` prints ``Peer serving on http://127.0.0.1:PORT`` and
serves until SIGTERM. It sends the same frames Tether would (``{"seq":N,"ts":...,
"type":"stream","content":...}``, the content as ``ticker`` makes it), built before any
clock starts, with the same transport settings as ``tether serve``: no compression,
20 s pings. Paths:

- ``/throughput?round=R&clients=C&count=N&size=S&mode=M``: once ``C`` clients of round
  ``R`` are connected, the ``N`` frames go to each: with ``mode=send`` each connection's
  own task sends them with ``await send()`` (a writer per connection, with
  backpressure, as Tether's outboxes do); with ``mode=broadcast`` one task calls
  ``websockets.broadcast()`` per frame (no backpressure), yielding every 64 frames.
- ``/replay?count=N&size=S``: on connect, ``replay_start``, ``N`` stored frames from a
  list, ``replay_complete``; then idles.
- ``/idle``: ``replay_complete`` with nothing before it; then idles (the memory bench).
- ``/echo``: every frame received is sent back as it came (the answer round trip).
- ``/sub?session=S`` and ``/pub`` (many sessions): a producer process sends
  ``S|FRAME`` on ``/pub``; ``FRAME`` goes, as it came, to every ``/sub`` socket of
  session ``S`` (``broadcast()``: no copy, no backpressure).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from datetime import UTC, datetime
from functools import cache
from urllib.parse import parse_qs, urlsplit

import uvloop
from websockets.asyncio.server import ServerConnection, broadcast, serve

from bench.procs import raise_nofile_limit

MAX_FRAME_BYTES = 64 * 1024  # Settings.max_frame_bytes
PING_INTERVAL = 20.0  # Settings.ping_interval
BROADCAST_CHUNK = 64
CLOSE_TIMEOUT = 1.0  # on exit, the bench's clients may be gone without a closing handshake


@cache
def stream_frames(count: int, size: int) -> tuple[str, ...]:
    """``count`` frames shaped exactly as Tether's ``stream`` events of ``ticker``."""
    ts = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    padding = "x" * (size - 8)
    return tuple(
        f'{{"seq":{i + 1},"ts":"{ts}","type":"stream","content":"{i:08d}{padding}"}}'
        for i in range(count)
    )


async def _send_all(ws: ServerConnection, frames: tuple[str, ...]) -> None:
    for frame in frames:
        await ws.send(frame)


class Peer:
    def __init__(self) -> None:
        self._rounds: dict[str, tuple[list[ServerConnection], asyncio.Event]] = {}
        self._subscribers: dict[str, set[ServerConnection]] = {}

    async def handler(self, ws: ServerConnection) -> None:
        parts = urlsplit(ws.request.path if ws.request else "/")
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path == "/throughput":
            await self._throughput(ws, query)
        elif parts.path == "/replay":
            await self._replay(ws, query)
        elif parts.path == "/idle":
            await ws.send('{"type":"replay_complete","last_seq":0}')
        elif parts.path == "/echo":
            async for message in ws:
                await ws.send(message)
            return
        elif parts.path == "/pub":
            await self._relay(ws)
            return
        elif parts.path == "/sub":
            members = self._subscribers.setdefault(query["session"], set())
            members.add(ws)
            try:
                await ws.wait_closed()
            finally:
                members.discard(ws)
            return
        else:
            await ws.close(4404, "unknown path")
            return
        await ws.wait_closed()

    async def _throughput(self, ws: ServerConnection, query: dict[str, str]) -> None:
        frames = stream_frames(int(query["count"]), int(query["size"]))
        members, go = self._rounds.setdefault(query["round"], ([], asyncio.Event()))
        members.append(ws)
        if len(members) < int(query["clients"]):
            await go.wait()
            if query["mode"] == "send":
                await _send_all(ws, frames)
            return
        self._rounds.pop(query["round"], None)
        go.set()
        if query["mode"] == "send":
            await _send_all(ws, frames)
            return
        for start in range(0, len(frames), BROADCAST_CHUNK):
            for frame in frames[start : start + BROADCAST_CHUNK]:
                broadcast(members, frame)
            await asyncio.sleep(0)  # let the loop flush what the kernel takes

    async def _relay(self, ws: ServerConnection) -> None:
        async for message in ws:
            text = message if isinstance(message, str) else message.decode()
            session, _, frame = text.partition("|")
            members = self._subscribers.get(session)
            if members:
                broadcast(members, frame)

    async def _replay(self, ws: ServerConnection, query: dict[str, str]) -> None:
        frames = stream_frames(int(query["count"]), int(query["size"]))
        await ws.send(f'{{"type":"replay_start","after":0,"last_seq":{len(frames)}}}')
        for frame in frames:
            await ws.send(frame)
        await ws.send(f'{{"type":"replay_complete","last_seq":{len(frames)}}}')


async def main(port: int) -> None:
    raise_nofile_limit()
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    peer = Peer()
    server = await serve(
        peer.handler, "127.0.0.1", port, compression=None, max_size=MAX_FRAME_BYTES,
        ping_interval=PING_INTERVAL, ping_timeout=PING_INTERVAL, close_timeout=CLOSE_TIMEOUT,
        backlog=2048,
    )
    bound = next(iter(server.sockets)).getsockname()[1]
    print(f"Peer serving on http://127.0.0.1:{bound}", flush=True)
    await stop
    server.close()
    await server.wait_closed()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.peer")
    parser.add_argument("--port", type=int, default=0)
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(main(parser.parse_args().port))
