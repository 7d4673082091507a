"""``tether serve --workers 2`` as a real process tree on one port and one real Redis:
both workers serve (each its own hub id, seen by ``tether hubs``), a worker killed with
SIGKILL starts again under its id and resumes its sessions, SIGTERM to the supervisor
stops every worker and hands their sessions over, and workers whose supervisor was
killed stop by themselves."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from tests.e2e.durable_checks import NAME, TASKS, StartHub, assert_emitted_once
from tests.support.follow import (
    Follower,
    Person,
    assert_asked_once,
    assert_exactly_once,
    durable_calls,
    step_calls,
)
from tests.support.hub_proc import HubProcess
from tests.support.scrape import Scrape, scrape
from tests.support.timing import MS, eventually
from tether.store.redis import RedisStore

WORKERS = ("hub-w-1", "hub-w-2")
STARTED = re.compile(r"Worker (\d+) \(hub \S+\) started, pid (\d+)")
START_MS = 60_000  # a worker imports the whole app in a fresh interpreter: slow when loaded


def worker_pids(hub: HubProcess) -> dict[int, int]:
    """The pid of each worker's latest start, from the supervisor's log."""
    pids: dict[int, int] = {}
    for line in hub.log:
        match = STARTED.search(line)
        if match:
            pids[int(match.group(1))] = int(match.group(2))
    return pids


def gone(pid: int) -> bool:
    """The process has exited (a zombie waiting for its reaper counts as exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


async def serving(hub: HubProcess, starts: int = 1) -> None:
    """Until every worker has finished its startup ``starts`` times."""
    def ready() -> bool:
        return all(sum(f"Tether hub {hub_id} serving" in line for line in hub.log) >= starts
                   for hub_id in WORKERS)

    await eventually(ready, timeout_ms=START_MS, what="every worker serving")


async def logged(hub: HubProcess, prefix: str, text: str) -> None:
    """Until a line that starts with ``prefix`` (a worker's ``[hub id]``) says ``text``."""
    await eventually(
        lambda: any(line.startswith(prefix) and text in line for line in hub.log),
        timeout_ms=START_MS, what=f"{prefix}... {text!r} in the log",
    )


async def runners(redis_url: str) -> dict[str, tuple[str, float]]:
    """Each unfinished session's runner and lease expiry, as the store holds them."""
    store = RedisStore(redis_url, client_name="test")
    try:
        return {sid: (runner, expires) for sid, runner, expires in await store.leases()}
    finally:
        await store.close()


async def tether_hubs(redis_url: str) -> dict[str, int]:
    """``tether hubs``, as an operator runs it: sessions held by each hub id."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tether", "hubs", "--redis", redis_url,
        stdout=asyncio.subprocess.PIPE, env={**os.environ, "TETHER_REDIS_URL": ""},
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 30_000 * MS)
    assert proc.returncode == 0
    return {row["hub"]: row["sessions"] for row in map(json.loads, out.decode().splitlines())}


async def start_on_both(person: Person, hub: HubProcess, redis_url: str) -> dict[str, str]:
    """Start durable sessions until both workers run some; session id -> its hub id.
    Each start is a new connection, which the kernel gives to whichever worker takes it."""
    sessions: dict[str, str] = {}
    while set(sessions.values()) != set(WORKERS):
        assert len(sessions) < 20, f"20 starts all landed on one worker: {sessions}"
        session_id = await person.start(hub, "durable", {"counter_url": redis_url})
        sessions[session_id] = (await runners(redis_url))[session_id][0]
    for session_id in sessions:
        await person.pending(hub, session_id, "input", timeout_ms=20_000)
    return sessions


async def finish(person: Person, hub: HubProcess, redis_url: str, session_id: str,
                 follower: Follower | None = None) -> None:
    """Answer both questions; the run completes with every step once and nothing asked
    twice, and a follower saw each event once."""
    for kind, value in (("input", NAME), ("retry", True)):
        request = await person.pending(hub, session_id, kind, timeout_ms=20_000)
        assert (await person.answer(hub, session_id, request["request_id"], value)).is_success
    session = await person.finished(hub, session_id, timeout_ms=30_000)
    assert session["status"] == "completed", session
    log = await person.events(hub, session_id)
    assert await step_calls(redis_url, session_id) == durable_calls()
    assert_asked_once(log)
    assert_emitted_once(log, lines=40, items=6)
    if follower is not None:
        await follower.wait_finished(30_000)
        await follower.stop()
        assert_exactly_once(follower.events, log)
        # Its socket was on the killed worker (dropped, no close frame) or on the other.
        assert follower.close_codes in ([], [None]), follower.close_codes


async def test_a_killed_worker_starts_again_under_its_hub_id_and_resumes_its_sessions(
    hub_procs: StartHub, redis_url: str
) -> None:
    """Two workers each run sessions (``tether hubs`` lists both ids); SIGKILL one: the
    supervisor starts it again under the same id, it reclaims its sessions at once (the
    long lease keeps the other worker from adopting them first), every session completes
    with every event seen once; then SIGTERM stops the supervisor and both workers."""
    hub = hub_procs(TASKS, redis_url=redis_url, hub_id="hub-w", TETHER_WORKERS="2",
                    TETHER_LEASE_SECONDS="60")
    await serving(hub)
    person = await Person.sign_in(hub)
    sessions = await start_on_both(person, hub, redis_url)
    hubs = await tether_hubs(redis_url)
    assert hubs == {w: list(sessions.values()).count(w) for w in WORKERS}, hubs
    followers = {sid: Follower(lambda: hub.ws_url, sid, person).start() for sid in sessions}

    first = worker_pids(hub)
    os.kill(first[1], signal.SIGKILL)
    await eventually(lambda: worker_pids(hub).get(1) != first[1], timeout_ms=START_MS,
                     what="worker 1 started again")
    assert worker_pids(hub)[2] == first[2]  # the other one went on serving
    for session_id, runner in sessions.items():
        if runner == "hub-w-1":
            await logged(hub, "[hub-w-1] ",
                         f"Resuming session {session_id} (still ours after a restart)")
    for session_id in sessions:
        await finish(person, hub, redis_url, session_id, followers[session_id])

    pids = worker_pids(hub)
    assert hub.terminate(timeout=60) == 0
    assert all(gone(pid) for pid in pids.values())
    for index, hub_id in enumerate(WORKERS, start=1):
        assert any(f"Worker {index} (hub {hub_id}) stopped" in line for line in hub.log)
    assert not any("Traceback" in line for line in hub.log), "\n".join(hub.log)


async def test_sigterm_hands_every_workers_sessions_over_and_orphaned_workers_stop(
    hub_procs: StartHub, redis_url: str
) -> None:
    """SIGTERM to the supervisor while sessions wait: both workers stop, releasing every
    lease at once; a new ``--workers 2`` resumes and completes them. Then SIGKILL to the
    supervisor alone: its workers notice and stop by themselves, gracefully (they release
    the lease of the session they hold)."""
    hub = hub_procs(TASKS, redis_url=redis_url, hub_id="hub-w", TETHER_WORKERS="2")
    await serving(hub)
    person = await Person.sign_in(hub)
    sessions = await start_on_both(person, hub, redis_url)

    pids = worker_pids(hub)
    assert hub.terminate(timeout=60) == 0
    assert all(gone(pid) for pid in pids.values())
    leases = await runners(redis_url)
    assert {sid: expires for sid, (_, expires) in leases.items()} == dict.fromkeys(sessions, 0)

    hub.start()
    await serving(hub, starts=2)
    for session_id in sessions:
        await logged(hub, "[hub-w-", f"Resuming session {session_id}")
    for session_id in sessions:
        await finish(person, hub, redis_url, session_id)

    waiting = await person.start(hub, "durable", {"counter_url": redis_url})
    await person.pending(hub, waiting, "input", timeout_ms=20_000)
    pids = worker_pids(hub)
    hub.kill()  # the supervisor only
    await eventually(lambda: all(gone(pid) for pid in pids.values()), timeout_ms=START_MS,
                     what="the workers of a killed supervisor stopping")
    assert (await runners(redis_url))[waiting][1] == 0  # released: a graceful stop


async def scrapes(hub: HubProcess, count: int) -> list[Scrape]:
    """``count`` scrapes of ``/metrics``, each on a new connection (so on whichever
    worker takes it)."""
    found = []
    for _ in range(count):
        async with httpx.AsyncClient(base_url=hub.base_url, timeout=10) as http:
            found.append(await scrape(http))
    return found


def shared_dir_of(pid: int) -> Path:
    """Where a worker keeps its metrics: its ``PROMETHEUS_MULTIPROC_DIR``."""
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    found = [entry.partition(b"=")[2] for entry in environ
             if entry.startswith(b"PROMETHEUS_MULTIPROC_DIR=")]
    assert len(found) == 1, "a worker without a shared metrics directory"
    return Path(found[0].decode())


def shared_files(path: Path) -> Scrape:
    """What the workers' files hold, read as a scrape would, without asking any worker."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(path))  # type: ignore[no-untyped-call]
    return Scrape.parse(generate_latest(registry).decode())


def workers_of(found: Scrape) -> set[tuple[str, str]]:
    """``tether_hub_info``'s series: the hub id and pid of each."""
    family = found.families["tether_hub_info"]
    return {(s.labels["hub"], s.labels["pid"]) for s in family.samples}


async def test_metrics_count_every_worker_whichever_answers_the_scrape(
    hub_procs: StartHub, redis_url: str
) -> None:
    """Sessions started on both workers: every scrape, on either worker, counts all of
    them (started, and waiting once the census is shared) and lists both workers. SIGKILL
    one: its counts stay counted, and the info lists the restarted worker, not the dead
    one."""
    hub = hub_procs(TASKS, redis_url=redis_url, hub_id="hub-w", TETHER_WORKERS="2",
                    TETHER_LEASE_SECONDS="60")
    await serving(hub)
    person = await Person.sign_in(hub)
    sessions = await start_on_both(person, hub, redis_url)
    pids = worker_pids(hub)
    shared = shared_dir_of(pids[1])
    assert shared_dir_of(pids[2]) == shared
    # Before any scrape: each worker writes its census down by itself (every second).
    await eventually(
        lambda: shared_files(shared).value("tether_sessions", task="durable", status="waiting")
        == len(sessions), what="both workers' waiting sessions in the shared files",
    )

    async def counted(expected_pids: dict[int, int]) -> bool:
        for found in await scrapes(hub, 6):
            if (found.value("tether_sessions_started_total", task="durable") != len(sessions)
                    or found.value("tether_sessions", task="durable", status="waiting")
                    != len(sessions)
                    or workers_of(found) != {(f"hub-w-{i}", str(pid))
                                             for i, pid in expected_pids.items()}):
                return False
        return True

    await eventually(lambda: counted(pids), timeout_ms=10_000,
                     what="every scrape counting both workers' sessions")

    os.kill(pids[1], signal.SIGKILL)
    await eventually(lambda: worker_pids(hub).get(1) != pids[1], timeout_ms=START_MS,
                     what="worker 1 started again")
    for session_id, runner in sessions.items():
        if runner == "hub-w-1":
            await logged(hub, "[hub-w-1] ",
                         f"Resuming session {session_id} (still ours after a restart)")
    await eventually(lambda: counted(worker_pids(hub)), timeout_ms=10_000,
                     what="every scrape counting the restarted worker, not the dead one")
    assert hub.terminate(timeout=60) == 0
    assert not shared.exists(), "the supervisor leaves its metrics directory behind"


async def test_a_worker_whose_loop_hangs_is_killed_and_started_again(
    hub_procs: StartHub, redis_url: str
) -> None:
    """SIGSTOP one worker (it keeps its socket and answers nothing, like a loop stuck in
    blocking code): past TETHER_WORKER_TIMEOUT without a heartbeat the supervisor kills
    it and starts it again, its sessions resume, and the other worker is left alone."""
    hub = hub_procs(TASKS, redis_url=redis_url, hub_id="hub-w", TETHER_WORKERS="2",
                    TETHER_WORKER_TIMEOUT="3", TETHER_LEASE_SECONDS="60")
    await serving(hub)
    person = await Person.sign_in(hub)
    sessions = await start_on_both(person, hub, redis_url)
    pids = worker_pids(hub)

    os.kill(pids[1], signal.SIGSTOP)
    await logged(hub, "", f"Worker 1 (hub hub-w-1, pid {pids[1]}) sent no heartbeat")
    await eventually(lambda: worker_pids(hub).get(1) != pids[1], timeout_ms=START_MS,
                     what="worker 1 started again")
    assert gone(pids[1])
    assert worker_pids(hub)[2] == pids[2]  # the other one went on serving
    for session_id in sessions:
        await finish(person, hub, redis_url, session_id)
    assert not any(f"Worker 2 (hub hub-w-2, pid {pids[2]}) sent no heartbeat" in line
                   for line in hub.log)
    assert hub.terminate(timeout=60) == 0
