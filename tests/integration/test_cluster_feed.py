"""The sharded Pub/Sub feed (tether.store.cluster_feed) on a real local Redis Cluster:
delivery on every shard, confirmation before subscribe() returns, one connection per
primary, and resubscription after a resharding and after a failover."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from itertools import count
from typing import Any

import pytest
from redis.asyncio.cluster import ClusterNode as AsyncClusterNode
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot
from redis.exceptions import RedisError

from tests.support.redis_cluster import ClusterNode, LocalCluster
from tests.support.timing import eventually
from tether.store import cluster_feed
from tether.store.cluster_feed import ClusterFeed

GLOBAL = "__everyone__"  # a key with a channel on each of several slots (per-bucket channels)
GLOBAL_TAGS = [f"g{i}" for i in range(6)]
_ids = count()


def channel_of(key: str) -> str | Sequence[str]:
    """Test layout: ``<tag>/<name>`` lives in ``{<tag>}``'s slot; GLOBAL on six slots."""
    if key == GLOBAL:
        return [f"tether:{{{tag}}}:everyone" for tag in GLOBAL_TAGS]
    return f"tether:{{{key.split('/')[0]}}}:ch:{key}"


def slot_of(key: str) -> int:
    channel = channel_of(key)
    assert isinstance(channel, str)
    return key_slot(channel.encode())


def session_on(cluster: LocalCluster, primary: ClusterNode, tag: str | None = None) -> str:
    """A new session id whose channel is on ``primary`` (or in ``tag``'s slot)."""
    if tag is not None:
        return f"{tag}/s{next(_ids)}"
    slots = cluster.slots_of(primary)
    while True:
        key = f"t{next(_ids)}/s"
        if slot_of(key) in slots:
            return key


@dataclass(eq=False)
class Recorder:
    """A SessionListener that keeps everything it hears."""

    frames: list[tuple[str, list[str]]] = field(default_factory=list)
    commands: list[tuple[str, str]] = field(default_factory=list)
    resyncs: int = 0
    outages: int = 0
    order: list[str] = field(default_factory=list)

    def on_frames(self, session_id: str, frames: Sequence[str]) -> None:
        self.frames.append((session_id, list(frames)))

    def on_command(self, session_id: str, command: str) -> None:
        self.commands.append((session_id, command))

    def on_resync(self) -> None:
        self.resyncs += 1
        self.order.append("resync")

    def on_outage(self) -> None:
        self.outages += 1
        self.order.append("outage")

    def heard(self, session_id: str, command: str) -> bool:
        return (session_id, command) in self.commands


@pytest.fixture
async def client(
    redis_cluster: LocalCluster, redis_cluster_url: str
) -> AsyncIterator[RedisCluster]:
    nodes = [AsyncClusterNode(host, port) for host, port in redis_cluster.startup_nodes[:2]]
    rc = RedisCluster(startup_nodes=nodes, decode_responses=True, client_name="tether-test")
    yield rc
    await rc.aclose()


@pytest.fixture
async def feed(client: RedisCluster) -> AsyncIterator[ClusterFeed]:
    f = ClusterFeed(client, channel_of=channel_of)
    await f.start()
    yield f
    await f.close()


async def command(client: RedisCluster, key: str, text: str) -> int:
    """Publish a command to ``key``'s (first) channel the way the store does."""
    channels = channel_of(key)
    channel = channels if isinstance(channels, str) else channels[0]
    receivers: int = await client.spublish(channel, "C" + text)
    return receivers


def pings_answered(node: ClusterNode) -> int:
    """How many PINGs the node has answered since it started (any client's)."""
    with node.client() as direct:
        stats: Any = direct.info("commandstats")
    return int(stats.get("cmdstat_ping", {}).get("calls", 0))


def feed_clients(node: ClusterNode) -> list[dict[str, Any]]:
    """The node's clients that hold sharded subscriptions."""
    with node.client() as direct:
        clients: Any = direct.client_list()
    return [c for c in clients if int(c.get("ssub", 0)) > 0]


async def test_delivers_frames_and_commands_to_listeners_on_every_shard(
    redis_cluster: LocalCluster, client: RedisCluster, feed: ClusterFeed
) -> None:
    primaries = redis_cluster.primaries()
    keys = [session_on(redis_cluster, p) for p in primaries]
    listeners = [Recorder() for _ in keys]
    second = Recorder()  # a second listener of the first session
    for key, listener in zip(keys, listeners, strict=True):
        await feed.subscribe(key, listener)
    await feed.subscribe(keys[0], second)
    everyone = Recorder()
    await feed.subscribe(GLOBAL, everyone)

    for key in keys:
        channel = channel_of(key)
        assert isinstance(channel, str)
        assert await client.spublish(channel, "E" + "\n".join([f"{key}-1", f"{key}-2"])) == 1
        assert await command(client, key, "cancel") == 1
    for name in channel_of(GLOBAL):
        assert await client.spublish(name, "Coutbox") == 1

    await eventually(lambda: all(len(r.commands) == 1 for r in listeners) and
                     len(second.commands) == 1 and len(everyone.commands) == len(GLOBAL_TAGS),
                     what="every command")
    for key, listener in zip(keys, listeners, strict=True):
        assert listener.frames == [(key, [f"{key}-1", f"{key}-2"])]  # before the command
        assert listener.commands == [(key, "cancel")]
    assert second.frames == listeners[0].frames
    assert everyone.commands == [(GLOBAL, "outbox")] * len(GLOBAL_TAGS)
    global_slots = {key_slot(name.encode()) for name in channel_of(GLOBAL)}
    assert len({redis_cluster.primary_of(s).port for s in global_slots}) > 1  # several shards


async def test_a_publish_right_after_subscribe_returns_is_received(
    redis_cluster: LocalCluster, client: RedisCluster, feed: ClusterFeed
) -> None:
    primaries = redis_cluster.primaries()
    listener = Recorder()
    keys = [session_on(redis_cluster, primaries[i % 3]) for i in range(60)]
    for key in keys:
        await feed.subscribe(key, listener)
        assert await command(client, key, "hello") == 1  # the server has the subscription
    await eventually(lambda: len(listener.commands) == len(keys), what="every hello")
    # Each once; in publish order only per shard (each shard is read on its own
    # connection, so two shards' messages may arrive either way round).
    assert sorted(listener.commands) == sorted((key, "hello") for key in keys)
    for shard in range(3):
        on_it = keys[shard::3]  # the sessions on primaries[shard]
        assert [k for k, _ in listener.commands if k in on_it] == on_it
    # Many at once: each subscribe() still returns only once its own channel is confirmed.
    more = [session_on(redis_cluster, primaries[i % 3]) for i in range(30)]

    async def subscribe_and_publish(key: str) -> int:
        await feed.subscribe(key, listener)
        return await command(client, key, "hi")

    assert await asyncio.gather(*(subscribe_and_publish(k) for k in more)) == [1] * len(more)


async def test_one_connection_per_primary_however_many_sessions(
    redis_cluster: LocalCluster, feed: ClusterFeed
) -> None:
    primaries = redis_cluster.primaries()
    listener = Recorder()
    keys = [session_on(redis_cluster, primaries[i % 3]) for i in range(90)]
    for key in keys:
        await feed.subscribe(key, listener)
    await feed.subscribe(GLOBAL, listener)
    per_primary = {p.port: feed_clients(p) for p in primaries}
    assert {port: len(found) for port, found in per_primary.items()} == {
        p.port: 1 for p in primaries
    }
    total = sum(int(found[0]["ssub"]) for found in per_primary.values())
    assert total == len(keys) + len(GLOBAL_TAGS)
    for primary in primaries:
        assert feed_clients(redis_cluster.replica_of(primary)) == []


async def test_unsubscribe_stops_delivery_once_the_last_listener_leaves(
    redis_cluster: LocalCluster, client: RedisCluster, feed: ClusterFeed
) -> None:
    primary = redis_cluster.primaries()[0]
    key = session_on(redis_cluster, primary)
    first, second = Recorder(), Recorder()
    await feed.subscribe(key, first)
    await feed.subscribe(key, second)

    await feed.unsubscribe(key, first)
    assert await command(client, key, "one") == 1
    await eventually(lambda: second.heard(key, "one"), what="the remaining listener")
    await feed.unsubscribe(key, second)
    await eventually(lambda: feed_clients(primary) == [], what="the server to drop it")
    assert await command(client, key, "two") == 0
    assert first.commands == [] and second.commands == [(key, "one")]
    # Subscribing again works (and is confirmed before it returns).
    await feed.subscribe(key, first)
    assert await command(client, key, "three") == 1
    await eventually(lambda: first.heard(key, "three"), what="the new subscription")


def heard_all(recorder: Recorder) -> Callable[[], bool]:
    return lambda: len(recorder.commands) == len(GLOBAL_TAGS)


async def test_leaving_and_coming_back_at_once_stays_subscribed_on_every_shard(
    redis_cluster: LocalCluster, client: RedisCluster, feed: ClusterFeed
) -> None:
    # GLOBAL has channels on several shards: the last listener's SUNSUBSCRIBEs and the
    # next one's SSUBSCRIBEs race on several connections; each must reach the server in
    # the order they were made, or the new listener would be left unsubscribed.
    primaries = redis_cluster.primaries()
    barrier = Recorder()
    for round_ in range(5):
        leaving, coming = Recorder(), Recorder()
        await feed.subscribe(GLOBAL, leaving)
        await asyncio.gather(feed.unsubscribe(GLOBAL, leaving), feed.subscribe(GLOBAL, coming))
        # A barrier: once a new subscription on each primary is confirmed, everything sent
        # before it on that connection has been done by the server.
        for primary in primaries:
            await feed.subscribe(session_on(redis_cluster, primary), barrier)
        for name in channel_of(GLOBAL):
            assert await client.spublish(name, f"Cr{round_}") == 1
        await eventually(heard_all(coming), what="every channel")
        assert leaving.commands == []
        await feed.unsubscribe(GLOBAL, coming)
    # Every SUNSUBSCRIBE was done: nothing is left subscribed but the barriers.
    await eventually(
        lambda: sum(int(c["ssub"]) for p in primaries for c in feed_clients(p)) == 5 * 3,
        what="the server to hold only the barriers' subscriptions",
    )


async def test_a_moved_slot_is_subscribed_on_its_new_owner_and_listeners_refill(
    redis_cluster: LocalCluster, client: RedisCluster, feed: ClusterFeed
) -> None:
    source = redis_cluster.primaries()[0]
    target = redis_cluster.primaries()[1]
    moving_tag = session_on(redis_cluster, source).split("/")[0]
    moved = [session_on(redis_cluster, source, moving_tag) for _ in range(2)]
    staying = session_on(redis_cluster, source)
    assert slot_of(staying) != slot_of(moved[0])
    mover, other, bystander = Recorder(), Recorder(), Recorder()
    for key in moved:
        await feed.subscribe(key, mover)  # one listener of two sessions of the moving slot
    await feed.subscribe(moved[0], other)
    await feed.subscribe(staying, bystander)

    await asyncio.to_thread(redis_cluster.move_slots, [slot_of(moved[0])], target)

    await eventually(lambda: mover.resyncs == 1 and other.resyncs == 1, timeout_ms=10_000,
                     what="a resync after the move")
    assert mover.outages == 0 and other.outages == 0  # a move is no outage
    for key in moved:
        assert await command(client, key, "after") == 1  # subscribed on the new owner
    await eventually(lambda: all(mover.heard(k, "after") for k in moved), what="later commands")
    assert await command(client, staying, "still") == 1
    await eventually(lambda: bystander.heard(staying, "still"), what="the unmoved session")
    assert bystander.resyncs == 0 and bystander.outages == 0
    assert [len(feed_clients(p)) for p in (source, target)] == [1, 1]
    assert mover.resyncs == 1  # once for both of its sessions


async def test_after_a_failover_listeners_hear_outage_then_resync_then_new_messages(
    redis_cluster: LocalCluster, client: RedisCluster, feed: ClusterFeed
) -> None:
    victim, survivor = redis_cluster.primaries()[:2]
    lost = [session_on(redis_cluster, victim) for _ in range(3)]
    kept = session_on(redis_cluster, survivor)
    hit, spared = Recorder(), Recorder()
    for key in lost:
        await feed.subscribe(key, hit)
    await feed.subscribe(kept, spared)
    heir = redis_cluster.replica_of(victim)

    killed_at = time.monotonic()
    killed = await asyncio.to_thread(redis_cluster.kill_primary_of, slot_of(lost[0]))

    assert killed is victim
    await eventually(lambda: hit.order == ["outage", "resync"], timeout_ms=15_000,
                     what="outage, then resync")
    print(f"failover: listeners refilled {(time.monotonic() - killed_at) * 1000:.0f} ms "
          f"after the kill")
    for key in lost:
        assert await command(client, key, "after") == 1
    await eventually(lambda: all(hit.heard(k, "after") for k in lost), what="later commands")
    assert len(feed_clients(heir)) == 1  # the promoted replica serves the shard's channels
    assert spared.order == []
    assert await command(client, kept, "fine") == 1
    await eventually(lambda: spared.heard(kept, "fine"), what="the other shard's session")
    # A session on the failed-over shard subscribed now is confirmed like any other.
    fresh = session_on(redis_cluster, heir)
    await feed.subscribe(fresh, spared)
    assert await command(client, fresh, "new") == 1


async def test_a_resharding_of_a_slot_range_under_traffic_resubscribes_every_session(
    redis_cluster: LocalCluster, client: RedisCluster, feed: ClusterFeed
) -> None:
    source, target = redis_cluster.primaries()[:2]
    first = min(redis_cluster.slots_of(source))
    moving = range(first, first + 256)  # what one bucket of the store's layout spans
    keys: list[str] = []
    for n in count():
        key = f"r{n}/s"
        if slot_of(key) in moving:
            keys.append(key)
            if len(keys) == 24:
                break
    listeners = {key: Recorder() for key in keys}
    for key, listener in listeners.items():
        await feed.subscribe(key, listener)
    late = [session_on(redis_cluster, source, key.split("/")[0]) for key in keys[:4]]
    late_listener = Recorder()
    stop = asyncio.Event()
    published = 0

    async def publish_all_along() -> None:
        nonlocal published
        while not stop.is_set():
            for key in keys:
                with contextlib.suppress(RedisError):
                    await command(client, key, f"n{published}")
            published += 1
            await asyncio.sleep(0.005)

    async def subscribe_meanwhile() -> None:
        for key in late:
            await feed.subscribe(key, late_listener)

    publisher = asyncio.create_task(publish_all_along())
    mover = asyncio.create_task(asyncio.to_thread(redis_cluster.move_slots, moving, target))
    await subscribe_meanwhile()
    await mover
    moved_at = time.monotonic()
    await eventually(lambda: all(r.resyncs >= 1 for r in listeners.values()),
                     timeout_ms=10_000, what="every session to refill")
    print(f"resharding 256 slots: every listener refilled "
          f"{(time.monotonic() - moved_at) * 1000:.0f} ms after the move ended")
    stop.set()
    await publisher
    assert published > 0
    for key in [*keys, *late]:
        assert await command(client, key, "final") == 1
    await eventually(lambda: all(r.heard(k, "final") for k, r in listeners.items()) and
                     all(late_listener.heard(k, "final") for k in late), what="final")
    assert all(r.outages == 0 for r in listeners.values())
    # Every subscription is on the target now, over the one connection the feed has there.
    assert feed_clients(source) == []
    assert [int(c["ssub"]) for c in feed_clients(target)] == [len(keys) + len(late)]


async def test_a_subscribe_during_a_failover_returns_once_the_replica_took_over(
    redis_cluster: LocalCluster, client: RedisCluster, feed: ClusterFeed
) -> None:
    victim = redis_cluster.primaries()[0]
    watched = session_on(redis_cluster, victim)
    watcher = Recorder()
    await feed.subscribe(watched, watcher)
    fresh = session_on(redis_cluster, victim)
    killing = asyncio.create_task(
        asyncio.to_thread(redis_cluster.kill_primary_of, slot_of(watched))
    )
    await eventually(lambda: watcher.outages == 1, what="the outage")
    started = time.monotonic()
    newcomer = Recorder()

    await feed.subscribe(fresh, newcomer)  # waits until the promoted replica confirms it

    print(f"failover: a subscribe made during it returned after "
          f"{(time.monotonic() - started) * 1000:.0f} ms")
    assert await command(client, fresh, "hello") == 1
    await eventually(lambda: newcomer.heard(fresh, "hello"), what="the newcomer's message")
    await killing
    await eventually(lambda: watcher.order == ["outage", "resync"], what="the watcher's resync")
    assert newcomer.order == []  # it subscribed after the outage: nothing to refill


@pytest.fixture
async def quick_heartbeat_feed(
    client: RedisCluster, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[ClusterFeed]:
    """A feed that PINGs every 200 ms (a link silent for 600 ms is dropped)."""
    monkeypatch.setattr(cluster_feed, "HEARTBEAT_INTERVAL", 0.2)
    f = ClusterFeed(client, channel_of=channel_of)
    await f.start()
    yield f
    await f.close()


async def test_a_hung_primary_is_noticed_by_the_heartbeat(
    redis_cluster: LocalCluster, client: RedisCluster, quick_heartbeat_feed: ClusterFeed
) -> None:
    feed = quick_heartbeat_feed
    victim, other = redis_cluster.primaries()[:2]
    key = session_on(redis_cluster, victim)
    listener, bystander = Recorder(), Recorder()
    await feed.subscribe(key, listener)
    await feed.subscribe(session_on(redis_cluster, other), bystander)
    heir = redis_cluster.replica_of(victim)
    # Healthy links answer every PING: after three heartbeats on each (more than the
    # 600 ms of silence that drops a link), nothing was dropped.
    before = {node.port: pings_answered(node) for node in (victim, other)}
    await eventually(
        lambda: all(pings_answered(node) >= before[node.port] + 3 for node in (victim, other)),
        what="three heartbeats answered on each link",
    )
    assert listener.order == [] and bystander.order == []

    # SIGSTOP: the connection stays open and silent; only the missing PONGs tell.
    frozen_at = time.monotonic()
    frozen = await asyncio.to_thread(redis_cluster.freeze_primary_of, slot_of(key))

    assert frozen is victim
    await eventually(lambda: listener.order == ["outage", "resync"], timeout_ms=15_000,
                     what="outage and resync after the hang")
    print(f"hung primary: listener refilled {(time.monotonic() - frozen_at) * 1000:.0f} ms "
          f"after the freeze")
    assert await command(client, key, "after") == 1
    await eventually(lambda: listener.heard(key, "after"), what="a later message")
    assert len(feed_clients(heir)) == 1
    assert bystander.order == []


async def test_works_over_a_resp3_cluster_client(
    redis_cluster: LocalCluster, redis_cluster_url: str
) -> None:
    # The feed's own links speak RESP2 whatever the store's client speaks; the slot map
    # comes through that client, in RESP3 maps here.
    nodes = [AsyncClusterNode(host, port) for host, port in redis_cluster.startup_nodes[:2]]
    rc = RedisCluster(startup_nodes=nodes, decode_responses=True, protocol=3)
    feed = ClusterFeed(rc, channel_of=channel_of)
    try:
        await feed.start()
        listener = Recorder()
        keys = [session_on(redis_cluster, p) for p in redis_cluster.primaries()]
        for key in keys:
            await feed.subscribe(key, listener)
            assert await command(rc, key, "hello") == 1
        await eventually(lambda: len(listener.commands) == len(keys), what="every hello")
    finally:
        await feed.close()
        await rc.aclose()
