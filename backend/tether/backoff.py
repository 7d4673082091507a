"""``Backoff``: how every retry loop in the hub waits between attempts.

Capped exponential backoff with jitter: 50 ms, then doubling to at most 2 s, each wait
stretched by a random factor in [1, 2) so that many sessions retrying after one Redis
outage do not hit it again in lockstep.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass


@dataclass(slots=True)
class Backoff:
    """One retry loop's waits. ``reset()`` after a success starts from ``first`` again."""

    first: float = 0.05
    cap: float = 2.0
    jitter: bool = True
    _next: float = 0.0

    def delay(self) -> float:
        """The next wait in seconds (and advance)."""
        base = self._next or self.first
        self._next = min(base * 2, self.cap)
        return base * (1 + random.random()) if self.jitter else base

    async def wait(self) -> None:
        await asyncio.sleep(self.delay())

    def reset(self) -> None:
        self._next = 0.0
