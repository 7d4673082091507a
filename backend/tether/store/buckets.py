"""Reading an index that is split in buckets (store/keys.py): one ordered run per bucket,
merged into one.

On a single Redis there is one bucket, and the merge hands its run through unchanged. On
a cluster every cross-session index (an owner's sessions, the audit log...) is one key
per bucket, each ordered the same way; a page is read by taking the next items of each
bucket's key and merging them, newest first, taking nothing older than the last item of
a bucket that may have more until that bucket was read further.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class DescendingMerge(Generic[T]):
    """Merges per-bucket runs that are each in descending ``key`` order.

    Feed each bucket :meth:`needs` with :meth:`fill`; :meth:`take` then returns items in
    descending order for as long as every bucket that may have more still has some of
    its run in hand.
    """

    def __init__(self, buckets: Iterable[int], key: Callable[[T], Any]) -> None:
        self._key = key
        self._runs: dict[int, list[T]] = {bucket: [] for bucket in buckets}
        self._more: set[int] = set(self._runs)

    def needs(self) -> list[int]:
        """The buckets to read further before anything more can be taken."""
        return [b for b in self._more if not self._runs[b]]

    def fill(self, bucket: int, items: list[T], *, more: bool) -> None:
        """The bucket's next items (in descending order), and whether it may have more."""
        self._runs[bucket].extend(items)
        if not more:
            self._more.discard(bucket)

    @property
    def done(self) -> bool:
        """Everything was taken, and no bucket has more."""
        return not self._more and not any(self._runs.values())

    def take(self, limit: int) -> list[T]:
        """Up to ``limit`` items, in descending order, as far as the runs in hand allow."""
        out: list[T] = []
        while len(out) < limit and not self.needs():
            heads = [b for b, run in self._runs.items() if run]
            if not heads:
                break
            best = max(heads, key=lambda b: self._key(self._runs[b][0]))
            out.append(self._runs[best].pop(0))
        return out


def spread(limit: int, buckets: int, *, floor: int = 4) -> int:
    """How many items to read from each bucket's key for a page of ``limit``: the page's
    share of a bucket, twice over (sessions spread evenly), at least ``floor``."""
    if buckets == 1:
        return limit
    return max(floor, 2 * (limit // buckets + 1))
