"""``RedisDirectory``: accounts in Redis, for hubs that share a Redis store.

``tether:users`` maps a name to the account's JSON and ``tether:user-tokens`` maps each
API token's SHA-256 to its owner's name, so a bearer token is one ``HGET`` away. Every
change that touches both is one ``WATCH``/``MULTI`` transaction (retried when another
writer got in between), so a token never points at a user that is gone.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, WatchError

from tether.credentials import digests_equal
from tether.errors import StoreUnavailable
from tether.store.connect import close_client, redis_client
from tether.store.keys import layout_for
from tether.users import NoSuchUser, UserExists, UserRecord


def _encode(user: UserRecord) -> str:
    return json.dumps({
        "admin": user.admin, "groups": sorted(user.groups), "email": user.email,
        "password": user.password_hash, "tokens": list(user.token_digests),
        "serial": user.serial, "created_at": user.created_at,
        "oidc_subject": user.oidc_subject,
    })


def _decode(name: str, raw: str) -> UserRecord:
    data: dict[str, Any] = json.loads(raw)
    return UserRecord(
        name=name, admin=bool(data["admin"]), groups=frozenset(data["groups"]),
        email=data.get("email"), password_hash=data.get("password"),
        token_digests=tuple(data["tokens"]), serial=data["serial"],
        created_at=data["created_at"], oidc_subject=data.get("oidc_subject"),
    )


class RedisDirectory:
    """A :class:`~tether.users.UserDirectory` in Redis."""

    def __init__(self, url: str, *, client_name: str = "tether-users") -> None:
        self._url = url
        layout = layout_for(url)
        self._users, self._tokens = layout.users, layout.user_tokens
        self._redis: aioredis.Redis = redis_client(
            url, client_name=client_name, max_connections=16, blocking_timeout=20
        )

    async def get(self, name: str) -> UserRecord | None:
        try:
            raw = await self._redis.hget(self._users, name)
        except RedisError as exc:
            raise StoreUnavailable(f"Redis is unavailable: {exc}") from exc
        return _decode(name, str(raw)) if raw is not None else None

    async def by_token(self, digest: str) -> UserRecord | None:
        try:
            name = await self._redis.hget(self._tokens, digest)
        except RedisError as exc:
            raise StoreUnavailable(f"Redis is unavailable: {exc}") from exc
        user = await self.get(str(name)) if name is not None else None
        if user is None or not any(digests_equal(digest, t) for t in user.token_digests):
            return None
        return user

    async def add(self, user: UserRecord) -> None:
        try:
            created = await self._redis.hsetnx(self._users, user.name, _encode(user))
        except RedisError as exc:
            raise StoreUnavailable(f"Redis is unavailable: {exc}") from exc
        if not created:
            raise UserExists(user.name)

    async def _change(
        self, name: str, change: Callable[[UserRecord, Any], UserRecord | None]
    ) -> UserRecord | None:
        """Apply ``change(user, pipeline)`` in one transaction; it queues the writes.
        Returns the user as it was, or None when there is none."""
        try:
            pipeline: Any = self._redis.pipeline(transaction=True)  # redis-py leaves it untyped
            async with pipeline as pipe:
                while True:
                    try:
                        await pipe.watch(self._users)
                        raw = await pipe.hget(self._users, name)
                        if raw is None:
                            await pipe.unwatch()
                            return None
                        user = _decode(name, str(raw))
                        pipe.multi()
                        changed = change(user, pipe)
                        if changed is not None:
                            pipe.hset(self._users, name, _encode(changed))
                        await pipe.execute()
                        return user
                    except WatchError:
                        continue
        except RedisError as exc:
            raise StoreUnavailable(f"Redis is unavailable: {exc}") from exc

    async def set_password(self, name: str, password_hash: str) -> None:
        if await self._change(name, lambda u, _: u.with_password(password_hash)) is None:
            raise NoSuchUser(name)

    async def add_token(self, name: str, digest: str) -> None:
        def change(user: UserRecord, pipe: Any) -> UserRecord:
            pipe.hset(self._tokens, digest, name)
            return user.with_token(digest)

        if await self._change(name, change) is None:
            raise NoSuchUser(name)

    async def remove(self, name: str) -> bool:
        def change(user: UserRecord, pipe: Any) -> None:
            pipe.hdel(self._users, name)
            if user.token_digests:
                pipe.hdel(self._tokens, *user.token_digests)

        return await self._change(name, change) is not None

    async def list(self) -> list[UserRecord]:
        try:
            table = await self._redis.hgetall(self._users)
        except RedisError as exc:
            raise StoreUnavailable(f"Redis is unavailable: {exc}") from exc
        return [_decode(str(n), str(raw)) for n, raw in sorted(table.items())]

    async def close(self) -> None:
        await close_client(self._redis)
