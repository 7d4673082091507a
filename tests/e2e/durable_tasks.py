"""Tasks for the durability tests. Every step body counts its calls in Redis (any URL a
hub takes: one Redis or a cluster), so a test can prove that no finished step ran twice
across hub crashes and takeovers."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from pydantic import BaseModel

from tether import Context, Hub, Retry
from tether.store.connect import close_client, redis_client

hub = Hub()

NAME_FIELDS = [{"name": "name", "description": "Your name", "type": "string", "required": True}]


class DurableInputs(BaseModel):
    counter_url: str
    steps: int = 3
    lines: int = 40
    line_seconds: float = 0.02
    items: int = 6
    item_seconds: float = 0.2


@hub.task(title="Durable", description="Steps, a stream, a question, a fan-out, a retry.")
async def durable(ctx: Context, inputs: DurableInputs) -> dict[str, Any]:
    counter = redis_client(inputs.counter_url, client_name="tether-test-task", max_connections=8)

    async def count(name: str) -> int:
        return int(await counter.incr(f"calls:{ctx.session_id}:{name}"))

    for i in range(inputs.steps):
        await ctx.step(f"prepare{i}", count, f"prepare{i}")
    for i in range(inputs.lines):
        await ctx.stream(f"line {i}")
        await asyncio.sleep(inputs.line_seconds)
    answer = await ctx.ask(NAME_FIELDS, prompt="Who are you?")

    async def item(item_ctx: Context, index: int) -> int:
        await item_ctx.step("calc", count, f"item{index}")
        await item_ctx.markdown(f"item {index} done")
        await asyncio.sleep(inputs.item_seconds)
        return index * index

    squares = await ctx.map(item, range(inputs.items), concurrency=2)

    async def flaky() -> int:
        calls = await count("flaky")
        if calls == 1:
            raise RuntimeError("first attempt fails")
        return calls

    attempts = await ctx.step("flaky", flaky, retry=Retry(attempts=3, ask=True))
    await close_client(counter)
    return {"name": answer["name"], "squares": squares, "flaky_calls": attempts}


class FannedInputs(BaseModel):
    counter_url: str
    items: int = 4
    quick: int = 2


@hub.task(title="Fanned", description="A map whose last items wait for a go in Redis.")
async def fanned(ctx: Context, inputs: FannedInputs) -> list[int]:
    """Every item body counts in Redis when it begins and when it ends, outside any step,
    so a test sees a body re-run even if its steps would replay. Items from ``quick`` on
    wait for a "go" pushed to the list ``go:<session>``: a test kills the hub while the first items
    are recorded and the others still run."""
    counter = redis_client(inputs.counter_url, client_name="tether-test-task", max_connections=8)

    async def item(index: int) -> int:
        await counter.incr(f"began:{ctx.session_id}:item{index}")
        if index >= inputs.quick:  # one "go" pushed by the test per waiting item
            await counter.blpop([f"go:{ctx.session_id}"], timeout=0)
        await counter.incr(f"ended:{ctx.session_id}:item{index}")
        return index * 10

    values = await ctx.map(item, range(inputs.items), concurrency=inputs.items)
    await close_client(counter)
    return values


class WaitInputs(BaseModel):
    seconds: float


@hub.task(title="Nap", description="One journaled sleep between two lines.")
async def nap(ctx: Context, inputs: WaitInputs) -> float:
    await ctx.stream("napping")
    await ctx.sleep(inputs.seconds)
    await ctx.stream("awake")
    return inputs.seconds


@hub.task(title="Deadline", description="A question that expires with a default.")
async def deadline(ctx: Context, inputs: WaitInputs) -> str:
    answer = await ctx.ask(
        NAME_FIELDS, prompt="Who are you?", timeout=inputs.seconds, default={"name": "nobody"}
    )
    return str(answer["name"])


class NudgeInputs(BaseModel):
    remind: float = 1.0
    escalate: float = 2.0


@hub.task(title="Nudged", description="A question that reminds, then escalates to bob.")
async def nudged(ctx: Context, inputs: NudgeInputs) -> bool:
    return await ctx.confirm(
        "Approve?", remind_after=inputs.remind, escalate_after=inputs.escalate,
        escalate_to=["user:bob"],
    )


class StreamInputs(BaseModel):
    lines: int = 200
    line_seconds: float = 0.01


@hub.task(title="Stream", description="Streams lines at a steady pace.")
async def steady_stream(ctx: Context, inputs: StreamInputs) -> dict[str, int]:
    for i in range(inputs.lines):
        await ctx.stream(f"line {i}")
        await asyncio.sleep(inputs.line_seconds)
    return {"lines": inputs.lines}


@hub.task(title="Changing", description="Its first step depends on TETHER_E2E_VARIANT.")
async def changing(ctx: Context) -> str:
    variant = os.environ.get("TETHER_E2E_VARIANT", "a")
    await ctx.step("one" if variant == "a" else "two", lambda: variant)
    await ctx.ask(NAME_FIELDS, prompt="Who are you?")
    return variant
