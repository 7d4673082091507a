"""``executor="ray"`` on hubs that cannot offer it, through a real in-process hub: the
call fails at once with an error that says why, before anything is journaled, and a task
can ask which executors there are and run in the hub instead. (Steps that do run on Ray:
tests/e2e/test_ray.py.)"""

from __future__ import annotations

import time
from typing import Any

from tests.support.redis_proc import free_port
from tests.support.server import new_user, run_hub
from tests.support.tabs import all_events, wait_status
from tests.unit.executor_fns import double
from tether import Context, Hub
from tether.config import Settings
from tether.errors import ExecutorUnavailable

hub_def = Hub()


@hub_def.task()
async def on_ray(ctx: Context) -> int:
    return await ctx.step("double", double, 21, executor="ray")


@hub_def.task()
async def lambda_on_ray(ctx: Context) -> int:
    return await ctx.step("bad", lambda: 1, executor="ray")


@hub_def.task()
async def wherever(ctx: Context) -> dict[str, Any]:
    """Runs on Ray when the hub offers it, in the hub otherwise; and a caught refusal."""
    where = "ray" if "ray" in ctx.executors else None
    value = await ctx.step("double", double, 21, executor=where)
    try:
        await ctx.map(double, [1, 2], executor="ray")
        refused = ""
    except ExecutorUnavailable as exc:
        refused = exc.reason
    return {"executors": sorted(ctx.executors), "value": value, "refused": refused}


@hub_def.task()
async def options_alone(ctx: Context) -> int:
    return await ctx.step("double", double, 21, ray_options={"num_cpus": 2})


async def failure(settings: Settings, task: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    async with run_hub(settings, hub_def) as hub, new_user(hub) as user:
        session = await user.start(task)
        final = await wait_status(user, session["id"])
        return final, await all_events(user, session["id"])


def failed_event(events: list[dict[str, Any]]) -> dict[str, Any]:
    return next(e for e in events if e["type"] == "task_failed")


async def test_ray_without_an_address_fails_at_the_call_naming_the_variable() -> None:
    final, events = await failure(Settings(static_dir=None), "on_ray")
    assert final["status"] == "failed"
    event = failed_event(events)
    assert event["error_type"] == "ExecutorUnavailable"
    assert "TETHER_RAY_ADDRESS is not set" in event["error"]


async def test_a_lambda_is_refused_before_the_hub_is_asked() -> None:
    final, events = await failure(Settings(static_dir=None), "lambda_on_ray")
    assert final["status"] == "failed"
    event = failed_event(events)
    assert event["error_type"] == "NotImportable"
    assert "is a lambda" in event["error"]


async def test_ray_options_without_an_executor_are_refused() -> None:
    final, events = await failure(Settings(static_dir=None), "options_alone")
    assert final["status"] == "failed"
    assert "ray_options need executor='ray'" in failed_event(events)["error"]


async def test_a_task_can_see_what_is_offered_and_run_in_the_hub() -> None:
    async with run_hub(Settings(static_dir=None), hub_def) as hub, new_user(hub) as user:
        session = await user.start("wherever")
        final = await wait_status(user, session["id"])
    assert final["status"] == "completed", final
    assert final["result"]["executors"] == [] and final["result"]["value"] == 42
    assert "TETHER_RAY_ADDRESS" in final["result"]["refused"]


async def test_an_unreachable_cluster_fails_the_step_quickly_and_says_where() -> None:
    """Nothing listens at the address: the step fails within seconds with
    ExecutorUnavailable naming it (Ray's own connect would retry for minutes)."""
    address = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    final, events = await failure(Settings(static_dir=None, ray_address=address), "on_ray")
    assert final["status"] == "failed"
    event = failed_event(events)
    assert event["error_type"] == "ExecutorUnavailable"
    assert address in event["error"] and "cannot connect" in event["error"]
    assert time.monotonic() - started < 30
