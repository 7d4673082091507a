"""What the durability tests share: driving ``durable_tasks.durable`` to its end through
any hub process, and checking afterwards that nothing was lost, repeated or re-run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.support.follow import (
    Follower,
    Person,
    Reachable,
    assert_asked_once,
    assert_exactly_once,
    durable_calls,
    step_calls,
)
from tests.support.hub_proc import HubProcess
from tests.support.timing import eventually

TASKS = "tests.e2e.durable_tasks:hub"
StartHub = Callable[..., HubProcess]
NAME = {"name": "Ada"}
# What a follower of a hub killed with SIGKILL records: its one connection drops without
# a close frame (None); its attempts while no hub listens fail to connect (failed
# connects, not closes), and the restarted hub serves it to the end.
KILLED_HUB: list[int | None] = [None]


async def start_durable(
    person: Person, hub: HubProcess, redis_url: str, **inputs: Any
) -> tuple[str, Follower]:
    session_id = await person.start(hub, "durable", {"counter_url": redis_url, **inputs})
    follower = Follower(lambda: hub.ws_url, session_id, person).start()
    return session_id, follower


async def finish_durable(
    person: Person, hub: Reachable, session_id: str, follower: Follower, redis_url: str,
    *, close_codes: list[int | None], lines: int = 40, items: int = 6,
    answered_input: bool = False, answered_retry: bool = False,
) -> list[dict[str, Any]]:
    """Answer what is still open, wait for the end, then check everything, including that
    the follower's connections ended with exactly ``close_codes``. Returns the log."""
    if not answered_input:
        request = await person.pending(hub, session_id, "input")
        assert (await person.answer(hub, session_id, request["request_id"], NAME)).is_success
    if not answered_retry:
        request = await person.pending(hub, session_id, "retry")
        assert (await person.answer(hub, session_id, request["request_id"], True)).is_success
    session = await person.finished(hub, session_id)
    await follower.wait_finished()
    await follower.stop()
    assert session["status"] == "completed", session
    assert session["result"] == {
        "name": "Ada", "squares": [i * i for i in range(items)], "flaky_calls": 2,
    }
    log = await person.events(hub, session_id)
    assert_exactly_once(follower.events, log)
    assert follower.close_codes == close_codes
    assert await step_calls(redis_url, session_id) == durable_calls(items=items)
    assert_asked_once(log)
    assert_emitted_once(log, lines=lines, items=items)
    return log


def assert_emitted_once(log: list[dict[str, Any]], *, lines: int, items: int) -> None:
    """The resumed run skipped the emits the killed run had logged: each line once."""
    streamed = [e["content"] for e in log if e["type"] == "stream"]
    assert streamed == [f"line {i}" for i in range(lines)]
    shown = sorted(e["content"] for e in log if e["type"] == "markdown")
    assert shown == sorted(f"item {i} done" for i in range(items))


def assert_resumed(hub: HubProcess, session_id: str) -> None:
    assert any(f"Resuming session {session_id}" in line for line in hub.log), hub.log[-20:]


async def wait_log_line(hub: HubProcess, text: str) -> None:
    await eventually(lambda: any(text in line for line in hub.log), timeout_ms=10_000,
                     what=f"{text!r} in the hub's log")
