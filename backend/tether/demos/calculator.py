"""``calculator``: a batch of independent jobs fanned out with ``ctx.map``.

On a hub with ``TETHER_RAY_ADDRESS`` the jobs run as Ray tasks on the cluster
(:func:`calculate`, reporting back with :mod:`tether.worker`); elsewhere they run in the
hub's event loop. Either way each result is journaled as it lands, so a resumed session
does not run a finished job again.
"""

from __future__ import annotations

import os
import random
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, Field

from tether import worker
from tether.context import Context
from tether.hub import Hub

DESCRIPTION = """\
Runs a batch of jobs in parallel and reports each result as it lands. Each job takes
between a third of the longest time and the longest (1 to 3 s by default).

On a hub with a Ray cluster (`TETHER_RAY_ADDRESS`) the jobs run there, and how many run
at once is also bounded by the size of the cluster; otherwise they run in the hub.
"""


class CalculatorInputs(BaseModel):
    tasks: int = Field(10, ge=1, le=500, description="How many jobs to run")
    max_seconds: float = Field(3.0, ge=0, le=60, description="Longest a job may take")
    concurrency: int = Field(8, ge=1, le=64, description="Jobs running at once")


class Job(BaseModel):
    """One job as it travels to a Ray worker."""

    index: int
    max_seconds: float


def draw_seconds(max_seconds: float) -> float:
    """How long a job takes: between a third of ``max_seconds`` and all of it."""
    return round(random.uniform(max_seconds / 3, max_seconds), 3)


def calculate(job: Job) -> dict[str, Any]:
    """A job on a Ray worker: the heavy lifting is a sleep, as in the agent-service
    workflow's calculator; it says where it runs, and its result, as it goes."""
    seconds = draw_seconds(job.max_seconds)
    worker.stream(f"job {job.index} runs on {socket.gethostname()} (pid {os.getpid()})")
    time.sleep(seconds)
    record = {"job": job.index, "seconds": seconds, "value": job.index * job.index}
    worker.markdown(f"have results `{record}`")
    return record


def register(hub: Hub) -> None:
    @hub.task(title="Calculator", description=DESCRIPTION)
    async def calculator(ctx: Context, inputs: CalculatorInputs) -> list[dict[str, Any]]:
        await ctx.progress(0, inputs.tasks, label="Jobs done")
        if "ray" in ctx.executors:
            jobs = [Job(index=i, max_seconds=inputs.max_seconds) for i in range(inputs.tasks)]
            results = await ctx.map(
                calculate, jobs, concurrency=inputs.concurrency, progress="Jobs done",
                executor="ray",
            )
        else:
            results = await ctx.map(
                _local_job(inputs), range(inputs.tasks), concurrency=inputs.concurrency,
                progress="Jobs done",
            )
        await ctx.markdown(f"**All {len(results)} jobs finished.**")
        return results


def _local_job(
    inputs: CalculatorInputs,
) -> Callable[[Context, int], Awaitable[dict[str, Any]]]:
    """A job in the hub's event loop (no cluster)."""

    async def job(item_ctx: Context, index: int) -> dict[str, Any]:
        # Drawn in a step and slept with ctx.sleep: a resumed session replays the same
        # draw and waits only for what is left.
        seconds = await item_ctx.step("draw", draw_seconds, inputs.max_seconds)
        await item_ctx.sleep(seconds)
        record = {"job": index, "seconds": seconds, "value": index * index}
        await item_ctx.markdown(f"have results `{record}`")
        return record

    return job
