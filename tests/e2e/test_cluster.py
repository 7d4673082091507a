"""Hubs on a Redis Cluster (``TETHER_REDIS_URL=redis+cluster://...``) while the cluster
changes under a live session: its bucket's slot moved to another primary, keys and all,
and its primary killed with SIGKILL. Real processes: six redis-servers, hub processes,
WebSocket followers. Every time the session completes, each follower shows exactly the
stored log, no step body ran twice and no question was asked twice.

The tasks' counters are on a plain Redis beside the cluster: they prove what ran, and
must not move or fail over with it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from redis.crc import key_slot

from tests.e2e.durable_checks import NAME, TASKS, StartHub, finish_durable, start_durable
from tests.e2e.test_sentinel import assert_shown_consistently
from tests.support.follow import Follower, Person, assert_asked_once, durable_calls, step_calls
from tests.support.redis_cluster import ClusterNode, LocalCluster
from tests.support.timing import eventually
from tether.store.keys import Layout

LAYOUT = Layout.cluster()


def slot_of_session(session_id: str) -> int:
    """The one slot of the session's bucket: its keys, its channel, its index entries."""
    return key_slot(LAYOUT.session(session_id).rec.encode())


def another_primary(cluster: LocalCluster, slot: int) -> ClusterNode:
    owner = cluster.primary_of(slot)
    return next(node for node in cluster.primaries() if node is not owner)


def refused_writes(hub_log: list[str], session_id: str) -> int:
    """How often the hub logged that a write of the session waits for the store."""
    return sum(f"Session {session_id} waits for the store" in line for line in hub_log)


async def test_moving_a_live_sessions_bucket_to_another_primary_loses_nothing(
    hub_procs: StartHub, redis_cluster: LocalCluster, redis_cluster_url: str, redis_url: str,
) -> None:
    """The bucket's slot is migrated (SETSLOT MIGRATING/IMPORTING, MIGRATE, SETSLOT NODE)
    while the task streams; the move is held open, keys on the new primary and the slot
    still the old one's, until the hub has had a write refused (its scripts never run on
    a half-moved bucket). Then the slot is handed over: the writes go through on the new
    primary, the feed follows the channel, and the session completes with every event
    once, each step run once."""
    hub = hub_procs(TASKS, redis_url=redis_cluster_url, hub_id="hub-a")
    person = await Person.sign_in(hub)
    lines = 150
    session_id, follower = await start_durable(
        person, hub, redis_url, lines=lines, line_seconds=0.02
    )
    await follower.wait_for("stream", content="line 30")
    slot = slot_of_session(session_id)
    target = another_primary(redis_cluster, slot)
    loop = asyncio.get_running_loop()
    held: dict[str, float] = {}

    def hold_while_half_moved(moving: int) -> None:
        # In the cluster's thread: wait (with a deadline) until a write was refused.
        started = time.monotonic()
        asyncio.run_coroutine_threadsafe(eventually(
            lambda: refused_writes(hub.log, session_id) > 0, timeout_ms=15_000,
            what="a write refused while the bucket is half moved",
        ), loop).result()
        held["seconds"] = time.monotonic() - started

    moving_started = time.monotonic()
    await asyncio.to_thread(
        redis_cluster.move_slots, [slot], target, keys_moved=hold_while_half_moved
    )
    moved_in = time.monotonic() - moving_started
    assert redis_cluster.primary_of(slot) is target

    log = await finish_durable(person, hub, session_id, follower, redis_url, close_codes=[],
                               lines=lines)
    streamed = [e["content"] for e in log if e["type"] == "stream"]
    assert streamed == [f"line {i}" for i in range(lines)]
    print(
        f"resharding: slot {slot} moved in {moved_in:.2f} s, held half-moved "
        f"{held['seconds']:.2f} s; refused writes {refused_writes(hub.log, session_id)}; "
        f"events {len(log)}"
    )


async def test_a_primary_failover_mid_session_loses_nothing(
    hub_procs: StartHub, redis_cluster: LocalCluster, redis_cluster_url: str, redis_url: str,
) -> None:
    """Two hubs on the cluster; the session runs on hub A, followers watch it on both.
    SIGKILL the primary of the session's bucket mid-stream: its replica is promoted, the
    hubs find it (commands and sharded Pub/Sub), the session completes; no step body ran
    twice, no question was asked twice, and each follower shows exactly the stored log
    (told by an epoch reset if the failover lost events it had shown). The stream lines
    are in the log once each, in order; a line the failover lost (written, not yet
    replicated) is counted."""
    hub_a = hub_procs(TASKS, redis_url=redis_cluster_url, hub_id="hub-a")
    hub_b = hub_procs(TASKS, redis_url=redis_cluster_url, hub_id="hub-b")
    person = await Person.sign_in(hub_a)
    lines = 200
    session_id = await person.start(
        hub_a, "durable", {"counter_url": redis_url, "lines": lines, "line_seconds": 0.02}
    )
    followers = [
        Follower(lambda: hub_a.ws_url, session_id, person).start(),
        Follower(lambda: hub_b.ws_url, session_id, person).start(),
    ]
    for follower in followers:
        await follower.wait_for("stream", content="line 30")
    slot = slot_of_session(session_id)
    started = time.monotonic()
    killed = await asyncio.to_thread(redis_cluster.kill_primary_of, slot)
    promoted_in = time.monotonic() - started
    assert redis_cluster.primary_of(slot) is not killed

    request = await person.pending(hub_b, session_id, "input", timeout_ms=60_000)
    assert (await person.answer(hub_b, session_id, request["request_id"], NAME)).is_success
    request = await person.pending(hub_b, session_id, "retry", timeout_ms=30_000)
    assert (await person.answer(hub_b, session_id, request["request_id"], True)).is_success
    session = await person.finished(hub_b, session_id, timeout_ms=60_000)
    assert session["status"] == "completed", session
    assert session["result"] == {
        "name": "Ada", "squares": [i * i for i in range(6)], "flaky_calls": 2,
    }
    log = await person.events(hub_a, session_id)
    assert await step_calls(redis_url, session_id) == durable_calls()
    assert_asked_once(log)
    streamed = [int(str(e["content"]).split()[1]) for e in log if e["type"] == "stream"]
    assert streamed == sorted(set(streamed)), "a line is in the log twice, or out of order"
    assert streamed[:31] == list(range(31)) and streamed[-1] == lines - 1
    for follower in followers:
        await follower.wait_finished(timeout_ms=30_000)
        await follower.stop()
        assert_shown_consistently(follower, log)
        assert set(follower.close_codes) <= {1012, 1013}, follower.close_codes
    for hub in (hub_a, hub_b):
        assert hub.proc is not None and hub.proc.poll() is None, f"{hub.hub_id} died"
    print(
        f"failover: promoted in {promoted_in:.2f} s; lines lost {lines - len(streamed)}; "
        f"resets {[len(f.voided) for f in followers]}; "
        f"close codes {[f.close_codes for f in followers]}"
    )


async def test_an_answer_acknowledged_before_its_primary_dies_is_kept(
    hub_procs: StartHub, redis_cluster: LocalCluster, redis_cluster_url: str,
) -> None:
    """TETHER_REDIS_WAIT_REPLICAS is 1 by default on a cluster: an answer the hub
    acknowledged is on the replica. The primary of the session's bucket is killed right
    after the 200; the promoted replica has the answer, and the task completes with it."""
    hub = hub_procs(TASKS, redis_url=redis_cluster_url, hub_id="hub-a")
    person = await Person.sign_in(hub)
    session_id = await person.start(hub, "changing", {})
    follower = Follower(lambda: hub.ws_url, session_id, person).start()
    request = await person.pending(hub, session_id, "input")
    response = await person.answer(hub, session_id, request["request_id"], NAME)
    assert response.status_code == 200, response.text

    await asyncio.to_thread(redis_cluster.kill_primary_of, slot_of_session(session_id))

    session = await person.finished(hub, session_id, timeout_ms=60_000)
    assert session["status"] == "completed" and session["result"] == "a", session
    log = await person.events(hub, session_id)
    answered: list[dict[str, Any]] = [e for e in log if e["type"] == "request_answered"]
    assert [(e["request_id"], e["value"]) for e in answered] == [(request["request_id"], NAME)]
    await follower.wait_finished(timeout_ms=30_000)
    await follower.stop()
    assert_shown_consistently(follower, log)
