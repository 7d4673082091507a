"""Start quotas on a Redis Cluster: counted and checked in the owner's home bucket.

On one Redis, create.lua counts a start and checks the owner's open sessions in the step
that creates the session. On a cluster the new session's keys are in its own bucket and
the owner's counter and open-sessions hash in the owner's home bucket, so no one script
reaches both. So a start first *reserves* (reserve.lua, atomic in the home bucket: count
the start, check the cap, list the new id), then creates; concurrent starts still cannot
all pass, since each reservation sees the ones before it.

- A start whose Idempotency-Key already made a session gives its reservation back
  (unreserve.lua); so does nothing else: a create that failed half-way leaves a
  reservation without a session, dropped once it is older than :data:`RESERVATION_GRACE`.
- A finishing session cannot drop itself from the hash (another slot), so entries of
  finished sessions linger. When the hash is full, the hub reads the listed sessions'
  statuses, drops those finished or never made, and tries once more: the count is exact
  when it matters, and the extra reads happen only at the cap.
- The hash is complete once it has ``_``; the first check of an owner without it fills
  it from the owner's index (fill_open.lua), as create.lua does on one Redis.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

from tether.errors import TooManyOpenSessions, TooManyStarts
from tether.store.base import OPEN_STATUSES, StartQuota, starts_key
from tether.store.keys import Layout
from tether.store.scripts import Call, ScriptRunner

# How long a reservation without a session counts: a start takes a few milliseconds from
# its reservation to its create; one that failed in between is forgotten after this.
RESERVATION_GRACE = 60.0

Statuses = Callable[[Sequence[str]], Awaitable[list[str | None]]]
OpenIds = Callable[[str], Awaitable[list[str]]]
OpenHash = Callable[[str], Awaitable[dict[str, str]]]


class ClusterStarts:
    """Reservations of starts (see the module docstring).

    Args:
        statuses: the status of each session id (None: no such session).
        open_ids: the owner's open sessions, read from every bucket of its index.
        open_hash: the owner's open-sessions hash as it is.
        scripts: ``reserve``, ``fill_open`` and ``unreserve`` (lua/), registered.
    """

    def __init__(
        self, layout: Layout, runner: ScriptRunner, scripts: dict[str, Any], *,
        statuses: Statuses, open_ids: OpenIds, open_hash: OpenHash,
    ) -> None:
        self._layout = layout
        self._runner = runner
        self._scripts = scripts
        self._statuses = statuses
        self._open_ids = open_ids
        self._open_hash = open_hash

    def _keys(self, owner: str) -> list[str]:
        layout = self._layout
        home = layout.home_of(owner)
        return [layout.quota(starts_key(owner)), layout.open_sessions(owner), *layout.guard(home)]

    async def reserve(self, owner: str, session_id: str, quota: StartQuota) -> bool:
        """Count the start and reserve its place; returns whether the start was counted
        (for :meth:`give_back`).

        Raises:
            TooManyStarts: over the starts allowed (nothing reserved).
            TooManyOpenSessions: ``quota.max_open`` of the owner's sessions are open (the
                start is still counted, as a refused one counts).
        """
        keys = self._keys(owner)
        counted = quota.starts_per_window > 0
        count, drop = "1", list[str]()
        for _ in range(4):  # a fill, then a prune: at most a few calls
            reply = cast(list[Any], await self._runner.run(Call(
                self._scripts["reserve"], keys,
                [session_id, quota.starts_per_window, quota.window, quota.max_open, count,
                 *drop],
            )))
            outcome = int(reply[0])
            if outcome == 1:
                return counted
            if outcome == -1:
                raise TooManyStarts(quota.starts_per_window, int(reply[1]) / 1000)
            count = ""  # counted once, whatever follows
            if outcome == -3:
                ids = await self._open_ids(owner)
                await self._runner.run(Call(self._scripts["fill_open"], keys[1:], ids))
                drop = []
                continue
            listed = [str(sid) for sid in reply[1:]]
            drop = await self._closed(owner, listed)
            if not drop:
                raise TooManyOpenSessions(quota.max_open)
        raise TooManyOpenSessions(quota.max_open)

    async def give_back(self, owner: str, session_id: str, *, counted: bool) -> None:
        """Undo :meth:`reserve` for a start that made no session."""
        await self._runner.run(Call(
            self._scripts["unreserve"], self._keys(owner), [session_id, "1" if counted else ""]
        ))

    async def count_open(self, owner: str) -> int:
        """How many of the owner's sessions are open: from the hash when it is complete
        (finished entries dropped on the way), else from the owner's index."""
        entries = await self._open_hash(owner)
        if "_" not in entries:
            return len(await self._open_ids(owner))
        ids = [sid for sid in entries if sid != "_"]
        statuses = await self._statuses(ids)
        closed = await self._closed(owner, ids, statuses=statuses, reserved=entries)
        if closed:
            await self._runner.run(Call(
                self._scripts["reserve"], self._keys(owner), ["", 0, 60, 0, "", *closed]
            ))
        return sum(1 for status in statuses if status in OPEN_STATUSES)

    async def _closed(
        self, owner: str, ids: Sequence[str], *, statuses: list[str | None] | None = None,
        reserved: dict[str, str] | None = None,
    ) -> list[str]:
        """Which of ``ids`` no longer count: finished, or reserved long ago and never
        made."""
        if statuses is None:
            statuses = await self._statuses(ids)
        if reserved is None and any(status is None for status in statuses):
            reserved = await self._open_hash(owner)
        cutoff = (time.time() - RESERVATION_GRACE) * 1000
        closed = []
        for sid, status in zip(ids, statuses, strict=True):
            if status is None:
                at = (reserved or {}).get(sid, "0")
                if not at.isdigit() or int(at) < cutoff:
                    closed.append(sid)
            elif status not in OPEN_STATUSES:
                closed.append(sid)
        return closed
