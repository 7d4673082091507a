"""The throughput, many-sessions, starts and answers benchmarks run end to end at tiny sizes.

Not a measurement (``make bench`` is): each scenario starts its real hub, peers, Redis and
load processes, and every side must deliver what it was sent.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from bench import answers, many, starts, throughput
from bench.procs import Processes, raise_nofile_limit


@pytest.fixture
def procs() -> Iterator[Processes]:
    raise_nofile_limit()
    with Processes() as group:
        yield group


async def test_throughput_delivers_every_event_to_every_tab_on_every_side(
    procs: Processes,
) -> None:
    """Tether, the bare server and python-socketio fed by its producers: each round only
    ends once every tab has every event, so a figure at all means nothing was lost."""
    config = throughput.Config(events=60, rounds=1, tabs=2, warmup_events=10)
    figures = {f.key: f for f in await throughput.run(procs, config)}
    assert set(figures) == {"throughput-2tab", "throughput-2tab-vs-sio"}
    bare, sio = figures["throughput-2tab"], figures["throughput-2tab-vs-sio"]
    assert bare.tether > 0 and bare.peer > 0 and sio.peer > 0
    assert sio.tether == bare.tether  # the same Tether rounds, beside another peer
    [round_] = sio.details["sio_rounds"]
    assert round_["frame_bytes"] > 100  # the event's 100 bytes, framed by Socket.IO


async def test_many_sessions_deliver_every_event_on_every_side(procs: Processes) -> None:
    config = many.Config(sessions=5, rate=20.0, seconds=1.0, clients=2, workers=(1, 2))
    figures = {f.key: f for f in await many.run(procs, config)}
    details = figures["many_lost"].details
    for side in ("tether", "tether_workers2", "websockets", "python_socketio"):
        summary = details[side]
        assert summary["expected"] == 5 * 20
        assert summary["lost"] == 0, (side, summary)
        assert 0 <= summary["p50_ms"] <= summary["p99_ms"] < 10_000, (side, summary)
    assert figures["many_server_cpu"].tether > 0
    # With two workers every session ran on one of them, under its own hub id.
    by_worker = details["tether_workers2"]["sessions_by_worker"]
    assert set(by_worker) == {"many-hub-tether-2-workers-1", "many-hub-tether-2-workers-2"}
    assert sum(by_worker.values()) == 5
    assert figures["many_server_cpu_workers2"].tether > 0


async def test_starts_count_created_sessions_on_the_hub_and_the_peer(procs: Processes) -> None:
    (figure,) = await starts.run(procs, starts.Config(sessions=40, warmup=8, concurrency=8))
    assert figure.tether > 0 and figure.peer > 0
    assert figure.details["tether"]["statuses"] == {"201": 40}
    assert figure.details["peer"]["statuses"] == {"201": 40}


async def test_answers_make_round_trips_on_many_sessions_and_one(procs: Processes) -> None:
    config = answers.Config(sessions=3, seconds=0.5, single_exchanges=20)
    figures = {f.key: f for f in await answers.run(procs, config)}
    assert figures["answers_rate"].tether > 0 and figures["answers_rate"].peer > 0
    assert figures["answers_rate"].details["tether"]["exchanges"] > 0
    single = figures["answers_single_p50"]
    assert math.isfinite(single.tether) and single.tether > 0
