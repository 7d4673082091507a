"""Answers: 100 sessions answering confirmations as fast as they can, and one alone.

Tether: ``sessions`` ``rally`` sessions (bench.tasks) on a hub with Redis, one tab each,
all in the bench process (:mod:`bench.wsclient`; its CPU is printed). Every tab loops
for ``seconds``: send ``confirm``, wait for the task's next ``stream`` event (the round
trip, as in :mod:`bench.roundtrip`), wait for the next confirmation to open, again. The
figures: round trips per second over all sessions, and their p50. The peer: as many
sockets on the bare ``websockets`` server, each echoing the same frame back as fast as
it can, for the same time. Then one session alone on the same hub: ``exchanges``
round trips, alternating with one echo socket, p50 (:func:`bench.roundtrip.measure`).
"""

from __future__ import annotations

import asyncio
import resource
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from functools import partial

from bench import roundtrip, wsclient
from bench.hubclient import HubUser
from bench.procs import CpuMeter, Processes
from bench.report import Figure, percentile

RATE_TARGET = 4000.0
SINGLE_TARGET_MS = 1.0
ROUNDS = 10**7  # far more than any run answers


@dataclass(frozen=True)
class Config:
    sessions: int = 100
    seconds: float = 10.0
    single_exchanges: int = 1000


@dataclass(frozen=True)
class Run:
    rate: float
    p50_ms: float
    p99_ms: float
    exchanges: int
    seconds: float
    server_cpu_pct: float
    bench_cpu_pct: float


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _race(exchanges: list[Callable[[], Awaitable[float]]], seconds: float,
                pids: tuple[int, ...]) -> Run:
    """Every ``exchange`` in a loop of its own for ``seconds``; all their round trips."""
    samples: list[float] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds

    async def loop_one(exchange: Callable[[], Awaitable[float]]) -> None:
        while loop.time() < deadline:
            samples.append(await exchange())

    meter = CpuMeter(*pids)
    cpu = _own_cpu()
    started = time.perf_counter()
    await asyncio.gather(*(loop_one(exchange) for exchange in exchanges))
    wall = time.perf_counter() - started
    used = meter.us_per(1)
    return Run(len(samples) / wall, percentile(samples, 50), percentile(samples, 99),
               len(samples), wall, sum(used) / 1e4 / wall, (_own_cpu() - cpu) * 100 / wall)


def _line(name: str, run: Run) -> str:
    return (f"  answers, {name}: {run.rate:,.0f} round trips/s, p50 {run.p50_ms:.2f} ms,"
            f" p99 {run.p99_ms:.2f} ms ({run.exchanges:,} in {run.seconds:.1f} s); CPU"
            f" (% of a core) server {run.server_cpu_pct:.0f}%, bench process"
            f" {run.bench_cpu_pct:.0f}%")


async def run(procs: Processes, config: Config) -> list[Figure]:
    redis_url = procs.redis("answers-redis")
    hub = procs.hub(redis_url, "answers-hub", **roundtrip.UNLIMITED)
    peer = procs.peer("answers-peer")
    async with HubUser(hub) as user:
        rallies = await asyncio.gather(
            *(roundtrip.open_rally(user, ROUNDS) for _ in range(config.sessions))
        )
        try:
            tether = await _race(
                [partial(roundtrip.tether_exchange, r) for r in rallies], config.seconds,
                (hub.pid, procs.redis_pids[redis_url]),
            )
        finally:
            await asyncio.gather(*(r.tab.close(timeout=2.0) for r in rallies))
    print(_line(f"Tether, {config.sessions} sessions", tether), flush=True)
    echoes = [roundtrip.Rally(await wsclient.connect(f"{peer.ws_url}/echo"), (b"",))
              for _ in range(config.sessions)]
    try:
        bare = await _race([partial(e.exchange, b"") for e in echoes], config.seconds,
                           (peer.pid,))
    finally:
        await asyncio.gather(*(e.tab.close(timeout=2.0) for e in echoes))
    print(_line(f"peer, {config.sessions} echo sockets", bare), flush=True)
    single = roundtrip.Config(exchanges=config.single_exchanges)
    one_ms, echo_ms = await roundtrip.measure(hub, peer, single)
    one, echo = percentile(one_ms, 50), percentile(echo_ms, 50)
    print(f"  answers, one session: p50 {one:.2f} ms, peer echo {echo:.2f} ms", flush=True)
    cpu = (f"CPU (% of a core): hub + Redis {tether.server_cpu_pct:.0f}%, peer"
           f" {bare.server_cpu_pct:.0f}%, bench process {tether.bench_cpu_pct:.0f}% /"
           f" {bare.bench_cpu_pct:.0f}%")
    many = (f"{config.sessions} rally sessions, Redis store, one tab each in the bench"
            f" process, each answering as fast as it can for {config.seconds:g} s (confirm ->"
            f" the task's next stream event, then the next confirmation); peer:"
            f" {config.sessions} sockets echoing the same frame on the bare websockets server;"
            f" {cpu}")
    details = {"config": asdict(config), "tether": asdict(tether), "peer": asdict(bare),
               "single_ms": [round(v, 3) for v in one_ms],
               "single_echo_ms": [round(v, 3) for v in echo_ms]}
    return [
        Figure(key="answers_rate", label=f"answers, {config.sessions} sessions",
               unit="round trips/s", tether=tether.rate, peer=bare.rate,
               target=f">= {RATE_TARGET:,.0f}/s", met=tether.rate >= RATE_TARGET,
               higher_is_better=True, conditions=many, details=details),
        Figure(key="answers_p50", label=f"answers, {config.sessions} sessions, p50",
               unit="ms", tether=tether.p50_ms, peer=bare.p50_ms, target="-", met=True,
               higher_is_better=False, conditions=many, details=details),
        Figure(key="answers_single_p50", label="answer round trip, one session, Redis, p50",
               unit="ms", tether=one, peer=echo, target=f"< {SINGLE_TARGET_MS:g} ms",
               met=one < SINGLE_TARGET_MS, higher_is_better=False,
               conditions=(f"one rally session on the same hub after the run above, Redis"
                           f" store, {single.exchanges} exchanges after {single.warmup}"
                           f" warm-up alternating with one echo socket"),
               details=details),
    ]
