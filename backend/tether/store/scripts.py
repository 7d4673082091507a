"""Running the Redis store's Lua scripts: one call, or many at once, on one Redis or a
cluster; after a write that must last, ``WAIT`` for replicas on the same connection.

Many calls at once are the per-bucket calls of one store operation (append_many, renew,
release, orphans... on a cluster, once per bucket that has something to do): one pipeline,
which redis-py sends to each node on one connection, so an operation costs one round trip
per node however many buckets it touches. Each call's reply or error is its own: one
bucket whose slot is being moved (TRYAGAIN) fails alone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.commands.core import AsyncScript
from redis.exceptions import (
    AskError,
    ClusterDownError,
    ClusterError,
    MovedError,
    NoScriptError,
    RedisError,
    ResponseError,
    TryAgainError,
)

from tether.errors import StoreUnavailable
from tether.store.connect import Client, cluster_of
from tether.store.lane import ScriptLane

log = logging.getLogger(__name__)

# Error replies after which the same write may succeed later (a failover, memory, loading,
# a slot on the move). NOREPLICAS: the primary's min-replicas-to-write refuses writes while
# too few replicas are connected (docs/DURABILITY.md).
TRANSIENT_REPLIES = frozenset(
    {"READONLY", "OOM", "MASTERDOWN", "LOADING", "BUSY", "TRYAGAIN", "NOREPLICAS",
     "CLUSTERDOWN", "MOVED", "ASK"}
)
# What redis-py raises for a cluster in motion once its own retries are spent.
_TRANSIENT_ERRORS = (TryAgainError, ClusterDownError, ClusterError, MovedError, AskError)


@dataclass(frozen=True, slots=True)
class Call:
    """One script call: its KEYS (the first routes it on a cluster) and ARGV."""

    script: AsyncScript
    keys: Sequence[str]
    args: Sequence[Any]


def store_error(exc: BaseException) -> BaseException:
    """What the store raises for ``exc``: StoreUnavailable when a retry may succeed (a
    transient reply, a lost connection), else ``exc`` itself (a script's own error)."""
    if isinstance(exc, _TRANSIENT_ERRORS):
        return StoreUnavailable(f"Redis cannot write now: {exc}")
    if isinstance(exc, ResponseError):
        if str(exc).split(" ", 1)[0] in TRANSIENT_REPLIES:
            return StoreUnavailable(f"Redis cannot write now: {exc}")
        return exc
    if isinstance(exc, RedisError):
        return StoreUnavailable(f"Redis is unavailable: {exc}")
    return exc


class ScriptRunner:
    """Runs :class:`Call` s on ``redis``; with ``wait_replicas`` (> 0), a durable write
    waits up to ``wait_ms`` until that many replicas have it."""

    def __init__(self, redis: Client, *, wait_replicas: int, wait_ms: int) -> None:
        self._redis = redis
        self._cluster = cluster_of(redis)
        # One Redis (or Sentinel's primary): single calls go down one pipelined
        # connection, without redis-py's per-command client machinery (lane.py).
        self._lane = ScriptLane(redis) if self._cluster is None else None
        self._wait_replicas = wait_replicas
        self._wait_ms = wait_ms
        self._wait_warned = float("-inf")

    async def run(self, call: Call, *, durable: bool = False) -> Any:
        """The call's reply; raises what :func:`store_error` makes of a failure."""
        if durable and self._wait_replicas:
            [result] = await self.run_many([call], durable=True)
            if isinstance(result, BaseException):
                raise result
            return result
        try:
            if self._lane is not None:
                return await self._lane.evalsha(call.script, call.keys, call.args)
            return await call.script(keys=call.keys, args=call.args)
        except RedisError as exc:
            raise store_error(exc) from exc

    async def close(self) -> None:
        """Close the lane's connection (the client's pool is its owner's to close)."""
        if self._lane is not None:
            await self._lane.close()

    async def run_many(self, calls: Sequence[Call], *, durable: bool = False) -> list[Any]:
        """Every call's reply, in order, or the error that call alone got (as
        :func:`store_error` makes it). Raises StoreUnavailable when the store cannot be
        reached at all.

        With ``durable`` (and WAIT configured), ``WAIT`` follows the calls on each node's
        connection (WAIT counts the replicas that have that connection's writes). Too few
        replicas within the timeout is logged, not raised: the write is done on the
        primary, and the caller cannot undo it; ``min-replicas-to-write`` on the primary
        is the hard bound.
        """
        results: list[Any] = [None] * len(calls)
        todo = list(range(len(calls)))
        wait = durable and self._wait_replicas > 0
        for _ in range(2):
            try:
                replies, acked = await self._pipeline([calls[i] for i in todo], wait=wait)
            except RedisError as exc:
                raise store_error(exc) from exc
            missing = []
            for i, reply in zip(todo, replies, strict=True):
                if isinstance(reply, NoScriptError):  # a new primary, whose cache is empty
                    missing.append(i)
                elif isinstance(reply, BaseException):
                    results[i] = store_error(reply)
                else:
                    results[i] = reply
            for count in acked:
                if isinstance(count, BaseException) or int(count) < self._wait_replicas:
                    self._warn_unreplicated(count)
            if not missing:
                return results
            try:
                for script in {calls[i].script.sha: calls[i].script for i in missing}.values():
                    await self._redis.script_load(script.script)
            except RedisError as exc:
                raise store_error(exc) from exc
            todo = missing
        for i in todo:
            results[i] = StoreUnavailable("Redis keeps forgetting the store's scripts")
        return results

    async def _pipeline(
        self, calls: Sequence[Call], *, wait: bool
    ) -> tuple[list[Any], list[Any]]:
        """The calls' replies and, with ``wait``, each WAIT's, from one pipeline."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for call in calls:
                # EVALSHA by name: redis-py's cluster pipeline refuses its evalsha method.
                pipe.execute_command(
                    "EVALSHA", call.script.sha, len(call.keys), *call.keys, *call.args
                )
            waits = 0
            if wait:
                if self._cluster is None:
                    pipe.execute_command("WAIT", self._wait_replicas, self._wait_ms)
                    waits = 1
                else:  # WAIT has no key: send it to each node the calls go to
                    nodes = {}
                    for call in calls:
                        node = self._cluster.get_node_from_key(call.keys[0])
                        if node is not None:
                            nodes[node.name] = node
                    for node in nodes.values():
                        pipe.execute_command(
                            "WAIT", self._wait_replicas, self._wait_ms, target_nodes=node
                        )
                    waits = len(nodes)
            replies = list(await pipe.execute(raise_on_error=False))
        return replies[: len(calls)], replies[len(calls) : len(calls) + waits]

    def _warn_unreplicated(self, acked: object) -> None:
        now = time.monotonic()
        if now - self._wait_warned >= 60:  # once a minute at most: it is a standing state
            self._wait_warned = now
            log.warning(
                "Writes reach %s of the %d replicas TETHER_REDIS_WAIT_REPLICAS asks for "
                "within %d ms: a failover now could lose them", acked, self._wait_replicas,
                self._wait_ms,
            )
