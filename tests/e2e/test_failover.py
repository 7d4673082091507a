"""Two hub processes on one Redis, and on a Redis Cluster: a session moves to the other
hub when its own dies (after the lease runs out) or shuts down (at once: its leases are
released)."""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import datetime

import websockets
from websockets.asyncio.client import ClientConnection

from tests.e2e.durable_checks import (
    NAME,
    TASKS,
    StartHub,
    assert_resumed,
    finish_durable,
)
from tests.support.follow import Follower, Person, elapsed_since, runner_of
from tests.support.hub_proc import HubProcess
from tests.support.stores import redis_and_cluster
from tests.support.tabs import TERMINAL, Tab
from tests.support.timing import MS, eventually

# On one Redis and on a Redis Cluster.
redis_url = redis_and_cluster


async def test_other_hub_takes_over_a_killed_hubs_session_after_the_lease(
    hub_procs: StartHub, redis_url: str
) -> None:
    """The task runs on hub A, the client watches and answers through hub B. A is killed
    mid-stream; B adopts the session once A's 1 s lease runs out (well under 30 s), the
    session completes, and the client on B saw exactly 1..L."""
    hub_a = hub_procs(TASKS, redis_url=redis_url, hub_id="hub-a", TETHER_LEASE_SECONDS="1")
    hub_b = hub_procs(TASKS, redis_url=redis_url, hub_id="hub-b", TETHER_LEASE_SECONDS="1")
    person = await Person.sign_in(hub_a)
    lines = 120
    session_id = await person.start(
        hub_a, "durable", {"counter_url": redis_url, "lines": lines, "line_seconds": 0.02}
    )
    follower = Follower(lambda: hub_b.ws_url, session_id, person).start()
    await follower.wait_for("stream", content="line 20")
    assert follower.connections == 1
    hub_a.kill()
    killed = time.monotonic()
    last_before = follower.last_seq
    await eventually(lambda: follower.last_seq > last_before, timeout_ms=30_000,
                     what="an event written by hub B")
    takeover = elapsed_since(killed)
    print(f"takeover after kill -9: {takeover:.2f} s (lease 1 s)")
    assert takeover < 10, f"hub B took {takeover} s to take over"
    assert_resumed(hub_b, session_id)
    # Answers go through B, which now also runs the task. The client's hub never went
    # away, so none of its connections ended: no close code at all.
    await finish_durable(
        person, hub_b, session_id, follower, redis_url, close_codes=[], lines=lines
    )
    assert follower.connections == 1, "the client on B never had to reconnect"


async def test_a_live_hubs_long_task_is_never_taken_over(
    hub_procs: StartHub, redis_url: str
) -> None:
    """Hub A runs a task for several times its 1 s lease while hub B, on the same Redis,
    looks for orphans every third of a second: A's renewals keep the session A's. The
    store names A as the runner at every look, B never resumes it, and the log holds each
    line once."""
    hub_a = hub_procs(TASKS, redis_url=redis_url, hub_id="hub-a", TETHER_LEASE_SECONDS="1")
    hub_b = hub_procs(TASKS, redis_url=redis_url, hub_id="hub-b", TETHER_LEASE_SECONDS="1")
    person = await Person.sign_in(hub_a)
    lines = 200
    session_id = await person.start(
        hub_a, "steady_stream", {"lines": lines, "line_seconds": 0.02}
    )
    looks = 0

    async def finished() -> bool:
        nonlocal looks
        session = await person.session(hub_b, session_id)
        runner = await runner_of(redis_url, session_id)
        assert runner == "hub-a", f"the session moved to {runner} after {looks} looks"
        looks += 1
        return bool(session["status"] in TERMINAL)

    await eventually(finished, timeout_ms=30_000, what="the session to finish")
    assert not any("Resuming session" in line for line in hub_b.log), hub_b.log[-20:]
    log = await person.events(hub_b, session_id)
    assert [e["content"] for e in log if e["type"] == "stream"] == [
        f"line {i}" for i in range(lines)
    ]
    assert log[-1]["type"] == "status" and log[-1]["status"] == "completed"
    # The task outlived its lease several times over: without renewals B would have
    # adopted it.
    lasted = (_when(log[-1]) - _when(log[0])).total_seconds()
    assert lasted > 3, f"the task ran {lasted} s, too short to need a renewal"


def _when(event: dict[str, object]) -> datetime:
    return datetime.fromisoformat(str(event["ts"]).replace("Z", "+00:00"))


async def test_sigterm_closes_sockets_with_1012_and_releases_leases_for_another_hub(
    hub_procs: StartHub, redis_url: str
) -> None:
    """SIGTERM on a hub with a waiting session and connected clients: the clients get
    close code 1012, the process exits promptly, and another hub resumes the session at
    once (long before the 30 s lease would have run out) because it was released."""
    hub_a = hub_procs(TASKS, redis_url=redis_url, hub_id="hub-a", TETHER_LEASE_SECONDS="30")
    # B's own lease is short only so that it looks for orphans often (every lease / 3);
    # the session's lease is A's, 30 s.
    hub_b = hub_procs(TASKS, redis_url=redis_url, hub_id="hub-b", TETHER_LEASE_SECONDS="1.5")
    person = await Person.sign_in(hub_a)
    session_id = await person.start(hub_a, "durable", {"counter_url": redis_url})
    request = await person.pending(hub_a, session_id, "input")
    tabs = []
    for _ in range(2):
        ws = await _connect(person, hub_a, session_id)
        tab = Tab(ws, 0)
        await tab.until("replay_complete")
        tabs.append(tab)
    last_seq = tabs[0].last_seq

    started = time.monotonic()
    codes = asyncio.gather(*(tab.closed_with(timeout=15) for tab in tabs))
    exit_code = await asyncio.to_thread(hub_a.terminate, 15)
    shutdown = elapsed_since(started)
    assert exit_code in (0, -signal.SIGTERM), hub_a.log[-20:]
    assert await codes == [1012, 1012]
    print(f"graceful shutdown took {shutdown:.2f} s")
    assert shutdown < 8, f"shutdown took {shutdown} s"
    assert any("Application shutdown complete" in line for line in hub_a.log)

    await eventually(
        lambda: any(f"Resuming session {session_id}" in line for line in hub_b.log),
        timeout_ms=10_000, what="hub B resuming the released session",
    )
    takeover = elapsed_since(started)
    print(f"takeover after SIGTERM: {takeover:.2f} s (lease 30 s)")
    assert takeover < 10
    follower = Follower(lambda: hub_b.ws_url, session_id, person)
    follower.events = list(tabs[0].events)  # continue where the first tab left off
    follower.start()
    assert (await person.pending(hub_b, session_id, "input")) == request
    assert (await person.answer(hub_b, session_id, request["request_id"], NAME)).is_success
    # The follower connects to B only now, with after= A's last seq: nothing closes it.
    log = await finish_durable(
        person, hub_b, session_id, follower, redis_url, close_codes=[], answered_input=True
    )
    assert len(log) > last_seq, "B wrote nothing after A shut down"
    # Both tabs on A saw the same stored prefix (the follower continued the first one).
    assert tabs[1].events == tabs[0].events == log[: len(tabs[0].events)]


async def _connect(person: Person, hub: HubProcess, session_id: str) -> ClientConnection:
    return await websockets.connect(
        f"{hub.ws_url}/ws/sessions/{session_id}?after=0",
        additional_headers=person.cookie_header, max_queue=None, open_timeout=5000 * MS,
    )

