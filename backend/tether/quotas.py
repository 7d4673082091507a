"""Per-user quotas on starting sessions, checked in the step that creates the session.

- ``starts_per_minute``: starts counted in one-minute windows in the store, so every hub
  of a store shares the count; over it, 429 ``too_many_starts`` with ``Retry-After``.
- ``max_open_sessions``: sessions of the user not yet finished (pending, running,
  waiting), counted in the store; at the cap, 429 ``too_many_open_sessions``.

Both are counted and checked by :meth:`~tether.store.base.Store.create_session` itself
(one Lua call in Redis): concurrent starts on any hub cannot all pass a check made before
any of them was written, a start costs no extra round trip, and the open sessions are a
count the store keeps, not a read of every session the user ever had. A repeated
``Idempotency-Key`` gets its session back without counting as a start.

A limit of 0 turns that quota off. (WebSockets per user are limited per hub, in
:mod:`tether.ws`.)
"""

from __future__ import annotations

from dataclasses import dataclass

from tether.store.base import StartQuota

WINDOW_SECONDS = 60


@dataclass(frozen=True, slots=True)
class Quotas:
    max_open_sessions: int = 100
    starts_per_minute: int = 30

    def for_start(self) -> StartQuota | None:
        """What a start is checked against (None: no quota is on)."""
        quota = StartQuota(
            starts_per_window=max(0, self.starts_per_minute),
            max_open=max(0, self.max_open_sessions), window=WINDOW_SECONDS,
        )
        return quota if quota.limits else None
