"""Throughput: ``ticker`` to 10 tabs (and to 1) through Redis, beside a bare broadcast
from memory.

Tether: ``gated_ticker`` (bench.tasks) is ``ticker``'s own code behind a confirmation, so
all tabs are connected and past ``replay_complete`` before the first event exists: every
event travels the live path (task → writer → Redis Lua append + PUBLISH → the feed →
each tab's outbox → uvicorn). The clock runs from the first stream event any tab received
to the last one, and the figure is ``events × tabs / that time``. The peer is measured the
same way, on frames of the same shape and size, sent from memory, in two idioms (a
writer per connection; ``websockets.broadcast()``); the faster one is the peer's figure.

With one tab there is no fan-out to share the cost of an event over: the figure is then
the whole path's cost per event (append, publish, feed, socket) against a bare send.

Rounds alternate Tether and peer so that load from elsewhere on the machine falls on both;
each side's figure is its median round.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass, replace
from typing import Any

from bench import wsclient
from bench.hubclient import HubUser
from bench.procs import CpuMeter, Processes, Server
from bench.report import Figure, median

CONFIRM = '{"type":"confirm","value":true}'
PEER_MODES = ("send", "broadcast")  # see bench.peer


@dataclass(frozen=True)
class Config:
    events: int
    rounds: int
    tabs: int = 10
    # The least share of the peer's rate that counts as met: fan-out to 10 tabs spreads
    # each event's store cost over its deliveries; a single tab pays it whole.
    target_ratio: float = 0.5
    size: int = 100
    warmup_events: int = 500


@dataclass(frozen=True)
class Round:
    rate: float
    seconds: float
    frame_bytes: int
    start_to_first: float | None = None
    server_cpu_us: float = 0.0  # server CPU per delivered event (Tether: the hub alone)
    redis_cpu_us: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"events_per_s": round(self.rate), "seconds": round(self.seconds, 3),
                               "frame_bytes": self.frame_bytes,
                               "server_cpu_us_per_event": round(self.server_cpu_us, 2)}
        if self.start_to_first is not None:
            out["confirm_to_first_event_s"] = round(self.start_to_first, 4)
            out["redis_cpu_us_per_event"] = round(self.redis_cpu_us, 2)
        return out


def _measure(tabs: list[wsclient.Tab], events: int, started: float | None = None) -> Round:
    first = min(tab.first_stream for tab in tabs)
    last = max(tab.last_stream for tab in tabs)
    seconds = max(last - first, 1e-9)
    lead = first - started if started is not None else None
    return Round(events * len(tabs) / seconds, seconds, len(tabs[0].sample_stream), lead)


def _deadline(config: Config, events: int) -> float:
    return 30.0 + events * config.tabs / 2000  # far above any plausible time: a hang guard


async def _close(tabs: list[wsclient.Tab]) -> None:
    await asyncio.gather(*(tab.close(timeout=2.0) for tab in tabs))


async def tether_round(
    user: HubUser, config: Config, events: int, redis_pid: int | None = None
) -> Round:
    session_id = await user.start("gated_ticker", {"count": events, "size": config.size})
    tabs = await asyncio.gather(
        *(user.connect(session_id, stream_goal=events) for _ in range(config.tabs))
    )
    try:
        await asyncio.wait_for(
            asyncio.gather(*(tab.replayed for tab in tabs), tabs[0].confirm_asked), 30.0
        )
        meter = CpuMeter(user.hub.pid, redis_pid or user.hub.pid)
        started = time.perf_counter()
        tabs[0].send_text(CONFIRM)
        await asyncio.wait_for(
            asyncio.gather(*(tab.streamed for tab in tabs)), _deadline(config, events)
        )
        hub_us, redis_us = meter.us_per(events * config.tabs)
        return replace(_measure(tabs, events, started), server_cpu_us=hub_us,
                       redis_cpu_us=redis_us if redis_pid else 0.0)
    finally:
        await _close(tabs)


async def peer_round(
    peer: Server, config: Config, events: int, name: str, mode: str
) -> Round:
    query = f"round={name}&clients={config.tabs}&count={events}&size={config.size}&mode={mode}"
    meter = CpuMeter(peer.pid)
    tabs = await asyncio.gather(*(
        wsclient.connect(f"{peer.ws_url}/throughput?{query}", stream_goal=events)
        for _ in range(config.tabs)
    ))
    try:
        await asyncio.wait_for(
            asyncio.gather(*(tab.streamed for tab in tabs)), _deadline(config, events)
        )
        (cpu_us,) = meter.us_per(events * config.tabs)
        return replace(_measure(tabs, events), server_cpu_us=cpu_us)
    finally:
        await _close(tabs)


async def run(procs: Processes, config: Config) -> Figure:
    redis_url = procs.redis("throughput-redis")
    hub = procs.hub(redis_url, "throughput-hub")
    peer = procs.peer("throughput-peer")
    tether_rounds: list[Round] = []
    peer_rounds: dict[str, list[Round]] = {mode: [] for mode in PEER_MODES}
    async with HubUser(hub) as user:
        redis_pid = procs.redis_pids[redis_url]
        await tether_round(user, config, config.warmup_events, redis_pid)
        for mode in PEER_MODES:
            await peer_round(peer, config, config.warmup_events, f"warmup-{mode}", mode)
        for i in range(config.rounds):
            tether_rounds.append(await tether_round(user, config, config.events, redis_pid))
            line = f"Tether {tether_rounds[-1].rate:,.0f}/s"
            for mode in PEER_MODES:
                peer_rounds[mode].append(
                    await peer_round(peer, config, config.events, f"{i}-{mode}", mode)
                )
                line += f", peer ({mode}) {peer_rounds[mode][-1].rate:,.0f}/s"
            print(f"  throughput round {i + 1}/{config.rounds}: {line}", flush=True)
    tether = median([r.rate for r in tether_rounds])
    by_mode = {mode: median([r.rate for r in rounds]) for mode, rounds in peer_rounds.items()}
    best = max(by_mode, key=lambda mode: by_mode[mode])
    bare = by_mode[best]
    hub_cpu = median([r.server_cpu_us for r in tether_rounds])
    redis_cpu = median([r.redis_cpu_us for r in tether_rounds])
    peer_cpu = median([r.server_cpu_us for r in peer_rounds[best]])
    return Figure(
        key="throughput" if config.tabs == 10 else f"throughput-{config.tabs}tab",
        label=f"throughput, {config.tabs} tab{'s' if config.tabs != 1 else ''}",
        unit="events/s",
        tether=tether,
        peer=bare,
        target=f"Tether >= {config.target_ratio} x peer",
        met=tether >= config.target_ratio * bare,
        higher_is_better=True,
        conditions=(
            f"ticker count={config.events} size={config.size} to {config.tabs} tabs, Redis store;"
            f" delivered events/s first-to-last event, median of {config.rounds} rounds;"
            f" peer = the faster of its idioms ({best}; "
            + ", ".join(f"{m} {v:,.0f}/s" for m, v in by_mode.items())
            + f"); frames: Tether {tether_rounds[0].frame_bytes} B,"
            f" peer {peer_rounds[best][0].frame_bytes} B; server CPU per delivered event:"
            f" hub {hub_cpu:.1f} us (+ Redis {redis_cpu:.1f} us), peer {peer_cpu:.1f} us"
        ),
        details={
            "config": asdict(config),
            "tether_rounds": [r.as_dict() for r in tether_rounds],
            "peer_rounds": {m: [r.as_dict() for r in rounds] for m, rounds in peer_rounds.items()},
            "peer_medians": by_mode,
            "peer_used": best,
            "cpu_us_per_delivered_event": {"hub": hub_cpu, "redis": redis_cpu, "peer": peer_cpu},
        },
    )
