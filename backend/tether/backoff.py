"""``Backoff``: how every retry loop in the hub waits between attempts.

Capped exponential backoff with jitter: 50 ms, then doubling to at most 2 s, each wait
stretched by a random factor in [1, 2) so that many sessions retrying after one Redis
outage do not hit it again in lockstep. :func:`nth_delay` is the same schedule for a
retry whose count is stored rather than held in a loop (webhook deliveries).
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


def nth_delay(attempt: int, *, first: float, cap: float, jitter: bool = True) -> float:
    """The wait after the ``attempt``-th failure (1 = the first), as :class:`Backoff`
    spaces them: ``first``, doubling up to ``cap``, stretched by [1, 2) with jitter."""
    base = min(first * 2.0 ** min(max(attempt - 1, 0), 60), cap)
    return base * (1 + random.random()) if jitter else base

