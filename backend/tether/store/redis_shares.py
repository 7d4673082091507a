"""``RedisShares``: shares and share links in Redis (see :mod:`tether.sharing`).

A session's shares and links are hashes under its hash tag, expired together with the
session's other keys when it finishes (``common.lua``); one added after that takes the
record's remaining lifetime. The per-target index is a lexicographic sorted set like the
owner index, so its order is the sessions' age; on a cluster it is one per bucket, in the
session's slot, so a share and its index entry still change in one MULTI. A link's token
maps to the link by the token's SHA-256, with the link's own expiry as TTL; on a cluster
that key is elsewhere than the session's, so a link is listed with its session before its
token works, and its token stops working before it leaves the list.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any, cast

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from tether.access import ShareRole
from tether.errors import StoreUnavailable
from tether.sharing import Share, ShareLink
from tether.store.connect import close_client, redis_client
from tether.store.keys import layout_for


def _link_json(link: ShareLink) -> str:
    return json.dumps({
        "id": link.id, "session_id": link.session_id, "by": link.by,
        "created_at": link.created_at, "expires_at": link.expires_at,
    })


def _link_of(raw: str) -> ShareLink:
    data = json.loads(raw)
    return ShareLink(
        id=data["id"], session_id=data["session_id"], by=data["by"],
        created_at=data["created_at"], expires_at=float(data["expires_at"]),
    )


class RedisShares:
    """A :class:`~tether.sharing.ShareStore` in Redis."""

    def __init__(self, url: str, *, client_name: str = "tether-shares") -> None:
        self._redis: aioredis.Redis = redis_client(
            url, client_name=client_name, max_connections=16, blocking_timeout=20
        )
        self._keys = layout_for(url)
        # A link's token key and its session's links hash change together in one MULTI,
        # unless they are in different slots (a cluster): then one after the other.
        self._link_atomic = not self._keys.is_cluster

    def _shared(self, session_id: str, target: str) -> str:
        return self._keys.shared_index(self._keys.bucket_of(session_id), target)

    async def _do(self, *commands: tuple[str, ...], atomic: bool = True) -> list[Any]:
        try:
            async with self._redis.pipeline(transaction=atomic) as pipe:
                for command in commands:
                    pipe.execute_command(*command)
                return list(await pipe.execute())
        except RedisError as exc:
            raise StoreUnavailable(f"Redis is unavailable: {exc}") from exc

    async def _links_then_tokens(self, *commands: tuple[str, ...]) -> None:
        """``commands`` in one MULTI, or on a cluster one after the other, in order."""
        if self._link_atomic:
            await self._do(*commands)
            return
        for command in commands:
            await self._do(command)

    async def shares(self, session_id: str) -> dict[str, Share]:
        [raw] = await self._do(("HGETALL", self._keys.session(session_id).shares))
        found: dict[str, Share] = {}
        for target, body in cast(dict[str, str], raw).items():
            data = json.loads(body)
            role = cast(ShareRole, data["role"])
            found[target] = Share(target=target, role=role, by=data["by"], at=data["at"])
        return found

    async def put_share(self, session_id: str, share: Share) -> bool:
        k = self._keys.session(session_id)
        body = json.dumps({"role": share.role, "by": share.by, "at": share.at})
        new, _, ttl = await self._do(
            ("HSET", k.shares, share.target, body),
            ("ZADD", self._shared(session_id, share.target), "0", session_id),
            ("PTTL", k.rec),
        )
        if int(ttl) > 0:  # the session has finished: its shares go when it goes
            await self._do(("PEXPIRE", k.shares, str(ttl)))
        return bool(new)

    async def delete_share(self, session_id: str, target: str) -> bool:
        gone, _ = await self._do(
            ("HDEL", self._keys.session(session_id).shares, target),
            ("ZREM", self._shared(session_id, target), session_id),
        )
        return bool(gone)

    async def shared_with(
        self, targets: Sequence[str], *, limit: int, before: str | None
    ) -> list[str]:
        top = f"({before}" if before else "+"
        # Each key's newest `limit` below the cursor: together, the newest `limit`.
        replies = await self._do(
            *(("ZREVRANGEBYLEX", self._keys.shared_index(bucket, t), top, "-", "LIMIT", "0",
               str(limit))
              for t in targets for bucket in range(self._keys.buckets)),
            atomic=False,
        )
        found = {session_id for reply in replies for session_id in reply}
        return sorted(found, reverse=True)[:limit]

    async def forget_shared(self, target: str, session_ids: Sequence[str]) -> None:
        groups: dict[int, list[str]] = {}
        for session_id in session_ids:
            groups.setdefault(self._keys.bucket_of(session_id), []).append(session_id)
        if groups:
            await self._do(
                *(("ZREM", self._keys.shared_index(b, target), *ids) for b, ids in groups.items()),
                atomic=False,
            )

    async def create_link(self, digest: str, link: ShareLink) -> None:
        ttl_ms = max(1, int((link.expires_at - time.time()) * 1000))
        k = self._keys.session(link.session_id)
        body = _link_json(link)
        stored = json.dumps({"digest": digest, "link": body})
        await self._links_then_tokens(
            ("HSET", k.links, link.id, stored),
            ("SET", self._keys.share_link(digest), body, "PX", str(ttl_ms)),
        )

    async def link(self, digest: str) -> ShareLink | None:
        [raw] = await self._do(("GET", self._keys.share_link(digest)))
        if raw is None:
            return None
        link = _link_of(raw)
        return None if link.expired else link

    async def _session_links(self, session_id: str) -> dict[str, tuple[str, ShareLink]]:
        [raw] = await self._do(("HGETALL", self._keys.session(session_id).links))
        out: dict[str, tuple[str, ShareLink]] = {}
        for link_id, body in cast(dict[str, str], raw).items():
            data = json.loads(body)
            out[link_id] = (data["digest"], _link_of(data["link"]))
        return out

    async def links(self, session_id: str) -> list[ShareLink]:
        entries = await self._session_links(session_id)
        expired = [link_id for link_id, (_, link) in entries.items() if link.expired]
        if expired:
            await self._do(("HDEL", self._keys.session(session_id).links, *expired))
        live = [link for _, link in entries.values() if not link.expired]
        return sorted(live, key=lambda link: link.created_at)

    async def revoke_link(self, session_id: str, link_id: str) -> bool:
        entry = (await self._session_links(session_id)).get(link_id)
        if entry is None:
            return False
        digest, link = entry
        await self._links_then_tokens(
            ("DEL", self._keys.share_link(digest)),
            ("HDEL", self._keys.session(session_id).links, link_id),
        )
        return not link.expired

    async def close(self) -> None:
        await close_client(self._redis)
