"""``ticker``: emits stream events as fast as the hub accepts them (for benchmarks)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from tether.context import Context
from tether.hub import Hub


class TickerInputs(BaseModel):
    count: int = Field(1000, ge=1, le=100_000, description="How many events to emit")
    size: int = Field(100, ge=8, le=4096, description="Bytes of content per event")


def register(hub: Hub) -> None:
    @hub.task(title="Ticker", description="Streams `count` lines of `size` bytes, flat out.")
    async def ticker(ctx: Context, inputs: TickerInputs) -> dict[str, int]:
        padding = "x" * (inputs.size - 8)
        for i in range(inputs.count):
            await ctx.stream(f"{i:08d}{padding}")
        return {"count": inputs.count}
