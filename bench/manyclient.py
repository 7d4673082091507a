"""A load-generating client process for ``python -m bench many``: many tabs, one loop.

Reads one JSON line on stdin: ``{"kind": "tether"|"ws"|"sio", "urls": [...], "cookie":
..., "expect": N, "timeout": S}``; opens one socket per URL (:mod:`bench.wsclient`, the
same cheap client for all three servers), prints ``ready`` once every socket is in place
(Tether: past ``replay_complete`` with the confirmation asked; Socket.IO: the namespace
joined), and waits for a line on stdin. Then (Tether) it answers every tab's
confirmation, which starts the sessions, and reads each stream event's emit stamp
(``time.time()`` the task or producer put in it) against the clock at receipt, until
``expect`` events arrived in all or ``timeout`` seconds passed. It prints one JSON line:
the latencies (ms), events received, its own CPU seconds.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from typing import Any

import uvloop

from bench import wsclient

CONFIRM = '{"type":"confirm","value":true}'
CONNECTS_IN_FLIGHT = 64
_CONTENT = b'"content":"'


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Collector:
    def __init__(self, kind: str, expect: int) -> None:
        self.kind = kind
        self.expect = expect
        self.latencies: list[float] = []
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def _stamp(self, stamp: float) -> None:
        self.latencies.append((time.time() - stamp) * 1000)
        if len(self.latencies) >= self.expect and not self.done.done():
            self.done.set_result(None)

    def attach(self, tab: wsclient.Tab) -> asyncio.Future[None]:
        """Read ``tab``'s frames; the future resolves once the tab is ready for ``go``."""
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.kind == "sio":
            def on_sio(payload: bytes) -> None:
                if payload.startswith(b'42["s","'):
                    self._stamp(float(payload[8:-2]))
                elif payload == b"2":  # Engine.IO ping
                    tab.send_text("3")
                elif payload.startswith(b"40") and not ready.done():
                    ready.set_result(None)
            tab.on_frame = on_sio
            # Join the namespace. The Engine.IO open packet may have come with the
            # handshake, before this reader was attached: do not wait for it.
            tab.send_text("40")
            return ready

        def on_frame(payload: bytes) -> None:
            start = payload.find(_CONTENT, 0, 120)
            if start >= 0 and payload.find(b'"type":"stream"', 0, 80) >= 0:
                start += len(_CONTENT)
                self._stamp(float(payload[start : payload.index(b'"', start)]))
        tab.on_frame = on_frame
        if self.kind == "tether":
            return asyncio.ensure_future(_tether_ready(tab))
        ready.set_result(None)
        return ready


async def _tether_ready(tab: wsclient.Tab) -> None:
    await asyncio.gather(tab.replayed, tab.confirm_asked)


async def main() -> None:
    loop = asyncio.get_running_loop()
    spec: dict[str, Any] = json.loads(await loop.run_in_executor(None, sys.stdin.readline))
    collector = Collector(spec["kind"], spec["expect"])
    gate = asyncio.Semaphore(CONNECTS_IN_FLIGHT)

    async def open_one(url: str) -> wsclient.Tab:
        async with gate:
            tab = await wsclient.connect(url, cookie=spec.get("cookie"))
            await asyncio.wait_for(collector.attach(tab), 60.0)
            return tab

    tabs = await asyncio.gather(*(open_one(url) for url in spec["urls"]))
    print("ready", flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)
    cpu = cpu_seconds()
    if spec["kind"] == "tether":
        for tab in tabs:
            tab.send_text(CONFIRM)
    try:
        await asyncio.wait_for(asyncio.shield(collector.done), spec["timeout"])
    except TimeoutError:
        pass
    used = cpu_seconds() - cpu
    print(json.dumps({"latencies_ms": [round(v, 3) for v in collector.latencies],
                      "sockets": len(tabs), "cpu_s": used}), flush=True)
    for tab in tabs:
        tab.abort()


if __name__ == "__main__":
    uvloop.run(main())
