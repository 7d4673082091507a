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
  after the expiry, including a session it had claimed but not yet handed to a runner
  when it was stopped (hubs stopping together adopt each other's releases);
- at start-up, reclaims at once the sessions still recorded under its own id (a hub
  restarted with the same ``TETHER_HUB_ID``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Any, Protocol

from tether.errors import StoreUnavailable
from tether.sessions import session_id_time
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

    async def ping(self) -> bool: ...


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
        took_over: Callable[[], None] | None = None,
        round_trip: Callable[[float], None] | None = None,
    ) -> None:
        """``took_over``: told of every lease this keeper claims; ``round_trip``: given
        the time of a store PING once per round (both for the hub's metrics)."""
        self._store = store
        self._runner_id = runner_id
        self._interval = lease_seconds / 3
        self._running = running
        self._lost = lost
        self._adopt = adopt
        self._skip = skip
        self._scan_batch = scan_batch
        self._took_over = took_over
        self._round_trip = round_trip
        self._task: asyncio.Task[None] | None = None
        self._started = 0.0  # when start() ran: sessions made since are not left over
        # Claimed (or being claimed) and not yet running: a stop in between leaves the id
        # here, so that release() lets it go with the rest.
        self._claiming: set[str] = set()
        self._wake = asyncio.Event()

    async def start(self) -> None:
        """Start keeping; hear at once when any hub releases leases."""
        with contextlib.suppress(StoreUnavailable):
            await self._store.subscribe(RELEASES, self)
        self._started = int(time.time() * 1000) / 1000  # to the ms, as session ids are
        self._task = asyncio.create_task(self._loop(), name="tether-lease-keeper")

    async def stop(self) -> None:
        """Stop renewing and adopting."""
        with contextlib.suppress(StoreUnavailable):
            await self._store.unsubscribe(RELEASES, self)
        if self._task is not None:
            self._task.cancel()
            # asyncio.wait, not a suppressed await: a cancellation of stop() itself (a
            # shutdown step's deadline) must reach its caller, not be taken for the loop's.
            await asyncio.wait({self._task})

    async def release(self, session_ids: Collection[str]) -> None:
        """Let these leases go now, so other hubs adopt the sessions at once; with them,
        any session this keeper was stopped between claiming and adopting. (The store
        releases only leases its record says are ours.)"""
        ids = {*session_ids, *self._claiming}
        if ids:
            with contextlib.suppress(StoreUnavailable):
                await self._store.release(self._runner_id, sorted(ids))

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
            # Not wait_for: on Python 3.11 it returns normally when it is cancelled as the
            # wake-up comes, so stop() would wait for a loop that never ends.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await self._wake.wait()
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
            made = session_id_time(session_id)
            if made is not None and made > self._started:
                # Made by this process since it started: being launched, not left over
                # from before a restart (reclaiming it would run it twice).
                continue
            if session_id not in self._running():
                await self._take(session_id, "Resuming session %s (still ours after a restart)")

    async def tick(self) -> None:
        """One round: renew what we run, then adopt what nobody runs."""
        if self._round_trip is not None:
            started = time.perf_counter()
            if await self._store.ping():  # False: unavailable, and renew will say so
                self._round_trip(time.perf_counter() - started)
        running = list(self._running())
        if running:
            for session_id in await self._store.renew(self._runner_id, running):
                log.warning("Lost the lease of session %s; stopping its runner", session_id)
                self._lost(session_id)
        for session_id in await self._store.orphans(self._scan_batch):
            if session_id in self._running() or self._skip(session_id):
                continue
            await self._take(session_id, "Resuming session %s")

    async def _take(self, session_id: str, message: str) -> None:
        """Claim the session and, if we won it, hand it to the session manager."""
        self._claiming.add(session_id)
        try:
            if await self._store.claim(session_id, self._runner_id) == "ok":
                log.info(message, session_id)
                self._claimed()
                await self._adopt(session_id)
        except asyncio.CancelledError:
            raise  # stopped in between: left in _claiming, so release() lets it go
        except BaseException:
            self._claiming.discard(session_id)
            raise
        self._claiming.discard(session_id)

    def _claimed(self) -> None:
        if self._took_over is not None:
            self._took_over()
