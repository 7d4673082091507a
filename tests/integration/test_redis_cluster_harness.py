"""The local Redis Cluster the cluster tests run on (tests/support/redis_cluster.py):
it forms, fails over, reshards with live keys, and redis-py's asyncio cluster client
follows every change (``MOVED`` and ``ASK``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio.cluster import ClusterNode as AsyncClusterNode
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from tests.support.redis_cluster import SLOTS, ClusterNode, LocalCluster


@pytest.fixture
async def client(
    redis_cluster: LocalCluster, redis_cluster_url: str
) -> AsyncIterator[RedisCluster]:
    """redis-py's asyncio cluster client, started from two of the nodes."""
    nodes = [AsyncClusterNode(host, port) for host, port in redis_cluster.startup_nodes[:2]]
    rc = RedisCluster(startup_nodes=nodes, decode_responses=True)
    await rc.initialize()
    yield rc
    await rc.aclose()


def key_in(slot: int, name: str = "k") -> str:
    """A key whose hash tag puts it in ``slot``."""
    for n in range(200_000):
        tag = f"t{n}"
        if key_slot(tag.encode()) == slot:
            return f"{{{tag}}}:{name}"
    raise AssertionError(f"no short tag for slot {slot}")


def stat(node: ClusterNode, section: str, name: str) -> int:
    """A count out of ``INFO <section>`` (``calls`` of a command, ``count`` of an error)."""
    with node.client() as c:
        info: Any = c.info(section)
    entry = info.get(name, {})
    return int(entry.get("calls", entry.get("count", 0)))


async def test_the_cluster_forms_with_three_primaries_and_a_replica_each(
    redis_cluster: LocalCluster, client: RedisCluster
) -> None:
    primaries = redis_cluster.primaries()
    assert len(primaries) == 3
    assert sum(len(redis_cluster.slots_of(p)) for p in primaries) == SLOTS
    replicas = {redis_cluster.replica_of(p).port for p in primaries}
    assert len(replicas) == 3 and not replicas & {p.port for p in primaries}
    assert redis_cluster.url == (
        f"redis+cluster://127.0.0.1:{redis_cluster.nodes[0].port},"
        f"127.0.0.1:{redis_cluster.nodes[1].port}/"
    )
    # One key on each shard, through the cluster client.
    for primary in primaries:
        key = key_in(min(redis_cluster.slots_of(primary)))
        await client.set(key, primary.port)
        with primary.client() as direct:
            assert direct.get(key) == str(primary.port)
    redis_cluster.flush()
    assert await client.dbsize() == 0  # summed over the primaries


async def test_killing_a_primary_promotes_its_replica_and_restart_makes_it_a_replica(
    redis_cluster: LocalCluster, client: RedisCluster
) -> None:
    slot = 1234
    key = key_in(slot)
    await client.set(key, "before")
    old = redis_cluster.primary_of(slot)
    heir = redis_cluster.replica_of(old)
    with old.client() as direct:
        assert direct.wait(1, 5000) == 1  # the replica has the key before the crash

    killed = redis_cluster.kill_primary_of(slot)

    assert killed is old and not old.alive
    assert redis_cluster.primary_of(slot) is heir
    assert await client.get(key) == "before"  # the client finds the promoted node
    await client.set(key, "after")
    redis_cluster.restart(old)
    assert old.alive and redis_cluster.replica_of(heir) is old
    assert redis_cluster.primary_of(slot) is heir
    assert await client.get(key) == "after"


async def test_moving_slots_carries_their_keys_and_clients_follow_ask_and_moved(
    redis_cluster: LocalCluster, client: RedisCluster
) -> None:
    slots = [100, 101, 102]
    keys = {slot: [key_in(slot, f"k{i}") for i in range(150)] for slot in slots}  # > a batch
    for slot in slots:
        await client.mset({k: k for k in keys[slot]})
    source = redis_cluster.primary_of(slots[0])
    target = next(p for p in redis_cluster.primaries() if p is not source)
    loop = asyncio.get_running_loop()
    asked: list[str] = []
    asks_before = stat(target, "commandstats", "cmdstat_asking")
    moved_before = stat(source, "errorstats", "errorstat_MOVED")

    async def read(key: str) -> str:
        return str(await client.get(key))

    def read_while_asking(slot: int) -> None:
        # The keys are on the target, the slot still the source's: the source answers ASK.
        value = asyncio.run_coroutine_threadsafe(read(keys[slot][0]), loop).result(10)
        asked.append(str(value))

    # Writes go on meanwhile, through the client, on the moving slots.
    stop = asyncio.Event()
    writes = 0

    async def keep_writing() -> None:
        nonlocal writes
        while not stop.is_set():
            await client.set(key_in(slots[1], "live"), writes)
            writes += 1
            await asyncio.sleep(0)

    writer = asyncio.create_task(keep_writing())
    await asyncio.to_thread(redis_cluster.move_slots, slots, target, keys_moved=read_while_asking)
    stop.set()
    await writer

    assert asked == [keys[slot][0] for slot in slots]
    assert stat(target, "commandstats", "cmdstat_asking") > asks_before
    for slot in slots:
        assert redis_cluster.primary_of(slot) is target
        with target.client() as direct:
            assert direct.execute_command("CLUSTER COUNTKEYSINSLOT", slot) >= 150
        with source.client() as direct:
            assert direct.execute_command("CLUSTER COUNTKEYSINSLOT", slot) == 0
    # The client's map went stale with each slot: the source sent it on with MOVED.
    assert await client.get(keys[slots[2]][-1]) == keys[slots[2]][-1]
    assert await client.get(key_in(slots[1], "live")) == str(writes - 1)
    assert writes > 0
    assert stat(source, "errorstats", "errorstat_MOVED") > moved_before
