"""The task API end to end: cancelling, parallel requests, timeouts, retries, failures and
the journal, through a real hub on Redis (and the memory store where it is cheap)."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import Any

from pydantic import BaseModel

from tests.support.server import User, new_user, run_hub
from tests.support.tabs import Tab, all_events, answer, get_session, wait_pending, wait_status
from tether import Context, Hub, Retry
from tether.config import Settings
from tether.store.redis import RedisStore

hub_def = Hub()


class Items(BaseModel):
    items: list[str] = ["a", "b", "c"]


class Timing(BaseModel):
    seconds: float = 0.2
    with_default: bool = True


@hub_def.task()
async def wait_forever(ctx: Context) -> None:
    """Streams a line, then sleeps until cancelled."""
    await ctx.stream("sleeping")
    await asyncio.Event().wait()


# Per session: set by a test to let ``slow_to_cancel`` finish cleaning up.
cleanup_done: dict[str, asyncio.Event] = {}


@hub_def.task()
async def slow_to_cancel(ctx: Context) -> None:
    """Sleeps until cancelled, then cleans up until the test lets it finish."""
    await ctx.stream("sleeping")
    try:
        await asyncio.Event().wait()
    finally:
        await ctx.stream("cleaning up")
        await cleanup_done.setdefault(ctx.session_id, asyncio.Event()).wait()


@hub_def.task()
async def confirm_each(ctx: Context, inputs: Items) -> list[bool]:
    """One confirmation per item, all open at once (ctx.map), results in item order."""

    async def one(item_ctx: Context, item: str) -> bool:
        return await item_ctx.confirm(f"Keep {item}?")

    return await ctx.map(one, inputs.items, concurrency=len(inputs.items))


@hub_def.task()
async def ask_with_timeout(ctx: Context, inputs: Timing) -> dict[str, Any]:
    """Asks with a short timeout; with_default picks whether a default is given."""
    fields = [{"name": "name", "description": "Your name", "type": "string",
               "required": True}]
    if inputs.with_default:
        value = await ctx.ask(fields, prompt="Name?", timeout=inputs.seconds,
                              default={"name": "nobody"})
    else:
        value = await ctx.ask(fields, prompt="Name?", timeout=inputs.seconds)
    return dict(value)


@hub_def.task()
async def flaky_step(ctx: Context) -> dict[str, Any]:
    """A step that fails twice and then works, retried on its own with backoff."""
    calls: list[float] = []

    def call() -> int:
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise ConnectionResetError(f"flaky {len(calls)}")
        return len(calls)

    result = await ctx.step("flaky", call, retry=Retry(attempts=3, backoff=0.05))
    gaps = [round(b - a, 3) for a, b in itertools.pairwise(calls)]
    return {"result": result, "gaps": gaps}


@hub_def.task()
async def always_failing_step(ctx: Context) -> None:
    """A step that never works: after its attempts the session fails."""

    def call() -> None:
        raise ValueError("still broken")

    await ctx.step("broken", call, retry=Retry(attempts=2, backoff=0.01))


@hub_def.task()
async def broken_step_asks(ctx: Context) -> None:
    """A step that never works, asking whether to retry after each failure."""

    def call() -> None:
        raise ValueError("still broken")

    await ctx.step("broken", call, retry=Retry(attempts=3, ask=True))


@hub_def.task()
async def cancels_itself(ctx: Context) -> None:
    """Ends itself cancelled, with a reason of its own."""
    await ctx.stream("giving up")
    ctx.cancel("nothing to do")


@hub_def.task()
async def raises(ctx: Context) -> None:
    """Raises straight away."""
    await ctx.stream("about to fail")
    raise KeyError("missing thing")


@hub_def.task()
async def steps(ctx: Context) -> int:
    """Two recorded steps, a sync one and an async one."""

    async def double(x: int) -> int:
        # A step function that really awaits something (a worker thread here).
        return await asyncio.to_thread(lambda: x * 2)

    a = await ctx.step("first", lambda: {"value": 21})
    b = await ctx.step("second", double, a["value"])
    return int(b)


async def test_cancel_over_websocket_reaches_every_tab(user: User) -> None:
    """A cancel frame from one tab ends the session cancelled; all tabs see task_cancelled."""
    session = await user.start("wait_forever")
    tabs = [await Tab.open(user, session["id"]) for _ in range(3)]
    for tab in tabs:
        await tab.seen_or_until("stream", content="sleeping")
    await tabs[2].send(type="cancel", ref="stop")
    ack = await tabs[2].until("ack")
    assert ack["ref"] == "stop"
    for tab in tabs:
        cancelled = await tab.seen_or_until("task_cancelled")
        assert cancelled["reason"] == "cancelled" and cancelled["by"] == session["owner"]
        await tab.seen_or_until("status", status="cancelled")
    final = await get_session(user, session["id"])
    assert final["status"] == "cancelled"
    assert (final["cancel_reason"], final["cancelled_by"]) == ("cancelled", session["owner"])


async def test_cancel_over_http_reaches_every_tab(user: User) -> None:
    """POST .../cancel answers 202; tabs see task_cancelled; once ended, 409."""
    session = await user.start("confirm_each")
    sid = session["id"]
    tabs = [await Tab.open(user, sid) for _ in range(2)]
    await wait_pending(user, sid, "confirm", count=3)
    first = await user.http.post(f"/api/sessions/{sid}/cancel")
    assert first.status_code == 202 and first.json()["id"] == sid
    for tab in tabs:
        cancelled = await tab.until("task_cancelled")
        assert cancelled["by"] == session["owner"]
    final = await wait_status(user, sid)
    assert final["status"] == "cancelled" and final["pending"] == []
    assert (final["cancel_reason"], final["cancelled_by"]) == ("cancelled", session["owner"])
    again = await user.http.post(f"/api/sessions/{sid}/cancel")
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_finished"


async def test_a_second_cancel_while_the_task_ends_answers_202_again(user: User) -> None:
    """Cancel is idempotent: a second POST .../cancel while the task is still cleaning up
    after the first answers 202 too, and the session ends cancelled once."""
    sid = (await user.start("slow_to_cancel"))["id"]
    tab = await Tab.open(user, sid)
    await tab.seen_or_until("stream", content="sleeping")
    first = await user.http.post(f"/api/sessions/{sid}/cancel")
    assert first.status_code == 202, first.text
    await tab.until("stream", content="cleaning up")
    again = await user.http.post(f"/api/sessions/{sid}/cancel")
    assert again.status_code == 202, again.text
    assert again.json()["status"] not in ("completed", "failed", "cancelled")
    cleanup_done.setdefault(sid, asyncio.Event()).set()
    await tab.until("status", status="cancelled")
    assert len(tab.of_type("task_cancelled")) == 1
    assert (await get_session(user, sid))["status"] == "cancelled"


async def test_a_task_that_cancels_itself_names_its_reason_and_nobody(user: User) -> None:
    """ctx.cancel(reason): task_cancelled carries the reason and no ``by``; the session
    holds the reason and ``cancelled_by`` None."""
    session = await user.start("cancels_itself")
    final = await wait_status(user, session["id"])
    assert final["status"] == "cancelled"
    assert (final["cancel_reason"], final["cancelled_by"]) == ("nothing to do", None)
    (cancelled,) = [e for e in await all_events(user, session["id"])
                    if e["type"] == "task_cancelled"]
    assert cancelled["reason"] == "nothing to do" and "by" not in cancelled


async def test_parallel_requests_answered_out_of_order(user: User) -> None:
    """ctx.map opens one confirmation per item at once; answering them in reverse order
    by request_id gives results in item order; a bare confirm is refused while several
    are open."""
    session = await user.start("confirm_each", {"items": ["a", "b", "c", "d"]})
    sid = session["id"]
    tab = await Tab.open(user, sid)
    asks = [await tab.until("request_confirmation") for _ in range(4)]
    by_item = {a["prompt"][5]: a["request_id"] for a in asks}
    assert set(by_item) == {"a", "b", "c", "d"}
    assert len((await get_session(user, sid))["pending"]) == 4

    await tab.send(type="confirm", value=True, ref="ambiguous")
    error = await tab.until("error")
    assert error["code"] == "unknown_request" and error["ref"] == "ambiguous"

    answers = {"a": True, "b": False, "c": False, "d": True}
    for item in ["d", "c"]:  # two over the socket...
        await tab.send(type="confirm", request_id=by_item[item], value=answers[item])
        await tab.until("request_answered", request_id=by_item[item])
    left = [r["request_id"] for r in (await get_session(user, sid))["pending"]]
    assert sorted(left) == sorted([by_item["a"], by_item["b"]])
    for item in ["b", "a"]:  # ...and two over HTTP
        assert (await answer(user, sid, by_item[item], answers[item])).status_code == 200
    done = await tab.until("task_completed")
    assert done["result"] == [True, False, False, True]


async def test_timeout_with_default_expires_then_uses_default(user: User) -> None:
    """An unanswered ask with timeout= and default= emits request_expired, then the task
    goes on with the default; a late answer is refused."""
    session = await user.start("ask_with_timeout", {"seconds": 0.2, "with_default": True})
    sid = session["id"]
    tab = await Tab.open(user, sid)
    ask = await tab.until("request_user_input")
    assert ask["expires_at"] > ask["ts"]
    expired = await tab.until("request_expired")
    assert expired["request_id"] == ask["request_id"]
    done = await tab.until("task_completed")
    assert done["result"] == {"name": "nobody"}
    late = await answer(user, sid, ask["request_id"], {"name": "me"})
    assert late.status_code == 409


async def test_timeout_without_default_fails_clearly(user: User) -> None:
    """An unanswered ask with timeout= and no default fails the session, saying why."""
    session = await user.start("ask_with_timeout", {"seconds": 0.2, "with_default": False})
    sid = session["id"]
    tab = await Tab.open(user, sid)
    ask = await tab.until("request_user_input")
    await tab.until("request_expired", request_id=ask["request_id"])
    failed = await tab.until("task_failed")
    assert failed["can_retry"] is False
    assert "Name?" in failed["error"] and "in time" in failed["error"]
    final = await wait_status(user, sid)
    assert final["status"] == "failed"
    assert final["error"]["type"] == "RequestTimedOut" and final["pending"] == []


async def test_retry_without_ask_retries_on_its_own_with_backoff(user: User) -> None:
    """Retry(attempts=3, backoff=b) without ask: no request is opened, the step is tried
    again after b, then 2b, and the session completes."""
    session = await user.start("flaky_step")
    final = await wait_status(user, session["id"])
    assert final["status"] == "completed"
    assert final["result"]["result"] == 3
    first_gap, second_gap = final["result"]["gaps"]
    assert first_gap >= 0.045 and second_gap >= 0.095  # (rounded to ms)
    events = await all_events(user, session["id"])
    assert not any(e["type"].startswith("request_") for e in events)
    assert not any(e["type"] == "task_failed" for e in events)


async def test_step_failing_every_attempt_fails_the_session(user: User) -> None:
    """When every attempt fails the session ends failed with the last error and attempt."""
    session = await user.start("always_failing_step")
    final = await wait_status(user, session["id"])
    assert final["status"] == "failed"
    error = final["error"]
    assert (error["type"], error["message"]) == ("ValueError", "still broken")
    assert 'raise ValueError("still broken")' in error["traceback"]
    assert error["traceback"].rstrip().endswith("ValueError: still broken")
    failed = [e for e in await all_events(user, session["id"]) if e["type"] == "task_failed"]
    assert len(failed) == 1 and failed[0]["attempt"] == 2 and failed[0]["can_retry"] is False
    assert (failed[0]["error_type"], failed[0]["step"]) == ("ValueError", "broken")
    assert "traceback" not in json.dumps(failed[0])  # events go to everyone: no traceback


async def test_a_retry_offer_and_the_failure_after_it_name_the_step(user: User) -> None:
    """The retry offer's task_failed names the step and the exception's class; declining
    fails the session with a task_failed that names the step too."""
    session = await user.start("broken_step_asks")
    sid = session["id"]
    (offer,) = await wait_pending(user, sid, "retry")
    events = await all_events(user, sid)
    (offered,) = [e for e in events if e["type"] == "task_failed"]
    assert offered["can_retry"] is True and offered["request_id"] == offer["request_id"]
    assert (offered["error_type"], offered["step"], offered["attempt"]) == (
        "ValueError", "broken", 1)
    assert (await answer(user, sid, offer["request_id"], False)).status_code == 200
    final = await wait_status(user, sid)
    assert final["status"] == "failed" and final["error"]["type"] == "ValueError"
    last = [e for e in await all_events(user, sid) if e["type"] == "task_failed"][-1]
    assert (last["can_retry"], last["error_type"], last["step"]) == (False, "ValueError", "broken")


async def test_task_that_raises_ends_failed_with_the_error(user: User) -> None:
    """An exception in the task: status failed, error {type, message}, task_failed event."""
    session = await user.start("raises")
    tab = await Tab.open(user, session["id"])
    failed = await tab.until("task_failed")
    assert failed["can_retry"] is False and "missing thing" in failed["error"]
    assert "request_id" not in failed
    assert failed["error_type"] == "KeyError" and "step" not in failed  # the task's own
    final = await wait_status(user, session["id"])
    assert final["status"] == "failed" and final["result"] is None
    assert final["error"]["type"] == "KeyError"
    assert "missing thing" in final["error"]["message"]
    assert 'raise KeyError("missing thing")' in final["error"]["traceback"]


async def test_step_results_are_in_the_journal(redis_url: str) -> None:
    """ctx.step records each result, by name, in the session's journal in Redis."""
    async with run_hub(Settings(redis_url=redis_url, static_dir=None), hub_def) as running:
        async with new_user(running) as user:
            session = await user.start("steps")
            final = await wait_status(user, session["id"])
    assert final["status"] == "completed" and final["result"] == 42
    store = RedisStore(redis_url)
    try:
        journal = {k: json.loads(v) for k, v in (await store.journal(session["id"])).items()}
    finally:
        await store.close()
    steps = sorted(
        (v for v in journal.values() if v.get("kind") == "step"), key=lambda v: v["name"]
    )
    assert steps == [
        {"kind": "step", "name": "first", "result": {"value": 21}},
        {"kind": "step", "name": "second", "result": 42},
    ]
