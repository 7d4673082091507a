"""The hub the benchmarks serve: ``ticker`` plus two tasks that wait for a person.

``tether serve bench.tasks:hub`` serves these; nothing here is timed.
"""

from __future__ import annotations

import asyncio
import time

from pydantic import BaseModel, Field

from tether.context import Context
from tether.demos.ticker import TickerInputs
from tether.demos.ticker import register as register_ticker
from tether.hub import Hub

hub = Hub()
register_ticker(hub)


@hub.task(title="Gated ticker", description="Waits for a confirmation, then runs `ticker`.")
async def gated_ticker(ctx: Context, inputs: TickerInputs) -> dict[str, int]:
    """``ticker``'s own code, started only once every tab watches (a live-only stream)."""
    await ctx.confirm("Start streaming?")
    result: dict[str, int] = await hub.tasks["ticker"].fn(ctx, inputs)
    return result


class NoInputs(BaseModel):
    """``idle`` takes nothing."""


@hub.task(title="Idle", description="Waits on a confirmation for as long as it takes.")
async def idle(ctx: Context, inputs: NoInputs) -> bool:
    """A session that stays open (``waiting``) until someone answers."""
    return await ctx.confirm("Still there?")


class RallyInputs(BaseModel):
    """How many answers ``rally`` waits for."""

    rounds: int = 1000


@hub.task(title="Rally", description="Asks for a confirmation, shows the answer, again.")
async def rally(ctx: Context, inputs: RallyInputs) -> int:
    """One exchange per round: a confirmation, then a stream event once it is answered
    (the event whose arrival ends the bench's answer round trip)."""
    for i in range(inputs.rounds):
        answer = await ctx.confirm(f"Round {i + 1}?")
        await ctx.stream(f"round {i + 1}: {answer}")
    return inputs.rounds


class DripInputs(BaseModel):
    """``drip``: ``count`` events, one every ``interval`` seconds."""

    count: int = 200
    interval: float = 0.05
    # Where in each interval of the wall clock the ticks fall, as a fraction of it: the
    # bench spreads its sessions' phases evenly, as the peers' producers spread theirs.
    phase: float = Field(0.0, ge=0.0, lt=1.0)
    # Seconds between the answer and the first tick: the bench answers every session at
    # once, and ticks that began while the hub was still taking those answers would start
    # the stream behind (the peers have no answers to take).
    settle: float = Field(0.0, ge=0.0, le=60.0)


@hub.task(title="Drip", description="Waits for a confirmation, then streams a timestamp a tick.")
async def drip(ctx: Context, inputs: DripInputs) -> int:
    """A session streaming a little (an agent's tokens, a job's progress): each event's
    content is the wall clock at emit (``time.time()``), read back by the receiving tab
    as the emit→receipt latency. Ticks are on a fixed schedule, so a late tick does not
    push the next ones back: the first at the first moment after the answer whose place
    in the interval is ``phase`` (by the wall clock, which every process of the machine
    shares), so sessions answered together need not tick together, ``settle`` seconds
    after the answer at the earliest."""
    await ctx.confirm("Start dripping?")
    loop = asyncio.get_running_loop()
    now = time.time() + inputs.settle
    wait = inputs.settle + (inputs.phase * inputs.interval - now) % inputs.interval
    start = loop.time() + wait
    for i in range(inputs.count):
        delay = start + i * inputs.interval - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        await ctx.stream(f"{time.time():.6f}")
    return inputs.count
