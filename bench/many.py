"""Many sessions: N sessions each streaming a little to one tab, emit→receipt latency.

Tether: ``N`` ``drip`` sessions (bench.tasks) on one hub with Redis as the store, one
tab each; then the same on ``tether serve --workers 2`` (``Config.workers`` lists the
counts of hub processes sharing the port and the Redis; each count gets a fresh Redis),
sessions and tabs landing on whichever worker accepts their connection. The tabs live
in ``clients`` load processes (:mod:`bench.manyclient`, many sockets each on one asyncio
loop); once every tab is past ``replay_complete`` with its confirmation asked, the
clients answer all of them and each session streams ``count`` events, one every
``interval`` seconds, each carrying ``time.time()`` at emit. Session ``i`` of ``N`` ticks
at ``i / N`` of each interval of the wall clock (``drip``'s ``phase``): the sessions'
ticks spread evenly, as the producers spread the peers' (answered together, they would
otherwise tick in step, a burst of ``N`` events each interval). The clients read it at
receipt: the figure is the p50/p99 of receipt − emit over every event, and the events
that never came (within the run plus a grace) are lost.

Peers, in the same run, with the same clients and the same schedule from a producer
process (:mod:`bench.producer`) that stamps each event as it hands it on:

- the bare ``websockets`` server (:mod:`bench.peer` ``/pub`` → ``/sub``), relaying from
  memory: the floor;
- ``python-socketio`` with ``AsyncRedisManager`` (:mod:`bench.sio_peer`), producers
  (three: one python-socketio emitter process saturates its core first) emitting into
  each session's room through Redis: what a team would otherwise pick.

CPU over the measured span is printed for the server (and Redis), the producer and the
clients, in % of one core, so a reader can see whether the load generators were the limit;
with workers, for each worker and the supervisor, ``hub`` being their sum.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

from bench.hubclient import HubUser
from bench.loadproc import LoadProcess
from bench.procs import STOP_TIMEOUT, CpuMeter, Processes
from bench.profile import Profiler
from bench.report import Figure, percentile
from tether.store.redis import RedisStore

GRACE = 10.0  # seconds after the last scheduled event before the rest count as lost
# Seconds from the answers to Tether's first ticks (drip's settle): on one hub 1,000
# answers take about half a second, which the peers' producers do not have to spend.
SETTLE = 1.5
READY_TIMEOUT = 120.0
P50_TARGET_MS = 10.0
P99_TARGET_MS = 50.0


@dataclass(frozen=True)
class Config:
    sessions: int = 1000
    rate: float = 20.0  # events per second per session
    seconds: float = 10.0
    clients: int = 3
    sio_producers: int = 3  # one python-socketio emitter process tops out near 10k events/s
    workers: tuple[int, ...] = (1, 2)  # Tether's side once per count of hub processes
    profile: bool = False  # sample the hub with py-spy over the run (bench.profile)

    @property
    def count(self) -> int:
        return max(1, round(self.rate * self.seconds))

    @property
    def interval(self) -> float:
        return 1.0 / self.rate


@dataclass
class Side:
    name: str
    latencies_ms: list[float]
    expected: int
    wall_s: float
    cpu: dict[str, float]  # % of one core over the measured span, by process
    emit_seconds: float | None = None  # the slowest producer's time to emit its share
    by_worker: dict[str, int] | None = None  # sessions each worker ran (--workers N)

    @property
    def lost(self) -> int:
        return self.expected - len(self.latencies_ms)

    def p(self, q: float) -> float:
        return percentile(self.latencies_ms, q) if self.latencies_ms else float("nan")

    def summary(self) -> dict[str, Any]:
        summary = {"p50_ms": self.p(50), "p99_ms": self.p(99), "max_ms": self.p(100),
                   "received": len(self.latencies_ms), "expected": self.expected,
                   "lost": self.lost, "wall_s": round(self.wall_s, 2),
                   "producer_emit_s": self.emit_seconds,
                   "cpu_pct_of_one_core": {k: round(v, 1) for k, v in self.cpu.items()}}
        if self.by_worker is not None:
            summary["sessions_by_worker"] = self.by_worker
        return summary

    @property
    def cpu_text(self) -> str:
        return ", ".join(f"{k} {v:.0f}%" for k, v in self.cpu.items())

    @property
    def split_text(self) -> str:
        if self.by_worker is None:
            return ""
        return "; sessions per worker " + "/".join(f"{n:,}" for n in self.by_worker.values())

    def line(self) -> str:
        emit = "" if self.emit_seconds is None else f"; producers done in {self.emit_seconds:.1f} s"
        return (f"  many, {self.name}: p50 {self.p(50):.1f} ms, p99 {self.p(99):.1f} ms,"
                f" lost {self.lost:,}/{self.expected:,}; CPU (% of a core) {self.cpu_text}"
                f"{emit}{self.split_text}")


def _split(urls: list[str], parts: int) -> list[list[str]]:
    return [urls[i::parts] for i in range(parts) if urls[i::parts]]


async def _drive(
    name: str, kind: str, urls: list[str], config: Config, *, cookie: str | None,
    server_pids: dict[str, int], producer_args: list[str] | None, producers: int = 1,
    settle: float = 0.0,
) -> Side:
    """Clients (and a producer) in their own processes; returns what the clients saw.
    ``settle``: seconds from "go" to the first scheduled event (Tether's answers), left
    out of the span the servers' CPU is measured over."""
    groups = _split(urls, config.clients)
    clients = [LoadProcess(f"many-{name}-client-{i}", "bench.manyclient")
               for i in range(len(groups))]
    feeders = [] if producer_args is None else [
        LoadProcess(f"many-{name}-producer-{i}", "bench.producer", *producer_args,
                    "--part", str(i), "--parts", str(producers))
        for i in range(producers)
    ]
    timeout = settle + config.count * config.interval + GRACE
    load = [*clients, *feeders]
    for proc in load:
        await proc.__aenter__()
    try:
        for client, group in zip(clients, groups, strict=True):
            client.send(_spec(kind, group, cookie, config, timeout))
        for proc in load:
            await proc.expect("ready", READY_TIMEOUT)
        for proc in load:
            proc.send("go")
        await asyncio.sleep(settle)  # the sessions' own schedule: nothing to wait on
        meter = CpuMeter(*server_pids.values())  # the load processes report their own
        with Profiler(server_pids.get("hub", 0), f"many-{name}-hub",
                      enabled=config.profile and "hub" in server_pids):
            started = time.perf_counter()
            results = [await c.result(timeout + 30) for c in clients]
            wall = time.perf_counter() - started
            used = meter.us_per(1)
        produced = [await feeder.result(30) for feeder in feeders]
    finally:
        for proc in load:
            await proc.__aexit__(None, None, None)
    latencies = [v for r in results for v in r["latencies_ms"]]
    cpu = {k: us / 1e6 / wall * 100 for k, us in zip(server_pids, used, strict=True)}
    cpu.update({f"client{i}": r["cpu_s"] / wall * 100 for i, r in enumerate(results)})
    cpu.update({f"producer{i}": r["cpu_s"] / wall * 100 for i, r in enumerate(produced)})
    emit_seconds = max((r["seconds"] for r in produced), default=None)
    return Side(name, latencies, config.sessions * config.count, wall, cpu, emit_seconds)


def _spec(kind: str, urls: list[str], cookie: str | None, config: Config,
          timeout: float) -> str:
    return json.dumps({"kind": kind, "urls": urls, "cookie": cookie,
                       "expect": len(urls) * config.count, "timeout": timeout})


def side_name(workers: int) -> str:
    return "tether" if workers == 1 else f"tether-{workers}-workers"


async def tether_side(procs: Processes, config: Config, workers: int = 1) -> Side:
    """Tether with one hub process, or ``workers`` of them under one supervisor."""
    name = side_name(workers)
    redis_url = procs.redis(f"many-redis-{name}")
    hub = procs.hub(redis_url, f"many-hub-{name}", workers=workers)
    server_pids = {"hub": hub.pid}
    if workers > 1:
        server_pids = {"supervisor": hub.pid, **{
            f"worker{i}": pid for i, pid in enumerate(hub.workers.values(), start=1)
        }}
    try:
        async with HubUser(hub) as user:
            ids = await user.start_many(
                "drip", config.sessions,
                inputs={"count": config.count, "interval": config.interval},
                each=lambda i: {"phase": i / config.sessions, "settle": SETTLE},
            )
            by_worker = await sessions_by_runner(redis_url) if workers > 1 else None
            urls = [f"{hub.ws_url}/ws/sessions/{sid}?after=0" for sid in ids]
            side = await _drive(
                name, "tether", urls, config, cookie=user.cookie,
                server_pids={**server_pids, "redis": procs.redis_pids[redis_url]},
                producer_args=None, settle=SETTLE,
            )
    finally:
        # A supervisor gives its workers up to 2 x 10 s + 10 s to drain (workers.py).
        procs.stop(hub.proc, timeout=STOP_TIMEOUT if workers == 1 else 35.0)
    if workers > 1:  # "hub" is what the whole process tree used, as with one process
        side.cpu = {"hub": sum(side.cpu[k] for k in server_pids), **side.cpu}
        side.by_worker = {hub_id: (by_worker or {}).get(hub_id, 0) for hub_id in hub.workers}
    return side


async def sessions_by_runner(redis_url: str) -> dict[str, int]:
    """How many unfinished sessions each hub id runs, from their leases."""
    store = RedisStore(redis_url, client_name="bench")
    try:
        return dict(Counter(runner for _, runner, _ in await store.leases()))
    finally:
        await store.close()


async def bare_side(procs: Processes, config: Config) -> Side:
    peer = procs.peer("many-peer")
    urls = [f"{peer.ws_url}/sub?session={i}" for i in range(config.sessions)]
    args = ["--kind", "ws", "--url", peer.ws_url, *_schedule(config)]
    try:
        return await _drive("websockets", "ws", urls, config, cookie=None,
                            server_pids={"server": peer.pid}, producer_args=args)
    finally:
        procs.stop(peer.proc)


async def sio_side(procs: Processes, config: Config) -> Side:
    redis_url = procs.redis("many-sio-redis")
    peer = procs.sio_peer(redis_url, "many-sio-peer")
    urls = [f"{peer.ws_url}/socket.io/?EIO=4&transport=websocket&session={i}"
            for i in range(config.sessions)]
    args = ["--kind", "sio", "--url", redis_url, *_schedule(config)]
    try:
        return await _drive(
            "python-socketio", "sio", urls, config, cookie=None,
            server_pids={"server": peer.pid, "redis": procs.redis_pids[redis_url]},
            producer_args=args, producers=config.sio_producers,
        )
    finally:
        procs.stop(peer.proc)


def _schedule(config: Config) -> list[str]:
    return ["--sessions", str(config.sessions), "--count", str(config.count),
            "--interval", repr(config.interval)]


async def run(procs: Processes, config: Config) -> list[Figure]:
    print(f"  many: {config.sessions:,} sessions x {config.rate:g} events/s for"
          f" {config.seconds:g} s, one tab each, {config.clients} client processes", flush=True)
    tethers: dict[int, Side] = {}
    for workers in config.workers:
        tethers[workers] = await tether_side(procs, config, workers)
        print(tethers[workers].line(), flush=True)
    bare = await bare_side(procs, config)
    print(bare.line(), flush=True)
    sio = await sio_side(procs, config)
    print(sio.line(), flush=True)
    shape = (f"{config.sessions:,} sessions x {config.rate:g} events/s for {config.seconds:g} s,"
             f" one tab each")
    sides = [*tethers.values(), bare, sio]
    cpu = "; ".join(f"{s.name}: {s.cpu_text}{s.split_text}" for s in sides)
    workers = "".join(
        f"; {side_name(n)}: `tether serve --workers {n}`, the same sessions and tabs on"
        f" {n} hub processes sharing the port and the Redis"
        for n in tethers if n > 1
    )
    conditions = (
        f"{shape}; Tether: drip sessions, Redis store, the stamp time.time() at ctx.stream,"
        f" session i of N ticking at i/N of each interval from {SETTLE:g} s after the"
        f" answers{workers};"
        f" peers: a producer process on the same schedule into the bare websockets relay"
        f" and ({config.sio_producers} producers) into python-socketio + AsyncRedisManager;"
        f" latency = receipt - emit stamp in"
        f" {config.clients} client processes; lost = not received within {GRACE:g} s after"
        f" the run; CPU from the first scheduled event until the last came (or the grace"
        f" ran out),"
        f" in % of one core: {cpu}"
    )
    details = {"config": asdict(config), "websockets": bare.summary(),
               "python_socketio": sio.summary(),
               **{_suffixed("tether", n): side.summary() for n, side in tethers.items()}}
    figures: list[Figure] = []
    for n, side in tethers.items():
        figures.extend(_tether_figures(side, n, bare, sio, shape, conditions, details))
    if 1 in tethers:
        for n in (n for n in tethers if n > 1):
            figures.append(Figure(
                key=f"many_p50_workers{n}_vs_1", label=f"{shape}, p50, {n} hub workers vs 1",
                unit="ms", tether=tethers[n].p(50), peer=tethers[1].p(50), target="-",
                met=True, higher_is_better=False, conditions=conditions, details=details,
            ))
    return figures


def _suffixed(key: str, workers: int) -> str:
    """One hub process keeps the figures' first names; N workers add ``_workersN``."""
    return key if workers == 1 else f"{key}_workers{workers}"


def _tether_figures(
    side: Side, workers: int, bare: Side, sio: Side, shape: str, conditions: str,
    details: dict[str, Any],
) -> list[Figure]:
    label = shape if workers == 1 else f"{shape}, {workers} hub workers"
    figures = []
    for q, target in ((50.0, P50_TARGET_MS), (99.0, P99_TARGET_MS)):
        key = f"p{q:.0f}"
        figures.append(Figure(
            key=_suffixed(f"many_{key}", workers), label=f"{label}, {key}, vs bare websockets",
            unit="ms", tether=side.p(q), peer=bare.p(q), target=f"< {target:g} ms",
            met=side.p(q) < target, higher_is_better=False, conditions=conditions,
            details=details,
        ))
        if workers == 1:
            figures.append(Figure(
                key=f"many_{key}_socketio", label=f"{label}, {key}, vs python-socketio",
                unit="ms", tether=side.p(q), peer=sio.p(q), target="-", met=True,
                higher_is_better=False, conditions=conditions, details=details,
            ))
    figures.append(Figure(
        key=_suffixed("many_lost", workers), label=f"{label}, events lost (vs bare websockets)",
        unit="events", tether=side.lost, peer=bare.lost, target="0", met=side.lost == 0,
        higher_is_better=False, conditions=conditions, details=details,
    ))
    figures.append(Figure(
        key=_suffixed("many_server_cpu", workers),
        label=f"{label}, server CPU (vs bare websockets)", unit="% of a core",
        tether=side.cpu["hub"], peer=bare.cpu["server"], target="-", met=True,
        higher_is_better=False, conditions=conditions, details=details,
    ))
    return figures
