"""Parked sessions on a real hub (memory store and Redis): a session that only waits for
a person gives its runner up after ``TETHER_PARK_AFTER`` seconds and runs again from its
journal when answered, cancelled or due, without running a step twice, asking again, or
writing an event twice, not even what the task's ``finally`` writes while it unwinds."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import BaseModel

from tests.support.scrape import scrape
from tests.support.server import RunningHub, User, new_user, run_hub, same_user_on
from tests.support.tabs import all_events, answer, wait_pending, wait_status
from tests.support.timing import eventually
from tether.config import Settings
from tether.context import Context
from tether.hub import Hub

PARK_AFTER = 0.2
hub_def = Hub()
steps_run: Counter[str] = Counter()


def count_step(name: str) -> str:
    steps_run[name] += 1
    return f"done {name}"


class Key(BaseModel):
    key: str


@hub_def.task(title="Approve")
async def approve(ctx: Context, inputs: Key) -> str:
    """A step, a line, a question; a line and a finally block after."""
    try:
        done = await ctx.step("work", count_step, inputs.key)
        await ctx.stream(f"before: {done}\n")
        approved = await ctx.confirm("Go on?")
        await ctx.stream(f"after: {approved}\n")
        return "yes" if approved else "no"
    finally:
        await ctx.stream("cleanup\n")


class Deadline(BaseModel):
    seconds: float


@hub_def.task(title="Deadline")
async def deadline(ctx: Context, inputs: Deadline) -> bool:
    return await ctx.confirm("In time?", timeout=inputs.seconds, default=False)


@hub_def.task(title="Side by side")
async def side_by_side(ctx: Context) -> list[Any]:
    """Asks from a child task (gather) while a sleep runs beside it: never parked."""
    return list(await asyncio.gather(ctx.confirm("Child asks"), asyncio.sleep(3600)))


@hub_def.task(title="Asks in a step")
async def asks_in_step(ctx: Context, inputs: Key) -> bool:
    """A step whose body asks: parked, its body would run again."""
    async def body() -> bool:
        steps_run[inputs.key] += 1
        return await ctx.confirm("Inside the step?")
    return await ctx.step("inside", body)


def settings_for(store_url: str | None, **more: Any) -> Settings:
    return Settings(redis_url=store_url, static_dir=None, park_after=PARK_AFTER, **more)


@pytest.fixture
async def hub(store_url: str | None) -> AsyncIterator[RunningHub]:
    async with run_hub(settings_for(store_url), hub_def) as running:
        yield running


@pytest.fixture
async def user(hub: RunningHub) -> AsyncIterator[User]:
    async with new_user(hub) as user:
        yield user


async def parked(user: User) -> float:
    return (await scrape(user.http)).value("tether_sessions_parked_total")


async def wait_parked(user: User, count: float) -> None:
    async def enough() -> bool:
        return await parked(user) >= count
    await eventually(enough, what=f"{count} parked sessions")


async def test_a_parked_session_resumes_on_its_answer_without_repeating_anything(
    user: User,
) -> None:
    key = f"answered-{id(user)}"
    session = await user.start("approve", {"key": key})
    sid = session["id"]
    (request,) = await wait_pending(user, sid, "confirm")
    await wait_parked(user, 1)
    waiting = await wait_status(user, sid, ("waiting",))
    assert [r["request_id"] for r in waiting["pending"]] == [request["request_id"]]

    response = await answer(user, sid, request["request_id"], True)
    assert response.status_code == 200, response.text
    done = await wait_status(user, sid)
    assert (done["status"], done["result"]) == ("completed", "yes")
    events = await all_events(user, sid)
    lines = [e["content"] for e in events if e["type"] == "stream"]
    assert lines == [f"before: done {key}\n", "after: True\n", "cleanup\n"]
    assert sum(e["type"] == "request_confirmation" for e in events) == 1
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert steps_run[key] == 1


async def test_a_parked_session_is_cancelled_when_asked(user: User) -> None:
    session = await user.start("approve", {"key": f"cancelled-{id(user)}"})
    sid = session["id"]
    await wait_pending(user, sid, "confirm")
    await wait_parked(user, 1)
    response = await user.http.post(f"/api/sessions/{sid}/cancel")
    assert response.status_code == 202, response.text
    done = await wait_status(user, sid)
    assert done["status"] == "cancelled"
    lines = [e["content"] for e in await all_events(user, sid) if e["type"] == "stream"]
    assert lines.count("cleanup\n") == 1  # from the cancelled run, not from parking


async def test_a_parked_session_wakes_at_its_deadline(user: User) -> None:
    session = await user.start("deadline", {"seconds": PARK_AFTER * 4})
    sid = session["id"]
    await wait_parked(user, 1)
    done = await wait_status(user, sid, timeout_ms=10_000)
    assert (done["status"], done["result"]) == ("completed", False)
    events = await all_events(user, sid)
    assert [e["type"] for e in events].count("request_expired") == 1


async def test_only_a_task_awaiting_the_answer_itself_is_parked(user: User) -> None:
    beside = await user.start("side_by_side")
    await wait_pending(user, beside["id"], "confirm")
    plain = await user.start("approve", {"key": f"plain-{id(user)}"})
    (request,) = await wait_pending(user, plain["id"], "confirm")
    await wait_parked(user, 1)  # the sweep that parked it looked at both
    assert await parked(user) == 1
    (child,) = await wait_pending(user, beside["id"], "confirm")
    assert (await answer(user, beside["id"], child["request_id"], True)).status_code == 200
    await user.http.post(f"/api/sessions/{beside['id']}/cancel")
    assert (await wait_status(user, beside["id"]))["status"] == "cancelled"
    assert (await answer(user, plain["id"], request["request_id"], False)).status_code == 200
    assert (await wait_status(user, plain["id"]))["result"] == "no"


async def test_a_stopping_hub_lets_its_parked_sessions_go_to_another(redis_url: str) -> None:
    """A parked session's lease is this hub's, renewed with the others and released when
    the hub stops: the other hub (whose leases would take 60 s to lapse) resumes it at
    once, and the answer given there completes it."""
    async with run_hub(settings_for(redis_url, lease_seconds=60), hub_def) as hub_b:
        async with run_hub(settings_for(redis_url, lease_seconds=60), hub_def) as hub_a:
            async with new_user(hub_a) as user_a:
                session = await user_a.start("approve", {"key": "handed-over"})
                sid = session["id"]
                (request,) = await wait_pending(user_a, sid, "confirm")
                await wait_parked(user_a, 1)
                async with same_user_on(hub_b, user_a) as user_b:
                    await hub_a.stop()
                    takeovers = "tether_lease_takeovers_total"

                    async def adopted() -> bool:
                        return (await scrape(user_b.http)).value(takeovers) >= 1
                    await eventually(adopted, timeout_ms=10_000, what="hub b to adopt it")
                    response = await answer(user_b, sid, request["request_id"], True)
                    assert response.status_code == 200, response.text
                    done = await wait_status(user_b, sid)
                    assert done["status"] == "completed"


async def test_a_step_whose_body_asks_is_not_parked_and_runs_once(user: User) -> None:
    key = f"in-step-{id(user)}"
    inside = await user.start("asks_in_step", {"key": key})
    (asked,) = await wait_pending(user, inside["id"], "confirm")
    plain = await user.start("approve", {"key": f"beside-{id(user)}"})
    await wait_pending(user, plain["id"], "confirm")
    await wait_parked(user, 1)  # the sweep that parked the plain one looked at both
    assert await parked(user) == 1
    assert (await answer(user, inside["id"], asked["request_id"], True)).status_code == 200
    done = await wait_status(user, inside["id"])
    assert (done["status"], done["result"]) == ("completed", True)
    assert steps_run[key] == 1
