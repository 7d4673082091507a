"""``RedisLogins``: login sessions, failed-login windows and login links in Redis.

Keys are named in ``keys.py``. Sessions and links expire by Redis TTL; a window of
failures is a sorted set scored by time in milliseconds, trimmed and counted in one
``MULTI`` so that hubs sharing the Redis count the same tries.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from tether.errors import StoreUnavailable
from tether.logins import MAX_FAILURES_KEPT, LoginSession
from tether.store.connect import close_client, redis_client
from tether.store.keys import layout_for


def _ms() -> int:
    return int(time.time() * 1000)


class RedisLogins:
    """A :class:`~tether.logins.LoginStore` in Redis."""

    def __init__(self, url: str, *, client_name: str = "tether-logins") -> None:
        self._redis: aioredis.Redis = redis_client(
            url, client_name=client_name, max_connections=16, blocking_timeout=20
        )
        self._keys = layout_for(url)

    async def _do(self, *commands: tuple[str, ...]) -> list[Any]:
        """Run ``commands`` as one MULTI/EXEC; Redis failures become StoreUnavailable."""
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                for command in commands:
                    pipe.execute_command(*command)
                return list(await pipe.execute())
        except RedisError as exc:
            raise StoreUnavailable(f"Redis is unavailable: {exc}") from exc

    async def create(self, digest: str, session: LoginSession, *, ttl: float) -> None:
        body = json.dumps({
            "name": session.name, "serial": session.serial,
            "groups": sorted(session.groups), "admin": session.admin,
        })
        ttl_ms = str(max(1, int(ttl * 1000)))
        index = self._keys.logins_of(session.name)
        await self._do(
            ("SET", self._keys.login(digest), body, "PX", ttl_ms),
            ("SADD", index, digest),
            ("PEXPIRE", index, ttl_ms, "GT"),
            ("PEXPIRE", index, ttl_ms, "NX"),
        )

    async def get(self, digest: str) -> LoginSession | None:
        [raw] = await self._do(("GET", self._keys.login(digest)))
        if raw is None:
            return None
        data = json.loads(raw)
        return LoginSession(
            name=data["name"], serial=data["serial"],
            groups=frozenset(data.get("groups", ())), admin=bool(data.get("admin", False)),
        )

    async def revoke(self, digest: str) -> None:
        await self._do(("DEL", self._keys.login(digest)))

    async def revoke_user(self, name: str) -> int:
        index = self._keys.logins_of(name)
        [digests] = await self._do(("SMEMBERS", index))
        if not digests:
            return 0
        results = await self._do(("DEL", *(self._keys.login(d) for d in digests)), ("DEL", index))
        return int(results[0])

    async def add_failure(self, what: str, *, window: float) -> None:
        key, now = self._keys.login_failures(what), _ms()
        await self._do(
            ("ZREMRANGEBYSCORE", key, "-inf", str(now - int(window * 1000))),
            ("ZADD", key, str(now), f"{now}-{secrets.token_hex(4)}"),
            ("ZREMRANGEBYRANK", key, "0", str(-MAX_FAILURES_KEPT - 1)),
            ("PEXPIRE", key, str(int(window * 1000))),
        )

    async def failures(self, what: str, *, window: float) -> tuple[int, float]:
        key, now = self._keys.login_failures(what), _ms()
        _, count, oldest = await self._do(
            ("ZREMRANGEBYSCORE", key, "-inf", str(now - int(window * 1000))),
            ("ZCARD", key),
            ("ZRANGE", key, "0", "0", "WITHSCORES"),
        )
        if not count:
            return 0, 0.0
        # redis-py may pair the reply up ([[member, score]]) or leave it flat.
        first = oldest[0]
        oldest_ms = float(first[1] if isinstance(first, list | tuple) else oldest[1])
        return int(count), max(0.0, (oldest_ms + window * 1000 - now) / 1000)

    async def clear_failures(self, what: str) -> None:
        await self._do(("DEL", self._keys.login_failures(what)))

    async def create_link(self, digest: str, name: str, *, ttl: float) -> None:
        await self._do(("SET", self._keys.login_link(digest), name, "PX", str(int(ttl * 1000))))

    async def spend_link(self, digest: str) -> str | None:
        [name] = await self._do(("GETDEL", self._keys.login_link(digest)))
        return str(name) if name is not None else None

    async def create_flow(self, digest: str, flow: str, *, ttl: float) -> None:
        await self._do(("SET", self._keys.oidc_flow(digest), flow, "PX", str(int(ttl * 1000))))

    async def spend_flow(self, digest: str) -> str | None:
        [flow] = await self._do(("GETDEL", self._keys.oidc_flow(digest)))
        return str(flow) if flow is not None else None

    async def close(self) -> None:
        await close_client(self._redis)
