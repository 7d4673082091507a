"""Redis killed (SIGKILL) and restarted on the same port, with AOF, under a hub process
whose task keeps streaming: the hub survives, /readyz reports the outage, clients come
back with after=, and nothing is lost."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from tests.e2e.durable_checks import NAME
from tests.support.follow import Follower, Person, assert_exactly_once
from tests.support.hub_proc import HubProcess
from tests.support.redis_proc import RedisProcess
from tests.support.timing import eventually

TASKS = "tests.e2e.durable_tasks:hub"


def assert_outage_codes(codes: list[int | None], *, down_long: bool) -> None:
    """PROTOCOL.md: a socket open when the hub loses its store is closed with 1012; a
    reconnect while the store is still away is refused with 1013, until it is back. A
    follower reconnects at once after the 1012, so an outage longer than that first
    retry shows at least one 1013."""
    assert codes[:1] == [1012], codes
    assert set(codes[1:]) <= {1013}, codes
    if down_long:
        assert len(codes) >= 2, codes


async def readyz(hub: HubProcess) -> int:
    async with httpx.AsyncClient(base_url=hub.base_url, timeout=5) as http:
        return (await http.get("/readyz")).status_code


async def ready_is(hub: HubProcess, expected: int) -> bool:
    return await readyz(hub) == expected


async def test_redis_restart_mid_session_loses_nothing(
    hub_procs: Callable[..., HubProcess], own_redis: RedisProcess
) -> None:
    """Redis dies while a task streams to three clients and comes back 1+ s later: the hub
    keeps running (/readyz 503 while Redis is down, 200 after), the task goes on and
    completes, and every client, reconnecting with after=, saw the exact log 1..L."""
    hub = hub_procs(TASKS, redis_url=own_redis.url, hub_id="hub-a", TETHER_LEASE_SECONDS="1")
    person = await Person.sign_in(hub)
    lines = 200
    session_id = await person.start(
        hub, "steady_stream", {"lines": lines, "line_seconds": 0.02}
    )
    followers = [Follower(lambda: hub.ws_url, session_id, person).start() for _ in range(3)]
    for follower in followers:
        await follower.wait_for("stream", content="line 30")
    assert await readyz(hub) == 200

    own_redis.kill()
    down = time.monotonic()
    await eventually(lambda: ready_is(hub, 503), timeout_ms=10_000, what="/readyz 503")
    # Down for longer than the lease: the hub must also get its lease back afterwards.
    await eventually(lambda: time.monotonic() - down > 1.5, timeout_ms=5000)
    assert hub.proc is not None and hub.proc.poll() is None, "the hub died with Redis"
    assert await readyz(hub) == 503
    own_redis.start()
    await eventually(lambda: ready_is(hub, 200), timeout_ms=10_000, what="/readyz 200")

    session = await person.finished(hub, session_id, timeout_ms=30_000)
    assert session["status"] == "completed" and session["result"] == {"lines": lines}
    log = await person.events(hub, session_id)
    assert [e["content"] for e in log if e["type"] == "stream"] == [
        f"line {i}" for i in range(lines)
    ]
    for index, follower in enumerate(followers):
        await follower.wait_finished()
        await follower.stop()
        assert_exactly_once(follower.events, log, who=f"client {index}")
        assert_outage_codes(follower.close_codes, down_long=True)
    print(
        "redis outage: close codes", [f.close_codes for f in followers],
        "failed connects", [f.failed_connects for f in followers],
    )
    assert hub.proc is not None and hub.proc.poll() is None



async def test_answer_sent_as_redis_comes_back_reaches_the_waiting_task(
    hub_procs: Callable[..., HubProcess], own_redis: RedisProcess
) -> None:
    """A question open while Redis dies, answered the moment Redis is back (before or
    after the hub's feed resubscribes): the waiting task gets the answer and finishes."""
    hub = hub_procs(TASKS, redis_url=own_redis.url, hub_id="hub-a", TETHER_LEASE_SECONDS="1")
    person = await Person.sign_in(hub)
    # ``changing`` keeps no Redis connection of its own (``durable``'s step counter
    # would fail on its own dead connection): only the hub's recovery is tested.
    session_id = await person.start(hub, "changing", {})
    follower = Follower(lambda: hub.ws_url, session_id, person).start()
    request = await person.pending(hub, session_id, "input")
    own_redis.kill()
    await eventually(lambda: ready_is(hub, 503), timeout_ms=10_000, what="/readyz 503")
    own_redis.start()

    async def answered() -> bool:
        # 503 while the hub's connections come back; 409: an earlier try landed.
        response = await person.answer(hub, session_id, request["request_id"], NAME)
        return response.status_code in (200, 409)

    await eventually(answered, timeout_ms=10_000, what="the answer to be recorded")
    session = await person.finished(hub, session_id, timeout_ms=15_000)
    assert session["status"] == "completed" and session["result"] == "a", session
    await follower.wait_finished()
    await follower.stop()
    assert_exactly_once(follower.events, await person.events(hub, session_id))
    # Redis is restarted as soon as the hub reports it gone: the follower's first retry
    # may already find it back, so a 1013 may or may not follow.
    assert_outage_codes(follower.close_codes, down_long=False)
