"""The Redis store's audit log: one stream (on a cluster, one per bucket, each capped at
``audit_max``), read newest first across buckets by a merge (store/buckets.py)."""

from __future__ import annotations

import time
from typing import Any

from redis.exceptions import RedisError

from tether.audit import AuditEntry, AuditPage, AuditQuery, PageCollector, entry_key
from tether.errors import StoreUnavailable
from tether.store.audit_ids import newest_below, shown_id
from tether.store.buckets import DescendingMerge, spread
from tether.store.redis_base import RedisBase

AUDIT_CHUNK = 200  # audit entries read per XREVRANGE


class RedisAudit(RedisBase):
    """See the module docstring."""

    _audit_max: int
    _audit_add: Any

    def _audit_bucket(self, entry: AuditEntry) -> int:
        """The bucket an entry goes to: its session's (as resolve.lua and cancel.lua
        write), else its user's home (one user's entries stay in order together)."""
        if entry.session:
            return self._layout.bucket_of(entry.session)
        return self._layout.home_of(entry.user or entry.action)

    def _audit_time(self) -> str:
        """The time an audit entry's id is made of (audit.lua): Redis's on one Redis, the
        hub's in microseconds on a cluster."""
        return str(time.time_ns() // 1000) if self._layout.is_cluster else "*"

    async def add_audit(self, entry: AuditEntry) -> None:
        if not self._layout.is_cluster:
            try:
                await self._redis.xadd(
                    self._layout.audit(0), {"e": entry.stored()}, maxlen=self._audit_max,
                    approximate=True,
                )
            except RedisError as exc:
                raise StoreUnavailable(f"Redis is unavailable: {exc}") from exc
            return
        bucket = self._audit_bucket(entry)
        await self._run(
            self._audit_add, [self._layout.audit(bucket), *self._layout.guard(bucket)],
            [entry.stored(), self._audit_max, self._audit_time()],
        )

    async def read_audit(self, query: AuditQuery) -> AuditPage:
        collector = PageCollector(query)
        if query.before and entry_key(query.before) == (0, 0):
            return collector.page()  # nothing is older; and Redis refuses "(0-0"
        layout = self._layout
        buckets = layout.buckets
        if buckets == 1:
            starts = {0: f"({query.before}" if query.before else "+"}
        else:
            starts = {b: start for b in self._buckets()
                      if (start := newest_below(query.before, b, buckets)) is not None}
        merge: DescendingMerge[tuple[tuple[int, int], AuditEntry]] = DescendingMerge(
            starts, key=lambda item: item[0]
        )
        chunk = spread(AUDIT_CHUNK, buckets, floor=16)
        while not merge.done:
            needed = merge.needs()
            replies = await self._pipelined([
                ("XREVRANGE", layout.audit(b), starts[b], "-", "COUNT", chunk) for b in needed
            ])
            for bucket, rows in zip(needed, replies, strict=True):
                items = []
                for stream_id, fields in rows:
                    shown = stream_id if buckets == 1 else shown_id(stream_id, bucket, buckets)
                    entry = AuditEntry.from_stored(shown, _fields(fields)["e"])
                    items.append((entry_key(shown), entry))
                merge.fill(bucket, items, more=len(rows) == chunk)
                if rows:
                    starts[bucket] = f"({rows[-1][0]}"
            for _, entry in merge.take(chunk):
                if not collector.offer(entry):
                    return collector.page()
        return collector.page()


def _fields(raw: Any) -> dict[str, str]:
    """A stream entry's fields through a raw pipeline command: a dict, or a flat list."""
    if isinstance(raw, dict):
        return raw
    return {str(raw[i]): str(raw[i + 1]) for i in range(0, len(raw), 2)}
