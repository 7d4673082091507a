"""Fixtures shared by every test: a real Redis, real hubs, real clients."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
import redis
import uvloop

from tests.support.oidc_provider import ProviderProcess
from tests.support.redis_cluster import LocalCluster
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


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[LocalCluster]:
    """One Redis Cluster for the run (tests/support/redis_cluster.py): three primaries
    with a replica each, started once; tests fail it over and reshard it in turn, and
    :func:`redis_cluster_url` makes it whole and empty again before each."""
    cluster = LocalCluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture
def redis_cluster_url(redis_cluster: LocalCluster) -> str:
    """The cluster's URL (``redis+cluster://``), every node up and every primary empty
    for this test."""
    redis_cluster.reset()
    return redis_cluster.url


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[ProviderProcess]:
    """One real OpenID provider for the run (tests/support/oidc/provider.mjs)."""
    proc = ProviderProcess().start()
    yield proc
    proc.stop()


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    """Every async test and fixture on the loop `tether serve` runs on (uvicorn picks
    uvloop, a dependency of the hub): in-process hubs are what production runs."""
    return {"uvloop": uvloop.new_event_loop}
