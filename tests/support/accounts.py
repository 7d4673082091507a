"""Accounts for tests of a hub in accounts mode: the settings, the people, their logins.

Tests of sharing, assignees, mail, audit and sign-in each need a hub with a few accounts
(a users file on the memory store, the store itself on Redis) and people logged in with
a password or holding a bearer token; the steps are the same everywhere, so they live here.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from typing import Any

import httpx

from tests.support.server import RunningHub, User
from tether.accounts import open_directory
from tether.config import Settings
from tether.credentials import Passwords, token_digest
from tether.users import UserRecord

PASSWORD = "correct horse battery"


def accounts_settings(store_url: str | None, tmp_path: Path, **more: Any) -> Settings:
    """A hub in accounts mode: its accounts in Redis, or in a users file beside the test."""
    return Settings(
        redis_url=store_url, users_file=None if store_url else tmp_path / "users.toml",
        static_dir=None, **more,
    )


async def add_accounts(
    settings: Settings,
    accounts: Iterable[UserRecord],
    *,
    password: str | None = PASSWORD,
    tokens: Mapping[str, str] | None = None,
) -> None:
    """Store ``accounts`` where ``settings``' hub reads them: each with ``password``
    (None: none) unless it has a hash of its own, and the bearer token ``tokens`` names
    for it, if any."""
    hashed = Passwords().hash(password) if password is not None else None
    directory = open_directory(settings)
    try:
        for account in accounts:
            if account.password_hash is None and hashed is not None:
                account = account.with_password(hashed)
            await directory.add(account)
            token = (tokens or {}).get(account.name)
            if token is not None:
                await directory.add_token(account.name, token_digest(token))
    finally:
        await directory.close()


async def log_in(http: httpx.AsyncClient, name: str, password: str = PASSWORD) -> None:
    """Sign ``http`` in with a password (``POST /api/login``); its cookie jar keeps the
    session cookie."""
    response = await http.post("/api/login", json={"username": name, "password": password})
    assert response.status_code == 200, response.text


@contextlib.asynccontextmanager
async def logged_in(hub: RunningHub, name: str, password: str = PASSWORD) -> AsyncIterator[User]:
    """``name`` signed in on ``hub`` with a password, as one browser."""
    http = httpx.AsyncClient(base_url=hub.base_url, timeout=10)
    user = User(hub, http)
    try:
        await log_in(http, name, password)
        yield user
    finally:
        await user.close()


@contextlib.asynccontextmanager
async def with_token(hub: RunningHub, token: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client that sends ``token`` as its bearer credential."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=hub.base_url, headers=headers, timeout=10) as http:
        yield http
