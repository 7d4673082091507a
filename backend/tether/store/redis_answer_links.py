"""``RedisSpentLinks``: the answer links that were used, in Redis.

One key per used link (``Layout.answer_link_spent``), set with ``NX`` and a TTL as long as
the token could still be used: the claim is one command, so of two hubs spending the same
link at once exactly one wins.
"""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from tether.errors import StoreUnavailable
from tether.store.connect import close_client, redis_client
from tether.store.keys import layout_for


class RedisSpentLinks:
    """A :class:`~tether.answer_links.SpentLinks` in Redis."""

    def __init__(self, url: str, *, client_name: str = "tether-answer-links") -> None:
        self._redis: aioredis.Redis = redis_client(
            url, client_name=client_name, max_connections=8, blocking_timeout=20
        )
        self._keys = layout_for(url)

    async def claim(self, link_id: str, *, ttl: float) -> bool:
        try:
            done = await self._redis.set(
                self._keys.answer_link_spent(link_id), "1", nx=True, px=max(1, int(ttl * 1000))
            )
        except RedisError as exc:
            raise StoreUnavailable(f"Redis is unavailable: {exc}") from exc
        return bool(done)

    async def release(self, link_id: str) -> None:
        try:
            await self._redis.delete(self._keys.answer_link_spent(link_id))
        except RedisError as exc:
            raise StoreUnavailable(f"Redis is unavailable: {exc}") from exc

    async def spent(self, link_id: str) -> bool:
        try:
            return bool(await self._redis.exists(self._keys.answer_link_spent(link_id)))
        except RedisError as exc:
            raise StoreUnavailable(f"Redis is unavailable: {exc}") from exc

    async def close(self) -> None:
        await close_client(self._redis)
