"""The process's reader of a Redis Cluster's sharded Pub/Sub: one connection per primary.

The same interface and guarantees as :class:`tether.store.feed.RedisFeed`, over
``SSUBSCRIBE``: listeners are reference counted per key (a session id, or a pseudo-session
like ``__outbox__``); the first listener of a key subscribes to its channels and
:meth:`ClusterFeed.subscribe` returns only once the server confirmed every one of them,
so an ``SPUBLISH`` made after it returns is delivered. A key names its channels through
``channel_of`` (the store's key layout): one channel, or several (a global channel split
per bucket is one key with a channel per bucket); a message on any of them reaches the
key's listeners as ``on_frames(key, ...)`` / ``on_command(key, ...)``.

A sharded channel lives on the primary that owns its key slot, so the feed holds one RESP2
connection per primary and sends each ``SSUBSCRIBE`` (one per slot: a command's channels
must share one) to the owner in its slot map, read with ``CLUSTER SHARDS`` through the
given cluster client. The map goes stale two ways, and the feed heals both:

* resharding: when a slot moves away, its old owner pushes ``sunsubscribe`` for each of
  the slot's channels (and a late ``SSUBSCRIBE`` gets ``MOVED``). The feed reads the map
  again (or follows the ``MOVED``), subscribes on the new owner and, once confirmed, tells
  the key's listeners ``on_resync``: what was published meanwhile is in the numbered log;
* failover: the dead primary's connection drops. Its keys' listeners hear ``on_outage``
  at once; the feed reads the map with capped backoff until the promoted replica owns the
  slots, subscribes there and then tells them ``on_resync``.

Each affected listener hears each of these once per event (not once per channel), and
``on_resync`` only when all of its affected channels are confirmed again. A heartbeat
PINGs every connection and drops one that stays silent (a hung primary keeps its sockets
open), and every wait on a node has a deadline.

Use: ``ClusterFeed(cluster_client, channel_of=...)``, ``await start()``, then
``subscribe``/``unsubscribe`` exactly as with ``RedisFeed``; publishers ``SPUBLISH`` the
same payloads (``E`` + frames joined by newlines, ``C`` + a command) through the cluster
client, which routes each by its channel's slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import AbstractConnection, SSLConnection
from redis.backoff import NoBackoff
from redis.crc import key_slot
from redis.exceptions import MovedError, RedisError, ResponseError
from redis.retry import Retry

from tether.backoff import Backoff
from tether.errors import StoreUnavailable
from tether.store.base import SessionListener
from tether.store.cluster_slots import SLOTS, Address, parse_shards
from tether.store.feed import hand_over

log = logging.getLogger(__name__)

SUBSCRIBE_TIMEOUT = 10.0
HEARTBEAT_INTERVAL = 10.0
SUBSCRIBE_BATCH = 500  # channels per SSUBSCRIBE
MAP_TIMEOUT = 2.0  # a node that does not answer CLUSTER SHARDS in this long is skipped
# A hung node accepts TCP connections (the kernel does) and then answers nothing: every
# step that waits for one has a deadline, after which the link counts as lost.
CONNECT_TIMEOUT = 2.0
PLACE_BACKOFF_CAP = 0.5
SEND_TIMEOUT = 5.0

ChannelsOf = Callable[[str], "str | Sequence[str]"]
T = TypeVar("T")


@dataclass(eq=False, slots=True)
class _Channel:
    """One wanted channel: whose it is, where its SSUBSCRIBE went, who waits on it."""

    name: str
    key: str
    slot: int
    shard: _Shard | None = None  # where it is subscribed (or its SSUBSCRIBE is on its way)
    confirmed: bool = False
    # Made when needed: most channels, most of the time, have neither (memory per session).
    waiters: list[asyncio.Future[None]] | None = None
    # Listeners whose on_resync waits for this channel to be confirmed again.
    owes: list[SessionListener] | None = None


@dataclass(eq=False, slots=True)
class _Sent:
    """A command on a shard's connection whose replies have not all come: replies come in
    order, so the head of the queue says what the next non-message reply answers."""

    kind: str  # "ssubscribe", "sunsubscribe" or "ping"
    channels: deque[_Channel] = field(default_factory=deque)  # ssubscribe
    names: deque[str] = field(default_factory=deque)  # sunsubscribe


class _Shard:
    """The connection to one primary and what was sent on it."""

    def __init__(self, address: Address) -> None:
        self.address = address
        self.conn: AbstractConnection | None = None
        self.lock = asyncio.Lock()  # one writer at a time
        self.sent: deque[_Sent] = deque()
        self.outgoing: list[list[Any]] = []  # posted, not written yet
        self.last_pong = 0.0
        self.reader: asyncio.Task[None] | None = None
        self.lost = False

    @property
    def usable(self) -> bool:
        return not self.lost and self.conn is not None and self.conn.is_connected

    def post(self, commands: list[tuple[_Sent, list[Any]]]) -> None:
        """Queue ``commands`` for the wire, now, without awaiting: commands reach the
        server in the order they were posted, whichever :meth:`flush` writes them (an
        SUNSUBSCRIBE posted before an SSUBSCRIBE of the same channel cannot undo it)."""
        if not self.usable:
            raise RedisError(f"not connected to {self.address}")
        for sent, args in commands:
            self.sent.append(sent)
            self.outgoing.append(args)

    async def flush(self) -> None:
        """Write what was posted. Raises on a broken connection (and never reconnects
        it: a new link would hold no subscriptions)."""
        async with self.lock:
            conn = self.conn
            if not self.outgoing:
                return
            if conn is None or not self.usable:
                raise RedisError(f"not connected to {self.address}")
            batch, self.outgoing = self.outgoing, []
            async with asyncio.timeout(SEND_TIMEOUT):  # a full socket buffer: a hung node
                await conn.send_packed_command(conn.pack_commands(batch), check_health=False)

    def head(self, kind: str) -> _Sent | None:
        return self.sent[0] if self.sent and self.sent[0].kind == kind else None


class ClusterFeed:
    """Fans sharded Pub/Sub messages out to in-process listeners. One per process.

    Args:
        cluster: the store's cluster client; the feed asks it for the slot map and takes
            its nodes' connection options (password, TLS, client name).
        channel_of: the channel, or channels, of a key (a session id or a pseudo-session);
            a channel belongs to one key. Called again whenever the feed needs them (not
            stored per key, to keep a subscribed session small), so it must always give a
            key the same channels.
    """

    def __init__(self, cluster: RedisCluster, *, channel_of: ChannelsOf) -> None:
        self._cluster = cluster
        self._channel_of = channel_of
        self._listeners: dict[str, list[SessionListener]] = {}
        self._channels: dict[str, _Channel] = {}  # wanted channels by name
        self._keys_of: dict[int, int] = {}  # id(listener) -> how many keys it listens to
        self._owed: dict[int, list[Any]] = {}  # id(listener) -> [listener, channels due]
        self._homeless: set[_Channel] = set()  # wanted, subscribed nowhere
        self._shards: dict[Address, _Shard] = {}
        self._owners: list[Address | None] = [None] * SLOTS
        self._unreachable: set[Address] = set()  # asked last for the slot map
        self._stale = True  # read the slot map before the next placement
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False

    # --- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Read the slot map (raises StoreUnavailable when no node answers) and connect
        to every primary."""
        try:
            await self._cluster.initialize()
            await self._refresh()
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"The Redis Cluster's Pub/Sub is unavailable: {exc}") from exc
        # A primary unreachable now (a failover under way) is the placer's to retry.
        await self._connect_all({a for a in self._owners if a is not None})
        self._tasks = [
            asyncio.create_task(self._placer(), name="tether-cluster-feed-placer"),
            asyncio.create_task(self._heartbeat(), name="tether-cluster-feed-heartbeat"),
        ]

    async def close(self) -> None:
        self._closing = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._disconnect_all()

    # --- subscriptions ---------------------------------------------------------------

    async def subscribe(self, key: str, listener: SessionListener) -> None:
        listeners = self._listeners.setdefault(key, [])
        if listener not in listeners:
            listeners.append(listener)
            self._keys_of[id(listener)] = self._keys_of.get(id(listener), 0) + 1
        names = _as_names(self._channel_of(key))
        loop = asyncio.get_running_loop()
        new: list[_Channel] = []
        waiting: list[tuple[_Channel, asyncio.Future[None]]] = []
        for name in names:
            channel = self._channels.get(name)
            if channel is None:
                channel = self._channels[name] = _Channel(name, key, key_slot(name.encode()))
                new.append(channel)
            elif channel.key != key:
                raise ValueError(f"channel {name!r} is already {channel.key!r}'s")
            if not channel.confirmed:
                future = loop.create_future()
                if channel.waiters is None:
                    channel.waiters = []
                channel.waiters.append(future)
                waiting.append((channel, future))
        if new:
            await self._place(new)
        if not waiting:
            return
        try:
            await asyncio.wait_for(
                asyncio.gather(*(asyncio.shield(f) for _, f in waiting)), SUBSCRIBE_TIMEOUT
            )
        except TimeoutError as exc:
            # Stop waiting; the channel stays wanted and the feed keeps placing it.
            for channel, future in waiting:
                if channel.waiters and future in channel.waiters:
                    channel.waiters.remove(future)
            raise StoreUnavailable("Redis did not confirm a subscription in time.") from exc

    async def unsubscribe(self, key: str, listener: SessionListener) -> None:
        listeners = self._listeners.get(key)
        if listeners is None or listener not in listeners:
            return
        listeners.remove(listener)
        count = self._keys_of.get(id(listener), 1) - 1
        if count:
            self._keys_of[id(listener)] = count
        else:
            self._keys_of.pop(id(listener), None)
        if listeners:
            return
        del self._listeners[key]
        gone: dict[_Shard, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
        for name in _as_names(self._channel_of(key)):
            channel = self._channels.pop(name, None)
            if channel is None:
                continue
            self._homeless.discard(channel)
            self._settle(channel)
            for future in channel.waiters or ():
                if not future.done():
                    future.set_result(None)  # no listener is left to care
            channel.waiters = None
            shard, channel.shard = channel.shard, None
            if shard is not None:
                gone[shard][channel.slot].append(name)
        # Posted before anything awaits: a subscribe that comes next posts its SSUBSCRIBE
        # behind these, so they cannot undo it.
        posted = [shard for shard, by_slot in gone.items() if self._post(shard, [
            (_Sent("sunsubscribe", names=deque(batch)), ["SUNSUBSCRIBE", *batch])
            # one per slot: a cluster refuses (CROSSSLOT) an SUNSUBSCRIBE across slots
            for names in by_slot.values() for batch in _batches(names, SUBSCRIBE_BATCH)
        ])]
        await self._flush(posted)

    # --- placing channels on their owners ---------------------------------------------

    async def _place(self, channels: Iterable[_Channel]) -> None:
        """SSUBSCRIBE ``channels`` where the slot map says they live, over connections
        that are up; the rest wait for the placer."""
        by_shard: dict[_Shard, list[_Channel]] = defaultdict(list)
        for channel in channels:
            if self._channels.get(channel.name) is not channel or channel.shard is not None:
                continue  # not wanted any more, or already on its way
            address = None if self._stale else self._owners[channel.slot]
            shard = self._shards.get(address) if address is not None else None
            if shard is None or not shard.usable:
                self._homeless.add(channel)
                continue
            self._homeless.discard(channel)
            channel.shard = shard
            channel.confirmed = False
            by_shard[shard].append(channel)
        for shard, placed in by_shard.items():
            by_slot: dict[int, list[_Channel]] = defaultdict(list)
            for channel in placed:
                by_slot[channel.slot].append(channel)
            self._post(shard, [  # one SSUBSCRIBE per slot: a command's channels share one
                (_Sent("ssubscribe", channels=deque(batch)),
                 ["SSUBSCRIBE", *(c.name for c in batch)])
                for group in by_slot.values() for batch in _batches(group, SUBSCRIBE_BATCH)
            ])
        if self._homeless:
            self._wake.set()
        await self._flush(list(by_shard))

    def _post(self, shard: _Shard, commands: list[tuple[_Sent, list[Any]]]) -> bool:
        try:
            shard.post(commands)
        except (RedisError, OSError) as exc:
            self._lose(shard, exc)
            return False
        return True

    async def _flush(self, shards: Iterable[_Shard]) -> None:
        for shard in shards:
            try:
                await shard.flush()
            except (RedisError, OSError) as exc:
                self._lose(shard, exc)

    async def _placer(self) -> None:
        """Places homeless channels: reads the slot map when it may be stale, connects to
        owners it has no connection to, and retries with capped backoff while a slot has
        no live owner (a failover under way). The cap is short: each retry is one small
        CLUSTER SHARDS, and a promotion takes a second or two."""
        backoff = Backoff(cap=PLACE_BACKOFF_CAP)
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._homeless:
                continue
            try:
                if self._stale:
                    await self._refresh()
                    await self._prune()
                if not self._stale:
                    await self._connect_all({self._owners[c.slot] for c in self._homeless})
                    await self._place(list(self._homeless))
            except Exception:  # the placer must outlive any surprise, or nothing heals
                log.exception("Redis Cluster feed: placing %d channels", len(self._homeless))
                self._stale = True
            if self._homeless:
                self._stale = True
                await backoff.wait()
                self._wake.set()
            else:
                backoff.reset()

    async def _connect_all(self, addresses: Iterable[Address | None]) -> None:
        """Connect to each of ``addresses`` not connected yet, at the same time."""
        missing = [a for a in addresses if a is not None and a not in self._shards]
        results = await asyncio.gather(*map(self._connect, missing), return_exceptions=True)
        for address, result in zip(missing, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, RedisError | OSError):
                    raise result
                self._unreachable.add(address)
                log.info("Redis Cluster feed: cannot reach %s:%d: %r", *address, result)

    async def _prune(self) -> None:
        """Close links to nodes that own no slot any more and carry no channel (a primary
        whose slots all moved away, a primary demoted to replica): one link per primary."""
        owners = set(self._owners)
        for address, shard in list(self._shards.items()):
            if address not in owners and not any(
                c.shard is shard for c in self._channels.values()
            ):
                del self._shards[address]
                shard.lost = True
                if shard.reader is not None:
                    shard.reader.cancel()
                if shard.conn is not None:
                    with contextlib.suppress(RedisError, OSError):
                        await shard.conn.disconnect()

    async def _refresh(self) -> None:
        """Read who owns which slot from the first node that answers ``CLUSTER SHARDS``.
        A shard whose primary is not online owns nothing here until it is again."""
        nodes = list(self._cluster.get_nodes())
        random.shuffle(nodes)  # spread the hubs' questions; a node that failed us goes last
        nodes.sort(key=lambda n: (n.host, int(n.port)) in self._unreachable)
        errors: list[str] = []
        for node in nodes:
            try:
                async with asyncio.timeout(MAP_TIMEOUT):
                    reply = await self._cluster.execute_command("CLUSTER SHARDS", target_nodes=node)
            except (RedisError, OSError, TimeoutError) as exc:
                errors.append(f"{node.name}: {exc or type(exc).__name__}")
                continue
            self._owners = parse_shards(reply, tls=issubclass(node.connection_class, SSLConnection))
            self._stale = False
            return
        raise RedisError("no node answered CLUSTER SHARDS (" + "; ".join(errors) + ")")

    # --- connections -----------------------------------------------------------------

    async def _connect(self, address: Address) -> _Shard:
        old = self._shards.get(address)
        if old is not None and old.usable:
            return old
        nodes = self._cluster.get_nodes()
        if not nodes:
            raise RedisError("the cluster client knows no node")
        template = self._cluster.get_node(host=address[0], port=address[1]) or nodes[0]
        kwargs = dict(template.connection_kwargs)
        kwargs.update(
            host=address[0], port=address[1],
            # RESP2 on purpose (see feed.py): confirmations, messages and PONGs are plain
            # arrays read_response() returns, not RESP3 pushes handed elsewhere.
            protocol=2, decode_responses=True,
            socket_timeout=None,  # the heartbeat, not a read timeout, finds dead links
            retry=Retry(NoBackoff(), 0),  # a lost link is the feed's to handle
        )
        conn: AbstractConnection = template.connection_class(**kwargs)
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                await conn.connect()  # type: ignore[no-untyped-call]
        except BaseException:
            await conn.disconnect(nowait=True)
            raise
        shard = _Shard(address)
        shard.conn = conn
        shard.last_pong = asyncio.get_running_loop().time()
        self._shards[address] = shard
        self._unreachable.discard(address)
        shard.reader = asyncio.create_task(
            self._read_loop(shard), name=f"tether-cluster-feed-{address[0]}:{address[1]}"
        )
        return shard

    async def _read_loop(self, shard: _Shard) -> None:
        while not self._closing and not shard.lost:
            conn = shard.conn
            if conn is None:
                return
            try:
                message = await conn.read_response()
            except ResponseError as exc:
                self._refused(shard, exc)
                continue
            except Exception as exc:  # any other failure of the link ends it too
                self._lose(shard, exc)
                return
            try:
                if isinstance(message, list):
                    self._dispatch(shard, message)
                elif isinstance(message, str) and message.upper() == "PONG":
                    self._pong(shard)  # PING on a link with no subscription left
            except Exception:  # one listener's bug must not stop every session's feed
                log.exception("A feed listener failed on %r", str(message)[:80])

    def _lose(self, shard: _Shard, exc: BaseException) -> None:
        """The connection to a primary broke: its channels wait for a new owner, their
        listeners hear on_outage now and on_resync once every channel is back."""
        if shard.lost:
            return
        shard.lost = True
        if self._shards.get(shard.address) is shard:
            del self._shards[shard.address]
        if self._closing:
            return
        log.warning("Redis Cluster feed lost %s:%d: %r", *shard.address, exc)
        self._unreachable.add(shard.address)
        if shard.conn is not None:
            task = asyncio.create_task(shard.conn.disconnect(nowait=True))
            self._tasks.append(task)
            task.add_done_callback(self._tasks.remove)
        affected = [c for c in self._channels.values() if c.shard is shard]
        shard.sent.clear()
        shard.outgoing.clear()
        told: dict[int, SessionListener] = {}
        for channel in affected:
            self._unplace(channel, owe=True)
            for listener in self._listeners.get(channel.key, ()):
                told.setdefault(id(listener), listener)
        self._stale = True
        self._wake.set()
        for listener in told.values():
            listener.on_outage()

    async def _heartbeat(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(HEARTBEAT_INTERVAL)
            for shard in list(self._shards.values()):
                if loop.time() - shard.last_pong > 3 * HEARTBEAT_INTERVAL:
                    self._lose(shard, TimeoutError("no PONG"))
                    continue
                if self._post(shard, [(_Sent("ping"), ["PING"])]):
                    await self._flush([shard])

    async def _disconnect_all(self) -> None:
        shards, self._shards = list(self._shards.values()), {}
        for shard in shards:
            shard.lost = True
            if shard.reader is not None:
                shard.reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await shard.reader
            if shard.conn is not None:
                with contextlib.suppress(RedisError, OSError):
                    await shard.conn.disconnect()

    # --- replies ---------------------------------------------------------------------

    def _dispatch(self, shard: _Shard, message: list[Any]) -> None:
        kind = message[0]
        if kind == "smessage":
            self._deliver(message[1], message[2])
        elif kind == "ssubscribe":
            sent = shard.head("ssubscribe")
            if sent is None or not sent.channels or sent.channels[0].name != message[1]:
                # Replies and what we sent disagree: start this link afresh.
                self._lose(shard, RedisError(f"unexpected confirmation {message[:2]!r}"))
                return
            channel = sent.channels.popleft()
            if not sent.channels:
                shard.sent.popleft()
            self._confirmed(shard, channel)
        elif kind == "sunsubscribe":
            sent = shard.head("sunsubscribe")
            if sent is not None and sent.names and sent.names[0] == message[1]:
                sent.names.popleft()  # the answer to our own SUNSUBSCRIBE
                if not sent.names:
                    shard.sent.popleft()
            else:
                self._moved_away(shard, message[1])
        elif kind == "pong":
            self._pong(shard)

    def _pong(self, shard: _Shard) -> None:
        shard.last_pong = asyncio.get_running_loop().time()
        if shard.head("ping") is not None:
            shard.sent.popleft()

    def _confirmed(self, shard: _Shard, channel: _Channel) -> None:
        if self._channels.get(channel.name) is not channel:
            for future in channel.waiters or ():  # unsubscribed meanwhile (SUNSUBSCRIBE follows)
                if not future.done():
                    future.set_result(None)
            return
        if channel.shard is not shard:
            # Subscribed here, but placed elsewhere since: do not stay subscribed twice.
            task = asyncio.create_task(self._drop_stray(shard, channel.name))
            self._tasks.append(task)
            task.add_done_callback(self._tasks.remove)
            return
        channel.confirmed = True
        waiters, channel.waiters = channel.waiters or [], None
        for future in waiters:
            if not future.done():
                future.set_result(None)
        self._settle(channel)

    async def _drop_stray(self, shard: _Shard, name: str) -> None:
        if self._post(shard, [(_Sent("sunsubscribe", names=deque([name])),
                               ["SUNSUBSCRIBE", name])]):
            await self._flush([shard])

    def _refused(self, shard: _Shard, exc: ResponseError) -> None:
        """An error reply: it answers the oldest command still owed a reply."""
        sent = shard.sent.popleft() if shard.sent else None
        if sent is None or sent.kind != "ssubscribe":
            # A SUNSUBSCRIBE of a slot that moved (MOVED: the server dropped those
            # subscriptions itself when it gave the slot away), or a PING: nothing to redo.
            if sent is not None and sent.kind == "sunsubscribe" and not isinstance(exc, MovedError):
                log.warning("Redis Cluster feed: SUNSUBSCRIBE refused: %s", exc)
            return
        if isinstance(exc, MovedError):
            self._owners[exc.slot_id] = (exc.host, exc.port)  # the node knows who has it
        else:
            log.info("Redis Cluster feed: SSUBSCRIBE refused: %s", exc)
            self._stale = True
        for channel in sent.channels:
            if channel.shard is shard:
                self._unplace(channel, owe=False)  # never confirmed here: nothing missed
        self._wake.set()

    def _moved_away(self, shard: _Shard, name: str) -> None:
        """The server dropped our subscription: the channel's slot moved to another
        primary. Subscribe there; the key's listeners refill once it is confirmed."""
        channel = self._channels.get(name)
        if channel is None or channel.shard is not shard:
            return
        self._unplace(channel, owe=True)
        self._stale = True
        self._wake.set()

    def _unplace(self, channel: _Channel, *, owe: bool) -> None:
        """``channel`` is subscribed nowhere now; with ``owe``, its listeners get
        on_resync once it is confirmed again (what was published meanwhile is lost)."""
        channel.shard = None
        channel.confirmed = False
        if self._channels.get(channel.name) is not channel:
            return
        self._homeless.add(channel)
        if not owe:
            return
        for listener in self._listeners.get(channel.key, ()):
            if channel.owes is None:
                channel.owes = []
            if not any(owed is listener for owed in channel.owes):
                channel.owes.append(listener)
                entry = self._owed.setdefault(id(listener), [listener, 0])
                entry[1] += 1

    def _settle(self, channel: _Channel) -> None:
        """``channel`` is confirmed again (or unwanted): listeners that waited only for it
        refill now."""
        owes, channel.owes = channel.owes or [], None
        due: list[SessionListener] = []
        for listener in owes:
            entry = self._owed.get(id(listener))
            if entry is None:
                continue
            entry[1] -= 1
            if entry[1] <= 0:
                del self._owed[id(listener)]
                if id(listener) in self._keys_of:  # still listening to something
                    due.append(listener)
        for listener in due:
            listener.on_resync()

    def _deliver(self, name: str, data: str) -> None:
        channel = self._channels.get(name)
        if channel is None:
            return
        key = channel.key
        listeners = self._listeners.get(key)
        if not listeners:
            return
        hand_over(key, data, listeners)


def _as_names(channels: str | Sequence[str]) -> tuple[str, ...]:
    return (channels,) if isinstance(channels, str) else tuple(channels)


def _batches(items: Sequence[T], size: int) -> Iterable[list[T]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])
