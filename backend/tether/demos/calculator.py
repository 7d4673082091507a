"""``calculator``: a batch of independent jobs fanned out with ``ctx.map``."""

from __future__ import annotations

import random
from typing import Any

from pydantic import BaseModel, Field

from tether.context import Context
from tether.hub import Hub


class CalculatorInputs(BaseModel):
    tasks: int = Field(10, ge=1, le=500, description="How many jobs to run")
    max_seconds: float = Field(1.0, ge=0, le=60, description="Longest a job may take")
    concurrency: int = Field(8, ge=1, le=64, description="Jobs running at once")


def register(hub: Hub) -> None:
    @hub.task(
        title="Calculator",
        description="Runs a batch of jobs in parallel and reports each result as it lands.",
    )
    async def calculator(ctx: Context, inputs: CalculatorInputs) -> list[dict[str, Any]]:
        await ctx.progress(0, inputs.tasks, label="Jobs done")

        async def job(item_ctx: Context, index: int) -> dict[str, Any]:
            # Drawn in a step and slept with ctx.sleep: a resumed session replays the same
            # draw and waits only for what is left.
            seconds = round(await item_ctx.step("draw", random.uniform, 0, inputs.max_seconds), 3)
            await item_ctx.sleep(seconds)
            record = {"job": index, "seconds": seconds, "value": index * index}
            await item_ctx.markdown(f"have results `{record}`")
            return record

        results = await ctx.map(
            job, range(inputs.tasks), concurrency=inputs.concurrency, progress="Jobs done"
        )
        await ctx.markdown(f"**All {len(results)} jobs finished.**")
        return results
