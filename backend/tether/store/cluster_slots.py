"""A Redis Cluster's slot map, read from a ``CLUSTER SHARDS`` reply.

The cluster feed (``cluster_feed.py``) sends each sharded subscription to the primary that
owns its channel's slot. ``CLUSTER SHARDS`` (Redis 7) lists every shard with its slot
ranges and its nodes, each with a role and a health; only a primary that is ``online``
counts as an owner, so during a failover the failed shard's slots have none until the
replica is promoted, and the feed waits instead of dialling a dead node.
"""

from __future__ import annotations

from typing import Any

SLOTS = 16384
Address = tuple[str, int]  # (host, port) of a node


def parse_shards(reply: Any, *, tls: bool = False) -> list[Address | None]:
    """Who owns each slot (``None``: no online primary) according to ``reply``, as
    redis-py returns it: a list of shards, each a dict or a flat RESP2 key/value list.

    Args:
        tls: take a node's ``tls-port`` when it has one (``rediss+cluster://``).
    """
    owners: list[Address | None] = [None] * SLOTS
    for item in reply:
        shard = _as_dict(item)
        primary = next(
            (node for node in map(_as_dict, shard.get("nodes", []))
             if _text(node.get("role")) == "master" and _text(node.get("health")) == "online"),
            None,
        )
        if primary is None:
            continue
        # "endpoint" is what clients should dial (cluster-announce-hostname...); "?" or
        # empty means unknown, and the ip is what there is.
        endpoint = _text(primary.get("endpoint") or "")
        host = endpoint if endpoint not in ("", "?") else _text(primary.get("ip"))
        port = int(primary["tls-port"] if tls and primary.get("tls-port") else primary["port"])
        bounds = [int(s) for s in shard.get("slots", [])]
        for lo, hi in zip(bounds[::2], bounds[1::2], strict=True):
            owners[lo : hi + 1] = [(host, port)] * (hi - lo + 1)
    return owners


def _as_dict(item: Any) -> dict[str, Any]:
    if isinstance(item, dict):
        return {_text(k): v for k, v in item.items()}
    return {_text(item[i]): item[i + 1] for i in range(0, len(item) - 1, 2)}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
