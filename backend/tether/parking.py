"""Parking: a session that waits for a person gives its memory back until it is answered.

A waiting session's runner holds its task's coroutine frames, the open request's models,
its writer and feed listener: about 14 KiB of a hub's memory for as long as the person
takes, which may be days. Every session can be resumed from its journal (that is what a
hub does after a restart: finished steps are not run again, questions already asked are
not asked again), so a runner that has only been waiting for an answer for
``TETHER_PARK_AFTER`` seconds is stopped and replaced by a :class:`ParkedSession`: a
small listener on the session's feed. This hub keeps the session's lease (renewed with
the others) and runs it again from its journal when

- an answer to one of its requests lands (recorded by any hub: the answer event comes on
  the feed), or a cancel is asked for (the command comes on the feed; the resumed runner
  finds ``cancel_requested`` in the record and ends it cancelled);
- one of its requests falls due: its deadline, reminder or escalation (one timer per
  parked session that has such a time; none otherwise);
- the feed was away and is back, and the stored session shows an answer or a cancel that
  may have come meanwhile (its open requests are not those it was parked with; a few
  sessions are read at a time, so a hub with many parked sessions does not wake them all).

Which runners are parked (``SessionRunner.parkable``): the task's own coroutine is
awaiting a request (not a step, a map, a sleep, or a request asked from a child task of
its own), nothing it wrote is still on its way to the store, and it has been so for
``park_after`` seconds. The writer is closed before the task is cancelled, so whatever
the task's ``finally`` blocks do while it unwinds writes nothing: the resumed run does it
again, or not, from the journal, as after a restart.

A task that starts plain asyncio tasks of its own (rather than ``ctx.map``) and keeps them
running while it waits for a person should not be parked: set ``TETHER_PARK_AFTER=0``.
Parking cancels the task (``CancelledError("tether: parked")``): its ``except
CancelledError`` and ``finally`` blocks run, and run again when it really ends; what they
do outside the store happens twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from typing import Any, Protocol

from tether.backoff import Backoff
from tether.errors import StoreUnavailable
from tether.store.base import SessionListener, SessionRecord, parse_cancel

log = logging.getLogger(__name__)

_ANSWERED = '"type":"request_answered"'
MIN_SWEEP = 0.05  # seconds: the shortest interval between two looks for parkable runners
MAX_SWEEP = 30.0  # the longest
RESYNC_READS = 16  # parked sessions read at once after the feed came back


class Parkable(Protocol):
    """What parking needs of a runner (``SessionRunner``)."""

    session_id: str

    @property
    def task_name(self) -> str: ...

    def parkable(self, idle: float, now: float) -> bool: ...

    def next_due(self) -> float | None: ...

    def open_request_ids(self) -> tuple[str, ...]: ...

    def park(self) -> None: ...


class ParkStore(Protocol):
    async def subscribe(self, session_id: str, listener: SessionListener) -> None: ...

    async def unsubscribe(self, session_id: str, listener: SessionListener) -> None: ...

    async def get_session(self, session_id: str) -> SessionRecord | None: ...


class ParkedSession:
    """A parked session: the feed listener that wakes it, and its due-time timer."""

    __slots__ = ("_parking", "_timer", "ready", "request_ids", "session_id", "task_name",
                 "woken")

    def __init__(self, parking: Parking, session_id: str, task_name: str,
                 request_ids: tuple[str, ...]) -> None:
        self._parking = parking
        self.session_id = session_id
        self.task_name = task_name
        self.request_ids = request_ids  # open when parked, sorted
        self._timer: asyncio.TimerHandle | None = None
        self.ready = False  # the runner has stopped: a wake may resume the session now
        self.woken = False  # something came that the session must see

    def wake(self) -> None:
        self.woken = True
        if self.ready:
            self._parking.wake(self)

    def wake_at(self, delay: float | None) -> None:
        if delay is not None:
            self._timer = asyncio.get_running_loop().call_later(delay, self.wake)

    def cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # --- the feed (SessionListener) ---

    def on_frames(self, session_id: str, frames: Sequence[str]) -> None:
        if any(frame.find(_ANSWERED, 0, 80) != -1 for frame in frames):
            self.wake()

    def on_command(self, session_id: str, command: str) -> None:
        if parse_cancel(command)[0]:  # the resumed runner reads it from the record
            self.wake()

    def on_outage(self) -> None:
        return None

    def on_resync(self) -> None:
        self._parking.check(self)  # an answer or a cancel may have come meanwhile


class Parking:
    """The parked sessions of one hub, and the sweep that parks runners.

    ``resume`` runs a session again from its journal (``SessionManager.resume``).
    """

    def __init__(
        self, *, store: ParkStore, after: float,
        resume: Callable[[str], Awaitable[None]],
        parked_total: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self.after = after
        self._resume = resume
        self._parked_total = parked_total
        self._parked: dict[str, ParkedSession] = {}
        self._waking: set[str] = set()  # neither parked nor running yet: leases still ours
        self._sweeper: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._reads = asyncio.Semaphore(RESYNC_READS)
        self._closed = False

    @property
    def enabled(self) -> bool:
        return self.after > 0

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._parked

    def __len__(self) -> int:
        return len(self._parked)

    def ids(self) -> list[str]:
        """The sessions parked or being woken here (their leases are this hub's)."""
        return [*self._parked, *self._waking]

    def census(self) -> Iterable[str]:
        """The task of every parked session (each waits for a person)."""
        return (parked.task_name for parked in self._parked.values())

    def start(self, runners: Callable[[], Iterable[Parkable]]) -> None:
        """Look for runners to park every so often (a fraction of ``after``)."""
        if self.enabled and self._sweeper is None and not self._closed:
            self._sweeper = asyncio.create_task(self._sweep(runners), name="parking")

    async def _sweep(self, runners: Callable[[], Iterable[Parkable]]) -> None:
        interval = min(MAX_SWEEP, max(MIN_SWEEP, self.after / 4))
        while True:
            await asyncio.sleep(interval)  # the sweep's period, not a wait for an outcome
            now = time.monotonic()
            for runner in [r for r in runners() if r.parkable(self.after, now)]:
                try:
                    await self.park(runner)
                except StoreUnavailable as exc:
                    log.info("Not parking session %s now: %s", runner.session_id, exc)
                    break
                except Exception:  # one session's trouble must not stop parking the rest
                    log.exception("Parking session %s failed", runner.session_id)

    async def park(self, runner: Parkable) -> bool:
        """Stop ``runner`` and listen for what must wake its session; False if it
        stopped being parkable meanwhile."""
        session_id = runner.session_id
        if session_id in self._parked:
            return False
        parked = ParkedSession(self, session_id, runner.task_name, runner.open_request_ids())
        # Listening before the runner stops listening: whatever comes after this is seen
        # by one of the two (and an answer the runner saw, the resumed run reads).
        try:
            await self._store.subscribe(session_id, parked)
        except BaseException:
            with contextlib.suppress(StoreUnavailable):
                await self._store.unsubscribe(session_id, parked)
            raise
        if self._closed or not runner.parkable(self.after, time.monotonic()):
            await self._store.unsubscribe(session_id, parked)
            return False
        self._parked[session_id] = parked
        parked.wake_at(runner.next_due())
        runner.park()
        self._parked_total()
        log.debug("Parked session %s", session_id)
        return True

    def stopped(self, session_id: str) -> None:
        """The parked session's runner has ended: wake it now if something came."""
        parked = self._parked.get(session_id)
        if parked is None or parked.ready:
            return
        parked.ready = True
        if parked.woken:
            self.wake(parked)

    def wake(self, parked: ParkedSession) -> None:
        """Resume the session (once, however many things wake it)."""
        if self._parked.get(parked.session_id) is not parked:
            return
        del self._parked[parked.session_id]
        parked.cancel_timer()
        self._waking.add(parked.session_id)
        self._spawn(self._wake(parked), f"wake-{parked.session_id}")

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_log_failure)

    async def _wake(self, parked: ParkedSession) -> None:
        try:
            await self._resume(parked.session_id)
        except StoreUnavailable as exc:
            # Its lease is no longer renewed (it is neither parked nor running here): it
            # runs out, and a hub (this one, or another) adopts the session.
            log.warning("Session %s could not be woken now, its lease will lapse: %s",
                        parked.session_id, exc)
        finally:
            self._waking.discard(parked.session_id)
            with contextlib.suppress(StoreUnavailable):
                await self._store.unsubscribe(parked.session_id, parked)

    def check(self, parked: ParkedSession) -> None:
        """Read the session (a few at a time) and wake it if it was answered or
        cancelled while the feed was away."""
        if self._parked.get(parked.session_id) is parked:
            self._spawn(self._check(parked), f"check-{parked.session_id}")

    async def _check(self, parked: ParkedSession) -> None:
        backoff = Backoff()
        while self._parked.get(parked.session_id) is parked:
            try:
                async with self._reads:
                    record = await self._store.get_session(parked.session_id)
            except StoreUnavailable:
                await backoff.wait()
                continue
            if (record is None or record.cancel_requested
                    or tuple(sorted(record.requests)) != parked.request_ids):
                parked.wake()
            return

    def discard(self, session_id: str) -> None:
        """Forget a parked session (another hub took it over)."""
        parked = self._parked.pop(session_id, None)
        if parked is not None:
            parked.cancel_timer()
            task = asyncio.create_task(self._store.unsubscribe(session_id, parked))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Stop parking and waking; the parked sessions stay as they are in the store."""
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
            self._sweeper = None
        parked_now = list(self._parked.values())
        self._parked.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for parked in parked_now:  # their feed subscriptions go with the store's feed
            parked.cancel_timer()


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("Waking a parked session failed", exc_info=task.exception())
