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
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Any, Protocol

from tether.errors import StoreUnavailable
from tether.store.base import RELEASES

log = logging.getLogger(__name__)


class LeaseStore(Protocol):
    async def subscribe(self, session_id: str, listener: Any) -> None: ...

    async def unsubscribe(self, session_id: str, listener: Any) -> None: ...

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
        skip: Callable[[str], bool] = lambda session_id: False,
        scan_batch: int = 100,
    ) -> None:
        self._store = store
        self._runner_id = runner_id
        self._interval = lease_seconds / 3
        self._running = running
        self._lost = lost
        self._adopt = adopt
        self._skip = skip
        self._scan_batch = scan_batch
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    async def start(self) -> None:
        """Start keeping; hear at once when any hub releases leases."""
        with contextlib.suppress(StoreUnavailable):
            await self._store.subscribe(RELEASES, self)
        self._task = asyncio.create_task(self._loop(), name="tether-lease-keeper")

    async def stop(self) -> None:
        """Stop renewing and adopting."""
        with contextlib.suppress(StoreUnavailable):
            await self._store.unsubscribe(RELEASES, self)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def release(self, session_ids: Collection[str]) -> None:
        """Let these leases go now, so other hubs adopt the sessions at once."""
        if session_ids:
            with contextlib.suppress(StoreUnavailable):
                await self._store.release(self._runner_id, session_ids)

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
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()

    # --- SessionListener, for the RELEASES feed -----------------------------------

    def on_frames(self, session_id: str, frames: Sequence[str]) -> None:
        return None

    def on_command(self, session_id: str, command: str) -> None:
        if command == "released":
            self._wake.set()  # adopt now, not at the next round

    def on_resync(self) -> None:
        self._wake.set()  # the feed was away: a release may have gone unheard

    def on_outage(self) -> None:
        return None

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
            if session_id in self._running() or self._skip(session_id):
                continue
            outcome = await self._store.claim(session_id, self._runner_id)
            if outcome == "ok":
                log.info("Resuming session %s", session_id)
                await self._adopt(session_id)
