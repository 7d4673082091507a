"""Two hub processes on one Redis: a session moves to the other hub when its own dies
(after the lease runs out) or shuts down (at once: its leases are released)."""

from __future__ import annotations

import asyncio
import signal
import time

import websockets
from websockets.asyncio.client import ClientConnection

from tests.e2e.durable_checks import NAME, TASKS, StartHub, assert_resumed, finish_durable
from tests.support.follow import Follower, Person, elapsed_since
from tests.support.hub_proc import HubProcess
from tests.support.tabs import Tab
from tests.support.timing import MS, eventually


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
    # Answers go through B, which now also runs the task.
    await finish_durable(person, hub_b, session_id, follower, redis_url, lines=lines)
    assert follower.connections == 1, "the client on B never had to reconnect"


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
    await finish_durable(person, hub_b, session_id, follower, redis_url, answered_input=True)
    assert follower.events[last_seq - 1] == tabs[0].events[-1]


async def _connect(person: Person, hub: HubProcess, session_id: str) -> ClientConnection:
    return await websockets.connect(
        f"{hub.ws_url}/ws/sessions/{session_id}?after=0",
        additional_headers=person.cookie_header, max_queue=None, open_timeout=5000 * MS,
    )

