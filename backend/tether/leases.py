"""``LeaseKeeper``: one session runs on exactly one hub, and no session is left behind.

Every unfinished session has a lease in the store: the hub named in its record's
``runner`` field, valid until an expiry kept on the store's clock. The keeper of each hub

- renews the leases of the sessions it runs every ``lease / 3`` seconds; a lease it
  finds lost (another hub took the session after a long pause of this one) stops the
  local runner, whose writes the store would refuse anyway (``LeaseLost``);
- looks for *orphans*, unfinished sessions whose lease ran out because their hub died or
  let them go, claims them atomically (only one hub wins) and resumes them from their
  journal;
- on graceful shutdown, releases its leases so another hub resumes at once instead of
  after the expiry;
- at start-up, reclaims at once the sessions still recorded under its own id (a hub
  restarted with the same ``TETHER_HUB_ID``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection
from typing import Protocol

from tether.errors import StoreUnavailable

log = logging.getLogger(__name__)


class LeaseStore(Protocol):
    async def renew(self, runner: str, session_ids: Collection[str]) -> list[str]: ...

    async def orphans(self, limit: int) -> list[str]: ...

    async def owned_by(self, runner: str) -> list[str]: ...

    async def claim(self, session_id: str, runner: str) -> str: ...

    async def release(self, runner: str, session_ids: Collection[str]) -> int: ...


class LeaseKeeper:
    """Renews, adopts, releases. One per hub process; see the module docstring."""

    def __init__(
        self,
        *,
        store: LeaseStore,
        runner_id: str,
        lease_seconds: float,
        running: Callable[[], Collection[str]],
        lost: Callable[[str], None],
        adopt: Callable[[str], Awaitable[None]],
        scan_batch: int = 100,
    ) -> None:
        self._store = store
        self._runner_id = runner_id
        self._interval = lease_seconds / 3
        self._running = running
        self._lost = lost
        self._adopt = adopt
        self._scan_batch = scan_batch
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="tether-lease-keeper")

    async def stop(self, *, release: Collection[str] = ()) -> None:
        """Stop renewing; release ``release`` so other hubs adopt them at once."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if release:
            with contextlib.suppress(StoreUnavailable):
                await self._store.release(self._runner_id, release)

    async def _loop(self) -> None:
        try:
            await self._reclaim()
        except StoreUnavailable as exc:
            log.warning("Could not look for this hub's sessions: %s", exc)
        while True:
            try:
                await self.tick()
            except StoreUnavailable as exc:
                log.warning("Leases not renewed, the store is unavailable: %s", exc)
            except Exception:
                log.exception("Lease keeping failed; trying again")
            await asyncio.sleep(self._interval)

    async def _reclaim(self) -> None:
        """At start-up: sessions still recorded as ours (a restart with the same hub id)
        are claimed and resumed now, without waiting for their leases to run out."""
        for session_id in await self._store.owned_by(self._runner_id):
            if session_id not in self._running() and (
                await self._store.claim(session_id, self._runner_id) == "ok"
            ):
                log.info("Resuming session %s (still ours after a restart)", session_id)
                await self._adopt(session_id)

    async def tick(self) -> None:
        """One round: renew what we run, then adopt what nobody runs."""
        running = list(self._running())
        if running:
            for session_id in await self._store.renew(self._runner_id, running):
                log.warning("Lost the lease of session %s; stopping its runner", session_id)
                self._lost(session_id)
        for session_id in await self._store.orphans(self._scan_batch):
            if session_id in self._running():
                continue
            outcome = await self._store.claim(session_id, self._runner_id)
            if outcome == "ok":
                log.info("Resuming session %s", session_id)
                await self._adopt(session_id)
