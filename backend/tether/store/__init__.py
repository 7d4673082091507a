"""Stores: where sessions, their events and their journals live (see ``base.py``)."""

from __future__ import annotations

from tether.config import Settings
from tether.store.base import Store
from tether.store.memory import MemoryStore


def open_store(settings: Settings) -> Store:
    """The Redis store when ``settings.redis_url`` is set, else the memory store."""
    if settings.redis_url:
        from tether.store.redis import RedisStore

        return RedisStore(
            settings.redis_url,
            history_cap=settings.history_cap,
            finished_ttl=settings.finished_ttl,
            lease_seconds=settings.lease_seconds,
            audit_max=settings.audit_max,
            wait_replicas=settings.wait_replicas,
            wait_timeout=settings.redis_wait_timeout,
        )
    return MemoryStore(
        history_cap=settings.history_cap,
        finished_ttl=settings.finished_ttl,
        lease_seconds=settings.lease_seconds,
        audit_max=settings.audit_max,
    )


__all__ = ["MemoryStore", "Store", "open_store"]
