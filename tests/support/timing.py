"""One timing unit for every test, scaled by TETHER_TEST_TIMING on slow machines."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable

MS = float(os.environ.get("TETHER_TEST_TIMING", "1")) / 1000


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
