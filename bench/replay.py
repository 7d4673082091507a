"""Replay: reconnecting with ``after=0`` to a finished session of 10,000 stored events.

Tether: a ``ticker`` session of ``count`` events runs to completion first; then each run
opens a new socket and the clock runs from before the TCP connect to the arrival of
``replay_complete``. With the default history cap (10,000) the few events beyond it are
trimmed, so the replay is a ``snapshot`` followed by the newest 10,000 events, as the
protocol says. The peer sends ``replay_start``, the same number of frames from a list and
``replay_complete`` to each new connection. Runs alternate between the two; one unmeasured
run of each comes first.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from dataclasses import asdict, dataclass
from typing import Any

from bench import wsclient
from bench.hubclient import HubUser
from bench.procs import CpuMeter, Processes
from bench.report import Figure, median, p95

TARGET_MS = 250.0


@dataclass(frozen=True)
class Config:
    events: int
    runs: int
    size: int = 100


@dataclass(frozen=True)
class Run:
    ms: float
    frames: int
    bytes: int
    snapshots: int
    server_cpu_ms: float


async def _timed(open_tab: Awaitable[wsclient.Tab], *pids: int) -> Run:
    """Time one replay; ``pids``: the servers whose CPU time it costs (summed)."""
    meter = CpuMeter(*pids)
    start = time.perf_counter()
    tab: wsclient.Tab = await open_tab
    try:
        done = await asyncio.wait_for(asyncio.shield(tab.replayed), 60.0)
        cpu_ms = sum(meter.us_per(1)) / 1000
        return Run((done - start) * 1000, tab.frames, tab.bytes, tab.snapshots, cpu_ms)
    finally:
        await tab.close(timeout=2.0)


async def run(procs: Processes, config: Config) -> list[Figure]:
    redis_url = procs.redis("replay-redis")
    redis_pid = procs.redis_pids[redis_url]
    hub = procs.hub(redis_url, "replay-hub")
    peer = procs.peer("replay-peer")
    peer_url = f"{peer.ws_url}/replay?count={config.events}&size={config.size}"
    tether_runs: list[Run] = []
    peer_runs: list[Run] = []
    async with HubUser(hub) as user:
        session_id = await user.start("ticker", {"count": config.events, "size": config.size})
        session = await user.wait_status(
            session_id, ("completed",), timeout=60.0 + config.events / 200
        )
        for i in range(config.runs + 1):
            tether = await _timed(user.connect(session_id), hub.pid, redis_pid)
            bare = await _timed(wsclient.connect(peer_url), peer.pid)
            if i:  # the first of each is a warm-up
                tether_runs.append(tether)
                peer_runs.append(bare)
    tether_cpu = median([r.server_cpu_ms for r in tether_runs])
    peer_cpu = median([r.server_cpu_ms for r in peer_runs])
    details: dict[str, Any] = {
        "config": asdict(config),
        "session_last_seq": session["last_seq"],
        "tether_ms": [round(r.ms, 2) for r in tether_runs],
        "peer_ms": [round(r.ms, 2) for r in peer_runs],
        "tether_frames": tether_runs[0].frames,
        "peer_frames": peer_runs[0].frames,
        "tether_cpu_ms": [round(r.server_cpu_ms, 1) for r in tether_runs],
        "peer_cpu_ms": [round(r.server_cpu_ms, 1) for r in peer_runs],
        "tether_bytes": tether_runs[0].bytes,
        "tether_snapshots": tether_runs[0].snapshots,
        "peer_bytes": peer_runs[0].bytes,
    }
    conditions = (
        f"ticker count={config.events} size={config.size}, finished; new socket after=0 to"
        f" replay_complete, {config.runs} runs (Tether sent {tether_runs[0].frames} frames /"
        f" {tether_runs[0].bytes:,} B, {tether_runs[0].snapshots} snapshot, last_seq"
        f" {session['last_seq']}; peer {peer_runs[0].frames} / {peer_runs[0].bytes:,} B);"
        f" server CPU per replay (median): hub + Redis {tether_cpu:.0f} ms, peer {peer_cpu:.0f} ms"
    )
    figures = []
    for key, stat in (("median", median), ("p95", p95)):
        t = stat([r.ms for r in tether_runs])
        b = stat([r.ms for r in peer_runs])
        figures.append(Figure(
            key=f"replay_{key}", label=f"replay {config.events:,} events, {key}", unit="ms",
            tether=t, peer=b, target=f"< {TARGET_MS:.0f} ms", met=t < TARGET_MS,
            higher_is_better=False, conditions=conditions, details=details,
        ))
    return figures
