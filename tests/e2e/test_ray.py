"""Steps and maps on a real Ray cluster: one local head for the whole run (``ray_head``),
hub processes that join it through TETHER_RAY_ADDRESS, both ways: the GCS address
(``host:port``) and Ray Client (``ray://host:port``), and task functions
(tests/e2e/ray_tasks.py) that leave files behind so the tests can count executions.

Covered: results in order with the workers' reports relayed in order, the map's
concurrency held on the cluster, ``ray_options`` reaching Ray, an async function and a
worker's exception as its own class; resume after a hub kill -9 without re-running
finished items; a cancel reaching the running Ray task; a worker killed mid-task as a
step failure offered for retry; the calculator demo on Ray; each of them through both ways
of joining, and a shared hub's graceful stop with nothing from Ray's threads in its log.
Through Ray Client only: the connection lost for good (the head's server for the hub
killed) failing the step for retry, and the retry connecting again.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.durable_checks import assert_resumed
from tests.support.follow import Frame, Person, journal_keys
from tests.support.hub_proc import HubProcess
from tests.support.ray_head import RayHead
from tests.support.redis_proc import RedisProcess
from tests.support.timing import MS, eventually, until

RAY_TASKS = "tests.e2e.ray_tasks:hub"
# The first call of a hub imports Ray, joins the cluster and starts workers: slow on a
# loaded two-core machine, so every wait here is generous.
RAY_WAIT_MS = 90_000

pytestmark = pytest.mark.timeout(360)  # the first test also waits for the head to start


# The two ways a hub joins the cluster: as a driver through the head's GCS address
# (``host:port``), or through the Ray Client server the head runs (``ray://host:port``).
JOINS = {"gcs": False, "ray-client": True}


@pytest.fixture(scope="module", params=list(JOINS))
def ray_hub(request: pytest.FixtureRequest, ray_head: RayHead) -> Iterator[HubProcess]:
    """One hub on the cluster for the tests that do not kill it (each new hub is a new
    Ray job with workers of its own to start), per way of joining; each with a Redis of
    its own (tests that use ``redis_url`` flush the common one)."""
    join: str = request.param
    redis = RedisProcess(appendonly=False)
    redis.start()
    hub = HubProcess(
        RAY_TASKS, "tether.demos:hub", redis_url=redis.url, hub_id=f"ray-hub-{join}",
        **ray_head.env(client=JOINS[join]),
    ).start()
    yield hub
    # A graceful stop runs the executor's close too (the drain loop cancelled, then
    # ray.shutdown): nothing Ray raised in its own threads may show in the log, such as
    # Ray Client completing a future that a cancelled wait had cancelled.
    code = hub.terminate(timeout=60_000 * MS)
    if hub._reader is not None:
        hub._reader.join(timeout=10_000 * MS)  # the rest of its output
    redis.stop()
    print(f"--- log of ray-hub-{join} ---", *hub.log[-60:], sep="\n")
    if JOINS[join]:
        print("--- Ray Client server logs ---", ray_head.client_server_log(), sep="\n")
    assert code in (0, -signal.SIGTERM), code  # uvicorn re-raises the signal
    assert not [line for line in hub.log if "Traceback" in line or "Callback error" in line]


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def times(path: Path) -> list[float]:
    return [float(line.split()[0]) for line in lines(path)]


def most_at_once(spans: list[tuple[float, float]]) -> int:
    """The most spans that overlap at any one moment."""
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


def of_type(
    log: list[Frame], type_: str, keep: Callable[[Frame], bool] = lambda e: True
) -> list[Frame]:
    return [e for e in log if e["type"] == type_ and keep(e)]


async def test_map_on_ray_keeps_order_relays_reports_and_holds_concurrency(
    ray_hub: HubProcess, tmp_path: Path
) -> None:
    """Six items on Ray, two at a time: results in item order; each item's three stream
    lines and progress bars arrive in the order the worker made them; never more than two
    ran at once; ``ray_options`` reached Ray; an async step and a worker's KeyError work."""
    person = await Person.sign_in(ray_hub)
    session_id = await person.start(
        ray_hub, "squares", {"marks": str(tmp_path), "items": 6, "concurrency": 2}
    )
    session = await person.finished(ray_hub, session_id, timeout_ms=RAY_WAIT_MS)
    assert session["status"] == "completed", session
    assert session["result"] == {
        "squares": [i * i for i in range(6)], "cube": 27, "refused": "KeyError missing",
    }
    log = await person.events(ray_hub, session_id)
    for i in range(6):
        streamed = of_type(log, "stream", lambda e, i=i: e["content"].startswith(f"item {i} "))
        assert [e["content"] for e in streamed] == [f"item {i} line {k}" for k in range(3)]
        bars = of_type(log, "progress", lambda e, i=i: e.get("label") == f"item {i}")
        assert [(e["done"], e["total"]) for e in bars] == [(1, 3), (2, 3), (3, 3)]
    assert any(e["content"] == "cubing 3" for e in of_type(log, "stream"))
    # The map's own progress: one per finished item, after that item's reports.
    counted = of_type(log, "progress", lambda e: e.get("label") == "squares")
    assert [e["done"] for e in counted] == [1, 2, 3, 4, 5, 6]
    last_report = max(e["seq"] for e in of_type(log, "stream") if e["content"].startswith("item"))
    assert counted[-1]["seq"] > last_report

    spans = [(times(tmp_path / f"began-{i}")[0], times(tmp_path / f"ended-{i}")[0])
             for i in range(6)]
    assert most_at_once(spans) <= 2
    assert all("'CPU': 0.5" in lines(tmp_path / f"began-{i}")[0] for i in range(6))
    assert all(len(lines(tmp_path / f"began-{i}")) == 1 for i in range(6))


@pytest.mark.parametrize("join", list(JOINS))
async def test_kill_9_mid_map_resumes_without_rerunning_finished_ray_items(
    hub_procs: Callable[..., HubProcess], ray_head: RayHead, redis_url: str, tmp_path: Path,
    join: str,
) -> None:
    """SIGKILL while items 1 and 2 run on Ray and item 0 is journaled: the restarted hub
    sends 1 and 2 again (they were running when it died) and never item 0.

    Through Ray Client the dead hub's tasks belong to its client server on the head, which
    keeps them for the reconnect grace period (30 s by default: they would finish too,
    beside the new hub's); with the grace set to 0 they stop when the connection drops."""
    client = JOINS[join]
    grace = {"RAY_CLIENT_RECONNECT_GRACE_PERIOD": "0"} if client else {}
    hub = hub_procs(RAY_TASKS, redis_url=redis_url, hub_id="ray-a", TETHER_LEASE_SECONDS="1",
                    **ray_head.env(client=client), **grace)
    person = await Person.sign_in(hub)
    session_id = await person.start(hub, "squares", {
        "marks": str(tmp_path), "items": 3, "concurrency": 2, "wait_from": 1, "hold": 0,
    })

    async def journaled_and_waiting() -> bool:
        keys = await journal_keys(redis_url, session_id)
        return "m1[0]" in keys and all(lines(tmp_path / f"began-{i}") for i in (1, 2))

    await eventually(journaled_and_waiting, timeout_ms=RAY_WAIT_MS,
                     what="item 0 journaled, items 1 and 2 running")
    hub.kill()
    hub.start()
    await eventually(
        lambda: all(len(lines(tmp_path / f"began-{i}")) == 2 for i in (1, 2)),
        timeout_ms=RAY_WAIT_MS, what="the resumed hub sending items 1 and 2 again",
    )
    for i in (1, 2):
        (tmp_path / f"go-{i}").touch()
    session = await person.finished(hub, session_id, timeout_ms=RAY_WAIT_MS)
    assert session["status"] == "completed", session
    assert session["result"]["squares"] == [0, 1, 4]
    assert_resumed(hub, session_id)
    # Finished before the kill: never sent again.
    assert len(lines(tmp_path / "began-0")) == len(lines(tmp_path / "ended-0")) == 1
    # Running at the kill: sent again, and finished once; the dead hub's own tasks were
    # stopped by the cluster (Ray ends the tasks of an owner that died: the hub itself,
    # or through Ray Client the client server's process that acted for it).
    assert [len(lines(tmp_path / f"ended-{i}")) for i in (1, 2)] == [1, 1]


async def test_cancel_reaches_the_running_ray_task(ray_hub: HubProcess, tmp_path: Path) -> None:
    """Cancelling the session interrupts the Ray task where it runs (KeyboardInterrupt on
    the worker), and it never finishes."""
    person = await Person.sign_in(ray_hub)
    session_id = await person.start(ray_hub, "held", {"marks": str(tmp_path)})
    await eventually(lambda: (tmp_path / "hold-began").exists(), timeout_ms=RAY_WAIT_MS,
                     what="the Ray task running")
    async with person.http(ray_hub) as http:
        response = await http.post(f"/api/sessions/{session_id}/cancel")
    assert response.status_code == 202, response.text
    session = await person.finished(ray_hub, session_id)
    assert session["status"] == "cancelled"
    await eventually(lambda: (tmp_path / "hold-interrupted").exists(), timeout_ms=30_000,
                     what="the Ray task interrupted")
    assert not (tmp_path / "hold-ended").exists()


async def test_a_killed_worker_is_a_step_failure_offered_for_retry(
    ray_hub: HubProcess, tmp_path: Path
) -> None:
    """SIGKILL to the worker running a step: the step fails with WorkerDied, the person is
    asked whether to retry (the step's Retry), and the retry runs on a new worker."""
    person = await Person.sign_in(ray_hub)
    session_id = await person.start(ray_hub, "fragile_step", {"marks": str(tmp_path)})

    async def worker_pid() -> int:
        found = lines(tmp_path / "fragile-pid")
        return int(found[0].split()[1]) if found else 0

    pid = await until(worker_pid, timeout_ms=RAY_WAIT_MS, what="the worker's pid")
    os.kill(pid, signal.SIGKILL)
    request = await person.pending(ray_hub, session_id, "retry", timeout_ms=30_000)
    log = await person.events(ray_hub, session_id)
    failed = of_type(log, "task_failed")
    assert failed and failed[-1]["can_retry"] and failed[-1]["error_type"] == "WorkerDied", failed
    assert (await person.answer(ray_hub, session_id, request["request_id"], True)).is_success
    session = await person.finished(ray_hub, session_id, timeout_ms=RAY_WAIT_MS)
    assert session["status"] == "completed", session
    assert session["result"] == "survived"
    assert len(lines(tmp_path / "fragile-attempts")) == 2


async def test_a_lost_ray_client_connection_fails_the_step_and_the_retry_reconnects(
    hub_procs: Callable[..., HubProcess], ray_head: RayHead, redis_url: str, tmp_path: Path
) -> None:
    """Through Ray Client, the server the head runs for the hub is killed while a step runs
    (the connection is gone for good: its reconnect grace is 0): the step fails with
    WorkerDied, the person is asked whether to retry, and the retry connects anew."""
    hub = hub_procs(RAY_TASKS, redis_url=redis_url, hub_id="ray-lost",
                    RAY_CLIENT_RECONNECT_GRACE_PERIOD="0", **ray_head.env(client=True))
    person = await Person.sign_in(hub)
    session_id = await person.start(hub, "fragile_step", {"marks": str(tmp_path)})
    await eventually(lambda: bool(lines(tmp_path / "fragile-pid")), timeout_ms=RAY_WAIT_MS,
                     what="the first attempt running")
    os.kill(ray_head.client_server_pids()[-1], signal.SIGKILL)  # this hub's: the newest
    request = await person.pending(hub, session_id, "retry", timeout_ms=30_000)
    failed = of_type(await person.events(hub, session_id), "task_failed")
    assert failed and failed[-1]["can_retry"] and failed[-1]["error_type"] == "WorkerDied", failed
    assert (await person.answer(hub, session_id, request["request_id"], True)).is_success
    session = await person.finished(hub, session_id, timeout_ms=RAY_WAIT_MS)
    assert session["status"] == "completed", session
    assert session["result"] == "survived"
    assert len(lines(tmp_path / "fragile-attempts")) == 2
    assert any("was lost; connecting again" in line for line in hub.log)


async def test_calculator_demo_runs_its_jobs_on_ray(ray_hub: HubProcess) -> None:
    """With TETHER_RAY_ADDRESS the calculator's jobs run on Ray workers (not the hub's
    process): each says where it runs and streams its result as it lands."""
    person = await Person.sign_in(ray_hub)
    session_id = await person.start(
        ray_hub, "calculator", {"tasks": 4, "max_seconds": 0.3, "concurrency": 4}
    )
    session = await person.finished(ray_hub, session_id, timeout_ms=RAY_WAIT_MS)
    assert session["status"] == "completed", session
    result: list[dict[str, Any]] = session["result"]
    assert [r["job"] for r in result] == [0, 1, 2, 3]
    assert all(r["value"] == r["job"] ** 2 and 0.1 <= r["seconds"] <= 0.3 for r in result)
    log = await person.events(ray_hub, session_id)
    shown = [e["content"] for e in of_type(log, "markdown") if "have results" in e["content"]]
    assert len(shown) == 4
    ran_on = [e["content"] for e in of_type(log, "stream") if " runs on " in e["content"]]
    assert len(ran_on) == 4
    assert ray_hub.proc is not None
    assert all(f"(pid {ray_hub.proc.pid})" not in line for line in ran_on)
    done = of_type(log, "progress", lambda e: e.get("label") == "Jobs done")
    assert done[-1]["done"] == 4
