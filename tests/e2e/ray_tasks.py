"""Tasks whose work runs on Ray, for tests/e2e/test_ray.py.

The functions at the top run on Ray workers. Each leaves files in ``marks`` (a directory
the test made): a line in ``began-N`` / ``ended-N`` per execution with its time, so a test
counts executions across hub crashes and sees how many overlapped; items from
``wait_from`` on wait for a ``go-N`` file the test writes.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from pydantic import BaseModel

from tether import Context, Hub, Retry, worker

hub = Hub()
WAIT_LIMIT = 120.0  # seconds a worker waits for the test's go before giving up


class Job(BaseModel):
    marks: str
    index: int
    wait_from: int = 1_000_000
    hold: float = 0.3


def _mark(marks: str, name: str, text: str = "") -> None:
    with (Path(marks) / name).open("a") as out:
        out.write(f"{time.time()} {text}\n")


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + WAIT_LIMIT
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} never appeared")
        time.sleep(0.02)


def square(job: Job) -> int:
    """A map item: three reports, a wait for go (from ``wait_from`` on), a short hold."""
    import ray

    _mark(job.marks, f"began-{job.index}", str(ray.get_runtime_context().get_assigned_resources()))
    for k in range(3):
        worker.stream(f"item {job.index} line {k}")
        worker.progress(k + 1, 3, label=f"item {job.index}")
    if job.index >= job.wait_from:
        _wait_for(Path(job.marks) / f"go-{job.index}")
    time.sleep(job.hold)
    _mark(job.marks, f"ended-{job.index}")
    return job.index * job.index


async def cube(value: int) -> int:
    await asyncio.sleep(0.01)
    worker.stream(f"cubing {value}")
    return value**3


def refuse(key: str) -> str:
    raise KeyError(key)


def hold(marks: str) -> str:
    """Runs until cancelled (KeyboardInterrupt, from ray.cancel) or for two minutes."""
    _mark(marks, "hold-began", str(os.getpid()))
    try:
        deadline = time.monotonic() + WAIT_LIMIT
        while time.monotonic() < deadline:
            time.sleep(0.02)
    except KeyboardInterrupt:
        _mark(marks, "hold-interrupted")
        raise
    _mark(marks, "hold-ended")
    return "held"


def fragile(marks: str) -> str:
    """First attempt: writes its pid and waits to be killed. Later ones return."""
    attempts = Path(marks) / "fragile-attempts"
    _mark(marks, "fragile-attempts")
    if len(attempts.read_text().splitlines()) == 1:
        _mark(marks, "fragile-pid", str(os.getpid()))
        _wait_for(Path(marks) / "never")
    return "survived"


class SquaresInputs(BaseModel):
    marks: str
    items: int = 6
    concurrency: int = 2
    wait_from: int = 1_000_000
    hold: float = 0.3


@hub.task(title="Squares on Ray", description="A map, an async step and a failing step.")
async def squares(ctx: Context, inputs: SquaresInputs) -> dict[str, object]:
    jobs = [
        Job(marks=inputs.marks, index=i, wait_from=inputs.wait_from, hold=inputs.hold)
        for i in range(inputs.items)
    ]
    values = await ctx.map(
        square, jobs, concurrency=inputs.concurrency, progress="squares", executor="ray",
        ray_options={"num_cpus": 0.5},
    )
    cubed = await ctx.step("cube", cube, 3, executor="ray")
    try:
        await ctx.step("refuse", refuse, "missing", executor="ray")
        refused = "not raised"
    except KeyError as exc:  # the worker's exception, as its own class
        refused = f"KeyError {exc.args[0]}"
    return {"squares": values, "cube": cubed, "refused": refused}


class MarksInputs(BaseModel):
    marks: str


@hub.task(title="Hold on Ray", description="One step that runs until it is cancelled.")
async def held(ctx: Context, inputs: MarksInputs) -> str:
    return await ctx.step("hold", hold, inputs.marks, executor="ray")


@hub.task(title="Fragile on Ray", description="A step whose first worker gets killed.")
async def fragile_step(ctx: Context, inputs: MarksInputs) -> str:
    return await ctx.step(
        "fragile", fragile, inputs.marks, executor="ray", retry=Retry(attempts=2, ask=True)
    )
