"""Session starts: ``POST /api/sessions`` with a task that asks at once, 64 in flight.

Tether: ``idle`` (bench.tasks), whose first step is a confirmation, on a hub with Redis;
each start is answered once the session exists in the store. The figure is starts per
second over ``sessions`` starts after a warm-up, from ``clients`` load processes
(:mod:`bench.startclient`) holding ``concurrency`` keep-alive connections between them,
each with one request in flight; their CPU is printed (they must not be the limit). The
peer (:mod:`bench.startpeer`) is a minimal Starlette endpoint on uvicorn doing one Redis
write per request, driven the same way.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any

from bench.hubclient import HubUser
from bench.loadproc import LoadProcess
from bench.procs import CpuMeter, Processes, Server
from bench.report import Figure

TARGET = 1000.0
TIMEOUT = 120.0


@dataclass(frozen=True)
class Config:
    sessions: int = 3000
    concurrency: int = 64
    warmup: int = 128
    clients: int = 2


@dataclass(frozen=True)
class Run:
    rate: float
    seconds: float
    server_cpu_pct: float
    redis_cpu_pct: float
    client_cpu_pct: list[float]
    statuses: dict[str, int]


async def _drive(server: Server, redis_pid: int, cookie: str | None, config: Config,
                 name: str, count: int, *, timed: bool) -> Run:
    per = [count // config.clients + (i < count % config.clients)
           for i in range(config.clients)]
    conns = [config.concurrency // config.clients + (i < config.concurrency % config.clients)
             for i in range(config.clients)]
    clients = [LoadProcess(f"starts-{name}-client-{i}", "bench.startclient")
               for i in range(config.clients)]
    for client in clients:
        await client.__aenter__()
    try:
        for client, n, c in zip(clients, per, conns, strict=True):
            client.send(json.dumps({
                "host": "127.0.0.1", "port": server.port, "cookie": cookie, "count": n,
                "connections": c, "body": {"task": "idle", "inputs": {}},
            }))
        for client in clients:
            await client.expect("ready", TIMEOUT)
        meter = CpuMeter(server.pid, redis_pid)  # the clients report their own
        started = time.perf_counter()
        for client in clients:
            client.send("go")
        results: list[dict[str, Any]] = [await c.result(TIMEOUT) for c in clients]
        seconds = time.perf_counter() - started
        used = [us / 1e4 / seconds for us in meter.us_per(1)]
        used += [r["cpu_s"] * 100 / seconds for r in results]
    finally:
        for client in clients:
            await client.__aexit__(None, None, None)
    statuses: dict[str, int] = {}
    for result in results:
        for status, n in result["statuses"].items():
            statuses[status] = statuses.get(status, 0) + n
    if timed and set(statuses) - {"200", "201"}:
        raise RuntimeError(f"starts on {name} answered {statuses}")
    return Run(count / seconds, seconds, used[0], used[1], used[2:], statuses)


def _line(name: str, run: Run) -> str:
    clients = ", ".join(f"{v:.0f}%" for v in run.client_cpu_pct)
    return (f"  starts, {name}: {run.rate:,.0f}/s ({run.seconds:.1f} s); CPU (% of a core)"
            f" server {run.server_cpu_pct:.0f}%, redis {run.redis_cpu_pct:.0f}%,"
            f" clients {clients}")


async def _measure(server: Server, redis_pid: int, cookie: str | None, config: Config,
                   name: str) -> Run:
    await _drive(server, redis_pid, cookie, config, name, config.warmup, timed=False)
    return await _drive(server, redis_pid, cookie, config, name, config.sessions, timed=True)


async def run(procs: Processes, config: Config) -> list[Figure]:
    redis_url = procs.redis("starts-redis")
    hub = procs.hub(redis_url, "starts-hub")
    async with HubUser(hub) as user:
        cookie = user.cookie
    tether = await _measure(hub, procs.redis_pids[redis_url], cookie, config, "tether")
    print(_line("Tether", tether), flush=True)
    procs.stop(hub.proc)
    peer_redis = procs.redis("starts-peer-redis")
    peer = procs.start_peer(peer_redis, "starts-peer")
    bare = await _measure(peer, procs.redis_pids[peer_redis], None, config, "peer")
    print(_line("peer", bare), flush=True)
    clients = "/".join(f"{v:.0f}" for v in tether.client_cpu_pct)
    peer_clients = "/".join(f"{v:.0f}" for v in bare.client_cpu_pct)
    return [Figure(
        key="starts", label=f"session starts, {config.concurrency} in flight", unit="starts/s",
        tether=tether.rate, peer=bare.rate, target=f">= {TARGET:,.0f}/s",
        met=tether.rate >= TARGET, higher_is_better=True,
        conditions=(
            f"POST /api/sessions of idle (a confirmation at once), Redis store,"
            f" {config.sessions:,} starts after {config.warmup} warm-up,"
            f" {config.concurrency} keep-alive connections in flight from {config.clients}"
            f" client processes; peer: a minimal Starlette endpoint on uvicorn doing one"
            f" Redis HSET; CPU (% of a core): hub {tether.server_cpu_pct:.0f}% + Redis"
            f" {tether.redis_cpu_pct:.0f}%, peer {bare.server_cpu_pct:.0f}% + Redis"
            f" {bare.redis_cpu_pct:.0f}%, clients {clients}% (Tether) / {peer_clients}% (peer)"
        ),
        details={"config": asdict(config), "tether": asdict(tether), "peer": asdict(bare)},
    )]
