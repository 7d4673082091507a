"""The peers' producer: a process emitting every session's events on a fixed schedule.

``python -m bench.producer --kind ws|sio --url URL --sessions N --count C --interval I``
connects, prints ``ready``, waits for a line on stdin, then emits ``C`` events to each of
the sessions ``0 .. N-1``, one per session every ``I`` seconds, the sessions' ticks
spread evenly over the interval (as independent sessions' would be). Each event carries
``time.time()`` taken just before it is handed on: the clients read it at receipt.
``--part P --parts K``: one of ``K`` producers sharing the sessions (``S % K == P``), for
a peer whose client library costs more per event than one process can spend.

- ``ws``: one WebSocket to the bare peer's ``/pub``, one ``S|FRAME`` message per event.
- ``sio``: a write-only ``socketio.AsyncRedisManager`` on the Socket.IO peer's Redis, one
  ``emit(room=S)`` (a Redis ``PUBLISH``) per event.

At the end it prints one JSON line: events emitted, seconds (longer than ``C × I``: the
producer fell behind its schedule), its own CPU seconds.

``--burst`` (``sio`` only; ``python -m bench throughput``): no schedule. For each line
``N`` on stdin it emits ``N`` events of ``--size`` bytes to the room ``0`` as fast as it
can (``IN_FLIGHT`` at once) and prints the same JSON line; it ends at end of input.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from collections.abc import Awaitable, Callable

import socketio  # type: ignore[import-untyped]
import uvloop
from websockets.asyncio.client import connect

TICK = 0.002
IN_FLIGHT = 16


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def schedule(sessions: int, count: int, interval: float,
                   emit: Callable[[int, int], Awaitable[None]], part: int = 0,
                   parts: int = 1) -> int:
    """Event ``g`` (session ``g % N``, its ``g // N``-th) is due at ``(g / N) * interval``;
    this process emits those of the sessions ``S`` with ``S % parts == part``."""
    loop = asyncio.get_running_loop()
    total = sessions * count
    start = loop.time()
    g = 0
    emitted = 0
    while g < total:
        due = min(total, int((loop.time() - start) / interval * sessions) + 1)
        batch = []
        while g < due:
            session = g % sessions
            if session % parts == part:
                batch.append(emit(session, g // sessions))
            g += 1
        # One tick's events are distinct sessions: sent together, so a client library that
        # awaits a Redis round trip per emit is not held to one round trip per event.
        # At most IN_FLIGHT at once: each is a Redis connection from the manager's pool.
        for start_at in range(0, len(batch), IN_FLIGHT):
            await asyncio.gather(*batch[start_at : start_at + IN_FLIGHT])
        emitted += len(batch)
        await asyncio.sleep(TICK)
    return emitted


async def burst(manager: socketio.AsyncRedisManager, size: int) -> None:
    """``--burst``: one run of ``N`` events per line read, until end of input."""
    loop = asyncio.get_running_loop()
    padding = "x" * max(0, size - 8)
    print("ready", flush=True)
    while line := (await loop.run_in_executor(None, sys.stdin.readline)).strip():
        count = int(line)
        cpu = cpu_seconds()
        started = time.perf_counter()
        for start_at in range(0, count, IN_FLIGHT):
            await asyncio.gather(*(
                manager.emit("s", f"{i:08d}{padding}", room="0", namespace="/")
                for i in range(start_at, min(count, start_at + IN_FLIGHT))
            ))
        print(json.dumps({"emitted": count, "seconds": time.perf_counter() - started,
                          "cpu_s": cpu_seconds() - cpu}), flush=True)


async def main(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    if args.burst:
        await burst(socketio.AsyncRedisManager(args.url, write_only=True), args.size)
        return
    if args.kind == "ws":
        ws = await connect(f"{args.url}/pub", compression=None, max_size=None)

        async def emit(session: int, k: int) -> None:
            await ws.send(f'{session}|{{"seq":{k + 1},"type":"stream",'
                          f'"content":"{time.time():.6f}"}}')
    else:
        manager = socketio.AsyncRedisManager(args.url, write_only=True)

        async def emit(session: int, k: int) -> None:
            await manager.emit("s", f"{time.time():.6f}", room=str(session), namespace="/")

    print("ready", flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)
    cpu = cpu_seconds()
    started = time.perf_counter()
    sent = await schedule(args.sessions, args.count, args.interval, emit, args.part, args.parts)
    seconds = time.perf_counter() - started
    if args.kind == "ws":
        await ws.close()
    print(json.dumps({"emitted": sent, "seconds": seconds, "cpu_s": cpu_seconds() - cpu}),
          flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.producer")
    parser.add_argument("--kind", choices=("ws", "sio"), required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--sessions", type=int, default=1)
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--interval", type=float, default=0.05)
    parser.add_argument("--burst", action="store_true",
                        help="sio: N events to room 0 per line N on stdin, flat out")
    parser.add_argument("--size", type=int, default=100, help="--burst: bytes per event")
    parser.add_argument("--part", type=int, default=0, help="this producer's share: sessions")
    parser.add_argument("--parts", type=int, default=1, help="S with S %% parts == part")
    parsed = parser.parse_args()
    if parsed.burst and parsed.kind != "sio":
        parser.error("--burst is for --kind sio")
    if not parsed.burst and parsed.count < 1:
        parser.error("--count must be at least 1")
    uvloop.run(main(parsed))
