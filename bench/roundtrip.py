"""Answer round trip: from sending ``confirm`` to the task's next event, one session.

Tether: one ``rally`` session (bench.tasks) on a hub of its own, one tab on loopback.
Each exchange waits until the task's confirmation is open, then the clock runs from
writing the ``confirm`` frame to the arrival of the ``stream`` event the task emits once
it has the answer: the answer travels tab → hub → store (answer recorded) → the waiting
task, and the event task → writer → store → fan-out → tab. Measured with the memory
store, with Redis, and with a Redis primary and one replica where the hub WAITs for the
replica after each write that must not be lost (``TETHER_REDIS_WAIT_REPLICAS=1``: the
answer, and the journal entry of the next question). The peer: a bare ``websockets``
server echoing each frame; its clock runs from writing the same ``confirm`` frame to the
echo's arrival. Exchanges
alternate between Tether and the peer; the first ``warmup`` of each are not counted.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass
from typing import Any

from bench import wsclient
from bench.hubclient import HubUser
from bench.procs import Processes, Server
from bench.report import Figure, median, percentile

CONFIRM = '{"type":"confirm","value":true}'
TARGET_MS = 1.0
EXCHANGE_TIMEOUT = 10.0  # a hang guard, far above any plausible round trip
UNLIMITED = {"TETHER_RATE_PER_SECOND": "1000000", "TETHER_RATE_BURST": "1000000"}
_CONFIRMATION = b'"type":"request_confirmation"'
_STREAM = b'"type":"stream"'


@dataclass(frozen=True)
class Config:
    exchanges: int
    warmup: int = 50


class Rally:
    """One tab and when its frames arrived: ``arrival(marker, n)`` is the time the
    ``n``-th text frame holding ``marker`` arrived (``b""``: any frame), once it has."""

    def __init__(self, tab: wsclient.Tab, markers: tuple[bytes, ...]) -> None:
        self.tab = tab
        self._seen: dict[bytes, list[float]] = {marker: [] for marker in markers}
        self._waiter: tuple[bytes, int, asyncio.Future[float]] | None = None
        tab.on_frame = self._frame

    def _frame(self, payload: bytes) -> None:
        now = time.perf_counter()
        for marker, times in self._seen.items():
            if payload.find(marker, 0, 80) >= 0:
                times.append(now)
        if self._waiter is not None:
            marker, n, future = self._waiter
            if len(self._seen[marker]) >= n and not future.done():
                future.set_result(self._seen[marker][n - 1])

    def count(self, marker: bytes) -> int:
        return len(self._seen[marker])

    async def arrival(self, marker: bytes, n: int) -> float:
        times = self._seen[marker]
        if len(times) >= n:
            return times[n - 1]
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiter = (marker, n, future)
        closed = asyncio.shield(self.tab.closed)
        try:
            await asyncio.wait({future, closed}, timeout=EXCHANGE_TIMEOUT,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._waiter = None
        if future.done():
            return future.result()
        if closed.done():
            raise RuntimeError(f"the server closed the socket ({closed.result()})")
        raise TimeoutError(f"no frame with {marker!r} within {EXCHANGE_TIMEOUT} s")

    async def exchange(self, reply: bytes) -> float:
        """Send ``confirm``; milliseconds until the next frame holding ``reply``."""
        n = self.count(reply) + 1
        start = time.perf_counter()
        self.tab.send_text(CONFIRM)
        return (await self.arrival(reply, n) - start) * 1000


async def open_rally(user: HubUser, rounds: int) -> Rally:
    session_id = await user.start("rally", {"rounds": rounds})
    tab = await user.connect(session_id)
    # The replay may have come with the handshake, before a Rally could count it: wait on
    # the tab's own flag. Each exchange then waits for one confirmation more than it saw.
    rally = Rally(tab, (_CONFIRMATION, _STREAM))
    await asyncio.wait_for(asyncio.gather(tab.replayed, tab.confirm_asked), 30.0)
    return rally


async def tether_exchange(rally: Rally) -> float:
    asked = rally.count(_CONFIRMATION)
    ms = await rally.exchange(_STREAM)
    # The next round's confirmation must be open before the next answer is sent.
    await rally.arrival(_CONFIRMATION, asked + 1)
    return ms


async def measure(hub: Server, peer: Server, config: Config) -> tuple[list[float], list[float]]:
    total = config.warmup + config.exchanges
    tether_ms: list[float] = []
    peer_ms: list[float] = []
    async with HubUser(hub) as user:
        rally = await open_rally(user, total + 1)
        echo = Rally(await wsclient.connect(f"{peer.ws_url}/echo"), (b"",))
        try:
            for i in range(total):
                t = await tether_exchange(rally)
                b = await echo.exchange(b"")
                if i >= config.warmup:
                    tether_ms.append(t)
                    peer_ms.append(b)
        finally:
            await asyncio.gather(rally.tab.close(timeout=2.0), echo.tab.close(timeout=2.0))
    return tether_ms, peer_ms


def _figures(store: str, tether_ms: list[float], peer_ms: list[float], config: Config,
             details: dict[str, Any]) -> list[Figure]:
    where = "redis store, one replica, WAIT 1 after answers and journal entries" \
        if store == "redis_wait" else f"{store} store"
    conditions = (
        f"one rally session, {where}, one tab on loopback; send confirm -> the task's"
        f" next stream event, {config.exchanges} exchanges after {config.warmup} warm-up;"
        f" peer: websockets echo of the same frame, alternating; the hub's client frame"
        f" rate limit lifted"
    )
    figures = []
    for key, q in (("p50", 50.0), ("p99", 99.0)):
        t = percentile(tether_ms, q)
        b = percentile(peer_ms, q)
        is_target = key == "p50" and store == "memory"  # the target the hub is held to
        figures.append(Figure(
            key=f"answer_rtt_{store}_{key}",
            label=f"answer round trip, {store.replace('_wait', ' + WAIT')}, {key}",
            unit="ms", tether=t, peer=b,
            target=f"< {TARGET_MS:.0f} ms" if is_target else "-",
            met=t < TARGET_MS if is_target else True,
            higher_is_better=False, conditions=conditions, details=details,
        ))
    return figures


async def run(procs: Processes, config: Config) -> list[Figure]:
    peer = procs.peer("roundtrip-peer")
    figures: list[Figure] = []
    for store in ("memory", "redis", "redis_wait"):
        redis_url = procs.redis(f"roundtrip-{store}") if store != "memory" else None
        wait = {"TETHER_REDIS_WAIT_REPLICAS": "1" if store == "redis_wait" else "0"}
        if store == "redis_wait":
            procs.redis("roundtrip-redis-replica", replica_of=redis_url)
        # Thousands of answers a second are far over the per-socket frame rate a hub
        # allows a browser (50/s, bursts of 200): lift it for this one client.
        hub = procs.hub(redis_url, f"roundtrip-hub-{store}", **UNLIMITED, **wait)
        tether_ms, peer_ms = await measure(hub, peer, config)
        print(f"  answer round trip, {store}: Tether p50 {median(tether_ms):.2f} ms,"
              f" peer {median(peer_ms):.2f} ms", flush=True)
        details = {
            "config": asdict(config),
            "tether_ms": [round(v, 3) for v in tether_ms],
            "peer_ms": [round(v, 3) for v in peer_ms],
        }
        figures.extend(_figures(store, tether_ms, peer_ms, config, details))
        procs.stop(hub.proc)
    return figures
