"""Server-side login state: sessions, failed-login windows and one-time login links.

A login session's cookie carries a random id, signed (``auth.py``); the store keeps only
the id's SHA-256, so a copy of the store's keys cannot be replayed as cookies. Logout
deletes the entry, and removing a user deletes all of theirs (and every session also names
the account's ``serial``, so one that escaped deletion is refused once the account is
gone or re-made).

A session of an account made by an OpenID provider also keeps the groups and the admin
role the provider's ID token gave at that login (``users.py``).

An OpenID Connect login under way (its nonce and PKCE verifier, ``oidc.py``) is kept
under its ``state``'s SHA-256 for a few minutes and spent in one step at the callback, so
any hub of the store can finish it, and only once.

Failed logins are counted in sliding windows, one per client address and one per user
name, kept in the store so that every hub behind a load balancer counts the same tries.

``MemoryLogins`` serves hubs on the memory store (one process); ``RedisLogins``
(``store/redis_logins.py``) serves hubs that share a Redis.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

MAX_FAILURES_KEPT = 1000  # per window: enough to count past any limit, bounded memory


@dataclass(frozen=True, slots=True)
class LoginSession:
    name: str
    serial: str
    # What the OpenID provider said at this login; unused for accounts of the directory.
    groups: frozenset[str] = frozenset()
    admin: bool = False


class LoginStore(Protocol):
    async def create(self, digest: str, session: LoginSession, *, ttl: float) -> None:
        """Keep a login session for ``ttl`` seconds under its id's ``digest``."""
        ...

    async def get(self, digest: str) -> LoginSession | None: ...

    async def revoke(self, digest: str) -> None: ...

    async def revoke_user(self, name: str) -> int:
        """End every login session of ``name``; how many there were."""
        ...

    async def add_failure(self, what: str, *, window: float) -> None:
        """Count one failed login for ``what`` (``ip:...`` or ``user:...``)."""
        ...

    async def failures(self, what: str, *, window: float) -> tuple[int, float]:
        """``(failures in the last window seconds, seconds until the oldest leaves it)``."""
        ...

    async def clear_failures(self, what: str) -> None: ...

    async def create_link(self, digest: str, name: str, *, ttl: float) -> None:
        """Keep a one-time login link for ``name`` under its token's ``digest``."""
        ...

    async def spend_link(self, digest: str) -> str | None:
        """The link's user name, deleting the link in the same step; None if unknown."""
        ...

    async def create_flow(self, digest: str, flow: str, *, ttl: float) -> None:
        """Keep an OpenID login under way (``flow``, JSON) under its state's ``digest``."""
        ...

    async def spend_flow(self, digest: str) -> str | None:
        """The flow kept under ``digest``, deleted in the same step; None if unknown."""
        ...

    async def close(self) -> None: ...


class MemoryLogins:
    """A :class:`LoginStore` in this process's memory; expired entries go as they are met
    and on every creation, so the tables stay as large as the live sessions."""

    def __init__(self) -> None:
        self._sessions: dict[str, tuple[LoginSession, float]] = {}
        self._failures: dict[str, list[float]] = {}
        self._links: dict[str, tuple[str, float]] = {}
        self._flows: dict[str, tuple[str, float]] = {}

    def _prune(self, now: float) -> None:
        self._sessions = {k: v for k, v in self._sessions.items() if v[1] > now}
        self._links = {k: v for k, v in self._links.items() if v[1] > now}
        self._flows = {k: v for k, v in self._flows.items() if v[1] > now}

    async def create(self, digest: str, session: LoginSession, *, ttl: float) -> None:
        now = time.monotonic()
        self._prune(now)
        self._sessions[digest] = (session, now + ttl)

    async def get(self, digest: str) -> LoginSession | None:
        entry = self._sessions.get(digest)
        if entry is None or entry[1] <= time.monotonic():
            self._sessions.pop(digest, None)
            return None
        return entry[0]

    async def revoke(self, digest: str) -> None:
        self._sessions.pop(digest, None)

    async def revoke_user(self, name: str) -> int:
        gone = [k for k, (s, _) in self._sessions.items() if s.name == name]
        for key in gone:
            del self._sessions[key]
        return len(gone)

    def _window(self, what: str, window: float) -> list[float]:
        now = time.monotonic()
        kept = [t for t in self._failures.get(what, []) if t > now - window]
        if kept:
            self._failures[what] = kept[-MAX_FAILURES_KEPT:]
        else:
            self._failures.pop(what, None)
        return kept

    async def add_failure(self, what: str, *, window: float) -> None:
        self._failures[what] = [*self._window(what, window), time.monotonic()]
        if len(self._failures) > 100_000:  # a flood of addresses: forget the stalest
            self._failures = {
                k: v for k, v in self._failures.items() if v[-1] > time.monotonic() - window
            }

    async def failures(self, what: str, *, window: float) -> tuple[int, float]:
        kept = self._window(what, window)
        if not kept:
            return 0, 0.0
        return len(kept), max(0.0, kept[0] + window - time.monotonic())

    async def clear_failures(self, what: str) -> None:
        self._failures.pop(what, None)

    async def create_link(self, digest: str, name: str, *, ttl: float) -> None:
        now = time.monotonic()
        self._prune(now)
        self._links[digest] = (name, now + ttl)

    async def spend_link(self, digest: str) -> str | None:
        entry = self._links.pop(digest, None)
        if entry is None or entry[1] <= time.monotonic():
            return None
        return entry[0]

    async def create_flow(self, digest: str, flow: str, *, ttl: float) -> None:
        now = time.monotonic()
        self._prune(now)
        self._flows[digest] = (flow, now + ttl)

    async def spend_flow(self, digest: str) -> str | None:
        entry = self._flows.pop(digest, None)
        if entry is None or entry[1] <= time.monotonic():
            return None
        return entry[0]

    async def close(self) -> None:
        return None
