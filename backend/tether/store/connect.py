"""Redis clients from ``TETHER_REDIS_URL``: a plain Redis, the primary Sentinel names, or a
Redis Cluster.

Every part of a hub that talks to Redis (the store's pool and its feed reader, accounts,
logins, shares, answer links, webhooks, the command line) gets its client here, so a
Sentinel or Cluster URL works everywhere a plain one does. Behind Sentinel a client's pool asks the
sentinels where the primary is whenever it makes a connection (a majority of them must
agree: ``sentinels.py``), and a connection that finds
a replica where it expected the primary (``READONLY`` after a failover) is dropped, so the
next command goes to the new primary; the feed reader makes its connection with the same
pool's connection class, so Pub/Sub follows a failover the same way (``feed.py``).

A cluster's client is redis-py's :class:`~redis.asyncio.cluster.RedisCluster`: it learns
which node serves which slot, follows ``MOVED``/``ASK`` and retries ``TRYAGAIN`` (a
resharding), and finds a promoted replica after a failover. It has the same command
methods as a plain client, so the modules use either through one type (:data:`Client`);
what only a cluster has (its nodes, slots) they reach through :func:`cluster_of`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import AsyncIterator
from typing import Any, cast
from urllib.parse import urlencode

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, ClusterPipeline, RedisCluster
from redis.asyncio.connection import BlockingConnectionPool, parse_url
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.exceptions import MaxConnectionsError

from tether.redis_url import (
    ClusterURL,
    SentinelURL,
    is_cluster_url,
    is_sentinel_url,
    parse_cluster_url,
    parse_sentinel_url,
)
from tether.store.redis_packing import packing_class
from tether.store.sentinels import QuorumSentinel

# A client of one Redis or of a cluster (see the module docstring).
Client = aioredis.Redis

# Sentinel replies come quickly or not at all: a dead sentinel must not hold up the
# discovery of the primary through the next one for long.
SENTINEL_SOCKET_TIMEOUT = 2.0


class BlockingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """A Sentinel pool that waits for a free connection instead of failing with "Too
    many connections" (what :class:`BlockingConnectionPool` does for a plain Redis)."""


# Set while a call holds one of a WaitingCluster's permits: what it calls in turn (a
# pipeline's redirected command) does not wait for a second one.
_holding: contextvars.ContextVar[bool] = contextvars.ContextVar("tether_cluster_permit",
                                                                default=False)


class WaitingCluster(RedisCluster):
    """A cluster client whose calls wait (up to ``blocking_timeout`` seconds) while
    ``permits`` of them are under way, instead of failing with "Too many connections":
    redis-py's cluster nodes have no blocking pool. A call (a command, a script, a
    pipeline) uses at most one connection per node, so no node needs more connections
    than there are permits."""

    def __init__(self, *args: Any, permits: int, blocking_timeout: float | None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._permits = asyncio.Semaphore(permits)
        self._blocking_timeout = blocking_timeout

    @contextlib.asynccontextmanager
    async def permit(self) -> AsyncIterator[None]:
        if _holding.get():
            yield
            return
        try:
            await asyncio.wait_for(self._permits.acquire(), self._blocking_timeout)
        except TimeoutError as exc:
            raise MaxConnectionsError("Too many connections (waited for a free one)") from exc
        token = _holding.set(True)
        try:
            yield
        finally:
            _holding.reset(token)
            self._permits.release()

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        async with self.permit():
            return await super().execute_command(*args, **kwargs)

    def pipeline(self, transaction: Any | None = None,
                 shard_hint: Any | None = None) -> ClusterPipeline:
        if shard_hint:
            return super().pipeline(transaction, shard_hint)  # refused, as redis-py does
        # redis-py makes its own ClusterPipeline the same way; its stubs leave an
        # attribute abstract that the class sets at run time.
        return WaitingPipeline(self, transaction)  # type: ignore[abstract]


class WaitingPipeline(ClusterPipeline):
    """A pipeline of a :class:`WaitingCluster`: its execution takes one permit."""

    __slots__ = ()

    async def execute(self, raise_on_error: bool = True,
                      allow_redirections: bool = True) -> list[Any]:
        client = cast(WaitingCluster, self.cluster_client)
        async with client.permit():
            return await super().execute(raise_on_error, allow_redirections)


def cluster_of(client: Client) -> RedisCluster | None:
    """``client`` as the cluster client it is, or None for one Redis."""
    return client if isinstance(client, RedisCluster) else None


def redis_client(
    url: str,
    *,
    client_name: str,
    max_connections: int,
    blocking_timeout: float | None = None,
    **options: Any,
) -> aioredis.Redis:
    """A client for ``url`` (``tether.redis_url`` says which URLs are taken).

    Args:
        client_name: what ``CLIENT LIST`` shows for its connections.
        max_connections: the pool's size.
        blocking_timeout: when given, a command waits up to this many seconds for a free
            connection of the full pool; else a full pool raises at once.
        options: more redis-py connection options (``health_check_interval``...).

    Responses are decoded (``str``). Close it with :func:`close_client`.
    """
    common: dict[str, Any] = {
        "decode_responses": True, "client_name": client_name,
        "max_connections": max_connections, **options,
    }
    if is_cluster_url(url):
        return _cluster_client(parse_cluster_url(url), common, blocking_timeout)
    if not is_sentinel_url(url):
        if blocking_timeout is None:
            return aioredis.Redis.from_url(url, **common)
        pool = BlockingConnectionPool.from_url(url, timeout=blocking_timeout, **common)
        return aioredis.Redis(connection_pool=pool)
    parsed = parse_sentinel_url(url)
    sentinel = QuorumSentinel(
        list(parsed.sentinels), sentinel_kwargs=_sentinel_kwargs(parsed),
    )
    node = {**_node_kwargs(parsed), **common}
    if blocking_timeout is None:
        client = sentinel.master_for(parsed.service, check_connection=True, **node)
    else:
        client = sentinel.master_for(
            parsed.service, connection_pool_class=BlockingSentinelPool,
            check_connection=True, timeout=blocking_timeout, **node,
        )
    return cast(aioredis.Redis, client)


async def close_client(client: Client) -> None:
    """Close ``client``, its pool and, behind Sentinel, its connections to the sentinels;
    a cluster's client, its connections to every node."""
    await client.aclose()
    if cluster_of(client) is not None:
        return
    pool = client.connection_pool
    await pool.disconnect()
    manager = getattr(pool, "sentinel_manager", None)
    if isinstance(manager, Sentinel):
        await manager.aclose()


def _cluster_client(
    parsed: ClusterURL, common: dict[str, Any], blocking_timeout: float | None
) -> Client:
    """A :class:`WaitingCluster` from the nodes ``parsed`` names; its commands are packed
    by hiredis (redis_packing.py), as a plain client's are."""
    kwargs = _data_node_kwargs(parsed.tls, parsed.options, parsed.username, parsed.password)
    kwargs.pop("db", None)  # a cluster has database 0 only
    permits = int(common.pop("max_connections"))
    client = WaitingCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in parsed.nodes],
        # A few more than the permits: a WATCH holds its connection outside of one.
        max_connections=permits + 8, permits=permits, blocking_timeout=blocking_timeout,
        **kwargs, **common,
    )
    packed = cast(Any, packing_class(client.connection_kwargs["connection_class"]))
    client.connection_kwargs["connection_class"] = packed
    for node in client.startup_nodes:
        node.connection_class = packed
    return cast(Client, client)


def _node_kwargs(parsed: SentinelURL) -> dict[str, Any]:
    """Connection options for the primary and replicas: the URL's options read as redis-py
    reads a plain URL's, its database, user and password, and TLS for ``rediss+``."""
    kwargs = _data_node_kwargs(parsed.tls, parsed.options, parsed.username, parsed.password)
    kwargs["db"] = parsed.db
    return kwargs


def _data_node_kwargs(
    tls: bool, options: tuple[tuple[str, str], ...], username: str | None,
    password: str | None,
) -> dict[str, Any]:
    """What a Sentinel's or a cluster's data nodes are connected with: the URL's options
    read as redis-py reads a plain URL's, the user and password, TLS for ``rediss+``."""
    scheme = "rediss" if tls else "redis"
    kwargs: dict[str, Any] = dict(parse_url(f"{scheme}://localhost?{urlencode(options)}"))
    for name in ("host", "port", "connection_class"):
        kwargs.pop(name, None)  # discovery says where; ssl=True picks the TLS class
    if username is not None:
        kwargs["username"] = username
    if password is not None:
        kwargs["password"] = password
    if tls:
        kwargs["ssl"] = True
    return kwargs


def _sentinel_kwargs(parsed: SentinelURL) -> dict[str, Any]:
    """Connection options for the sentinels: their own credentials, the data nodes' TLS
    options (a TLS deployment's sentinels speak TLS with the same certificates)."""
    kwargs: dict[str, Any] = {
        "socket_timeout": SENTINEL_SOCKET_TIMEOUT,
        "socket_connect_timeout": SENTINEL_SOCKET_TIMEOUT,
    }
    if parsed.sentinel_username is not None:
        kwargs["username"] = parsed.sentinel_username
    if parsed.sentinel_password is not None:
        kwargs["password"] = parsed.sentinel_password
    if parsed.tls:
        kwargs["ssl"] = True
        kwargs.update({k: v for k, v in _node_kwargs(parsed).items() if k.startswith("ssl_")})
    return kwargs
