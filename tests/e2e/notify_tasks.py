"""Tasks for the webhook delivery tests: one that ends at once, one that asks first, one
whose question reminds and escalates."""

from __future__ import annotations

from pydantic import BaseModel

from tether import Context, Hub

hub = Hub()


@hub.task(title="Quick", description="Completes at once.")
async def quick(ctx: Context) -> str:
    return "done"


@hub.task(title="Approve", description="Asks once, then ends.")
async def approve(ctx: Context) -> bool:
    return await ctx.confirm("Ship it?")


class NudgeTimes(BaseModel):
    remind: float
    escalate: float


@hub.task(title="Nudged", description="A question that reminds, then escalates to bob.")
async def nudged(ctx: Context, inputs: NudgeTimes) -> bool:
    return await ctx.confirm(
        "Approve?", remind_after=inputs.remind, escalate_after=inputs.escalate,
        escalate_to=["user:bob"],
    )
