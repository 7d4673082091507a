"""One timing unit for every test, scaled by TETHER_TEST_TIMING on slow machines."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

MS = float(os.environ.get("TETHER_TEST_TIMING", "1")) / 1000
T = TypeVar("T")


async def eventually(
    check: Callable[[], Awaitable[bool]] | Callable[[], bool],
    *,
    timeout_ms: float = 5000,
    what: str = "condition",
) -> None:
    """Poll ``check`` until it is true; fail after ``timeout_ms`` (scaled)."""
    deadline = time.monotonic() + timeout_ms * MS
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(5 * MS)


async def until(
    check: Callable[[], Awaitable[T]], *, timeout_ms: float = 10_000, what: str = "a value"
) -> T:
    """Poll ``check`` until it returns something truthy, and return that (``eventually``
    for checks that find what they wait for); fail after ``timeout_ms`` (scaled)."""
    deadline = time.monotonic() + timeout_ms * MS
    while True:
        found = await check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(5 * MS)
