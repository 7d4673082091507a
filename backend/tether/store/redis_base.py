"""What every part of the Redis store stands on: its client, key layout and script
runner, and the few ways it sends commands (a script, a script per bucket, one MULTI, one
pipeline), each turning a Redis failure into :class:`~tether.errors.StoreUnavailable`.

:class:`~tether.store.redis.RedisStore` sets the attributes declared here; the outbox and
the audit log (``redis_outbox.py``, ``redis_audit.py``) are its parts that build on them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from redis.exceptions import RedisError

from tether.errors import StoreUnavailable
from tether.notifications import Audience
from tether.store.connect import Client
from tether.store.keys import Layout
from tether.store.scripts import Call, ScriptRunner


class RedisBase:
    """See the module docstring."""

    audience: Audience
    _redis: Client
    _layout: Layout
    _scripts: ScriptRunner

    async def _run(
        self, script: Any, keys: list[str], args: list[Any], *, durable: bool = False
    ) -> Any:
        """Run ``script``; with ``durable`` (and WAIT configured) wait for the replicas."""
        return await self._scripts.run(Call(script, keys, args), durable=durable)

    def _buckets(self) -> range:
        return range(self._layout.buckets)

    def _by_bucket(self, session_ids: Iterable[str]) -> dict[int, list[str]]:
        """``session_ids`` grouped by bucket, each group in the order given."""
        groups: dict[int, list[str]] = defaultdict(list)
        for session_id in session_ids:
            groups[self._layout.bucket_of(session_id)].append(session_id)
        return groups

    async def _atomic(self, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        """Commands on keys of one slot in one MULTI. Raw commands: redis-py's cluster
        transactions fail on the extra arguments its command methods pass."""
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                for command in commands:
                    pipe.execute_command(*command)
                return list(await pipe.execute())
        except RedisError as exc:
            raise StoreUnavailable(f"Redis is unavailable: {exc}") from exc

    async def _pipelined(self, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        """Read-only commands in one pipeline (on a cluster, one per node, at once)."""
        if not commands:
            return []
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for command in commands:
                    pipe.execute_command(*command)
                return list(await pipe.execute())
        except RedisError as exc:
            raise StoreUnavailable(f"Redis is unavailable: {exc}") from exc

    async def _each(self, calls: Sequence[Call]) -> list[Any]:
        """The replies of ``calls`` (one pipeline); the first failure is raised."""
        results = await self._scripts.run_many(calls)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return results
