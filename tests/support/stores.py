"""A module's Redis on one Redis and on a Redis Cluster: ``redis_url = redis_and_cluster``
at a test module's top makes each of its tests that takes ``redis_url`` run twice."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["redis", "cluster"])
def redis_and_cluster(request: pytest.FixtureRequest, redis_url: str) -> str:
    """The flushed Redis of tests/conftest.py, or a Redis Cluster of three primaries with
    a replica each, whole and flushed (``redis_cluster_url``)."""
    if request.param == "redis":
        return redis_url
    url: str = request.getfixturevalue("redis_cluster_url")
    return url
