"""Fixtures for the integration tests: a real hub on each store, and a user of it.

A module opts in by naming its ``hub_def`` (the ``tether.Hub`` to serve); a module that
needs other settings defines its own ``hub`` fixture, and ``user`` follows it. A module in
accounts mode defines ``settings``; ``directory`` is then where its hub reads accounts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.server import RunningHub, User, new_user, run_hub
from tether.accounts import open_directory
from tether.config import Settings
from tether.hub import Hub
from tether.users import UserDirectory


@pytest.fixture(params=["memory", "redis"])
def store_url(request: pytest.FixtureRequest) -> str | None:
    """None for the memory store, a flushed real Redis for the Redis store."""
    if request.param == "redis":
        url: str = request.getfixturevalue("redis_url")
        return url
    return None


@pytest.fixture
async def hub(request: pytest.FixtureRequest, store_url: str | None) -> AsyncIterator[RunningHub]:
    """The module's ``hub_def`` served on the memory store and on a real Redis."""
    hub_def: Hub = request.module.hub_def
    async with run_hub(Settings(redis_url=store_url, static_dir=None), hub_def) as running:
        yield running


@pytest.fixture
async def user(hub: RunningHub) -> AsyncIterator[User]:
    async with new_user(hub) as u:
        yield u


@pytest.fixture
async def directory(settings: Settings) -> AsyncIterator[UserDirectory]:
    """The accounts of the module's ``settings`` (a users file, or Redis), open for the test."""
    users = open_directory(settings)
    yield users
    await users.close()
