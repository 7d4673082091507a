"""The Socket.IO peer: ``python-socketio`` behind uvicorn, fed through Redis.

What a team would otherwise pick for "many sessions, each streaming to its tabs": an
``AsyncServer`` with ``AsyncRedisManager``, every tab in the room of its session, and a
separate producer process (:mod:`bench.producer`) emitting into the rooms through a
write-only ``AsyncRedisManager`` (one Redis ``PUBLISH`` per event). ``python -m
bench.sio_peer --redis URL --port 0`` prints ``Peer serving on http://127.0.0.1:PORT``.
A tab connects to ``/socket.io/?EIO=4&transport=websocket&session=S``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from typing import Any
from urllib.parse import parse_qs

import redis.asyncio as aioredis
import socketio  # type: ignore[import-untyped]
import uvloop

from bench.asgiserve import serve
from bench.procs import raise_nofile_limit


def make_app(redis_url: str) -> Any:
    sio = socketio.AsyncServer(
        async_mode="asgi", client_manager=socketio.AsyncRedisManager(redis_url, channel=CHANNEL),
        cors_allowed_origins="*",
    )

    @sio.event  # type: ignore[untyped-decorator]
    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        await sio.enter_room(sid, query["session"][0])

    return socketio.ASGIApp(sio)


CHANNEL = "socketio"  # AsyncRedisManager's default channel
POLL = 0.01


async def listening(redis_url: str, timeout: float = 10.0) -> None:
    """Wait until the server's manager has subscribed to its channel: it starts doing so
    at the first connection, and what is published before that reaches nobody."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        for _ in range(int(timeout / POLL)):  # another process's state: nothing to await
            if dict(await client.pubsub_numsub(CHANNEL)).get(CHANNEL.encode()):
                return
            await asyncio.sleep(POLL)
    finally:
        await client.aclose()
    raise TimeoutError(f"python-socketio did not subscribe to {CHANNEL!r} in {timeout} s")


async def main(redis_url: str, port: int) -> None:
    raise_nofile_limit()
    await serve(make_app(redis_url), port, ws_ping_interval=20.0)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.sio_peer")
    parser.add_argument("--redis", required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(main(args.redis, args.port))
