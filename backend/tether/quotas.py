"""Per-user quotas on starting sessions, checked before a start does any work.

- ``starts_per_minute``: starts counted in one-minute windows in the store, so every hub
  of a store shares the count; over it, 429 ``too_many_starts`` with ``Retry-After``.
- ``max_open_sessions``: sessions of the user not yet finished (pending, running,
  waiting), counted in the store; at the cap, 429 ``too_many_open_sessions``.

A limit of 0 turns that quota off. (WebSockets per user are limited per hub, in
:mod:`tether.ws`.)
"""

from __future__ import annotations

from dataclasses import dataclass

from tether.errors import TooManyOpenSessions, TooManyStarts
from tether.store.base import Store

WINDOW_SECONDS = 60


@dataclass(frozen=True, slots=True)
class Quotas:
    store: Store
    max_open_sessions: int = 100
    starts_per_minute: int = 30

    async def admit_start(self, user: str) -> None:
        """Raise the refusal when ``user`` may not start a session now.

        Raises:
            TooManyStarts: over ``starts_per_minute`` in this window.
            TooManyOpenSessions: ``max_open_sessions`` already open.
        """
        if self.starts_per_minute > 0:
            count, retry_after = await self.store.hit(f"starts:{user}", window=WINDOW_SECONDS)
            if count > self.starts_per_minute:
                raise TooManyStarts(self.starts_per_minute, retry_after)
        if self.max_open_sessions > 0:
            if await self.store.count_open(user) >= self.max_open_sessions:
                raise TooManyOpenSessions(self.max_open_sessions)
