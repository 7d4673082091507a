"""``LeaseKeeper`` on a real store (memory and a real Redis): it renews what its hub runs,
adopts orphans and only those, hears releases at once, stops runners whose lease was
taken, and reclaims its own sessions on start-up.

The keeper is driven as ``create_app`` drives it; its ``running`` / ``lost`` / ``adopt``
callbacks stand for the session manager and record what the keeper asked of it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import pytest

from tests.integration.test_store_contract import create_running
from tests.support.redis_proc import RedisProcess
from tests.support.timing import MS, eventually
from tether.leases import LeaseKeeper
from tether.store.base import RELEASES, Entry, Store
from tether.store.memory import MemoryStore
from tether.store.redis import RedisStore

OpenStore = Callable[..., Awaitable[Store]]


@pytest.fixture
async def open_store(store_url: str | None) -> AsyncIterator[OpenStore]:
    """Stores of the parametrised kind (two Redis stores share one Redis, as two hubs do;
    the memory store is one process's, so a test uses one instance for every hub)."""
    opened: list[Store] = []

    async def open_(*, lease_seconds: float) -> Store:
        store: Store
        if store_url is None:
            store = MemoryStore(history_cap=100, finished_ttl=3600, lease_seconds=lease_seconds)
        else:
            store = RedisStore(
                store_url, history_cap=100, finished_ttl=3600, lease_seconds=lease_seconds
            )
        await store.start()
        opened.append(store)
        return store

    yield open_
    for store in opened:
        await store.close()


class Hub:
    """What a hub's session manager tells its keeper, and what the keeper asked of it."""

    def __init__(self, store: Store, hub_id: str, *, lease_seconds: float,
                 foreign: set[str] | None = None, broken: set[str] | None = None,
                 stuck: set[str] | None = None) -> None:
        self.hub_id = hub_id
        self.running: set[str] = set()
        self.rounds = 0
        self.adopted: list[str] = []
        self.lost: list[str] = []
        self.foreign = foreign or set()
        self.broken = broken or set()  # sessions whose resume raises
        self.stuck = stuck or set()  # sessions whose resume never returns
        self.resuming: list[str] = []
        self.failed: list[str] = []
        self.keeper = LeaseKeeper(
            store=store, runner_id=hub_id, lease_seconds=lease_seconds,
            running=self._running, lost=self.lost.append, adopt=self._adopt,
            skip=self.foreign.__contains__,
        )

    def _running(self) -> set[str]:
        self.rounds += 1  # asked at least once per round
        return self.running

    async def _adopt(self, session_id: str) -> None:
        self.resuming.append(session_id)
        if session_id in self.stuck:
            await asyncio.Event().wait()
        if session_id in self.broken:
            self.failed.append(session_id)
            raise RuntimeError(f"cannot resume {session_id}")
        self.adopted.append(session_id)
        self.running.add(session_id)


class Deaf:
    """A release-feed listener that does nothing (it only holds the subscription)."""

    def on_frames(self, session_id: str, frames: Sequence[str]) -> None: ...

    def on_command(self, session_id: str, command: str) -> None: ...

    def on_resync(self) -> None: ...

    def on_outage(self) -> None: ...


@pytest.fixture
async def hubs() -> AsyncIterator[list[Hub]]:
    started: list[Hub] = []
    yield started
    for hub in started:
        await hub.keeper.stop()


async def start(hubs: list[Hub], hub: Hub) -> Hub:
    hubs.append(hub)
    await hub.keeper.start()
    return hub


async def test_a_running_session_is_renewed_every_third_of_its_lease(
    open_store: OpenStore, hubs: list[Hub]
) -> None:
    """The keeper renews what its hub runs every third of the lease: a 1.2 s lease held
    for one and a half times its length is never claimable by another hub, and the
    keeper did not spin to achieve it (a round every 0.4 s, not in a busy loop)."""
    lease = 1200 * MS
    store = await open_store(lease_seconds=lease)
    session_id = await create_running(store, runner="hub-1")
    hub = Hub(store, "hub-1", lease_seconds=lease)
    hub.running.add(session_id)
    await start(hubs, hub)
    started = time.monotonic()
    while time.monotonic() - started < 1.5 * lease:
        assert session_id not in await store.orphans(100)
        assert await store.claim(session_id, "hub-2") == "held"
        await asyncio.sleep(lease / 20)
    # 1.5 leases at one round per third of a lease: about 5 rounds (a slow machine makes
    # fewer, never more).
    assert hub.rounds <= 8, f"{hub.rounds} rounds in 1.5 leases"
    assert hub.lost == [] and hub.adopted == []


async def test_an_orphan_is_adopted_once_by_one_hub(
    open_store: OpenStore, hubs: list[Hub]
) -> None:
    """A session whose hub stopped renewing is claimed and resumed by exactly one of two
    live hubs, which then keeps it (renews it, never adopts it again)."""
    lease = 200 * MS
    store = await open_store(lease_seconds=lease)
    session_id = await create_running(store, runner="hub-dead")
    two = [await start(hubs, Hub(store, f"hub-{n}", lease_seconds=lease)) for n in (1, 2)]
    await eventually(lambda: any(h.adopted for h in two), what="an adoption")
    # Several more rounds of both keepers: nobody adopts it again.
    rounds = [h.rounds for h in two]
    await eventually(lambda: all(h.rounds > r + 3 for h, r in zip(two, rounds, strict=True)),
                     what="more rounds")
    assert sorted(len(h.adopted) for h in two) == [0, 1]
    winner = next(h for h in two if h.adopted)
    record = await store.get_session(session_id)
    assert record is not None and record.runner == winner.hub_id
    assert session_id not in await store.orphans(100)


async def test_orphans_the_hub_runs_or_must_skip_are_left_and_the_next_one_adopted(
    open_store: OpenStore, hubs: list[Hub]
) -> None:
    """Of three orphans, the one the hub already runs and the one it must skip (its task
    is not served here) are neither claimed nor adopted, whichever order the store lists
    them in; the third is adopted."""
    lease = 100 * MS
    store = await open_store(lease_seconds=lease)
    ids = [await create_running(store, runner="hub-dead") for _ in range(3)]
    await eventually(lambda: _all_in(store.orphans(100), ids), what="three orphans")
    first, second, third = await store.orphans(100)
    hub = Hub(store, "hub-1", lease_seconds=30, foreign={first})
    hub.running.add(second)
    await start(hubs, hub)
    await eventually(lambda: hub.adopted == [third], what="the third orphan adopted")
    for left in (first, second):
        record = await store.get_session(left)
        assert record is not None and record.runner == "hub-dead"


async def test_a_lease_taken_by_another_hub_stops_the_local_runner(
    open_store: OpenStore, hubs: list[Hub]
) -> None:
    """A hub that paused past its lease finds the session claimed by another hub on its
    next round: the keeper reports it lost (the manager stops that runner) and keeps
    renewing the sessions that are still its own."""
    lease = 100 * MS
    store = await open_store(lease_seconds=lease)
    taken = await create_running(store, runner="hub-1")
    await eventually(lambda: _all_in(store.orphans(100), [taken]), what="the lease to run out")
    assert await store.claim(taken, "hub-2") == "ok"
    kept = await create_running(store, runner="hub-1")
    hub = Hub(store, "hub-1", lease_seconds=30)
    hub.running |= {taken, kept}
    await hub.keeper.tick()
    assert hub.lost == [taken]
    assert await store.claim(kept, "hub-2") == "held"


async def test_a_release_is_adopted_at_once_not_at_the_next_round(
    open_store: OpenStore, hubs: list[Hub]
) -> None:
    """A hub shutting down releases its leases; a keeper whose next round is 10 s away
    hears the release and adopts the session at once."""
    store = await open_store(lease_seconds=30)
    other = store if isinstance(store, MemoryStore) else await open_store(lease_seconds=30)
    early = await create_running(other, runner="hub-old")
    late = await create_running(other, runner="hub-old")
    assert await other.release("hub-old", [early]) == 1
    hub = await start(hubs, Hub(store, "hub-1", lease_seconds=30))
    await eventually(lambda: hub.adopted == [early], what="the first round's adoption")
    # The first round is over (it adopted what it listed); the next is 10 s away.
    released = time.monotonic()
    assert await other.release("hub-old", [late]) == 1
    await eventually(lambda: hub.adopted == [early, late], timeout_ms=3000,
                     what="the released session adopted before the next round")
    assert time.monotonic() - released < 5


async def test_a_restarted_hub_reclaims_its_own_sessions_before_their_leases_run_out(
    open_store: OpenStore, hubs: list[Hub]
) -> None:
    """On start-up the keeper claims and resumes the unfinished sessions still recorded
    under its hub id, though their 30 s leases are valid; not those it already runs, not
    finished ones, not other hubs'."""
    store = await open_store(lease_seconds=30)
    mine = await create_running(store, runner="hub-1")
    already = await create_running(store, runner="hub-1")
    done = await create_running(store, runner="hub-1")
    await store.append(done, [Entry(set={"status": "completed"})])
    theirs = await create_running(store, runner="hub-2")
    hub = Hub(store, "hub-1", lease_seconds=30)
    hub.running.add(already)
    await start(hubs, hub)
    await eventually(lambda: hub.adopted == [mine], what="the reclaim")
    record = await store.get_session(theirs)
    assert record is not None and record.runner == "hub-2"


async def test_a_hub_shutting_down_releases_what_it_ran_for_another_hub_at_once(
    open_store: OpenStore, hubs: list[Hub]
) -> None:
    """``release`` lets the given sessions' 30 s leases go now: another hub claims them
    at once. Releasing nothing is allowed and changes nothing."""
    store = await open_store(lease_seconds=30)
    session_id = await create_running(store, runner="hub-1")
    hub = Hub(store, "hub-1", lease_seconds=30)
    await hub.keeper.release([])
    assert await store.claim(session_id, "hub-2") == "held"
    await hub.keeper.release([session_id])
    assert await store.claim(session_id, "hub-2") == "ok"


async def test_a_session_claimed_but_not_yet_resumed_when_the_hub_stops_is_released(
    open_store: OpenStore, hubs: list[Hub]
) -> None:
    """Hubs stopping together adopt each other's released sessions: one stopped between
    claiming a session and handing it to a runner lets that lease go too, so another
    hub resumes it at once rather than after its 30 s lease."""
    store = await open_store(lease_seconds=30)
    session_id = await create_running(store, runner="hub-old")
    hub = await start(hubs, Hub(store, "hub-1", lease_seconds=30, stuck={session_id}))
    assert await store.release("hub-old", [session_id]) == 1
    await eventually(lambda: hub.resuming == [session_id], what="the claim")
    assert await store.claim(session_id, "hub-2") == "held"
    await hub.keeper.stop()
    await hub.keeper.release([])  # nothing runs: the manager's list is empty
    assert await store.claim(session_id, "hub-2") == "ok"


async def test_a_failed_adoption_does_not_stop_the_keeper(
    open_store: OpenStore, hubs: list[Hub]
) -> None:
    """A resume that raises (a bug, a journal that cannot be read) is logged; the keeper
    goes on renewing and adopting the next orphans."""
    store = await open_store(lease_seconds=30)
    bad = await create_running(store, runner="hub-old")
    good = await create_running(store, runner="hub-old")
    hub = await start(hubs, Hub(store, "hub-1", lease_seconds=30, broken={bad}))
    assert await store.release("hub-old", [bad]) == 1
    await eventually(lambda: hub.failed == [bad], what="the failed adoption")
    assert await store.release("hub-old", [good]) == 1
    await eventually(lambda: hub.adopted == [good], what="the next adoption")


async def test_a_keeper_started_while_redis_is_down_adopts_once_it_is_back(
    own_redis: RedisProcess, hubs: list[Hub]
) -> None:
    """A hub that starts during a Redis outage cannot look for its sessions; it logs that
    and keeps going, so once Redis is back it adopts the orphans as usual."""
    lease = 300 * MS
    store = RedisStore(own_redis.url, history_cap=100, finished_ttl=3600, lease_seconds=lease)
    await store.start()
    try:
        session_id = await create_running(store, runner="hub-dead")
        # The process already listens to the release feed (as a second keeper would), so
        # the keeper's own subscribe returns at once instead of timing out.
        await store.subscribe(RELEASES, Deaf())
        own_redis.kill()
        hub = await start(hubs, Hub(store, "hub-1", lease_seconds=lease))
        # A round begins only after the start-up look for its own sessions failed.
        await eventually(lambda: hub.rounds > 0, what="a first round despite the outage")
        own_redis.start()
        await eventually(lambda: hub.adopted == [session_id], timeout_ms=15_000,
                         what="the orphan adopted after the outage")
    finally:
        for h in hubs:
            await h.keeper.stop()
        hubs.clear()
        await store.close()


async def test_a_stopped_keeper_adopts_nothing_more(
    open_store: OpenStore, hubs: list[Hub]
) -> None:
    """After ``stop`` (a hub shutting down) released sessions are left to other hubs."""
    store = await open_store(lease_seconds=30)
    hub = await start(hubs, Hub(store, "hub-1", lease_seconds=30))
    watcher = await start(hubs, Hub(store, "hub-2", lease_seconds=30))
    await hub.keeper.stop()
    session_id = await create_running(store, runner="hub-old")
    assert await store.release("hub-old", [session_id]) == 1
    await eventually(lambda: watcher.adopted == [session_id], what="the other hub adopting")
    assert hub.adopted == []


async def _all_in(orphans: Awaitable[list[str]], ids: list[str]) -> bool:
    listed = await orphans
    return all(i in listed for i in ids)


async def test_a_session_made_after_the_keeper_started_is_not_reclaimed(
    open_store: OpenStore, hubs: list[Hub]
) -> None:
    """A session this process creates once it serves is recorded under its hub id before
    its runner is registered: the start-up reclaim must not take it for one left over
    from before a restart (it would run twice)."""
    store = await open_store(lease_seconds=30)
    hub = await start(hubs, Hub(store, "hub-1", lease_seconds=30))
    # Session ids count milliseconds: one made in the keeper's own millisecond is taken
    # for older (a request cannot come that soon: the hub serves after the start-up).
    await eventually(lambda: time.time() >= hub.keeper._started + 0.002, what="a new ms")
    made_now = await create_running(store, runner="hub-1")
    await hub.keeper._reclaim()  # the start-up round, had it come this late
    assert hub.adopted == [] and made_now not in hub.running


async def test_a_keeper_stopped_as_a_release_wakes_it_stops() -> None:
    """stop() in the same loop turn as a wake-up (a release heard as the hub shuts down):
    the keeper's wait ends by the wake-up and by the cancellation at once, and the
    cancellation must win, or stop() waits for ever."""
    store = MemoryStore(history_cap=100, finished_ttl=3600, lease_seconds=30)
    await store.start()
    hub = Hub(store, "hub-1", lease_seconds=30)
    await hub.keeper.start()
    await eventually(lambda: hub.rounds >= 1, what="the first round")
    for _ in range(10):  # the round's last steps: then it waits for the next
        await asyncio.sleep(0)
    hub.keeper.on_command("any", "released")
    stopping = asyncio.ensure_future(hub.keeper.stop())
    done, _ = await asyncio.wait({stopping}, timeout=5)
    stopping.cancel()
    await store.close()
    assert done, "stop() waits for a keeper loop that goes on"
