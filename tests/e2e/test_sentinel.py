"""Hubs behind Redis Sentinel (``TETHER_REDIS_URL=redis+sentinel://...``) follow a
failover: the primary is killed with SIGKILL mid-session, the sentinels promote the
replica, the hub processes reconnect to it (commands and Pub/Sub alike), sessions
complete, and every client ends up showing exactly the stored log, told by an epoch
reset if the failover lost events it had shown."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

import pytest
import redis.asyncio as aioredis
from redis.asyncio.sentinel import MasterNotFoundError

from tests.e2e.durable_checks import NAME
from tests.support.follow import Follower, Person, assert_exactly_once
from tests.support.hub_proc import HubProcess
from tests.support.sentinel_proc import (
    PASSWORD,
    SENTINEL_PASSWORD,
    Node,
    SentinelCluster,
    StraySentinel,
)
from tests.support.timing import eventually
from tether.store.connect import close_client, redis_client

TASKS = "tests.e2e.durable_tasks:hub"


def assert_failover_codes(codes: list[int | None]) -> None:
    """A socket open when the hub loses its store is closed with 1012 (its feed dropped);
    reconnects while no primary is known are refused with 1013 until one is."""
    assert codes[:1] == [1012], codes
    assert set(codes[1:]) <= {1013}, codes


def assert_shown_consistently(follower: Follower, log: list[dict[str, object]]) -> None:
    """What the client shows is the stored log, exactly; what a reset voided agrees with
    the log wherever the log still has that seq with the same content, and the first
    seq where it does not is why the hub reset it (else the reset was needless)."""
    assert_exactly_once(follower.events, log)
    for voided in follower.voided:
        kept = {e["seq"]: e for e in log}
        differs = [e["seq"] for e in voided if kept.get(e["seq"]) != e]
        assert differs, "a reset voided events the log still has as they were"


async def test_hubs_follow_a_failover_and_clients_see_every_event_once(
    hub_procs: Callable[..., HubProcess], sentinel: SentinelCluster
) -> None:
    """Two hubs behind Sentinel, a task streaming to followers on both: SIGKILL the
    primary mid-stream. A replica is promoted, both hubs reconnect, the task completes,
    and each follower shows exactly the stored log (after a reset, if the failover lost
    its tail); the stored log has each line at most once, in order."""
    hub_a = hub_procs(TASKS, redis_url=sentinel.url, hub_id="hub-a")
    hub_b = hub_procs(TASKS, redis_url=sentinel.url, hub_id="hub-b")
    person = await Person.sign_in(hub_a)
    lines = 400
    session_id = await person.start(hub_a, "steady_stream", {"lines": lines, "line_seconds": 0.02})
    followers = [
        Follower(lambda: hub_a.ws_url, session_id, person).start(),
        Follower(lambda: hub_b.ws_url, session_id, person).start(),
        Follower(lambda: hub_b.ws_url, session_id, person).start(),
    ]
    for follower in followers:
        await follower.wait_for("stream", content="line 40")
    old_primary = sentinel.primary().port

    promoted_after = await asyncio.to_thread(sentinel.fail_over)
    assert sentinel.primary().port != old_primary

    session = await person.finished(hub_b, session_id, timeout_ms=60_000)
    assert session["status"] == "completed" and session["result"] == {"lines": lines}
    log = await person.events(hub_a, session_id)
    streamed = [int(str(e["content"]).split()[1]) for e in log if e["type"] == "stream"]
    assert streamed == sorted(set(streamed)), "a line is in the log twice, or out of order"
    assert streamed[-1] == lines - 1 and streamed[:41] == list(range(41))
    for follower in followers:
        await follower.wait_finished(timeout_ms=30_000)
        await follower.stop()
        assert_shown_consistently(follower, log)
        assert_failover_codes(follower.close_codes)
    for hub in (hub_a, hub_b):
        assert hub.proc is not None and hub.proc.poll() is None, f"{hub.hub_id} died"
    print(
        f"failover: promoted after {promoted_after:.2f} s; lines lost {lines - len(streamed)}; "
        f"resets {[len(f.voided) for f in followers]}; "
        f"close codes {[f.close_codes for f in followers]}"
    )


async def test_an_answer_acknowledged_before_the_primary_dies_is_kept(
    hub_procs: Callable[..., HubProcess], sentinel: SentinelCluster
) -> None:
    """With TETHER_REDIS_WAIT_REPLICAS at its Sentinel default (1), an answer the hub
    acknowledged is on the replica: the primary is killed right after the 200, and the
    promoted replica still has it: the waiting task gets it and completes."""
    hub = hub_procs(TASKS, redis_url=sentinel.url, hub_id="hub-a")
    person = await Person.sign_in(hub)
    session_id = await person.start(hub, "changing", {})
    follower = Follower(lambda: hub.ws_url, session_id, person).start()
    request = await person.pending(hub, session_id, "input")
    response = await person.answer(hub, session_id, request["request_id"], NAME)
    assert response.status_code == 200, response.text

    await asyncio.to_thread(sentinel.fail_over)

    session = await person.finished(hub, session_id, timeout_ms=60_000)
    assert session["status"] == "completed" and session["result"] == "a", session
    log = await person.events(hub, session_id)
    answered = [e for e in log if e["type"] == "request_answered"]
    assert [(e["request_id"], e["value"]) for e in answered] == [(request["request_id"], NAME)]
    await follower.wait_finished(timeout_ms=30_000)
    await follower.stop()
    assert_shown_consistently(follower, log)
    # The new primary holds the answer record itself, not only its event.
    client = aioredis.Redis(port=sentinel.primary().port, password=PASSWORD,
                            decode_responses=True)
    try:
        stored = await client.hget(f"tether:{{{session_id}}}:answers", request["request_id"])
    finally:
        await client.aclose()
    assert stored is not None and '"Ada"' in str(stored)


async def test_sentinel_url_serves_like_a_plain_one(
    hub_procs: Callable[..., HubProcess], sentinel: SentinelCluster
) -> None:
    """Before any failover: a hub given only the Sentinel URL finds the primary, writes
    there, reports itself ready, and never prints the passwords."""
    hub = hub_procs(TASKS, redis_url=sentinel.url, hub_id="hub-a")
    person = await Person.sign_in(hub)
    session_id = await person.start(hub, "steady_stream", {"lines": 5, "line_seconds": 0})
    session = await person.finished(hub, session_id)
    assert session["status"] == "completed"
    client = aioredis.Redis(port=sentinel.primary().port, password=PASSWORD)
    try:
        assert await client.exists(f"tether:{{{session_id}}}:rec") == 1
    finally:
        await client.aclose()
    async with person.http(hub) as http:
        assert (await http.get("/readyz")).status_code == 200
    text = "\n".join(hub.log)
    assert "Redis at redis+sentinel://:***@" in text, text
    assert PASSWORD not in text and SENTINEL_PASSWORD not in text


async def test_min_replicas_to_write_makes_a_hub_wait_instead_of_writing_alone(
    hub_procs: Callable[..., HubProcess], sentinel: SentinelCluster
) -> None:
    """With ``min-replicas-to-write 1`` on the primary and its replica stopped, the primary
    refuses writes (NOREPLICAS): the hub answers 503 store_unavailable rather than take an
    answer that only the primary would hold, and takes it once the replica is back."""
    hub = hub_procs(TASKS, redis_url=sentinel.url, hub_id="hub-a")
    person = await Person.sign_in(hub)
    session_id = await person.start(hub, "changing", {})
    request = await person.pending(hub, session_id, "input")
    primary = sentinel.primary()
    (replica,) = [n for n in sentinel.nodes if n is not primary]
    with primary.client() as admin:
        admin.config_set("min-replicas-max-lag", 1)
        admin.config_set("min-replicas-to-write", 1)
    try:
        assert replica.proc is not None
        replica.proc.send_signal(signal.SIGSTOP)
        try:
            await eventually(lambda: _good_replicas(primary) == 0, timeout_ms=15_000,
                             what="the primary to count no replica in time")
            refused = await person.answer(hub, session_id, request["request_id"], NAME)
            assert refused.status_code == 503, refused.text
            assert refused.json()["error"]["code"] == "store_unavailable"
        finally:
            replica.proc.send_signal(signal.SIGCONT)
        await eventually(lambda: _good_replicas(primary) == 1, timeout_ms=15_000,
                         what="the replica back in time")
        taken = await person.answer(hub, session_id, request["request_id"], NAME)
        assert taken.status_code == 200, taken.text
        session = await person.finished(hub, session_id, timeout_ms=30_000)
        assert session["status"] == "completed"
    finally:
        with primary.client() as admin:
            admin.config_set("min-replicas-to-write", 0)


async def test_a_sentinel_naming_another_primary_is_outvoted(
    hub_procs: Callable[..., HubProcess], sentinel: SentinelCluster
) -> None:
    """Listed first, a sentinel that names another (empty) primary, as one that has not
    yet heard of a promotion does: the hub follows the three that agree and writes to the
    deployment's primary; with only one of them beside it, no two of the two agree and no
    primary is known, rather than the wrong one."""
    stray = StraySentinel().start()
    try:
        real = [f"127.0.0.1:{s.port}" for s in sentinel.sentinels]
        hub = hub_procs(TASKS, redis_url=sentinel.url_of([stray.address, *real]),
                        hub_id="hub-a")
        person = await Person.sign_in(hub)
        session_id = await person.start(hub, "steady_stream", {"lines": 3, "line_seconds": 0})
        assert (await person.finished(hub, session_id))["status"] == "completed"
        key = f"tether:{{{session_id}}}:rec"
        assert stray.primary is not None
        with sentinel.primary().client() as primary, stray.primary.client() as other:
            assert (primary.exists(key), other.exists(key)) == (1, 0)

        split = redis_client(sentinel.url_of([stray.address, real[0]]), client_name="t",
                             max_connections=2)
        try:
            with pytest.raises(MasterNotFoundError, match="no 2 of 2 sentinels agree"):
                await split.ping()
        finally:
            await close_client(split)
    finally:
        stray.stop()


def _good_replicas(node: Node) -> int:
    with node.client() as client:
        info = client.info("replication")
    return int(info.get("min_slaves_good_slaves", -1))
