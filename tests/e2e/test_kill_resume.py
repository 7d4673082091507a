"""A hub killed with SIGKILL at every kind of place a task can be, then restarted with
the same TETHER_HUB_ID: each session resumes from its journal. Every test checks the
three guarantees of PROTOCOL.md §5 end to end, with real processes and a real Redis:

- every client, reconnecting with ``after=``, saw exactly the stored log 1..L;
- no step body ran twice (the task counts its calls in Redis), ``flaky`` ran twice
  because its first attempt fails by design;
- no question was asked twice (one request event and one answer per request id), and
  the resumed run did not re-emit what the killed run had already logged.
"""

from __future__ import annotations

import signal
import time
from datetime import datetime
from typing import Any

from tests.e2e.durable_checks import (
    KILLED_HUB,
    NAME,
    TASKS,
    StartHub,
    assert_resumed,
    finish_durable,
    start_durable,
    wait_log_line,
)
from tests.support.follow import Person, counters, journal_keys, step_calls, stored_log
from tests.support.stores import redis_and_cluster
from tests.support.timing import MS, eventually
from tether.store.connect import close_client, redis_client

# On one Redis and on a Redis Cluster.
redis_url = redis_and_cluster


async def test_kill_mid_stream_resumes_without_gap_or_duplicate(
    hub_procs: StartHub, redis_url: str
) -> None:
    """SIGKILL while the task streams: the restarted hub resumes it; the stream goes on
    from where the log ends, and the client saw every line once, in order."""
    hub = hub_procs(TASKS, redis_url=redis_url, hub_id="hub-a", TETHER_LEASE_SECONDS="1")
    person = await Person.sign_in(hub)
    lines = 150
    session_id, follower = await start_durable(
        person, hub, redis_url, lines=lines, line_seconds=0.02
    )
    await follower.wait_for("stream", content="line 30")
    hub.kill()
    at_kill = await stored_log(redis_url, session_id)
    streamed = sum(e["type"] == "stream" for e in at_kill)
    assert 30 < streamed < lines, f"the kill landed after {streamed} of {lines} lines"
    hub.start()
    log = await finish_durable(
        person, hub, session_id, follower, redis_url, close_codes=KILLED_HUB, lines=lines
    )
    assert_resumed(hub, session_id)
    assert follower.connections == 2
    # The resumed run appended to the log the killed run left, and its first line is
    # the one the killed run did not get to.
    assert log[: len(at_kill)] == at_kill
    resumed_lines = [e["content"] for e in log[len(at_kill):] if e["type"] == "stream"]
    assert resumed_lines[0] == f"line {streamed}"


async def test_kill_while_waiting_keeps_the_request_id_and_its_answer(
    hub_procs: StartHub, redis_url: str
) -> None:
    """SIGKILL while a question is open: after the restart the same request (same
    request_id) is open again, not asked anew; answering it then lets the task finish."""
    hub = hub_procs(TASKS, redis_url=redis_url, hub_id="hub-a", TETHER_LEASE_SECONDS="1")
    person = await Person.sign_in(hub)
    session_id, follower = await start_durable(person, hub, redis_url)
    before = await person.pending(hub, session_id, "input")
    await follower.wait_for("request_user_input", request_id=before["request_id"])
    hub.kill()
    hub.start()
    after = await person.pending(hub, session_id, "input")
    assert after == before  # the same request_id, prompt and created_at
    await wait_log_line(hub, f"Resuming session {session_id}")
    assert (await person.answer(hub, session_id, before["request_id"], NAME)).is_success
    await finish_durable(
        person, hub, session_id, follower, redis_url, close_codes=KILLED_HUB, answered_input=True
    )


async def test_answer_sent_while_no_hub_runs_the_session_is_applied_on_resume(
    hub_procs: StartHub, redis_url: str
) -> None:
    """An answer sent (through another hub) while the session's hub is dead and its lease
    still live is kept and applied on resume; the question is not asked again."""
    # A long lease keeps hub-b from adopting the session while we answer through it.
    hub = hub_procs(TASKS, redis_url=redis_url, hub_id="hub-a", TETHER_LEASE_SECONDS="6")
    other = hub_procs(TASKS, redis_url=redis_url, hub_id="hub-b", TETHER_LEASE_SECONDS="1")
    person = await Person.sign_in(hub)
    session_id, follower = await start_durable(person, hub, redis_url)
    request = await person.pending(hub, session_id, "input")
    hub.kill()
    response = await person.answer(other, session_id, request["request_id"], NAME)
    assert response.status_code == 200, response.text
    orphaned = await person.session(other, session_id)
    assert orphaned["pending"] == [] and orphaned["status"] == "running"
    # hub-b lets go before the lease runs out, so the restarted hub-a resumes the session.
    assert other.terminate() in (0, -signal.SIGTERM)  # uvicorn re-raises the signal
    assert not any("Resuming session" in line for line in other.log)
    hub.start()
    log = await finish_durable(
        person, hub, session_id, follower, redis_url, close_codes=KILLED_HUB,
        answered_input=True,
    )
    assert_resumed(hub, session_id)
    answered = [e for e in log if e["type"] == "request_answered"]
    assert answered[0]["request_id"] == request["request_id"] and answered[0]["value"] == NAME


async def test_kill_mid_map_does_not_rerun_finished_items_or_steps(
    hub_procs: StartHub, redis_url: str
) -> None:
    """SIGKILL in the middle of a ctx.map: items whose inner step ran keep its result,
    the rest run once, the results keep their order."""
    hub = hub_procs(TASKS, redis_url=redis_url, hub_id="hub-a", TETHER_LEASE_SECONDS="1")
    person = await Person.sign_in(hub)
    # Two items at a time, each holding its slot for 0.8 s after its step has been
    # recorded: the kill lands while items 0 and 1 sleep, never inside a step body.
    session_id, follower = await start_durable(person, hub, redis_url, item_seconds=0.8)
    request = await person.pending(hub, session_id, "input")
    assert (await person.answer(hub, session_id, request["request_id"], NAME)).is_success
    await follower.wait_for("markdown", content="item 0 done")
    await follower.wait_for("markdown", content="item 1 done")
    assert not follower.saw("markdown", content="item 2 done")
    hub.kill()
    assert await step_calls(redis_url, session_id) == {
        "prepare0": 1, "prepare1": 1, "prepare2": 1, "item0": 1, "item1": 1,
    }
    hub.start()
    await finish_durable(
        person, hub, session_id, follower, redis_url, close_codes=KILLED_HUB, answered_input=True
    )
    assert_resumed(hub, session_id)


async def test_kill_after_map_items_returned_does_not_run_them_again(
    hub_procs: StartHub, redis_url: str
) -> None:
    """SIGKILL once two of four ctx.map items have returned and been recorded, while the
    other two still run: after the restart the recorded items' bodies do not run again
    (each began and ended once across both runs), the unfinished ones run again and
    end once, and the results keep their order."""
    hub = hub_procs(TASKS, redis_url=redis_url, hub_id="hub-a", TETHER_LEASE_SECONDS="1")
    person = await Person.sign_in(hub)
    session_id = await person.start(hub, "fanned", {"counter_url": redis_url})
    began, ended = f"began:{session_id}:", f"ended:{session_id}:"

    async def quick_ones_recorded() -> bool:
        recorded = {k for k in await journal_keys(redis_url, session_id) if k.endswith("]")}
        return len(recorded) == 2 and await counters(redis_url, began) == {
            f"item{i}": 1 for i in range(4)
        }

    await eventually(quick_ones_recorded, timeout_ms=10_000, what="items 0 and 1 recorded")
    hub.kill()
    assert await counters(redis_url, ended) == {"item0": 1, "item1": 1}
    hub.start()
    await wait_log_line(hub, f"Resuming session {session_id}")

    async def slow_ones_began_again() -> bool:
        return (await counters(redis_url, began)).get("item3") == 2 and (
            await counters(redis_url, began)
        ).get("item2") == 2

    await eventually(slow_ones_began_again, timeout_ms=10_000, what="items 2, 3 to run again")
    await go(redis_url, session_id, 2)
    session = await person.finished(hub, session_id)
    assert session["status"] == "completed" and session["result"] == [0, 10, 20, 30], session
    assert await counters(redis_url, ended) == {f"item{i}": 1 for i in range(4)}
    assert await counters(redis_url, began) == {"item0": 1, "item1": 1, "item2": 2, "item3": 2}


async def go(redis_url: str, session_id: str, items: int) -> None:
    """Let ``items`` of ``fanned``'s waiting items end."""
    client = redis_client(redis_url, client_name="tether-test", max_connections=2)
    try:
        await client.rpush(f"go:{session_id}", *[1] * items)
    finally:
        await close_client(client)


async def test_kill_mid_sleep_waits_only_the_rest_after_the_resume(
    hub_procs: StartHub, redis_url: str
) -> None:
    """SIGKILL during a ctx.sleep, the hub away for half of it: the resumed run wakes when
    the first run would have (the deadline is journaled), not a whole sleep after the
    restart."""
    hub = hub_procs(TASKS, redis_url=redis_url, hub_id="hub-a", TETHER_LEASE_SECONDS="1")
    person = await Person.sign_in(hub)
    nap = 3000 * MS
    session_id = await person.start(hub, "nap", {"seconds": nap})
    await eventually(lambda: _journaled(redis_url, session_id, "sleep"), what="the sleep")
    hub.kill()
    napping = _when(_first(await stored_log(redis_url, session_id), "napping"))
    # Down for half the sleep: a resumed run that slept anew would take 1.5 naps.
    await eventually(lambda: time.time() - napping >= nap / 2, timeout_ms=nap * 1000 / MS)
    hub.start()
    back = time.time()  # the restarted hub listens; its resume comes after this
    session = await person.finished(hub, session_id)
    assert session["status"] == "completed", session
    log = await person.events(hub, session_id)
    awake = _when(_first(log, "awake"))
    slept = awake - napping
    print(f"nap of {nap:.2f} s across a kill took {slept:.2f} s")
    assert slept >= nap - 0.05, f"a {nap} s nap took {slept:.2f} s"
    # It wakes at the journaled deadline, or at once if the restart came later than that
    # (a slow machine); a run that slept anew would wake a whole nap after `back`.
    assert awake < max(napping + nap, back) + nap / 4, (
        f"a {nap} s nap took {slept:.2f} s; the hub was back after {back - napping:.2f} s"
    )
    assert [e["content"] for e in log if e["type"] == "stream"] == ["napping", "awake"]


async def test_kill_with_a_timed_request_open_keeps_its_deadline(
    hub_procs: StartHub, redis_url: str
) -> None:
    """SIGKILL while a question with a timeout is open, the hub away for half of it: after
    the restart the request has the same expires_at, and it expires then (with its
    default), not a whole timeout after the restart."""
    hub = hub_procs(TASKS, redis_url=redis_url, hub_id="hub-a", TETHER_LEASE_SECONDS="1")
    person = await Person.sign_in(hub)
    # Long enough that the restart (half of it) lands before the deadline on a busy machine.
    timeout = 6000 * MS
    session_id = await person.start(hub, "deadline", {"seconds": timeout})
    before = await person.pending(hub, session_id, "input")
    hub.kill()
    expires_at = _when({"ts": before["expires_at"]})
    opened = _when({"ts": before["created_at"]})
    assert abs(expires_at - opened - timeout) < 0.01, before
    await eventually(lambda: time.time() - opened >= timeout / 2,
                     timeout_ms=timeout * 1000 / MS)
    hub.start()
    back = time.time()
    if back < expires_at - 1:  # a busy machine may take longer than that to restart
        after = await person.pending(hub, session_id, "input")
        assert after == before  # the same request id, created_at and expires_at
    session = await person.finished(hub, session_id)
    assert session["status"] == "completed" and session["result"] == "nobody", session
    log = await person.events(hub, session_id)
    [expired] = [e for e in log if e["type"] == "request_expired"]
    assert expired["request_id"] == before["request_id"]
    # It expires at its deadline, or at once when the hub came back later than that; a
    # resumed run that started a new timeout would expire a whole timeout after `back`.
    late = _when(expired) - max(expires_at, back)
    print(f"expired {_when(expired) - expires_at:.3f} s after its deadline, "
          f"the hub back {back - opened:.2f} s after it opened")
    assert _when(expired) >= expires_at, "expired before its deadline"
    assert late < timeout / 4, f"expired {late:.2f} s later than it should"


async def _journaled(redis_url: str, session_id: str, kind: str) -> bool:
    return any(key.startswith(kind) for key in await journal_keys(redis_url, session_id))


def _first(log: list[dict[str, Any]], content: str) -> dict[str, Any]:
    return next(e for e in log if e["type"] == "stream" and e["content"] == content)


def _when(event: dict[str, Any]) -> float:
    """An event's ``ts`` as a POSIX time (the hub's clock is this machine's)."""
    return datetime.fromisoformat(str(event["ts"]).replace("Z", "+00:00")).timestamp()


async def test_kill_with_a_retry_offer_open_keeps_the_offer_and_the_failed_attempt(
    hub_procs: StartHub, redis_url: str
) -> None:
    """SIGKILL while a retry offer is open: the same offer is open after the restart, the
    failed attempt is not run again, and retrying runs the step's second attempt once."""
    hub = hub_procs(TASKS, redis_url=redis_url, hub_id="hub-a", TETHER_LEASE_SECONDS="1")
    person = await Person.sign_in(hub)
    session_id, follower = await start_durable(person, hub, redis_url)
    request = await person.pending(hub, session_id, "input")
    assert (await person.answer(hub, session_id, request["request_id"], NAME)).is_success
    offer = await person.pending(hub, session_id, "retry", timeout_ms=15_000)
    await follower.wait_for("task_failed", request_id=offer["request_id"])
    hub.kill()
    assert (await step_calls(redis_url, session_id))["flaky"] == 1
    hub.start()
    assert await person.pending(hub, session_id, "retry") == offer
    await wait_log_line(hub, f"Resuming session {session_id}")
    assert (await person.answer(hub, session_id, offer["request_id"], True)).is_success
    await finish_durable(
        person, hub, session_id, follower, redis_url, close_codes=KILLED_HUB,
        answered_input=True, answered_retry=True,
    )


async def test_changed_task_code_on_resume_fails_with_nondeterminism(
    hub_procs: StartHub, redis_url: str
) -> None:
    """A hub restarted with different task code under a paused session ends it `failed`
    with a Nondeterminism error naming the journal key where the code diverged."""
    hub = hub_procs(TASKS, redis_url=redis_url, hub_id="hub-a", TETHER_LEASE_SECONDS="1",
                    TETHER_E2E_VARIANT="a")
    person = await Person.sign_in(hub)
    session_id = await person.start(hub, "changing", {})
    await person.pending(hub, session_id, "input")
    hub.kill()
    hub.env["TETHER_E2E_VARIANT"] = "b"
    hub.start()
    session = await person.finished(hub, session_id)
    assert session["status"] == "failed", session
    assert session["error"]["type"] == "Nondeterminism"
    message = session["error"]["message"]
    assert "step1" in message and "'one'" in message and "'two'" in message, message
    log = await person.events(hub, session_id)
    assert [e["type"] for e in log][-2:] == ["task_failed", "status"]


async def test_a_hub_restarted_with_its_id_reclaims_at_once(
    hub_procs: StartHub, redis_url: str
) -> None:
    """A hub restarted with the same TETHER_HUB_ID resumes its sessions as it starts,
    without waiting out their (here 60 s) leases."""
    hub = hub_procs(TASKS, redis_url=redis_url, hub_id="hub-a", TETHER_LEASE_SECONDS="60")
    person = await Person.sign_in(hub)
    lines = 60
    session_id, follower = await start_durable(
        person, hub, redis_url, lines=lines, line_seconds=0.02
    )
    await follower.wait_for("stream", content="line 10")
    hub.kill()
    started = time.monotonic()
    hub.start()
    await wait_log_line(hub, f"Resuming session {session_id}")
    assert time.monotonic() - started < 15  # far less than the 60 s lease
    await finish_durable(
        person, hub, session_id, follower, redis_url, close_codes=KILLED_HUB, lines=lines
    )


async def test_kill_before_a_reminder_fires_it_once_after_the_restart(
    hub_procs: StartHub, redis_url: str
) -> None:
    """SIGKILL while a question waits for its reminder and its escalation, the hub away
    past the reminder's time: the restarted hub reminds once, then escalates once, at
    their times from when the question opened (not from the restart)."""
    hub = hub_procs(TASKS, redis_url=redis_url, hub_id="hub-a", TETHER_LEASE_SECONDS="1")
    person = await Person.sign_in(hub)
    remind, escalate = 1500 * MS, 3000 * MS
    session_id = await person.start(hub, "nudged", {"remind": remind, "escalate": escalate})
    before = await person.pending(hub, session_id, "confirm")
    hub.kill()
    opened = _when({"ts": before["created_at"]})
    await eventually(lambda: time.time() - opened >= remind, timeout_ms=remind * 2 / MS)
    hub.start()

    async def escalated() -> bool:
        return any(e["type"] == "request_escalated" for e in await person.events(hub, session_id))

    await eventually(escalated, timeout_ms=escalate * 4 / MS)
    after = await person.pending(hub, session_id, "confirm")
    assert after["request_id"] == before["request_id"]
    owner = (await person.session(hub, session_id))["owner"]
    assert after["assignees"] == [owner, "user:bob"], after
    assert after["reminded_at"] and after["escalated_at"]
    await person.answer(hub, session_id, before["request_id"], True)
    session = await person.finished(hub, session_id)
    assert session["status"] == "completed" and session["result"] is True
    log = await person.events(hub, session_id)
    [reminder] = [e for e in log if e["type"] == "request_reminder"]
    [escalation] = [e for e in log if e["type"] == "request_escalated"]
    assert escalation["added"] == ["user:bob"]
    assert _when(reminder) >= opened + remind and _when(escalation) >= opened + escalate
