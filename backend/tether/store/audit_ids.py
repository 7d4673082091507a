"""Audit entry ids on a cluster, where the log is one stream per bucket.

A cluster's streams are numbered by the hubs' clocks in microseconds (lua/audit.lua), so
entries of different buckets merge in the order they were written. Two buckets' streams
can still hold the same id (``<t>-<n>``), so an id alone would not say where a page ends.
The id a cluster shows is ``<t>-<n * buckets + bucket>``: unique, ordered like the
streams within a bucket and by bucket within one stream id, and still of the ``<t>-<n>``
form, so cursors are checked (audit.valid_cursor) and compared (audit.entry_key) as on a
single Redis, where the stream's own ids are shown.
"""

from __future__ import annotations

from tether.audit import entry_key


def shown_id(stream_id: str, bucket: int, buckets: int) -> str:
    """The id an entry of ``bucket``'s stream is shown with."""
    t, n = entry_key(stream_id)
    return f"{t}-{n * buckets + bucket}"


def newest_below(before: str | None, bucket: int, buckets: int) -> str | None:
    """Where an XREVRANGE of ``bucket``'s stream starts for the entries shown older than
    ``before`` ("+" with no cursor); None when the bucket can have none."""
    if before is None:
        return "+"
    t, shown = entry_key(before)
    # Older than (t, shown): a smaller t, or this t and n * buckets + bucket < shown.
    if shown > bucket:
        return f"{t}-{(shown - bucket - 1) // buckets}"
    if t == 0:
        return None
    return f"({t}-0"
