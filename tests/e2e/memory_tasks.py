"""A task whose inputs are as large as a request body allows, for the memory tests."""

from __future__ import annotations

from pydantic import BaseModel

from tether import Context, Hub

hub = Hub()


class Blob(BaseModel):
    blob: str


@hub.task()
async def hold_blob(ctx: Context, inputs: Blob) -> None:
    """Keeps its (large) inputs and waits for a confirmation."""
    await ctx.confirm("Done?")
