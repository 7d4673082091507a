"""Shares and share links: what the store keeps so that others may see a session.

A **share** gives a user (``user:bob``) or a group (``group:finance``) a role on one
session: ``viewer`` watches and reads, ``answerer`` also answers its requests. Shares
live with the session (they expire with it) and in an index per target, so that
``GET /api/sessions?shared=1`` finds what was shared with a caller and its groups.

A **share link** is a bearer token for one session, read-only, with an expiry. The store
keeps only the token's SHA-256 (as for login sessions and API tokens), so a copy of the
store's keys cannot be used as links; the link's ``id`` (random, public) is how its
owner lists and revokes it.

``MemoryShares`` serves hubs on the memory store; ``RedisShares``
(``store/redis_shares.py``) serves hubs that share a Redis.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from tether.access import ShareRole


@dataclass(frozen=True, slots=True)
class Share:
    target: str  # user:NAME or group:NAME
    role: ShareRole
    by: str  # who shared it (a principal id)
    at: str  # when (ISO 8601)


@dataclass(frozen=True, slots=True)
class ShareLink:
    id: str
    session_id: str
    by: str
    created_at: str
    expires_at: float  # epoch seconds

    @property
    def expired(self) -> bool:
        return self.expires_at <= time.time()


class ShareStore(Protocol):
    async def shares(self, session_id: str) -> dict[str, Share]:
        """The session's shares by target."""
        ...

    async def put_share(self, session_id: str, share: Share) -> bool:
        """Add a share or change its role; True when it is new."""
        ...

    async def delete_share(self, session_id: str, target: str) -> bool:
        """Remove a share; False when there was none."""
        ...

    async def shared_with(
        self, targets: Sequence[str], *, limit: int, before: str | None
    ) -> list[str]:
        """Ids of sessions shared with any of ``targets``, newest first, older than
        ``before``, at most ``limit`` (ids of expired sessions may appear: callers skip
        what the session store no longer has)."""
        ...

    async def forget_shared(self, target: str, session_ids: Sequence[str]) -> None:
        """Drop expired sessions from ``target``'s index (met while listing)."""
        ...

    async def create_link(self, digest: str, link: ShareLink) -> None:
        """Keep ``link`` under its token's ``digest`` until it expires."""
        ...

    async def link(self, digest: str) -> ShareLink | None:
        """The live link whose token hashes to ``digest``; None if unknown, expired or
        revoked."""
        ...

    async def links(self, session_id: str) -> list[ShareLink]:
        """The session's live links, oldest first."""
        ...

    async def revoke_link(self, session_id: str, link_id: str) -> bool:
        """End a link now; False when the session has no such live link."""
        ...

    async def close(self) -> None: ...


class MemoryShares:
    """A :class:`ShareStore` in this process's memory."""

    def __init__(self) -> None:
        self._shares: dict[str, dict[str, Share]] = {}
        self._index: dict[str, list[str]] = {}  # target -> session ids, sorted (= age)
        self._links: dict[str, ShareLink] = {}  # token digest -> link
        self._link_ids: dict[str, dict[str, str]] = {}  # session -> link id -> digest

    async def shares(self, session_id: str) -> dict[str, Share]:
        return dict(self._shares.get(session_id, {}))

    async def put_share(self, session_id: str, share: Share) -> bool:
        shares = self._shares.setdefault(session_id, {})
        new = share.target not in shares
        shares[share.target] = share
        ids = self._index.setdefault(share.target, [])
        at = bisect.bisect_left(ids, session_id)
        if at == len(ids) or ids[at] != session_id:
            ids.insert(at, session_id)
        return new

    async def delete_share(self, session_id: str, target: str) -> bool:
        shares = self._shares.get(session_id, {})
        if shares.pop(target, None) is None:
            return False
        if not shares:
            self._shares.pop(session_id, None)
        ids = self._index.get(target, [])
        at = bisect.bisect_left(ids, session_id)
        if at < len(ids) and ids[at] == session_id:
            del ids[at]
        return True

    async def shared_with(
        self, targets: Sequence[str], *, limit: int, before: str | None
    ) -> list[str]:
        found: set[str] = set()
        for target in targets:
            ids = self._index.get(target, [])
            end = len(ids) if before is None else bisect.bisect_left(ids, before)
            found.update(ids[max(0, end - limit):end])
        return sorted(found, reverse=True)[:limit]

    async def forget_shared(self, target: str, session_ids: Sequence[str]) -> None:
        for session_id in session_ids:
            await self.delete_share(session_id, target)

    async def create_link(self, digest: str, link: ShareLink) -> None:
        self._prune()
        self._links[digest] = link
        self._link_ids.setdefault(link.session_id, {})[link.id] = digest

    def _prune(self) -> None:
        for digest, link in list(self._links.items()):
            if link.expired:
                self._drop(digest, link)

    def _drop(self, digest: str, link: ShareLink) -> None:
        self._links.pop(digest, None)
        ids = self._link_ids.get(link.session_id, {})
        ids.pop(link.id, None)
        if not ids:
            self._link_ids.pop(link.session_id, None)

    async def link(self, digest: str) -> ShareLink | None:
        link = self._links.get(digest)
        if link is not None and link.expired:
            self._drop(digest, link)
            return None
        return link

    async def links(self, session_id: str) -> list[ShareLink]:
        self._prune()
        found = [self._links[d] for d in self._link_ids.get(session_id, {}).values()]
        return sorted(found, key=lambda link: link.created_at)

    async def revoke_link(self, session_id: str, link_id: str) -> bool:
        digest = self._link_ids.get(session_id, {}).get(link_id)
        if digest is None:
            return False
        link = self._links[digest]
        self._drop(digest, link)
        return not link.expired

    async def close(self) -> None:
        return None
