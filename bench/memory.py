"""Memory: the hub's RSS per waiting session, and per idle session WebSocket beside a bare
server's per connection.

Tether: ``sockets`` sessions of ``idle`` (bench.tasks: it waits on a confirmation, so each
session stays open and its runner stays alive) are created through ``POST /api/sessions``
first. The first figure is what they cost with no socket: the hub's ``VmRSS`` once it
settles after they were made, less before, per session (what a session costs while it
waits for a person, however long that takes). Then one WebSocket per session is opened
("10,000 watched sessions"), each read up to ``replay_complete``, and the hub's ``VmRSS``
is read again once it settles: the second figure is the increase divided by the number
of sockets. The peer: ``VmRSS`` of the bare server before and after as many idle
connections. Both get 10 sockets opened and closed before the socket baseline, so the
first connection's one-off costs (lazy imports, buffers) stay out of the figure. The
clients live in this process, the servers in their own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from bench import wsclient
from bench.hubclient import HubUser
from bench.procs import Processes, Server, settled_rss_kib
from bench.report import Figure

TARGET_KIB = 20.0
SESSION_TARGET_KIB = 8.0
PARK_AFTER = 1  # seconds: the parked figure's hub parks a waiting session after this
ATTEMPTS = 3
WARMUP_SOCKETS = 10


@dataclass(frozen=True)
class Config:
    sockets: int
    # The hub's redis-py pool holds 100 connections and a WebSocket connect uses two
    # round trips; 100 handshakes in flight can exhaust it (the hub then fails them).
    connect_concurrency: int = 50
    create_concurrency: int = 32


@dataclass(frozen=True)
class Sample:
    before_kib: int
    after_kib: int
    sockets: int
    open_after: int
    connect_seconds: float
    connect_retries: int

    @property
    def per_socket_kib(self) -> float:
        return (self.after_kib - self.before_kib) / self.sockets

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "per_socket_kib": round(self.per_socket_kib, 2)}


class Opened(list[wsclient.Tab]):
    """The sockets :func:`open_all` opened, and how many attempts it had to repeat."""

    retries = 0


async def open_all(
    targets: Sequence[str],
    open_one: Callable[[str], Awaitable[wsclient.Tab]],
    *,
    concurrency: int,
) -> Opened:
    """Open one socket per target, ``concurrency`` handshakes in flight, each read up to
    ``replay_complete``. A socket that fails is tried again (counted, up to
    :data:`ATTEMPTS` times); after that every socket opened so far is aborted."""
    tabs = Opened()
    pending = iter(targets)

    async def open_ready(target: str) -> wsclient.Tab:
        for attempt in range(ATTEMPTS):
            tab: wsclient.Tab | None = None
            try:
                tab = await open_one(target)
                await asyncio.wait_for(asyncio.shield(tab.replayed), 60.0)
                return tab
            except (ConnectionError, wsclient.HandshakeFailed):
                if tab is not None:
                    tab.abort()
                if attempt == ATTEMPTS - 1:
                    raise
                tabs.retries += 1
        raise AssertionError("unreachable")

    async def worker() -> None:
        for target in pending:
            tabs.append(await open_ready(target))

    try:
        await asyncio.gather(*(worker() for _ in range(min(concurrency, len(targets)))))
    except BaseException:
        abort_all(tabs)
        raise
    return tabs


def abort_all(tabs: Sequence[wsclient.Tab]) -> None:
    for tab in tabs:
        tab.abort()


async def _measure(
    server: Server,
    targets: Sequence[str],
    open_one: Callable[[str], Awaitable[wsclient.Tab]],
    config: Config,
) -> Sample:
    warm = await open_all(targets[:WARMUP_SOCKETS], open_one, concurrency=WARMUP_SOCKETS)
    await asyncio.gather(*(tab.close(timeout=2.0) for tab in warm))
    before = await settled_rss_kib(server.pid)
    start = time.perf_counter()
    tabs = await open_all(targets, open_one, concurrency=config.connect_concurrency)
    seconds = time.perf_counter() - start
    try:
        after = await settled_rss_kib(server.pid)
        still_open = sum(1 for tab in tabs if not tab.closed.done())
    finally:
        abort_all(tabs)
    return Sample(before, after, len(tabs), still_open, round(seconds, 2), tabs.retries)


async def parked_figure(procs: Processes, config: Config) -> Figure:
    """The same sessions on a hub that parks them (``TETHER_PARK_AFTER=1``): RSS per
    waiting session once every runner is parked and the hub settled."""
    redis_url = procs.redis("parked-redis")
    hub = procs.hub(redis_url, "parked-hub", TETHER_PARK_AFTER=str(PARK_AFTER))
    async with HubUser(hub, connections=config.create_concurrency) as user:
        idle_hub_kib = await settled_rss_kib(hub.pid)
        ids = await user.start_many("idle", config.sockets, concurrency=config.create_concurrency)
        start = time.perf_counter()
        while await parked_count(user) < len(ids):
            if time.perf_counter() - start > 120:
                raise RuntimeError("the hub did not park every waiting session in 120 s")
            await asyncio.sleep(0.25)  # poll interval of a deadline-bound wait
        parked_kib = await settled_rss_kib(hub.pid)
    procs.stop(hub.proc)
    per_session = (parked_kib - idle_hub_kib) / len(ids)
    print(f"  memory: Tether {per_session:.1f} KiB per parked waiting session", flush=True)
    return Figure(
        key="memory_parked",
        label=f"RSS per parked waiting session, {len(ids):,} sessions",
        unit="KiB",
        tether=per_session,
        peer=float("nan"),
        target=f"<= {SESSION_TARGET_KIB:.0f} KiB",
        met=per_session <= SESSION_TARGET_KIB,
        higher_is_better=False,
        conditions=(
            f"{len(ids):,} sessions of `idle` on a hub with TETHER_PARK_AFTER={PARK_AFTER}"
            " (by default 300 s: a session waiting longer is parked), Redis store, no"
            " socket; hub VmRSS once all were parked and it settled, less before, /"
            " sessions"
        ),
        details={"hub_rss_before_sessions_kib": idle_hub_kib,
                 "hub_rss_with_parked_sessions_kib": parked_kib},
    )


async def parked_count(user: HubUser) -> float:
    response = await user.http.get("/metrics")
    response.raise_for_status()
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == "tether_sessions_parked_total":
                return float(sample.value)
    return 0.0


async def run(procs: Processes, config: Config) -> list[Figure]:
    parked = await parked_figure(procs, config)
    redis_url = procs.redis("memory-redis")
    # Runners kept: what a session costs in its first TETHER_PARK_AFTER seconds of waiting.
    hub = procs.hub(redis_url, "memory-hub", TETHER_PARK_AFTER="0")
    async with HubUser(hub, connections=config.create_concurrency) as user:
        idle_hub_kib = await settled_rss_kib(hub.pid)
        start = time.perf_counter()
        ids = await user.start_many("idle", config.sockets, concurrency=config.create_concurrency)
        create_seconds = time.perf_counter() - start
        print(f"  memory: {len(ids):,} idle sessions created in {create_seconds:.1f} s",
              flush=True)
        sessions_kib = await settled_rss_kib(hub.pid)
        per_session = (sessions_kib - idle_hub_kib) / len(ids)
        print(f"  memory: Tether {per_session:.1f} KiB per waiting session (no socket)",
              flush=True)
        tether = await _measure(hub, ids, user.connect, config)
        retries = user.retries
    print(f"  memory: Tether {tether.per_socket_kib:.1f} KiB/socket "
          f"({tether.sockets:,} opened in {tether.connect_seconds:.1f} s)", flush=True)
    procs.stop(hub.proc)  # leave the CPU to the peer

    peer = procs.peer("memory-peer")
    idle_url = f"{peer.ws_url}/idle"
    bare = await _measure(
        peer, [idle_url] * config.sockets, lambda url: wsclient.connect(url), config
    )
    print(f"  memory: peer {bare.per_socket_kib:.1f} KiB/socket", flush=True)
    procs.stop(peer.proc)
    session_figure = Figure(
        key="memory_session",
        label=f"RSS per waiting session, runner loaded, {len(ids):,} sessions",
        unit="KiB",
        tether=per_session,
        peer=float("nan"),
        target="-",  # context: the target holds for the parked figure
        met=True,
        higher_is_better=False,
        conditions=(
            f"{len(ids):,} sessions of `idle` (waiting on a confirm, their runners alive:"
            " TETHER_PARK_AFTER=0),"
            f" Redis store, no socket; hub VmRSS after they were made and it settled, less"
            f" before, / sessions (no peer: a bare server holds no sessions)"
        ),
        details={"hub_rss_before_sessions_kib": idle_hub_kib,
                 "hub_rss_with_sessions_kib": sessions_kib},
    )
    return [parked, session_figure, Figure(
        key="memory",
        label=f"RSS per idle socket, {config.sockets:,} sockets",
        unit="KiB",
        tether=tether.per_socket_kib,
        peer=bare.per_socket_kib,
        target=f"< {TARGET_KIB:.0f} KiB",
        met=tether.per_socket_kib < TARGET_KIB and tether.open_after == tether.sockets,
        higher_is_better=False,
        conditions=(
            f"{config.sockets:,} sessions of `idle` (waiting on a confirm), one WebSocket each,"
            f" Redis store; VmRSS delta after settling / sockets; {tether.open_after:,} of"
            f" {tether.sockets:,} Tether sockets still open at the second reading;"
            f" {tether.connect_retries} connects retried"
        ),
        details={
            "config": asdict(config),
            "create_seconds": round(create_seconds, 2),
            "create_retries": retries,
            "hub_rss_before_sessions_kib": idle_hub_kib,
            "hub_rss_per_idle_session_kib": round(
                (tether.before_kib - idle_hub_kib) / config.sockets, 2
            ),
            "tether": tether.as_dict(),
            "peer": bare.as_dict(),
        },
    )]
