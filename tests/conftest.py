"""Fixtures shared by every test: a real Redis, real hubs, real clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import redis

from tests.support.redis_proc import RedisProcess


@pytest.fixture(scope="session")
def redis_proc() -> Iterator[RedisProcess]:
    """One redis-server for the run (tests that kill Redis start their own)."""
    proc = RedisProcess(appendonly=False)
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture
def redis_url(redis_proc: RedisProcess) -> Iterator[str]:
    """An empty Redis for this test."""
    client = redis.Redis.from_url(redis_proc.url)
    client.flushall()
    client.close()
    yield redis_proc.url


@pytest.fixture
async def own_redis() -> AsyncIterator[RedisProcess]:
    """A redis-server of this test's own, with AOF, to kill and restart."""
    proc = RedisProcess(appendonly=True)
    proc.start()
    yield proc
    proc.stop()
