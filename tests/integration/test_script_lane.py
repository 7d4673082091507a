"""The script lane (store/lane.py) on a real Redis: many calls in flight on one connection,
each with its own reply, whatever fails around it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import DataError, ResponseError

from tests.support.redis_proc import RedisProcess
from tether.store.lane import ScriptLane

ECHO = "return ARGV[1]"
FAIL_ON_ODD = """
if tonumber(ARGV[1]) % 2 == 1 then return redis.error_reply('odd ' .. ARGV[1]) end
return ARGV[1]
"""
# Holds Redis for about ARGV[1] ms (scripts cannot sleep): a reply that comes late.
SLOW = """
local t = redis.call('TIME')
local until_us = (tonumber(t[1]) * 1000000 + tonumber(t[2])) + tonumber(ARGV[1]) * 1000
repeat
  t = redis.call('TIME')
until tonumber(t[1]) * 1000000 + tonumber(t[2]) >= until_us
return 'slow'
"""


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    redis = aioredis.Redis.from_url(redis_url, decode_responses=True, client_name="lane-test")
    yield redis
    await redis.aclose()


@pytest.fixture
async def lane(client: aioredis.Redis) -> AsyncIterator[ScriptLane]:
    lane = ScriptLane(client)
    yield lane
    await lane.close()


async def lane_connections(redis: aioredis.Redis) -> list[str]:
    """The ids of the connections named lane-test: the client's own and the lane's."""
    return [str(c["id"]) for c in await redis.client_list() if c.get("name") == "lane-test"]


async def test_calls_in_flight_together_each_get_their_own_reply(
    client: aioredis.Redis, lane: ScriptLane,
) -> None:
    echo = client.register_script(ECHO)
    replies = await asyncio.gather(*(lane.evalsha(echo, [], [str(i)]) for i in range(500)))
    assert replies == [str(i) for i in range(500)]
    named = await lane_connections(client)
    # The client's own connection (for CLIENT LIST) and one for the lane: not 500.
    assert len(named) == 2, named


async def test_an_error_reply_fails_its_own_call_only(
    client: aioredis.Redis, lane: ScriptLane,
) -> None:
    script = client.register_script(FAIL_ON_ODD)
    outcomes = await asyncio.gather(
        *(lane.evalsha(script, [], [str(i)]) for i in range(20)), return_exceptions=True
    )
    for i, outcome in enumerate(outcomes):
        if i % 2:
            assert isinstance(outcome, ResponseError) and f"odd {i}" in str(outcome)
        else:
            assert outcome == str(i)
    assert await lane.evalsha(script, [], ["4"]) == "4"  # the line is still in step


async def test_a_script_redis_forgot_is_loaded_again(
    client: aioredis.Redis, lane: ScriptLane,
) -> None:
    echo = client.register_script(ECHO)
    assert await lane.evalsha(echo, [], ["before"]) == "before"
    await client.script_flush()
    assert await lane.evalsha(echo, [], ["after"]) == "after"


async def test_a_caller_that_gives_up_does_not_take_the_next_callers_reply(
    client: aioredis.Redis, lane: ScriptLane,
) -> None:
    slow = client.register_script(SLOW)
    echo = client.register_script(ECHO)
    assert await lane.evalsha(echo, [], ["connected"]) == "connected"
    connections = await lane_connections(client)
    waiting = asyncio.ensure_future(lane.evalsha(slow, [], ["100"]))
    await asyncio.sleep(0)  # written (the lane was connected); now give up on it
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert await lane.evalsha(echo, [], ["mine"]) == "mine"
    # The late reply was read and dropped on the same connection: nothing reconnected.
    assert await lane_connections(client) == connections


async def test_a_killed_connection_is_replaced_and_later_calls_land(
    client: aioredis.Redis, lane: ScriptLane,
) -> None:
    """Killed from the server side between calls: the next call is retried on a new
    connection (the client's Retry, as for any command of the store)."""
    echo = client.register_script(ECHO)
    assert await lane.evalsha(echo, [], ["one"]) == "one"
    before = set(await lane_connections(client))
    await client.execute_command("CLIENT", "KILL", "SKIPME", "yes", "TYPE", "normal")
    assert await lane.evalsha(echo, [], ["two"]) == "two"
    after = set(await lane_connections(client))
    assert after and after != before  # another connection took the killed one's place


async def test_calls_in_flight_when_redis_dies_fail_and_the_lane_recovers(
    own_redis: RedisProcess,
) -> None:
    # No retries: a call in flight when Redis dies fails at once, rather than after the
    # store's Retry gave up.
    redis = aioredis.Redis.from_url(own_redis.url, decode_responses=True,
                                    retry=Retry(NoBackoff(), 0), client_name="lane-test")
    lane = ScriptLane(redis)
    slow = redis.register_script(SLOW)
    echo = redis.register_script(ECHO)
    try:
        assert await lane.evalsha(echo, [], ["up"]) == "up"
        in_flight = asyncio.ensure_future(lane.evalsha(slow, [], ["2000"]))
        await asyncio.sleep(0)  # the call is written (the lane was connected): kill now
        own_redis.kill()
        with pytest.raises(RedisConnectionError):
            await in_flight
        own_redis.start()
        assert await lane.evalsha(echo, [], ["again"]) == "again"
    finally:
        await lane.close()
        await redis.aclose()


async def test_a_closed_lane_refuses_calls(client: aioredis.Redis) -> None:
    lane = ScriptLane(client)
    echo = client.register_script(ECHO)
    assert await lane.evalsha(echo, [], ["x"]) == "x"
    await lane.close()
    with pytest.raises(RedisConnectionError):
        await lane.evalsha(echo, [], ["y"])


async def test_an_argument_redis_cannot_take_fails_that_call_before_it_is_sent(
    client: aioredis.Redis, lane: ScriptLane,
) -> None:
    echo = client.register_script(ECHO)
    with pytest.raises(DataError):
        await lane.evalsha(echo, [], [{"not": "encodable"}])
    # A place in line taken for a command never written would leave this reply waiting.
    assert await asyncio.wait_for(lane.evalsha(echo, [], ["in step"]), 5) == "in step"
