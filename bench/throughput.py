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

A second peer relays the same stream the way a team would otherwise build it:
``python-socketio`` with ``AsyncRedisManager`` (:mod:`bench.sio_peer`), every tab in the
session's room, fed by producer processes (:mod:`bench.producer` ``--burst``), each
emitting its share of the events into the room through Redis as fast as it can. Its
figure is timed like the others, first event received to last, and printed with how long
the producers took to emit (a producer that finished long before the tabs did was not
the limit) and their CPU.

Rounds alternate Tether and peer so that load from elsewhere on the machine falls on both;
each side's figure is its median round.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass, replace
from typing import Any

from bench import sio_peer, wsclient
from bench.hubclient import HubUser
from bench.loadproc import LoadProcess
from bench.procs import CpuMeter, Processes, Server
from bench.producer import IN_FLIGHT
from bench.report import Figure, median

CONFIRM = '{"type":"confirm","value":true}'
PEER_MODES = ("send", "broadcast")  # see bench.peer
SIO_PRODUCERS = 3  # one python-socketio emitter process tops out near 10k events/s
SIO_TARGET = 5.0  # Tether at least this many times python-socketio's rate
_SIO_EVENT = b'42["s","'


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


class SioTab:
    """A Socket.IO tab on :class:`wsclient.Tab`: joins the namespace, answers Engine.IO
    pings, and times the ``s`` events it receives."""

    def __init__(self, tab: wsclient.Tab) -> None:
        loop = asyncio.get_running_loop()
        self.tab = tab
        self.joined: asyncio.Future[None] = loop.create_future()
        self.streamed: asyncio.Future[None] = loop.create_future()
        self.goal = 0
        self.count = 0
        self.first = 0.0
        self.last = 0.0
        self.sample = b""
        tab.on_frame = self._frame
        tab.send_text("40")  # join the namespace (the peer puts the tab in room 0)

    def expect(self, events: int) -> None:
        self.goal, self.count = events, 0

    def _frame(self, payload: bytes) -> None:
        if payload.startswith(_SIO_EVENT):
            now = time.perf_counter()
            if not self.count:
                self.first, self.sample = now, payload
            self.last = now
            self.count += 1
            if self.count == self.goal and not self.streamed.done():
                self.streamed.set_result(None)
        elif payload == b"2":  # Engine.IO ping
            self.tab.send_text("3")
        elif payload.startswith(b"40") and not self.joined.done():
            self.joined.set_result(None)


@dataclass(frozen=True)
class SioRound:
    rate: float
    seconds: float
    frame_bytes: int
    emit_seconds: float  # the slowest producer's time to emit its share
    server_cpu_us: float
    redis_cpu_us: float
    producer_cpu_us: float  # all producers together

    def as_dict(self) -> dict[str, Any]:
        return {"events_per_s": round(self.rate), "seconds": round(self.seconds, 3),
                "frame_bytes": self.frame_bytes,
                "producers_emit_s": round(self.emit_seconds, 3),
                "server_cpu_us_per_event": round(self.server_cpu_us, 2),
                "redis_cpu_us_per_event": round(self.redis_cpu_us, 2),
                "producers_cpu_us_per_event": round(self.producer_cpu_us, 2)}


async def sio_round(
    peer: Server, redis_url: str, redis_pid: int, producers: list[LoadProcess], config: Config,
    events: int,
) -> SioRound:
    url = f"{peer.ws_url}/socket.io/?EIO=4&transport=websocket&session=0"
    tabs = [SioTab(tab) for tab in
            await asyncio.gather(*(wsclient.connect(url) for _ in range(config.tabs)))]
    try:
        await asyncio.wait_for(asyncio.gather(*(tab.joined for tab in tabs)), 30.0)
        await sio_peer.listening(redis_url)
        shares = [events // len(producers) + (i < events % len(producers))
                  for i in range(len(producers))]
        for tab in tabs:
            tab.expect(events)
        meter = CpuMeter(peer.pid, redis_pid)
        for producer, share in zip(producers, shares, strict=True):
            producer.send(str(share))
        await asyncio.wait_for(
            asyncio.gather(*(tab.streamed for tab in tabs)), _deadline(config, events)
        )
        server_us, redis_us = meter.us_per(events * config.tabs)
        emitted = [await producer.result(30.0) for producer in producers]
        first = min(tab.first for tab in tabs)
        seconds = max(max(tab.last for tab in tabs) - first, 1e-9)
        return SioRound(
            rate=events * len(tabs) / seconds, seconds=seconds,
            frame_bytes=len(tabs[0].sample),
            emit_seconds=max(r["seconds"] for r in emitted),
            server_cpu_us=server_us, redis_cpu_us=redis_us,
            producer_cpu_us=sum(r["cpu_s"] for r in emitted) * 1e6 / (events * len(tabs)),
        )
    finally:
        await _close([tab.tab for tab in tabs])


async def run(procs: Processes, config: Config) -> list[Figure]:
    redis_url = procs.redis("throughput-redis")
    hub = procs.hub(redis_url, "throughput-hub")
    peer = procs.peer("throughput-peer")
    sio_redis = procs.redis("throughput-sio-redis")
    sio = procs.sio_peer(sio_redis, "throughput-sio-peer")
    tether_rounds: list[Round] = []
    peer_rounds: dict[str, list[Round]] = {mode: [] for mode in PEER_MODES}
    sio_rounds: list[SioRound] = []
    producers = [LoadProcess(f"throughput-{config.tabs}tab-sio-producer-{i}", "bench.producer",
                             "--kind", "sio", "--url", sio_redis, "--burst",
                             "--size", str(config.size))
                 for i in range(SIO_PRODUCERS)]
    try:
        for producer in producers:
            await producer.__aenter__()
        for producer in producers:
            await producer.expect("ready", 60.0)
        async with HubUser(hub) as user:
            redis_pid = procs.redis_pids[redis_url]
            sio_redis_pid = procs.redis_pids[sio_redis]
            await tether_round(user, config, config.warmup_events, redis_pid)
            for mode in PEER_MODES:
                await peer_round(peer, config, config.warmup_events, f"warmup-{mode}", mode)
            await sio_round(sio, sio_redis, sio_redis_pid, producers, config,
                            config.warmup_events)
            for i in range(config.rounds):
                tether_rounds.append(await tether_round(user, config, config.events, redis_pid))
                line = f"Tether {tether_rounds[-1].rate:,.0f}/s"
                for mode in PEER_MODES:
                    peer_rounds[mode].append(
                        await peer_round(peer, config, config.events, f"{i}-{mode}", mode)
                    )
                    line += f", peer ({mode}) {peer_rounds[mode][-1].rate:,.0f}/s"
                sio_rounds.append(
                    await sio_round(sio, sio_redis, sio_redis_pid, producers, config, config.events)
                )
                line += (f", python-socketio {sio_rounds[-1].rate:,.0f}/s (producers done in"
                         f" {sio_rounds[-1].emit_seconds:.2f} s)")
                print(f"  throughput round {i + 1}/{config.rounds}: {line}", flush=True)
    finally:
        for producer in producers:
            await producer.__aexit__(None, None, None)
    return [_bare_figure(config, tether_rounds, peer_rounds),
            _sio_figure(config, tether_rounds, sio_rounds)]


def _sio_figure(config: Config, tether_rounds: list[Round], rounds: list[SioRound]) -> Figure:
    tether = median([r.rate for r in tether_rounds])
    sio = median([r.rate for r in rounds])
    tabs = f"{config.tabs} tab{'s' if config.tabs != 1 else ''}"
    return Figure(
        key=f"throughput-{config.tabs}tab-vs-sio",
        label=f"throughput, {tabs}, vs python-socketio",
        unit="events/s",
        tether=tether,
        peer=sio,
        target=f"Tether >= {SIO_TARGET:g} x peer",
        met=tether >= SIO_TARGET * sio,
        higher_is_better=True,
        conditions=(
            f"the same ticker rounds; peer: python-socketio + AsyncRedisManager "
            f"(bench.sio_peer, uvicorn), {tabs} in the room, "
            f"{config.events} events of {config.size} B emitted through Redis by "
            f"{SIO_PRODUCERS} producer processes at {IN_FLIGHT} in flight each; delivered events/s "
            f"first-to-last event, median of {config.rounds} rounds; producers done in "
            f"{median([r.emit_seconds for r in rounds]):.2f} s of the median round's "
            f"{median([r.seconds for r in rounds]):.2f} s; CPU per delivered event: server "
            f"{median([r.server_cpu_us for r in rounds]):.1f} us (+ Redis "
            f"{median([r.redis_cpu_us for r in rounds]):.1f} us), producers "
            f"{median([r.producer_cpu_us for r in rounds]):.1f} us; frames "
            f"{rounds[0].frame_bytes} B"
        ),
        details={"sio_rounds": [r.as_dict() for r in rounds], "producers": SIO_PRODUCERS},
    )


def _bare_figure(
    config: Config, tether_rounds: list[Round], peer_rounds: dict[str, list[Round]]
) -> Figure:
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
