"""The contract every user directory and login store keeps: the TOML file and Redis
directories, the memory and Redis login stores, run through the same tests."""

from __future__ import annotations

import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.timing import MS, eventually
from tether.credentials import token_digest
from tether.logins import LoginSession, LoginStore, MemoryLogins
from tether.store.redis_logins import RedisLogins
from tether.store.redis_users import RedisDirectory
from tether.users import NoSuchUser, UserDirectory, UserExists, UserRecord
from tether.users_file import FileDirectory


@pytest.fixture(params=["file", "redis"])
async def directory(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[UserDirectory]:
    users: UserDirectory
    if request.param == "redis":
        users = RedisDirectory(request.getfixturevalue("redis_url"))
    else:
        users = FileDirectory(tmp_path / "users.toml")
    yield users
    await users.close()


@pytest.fixture(params=["memory", "redis"])
async def logins(request: pytest.FixtureRequest) -> AsyncIterator[LoginStore]:
    store: LoginStore = (
        RedisLogins(request.getfixturevalue("redis_url")) if request.param == "redis"
        else MemoryLogins()
    )
    yield store
    await store.close()


async def test_a_user_is_added_found_listed_and_removed(directory: UserDirectory) -> None:
    alice = UserRecord(name="alice", admin=True, groups=frozenset({"finance", "ops"}),
                       email="alice@example.com", password_hash="$argon2id$fake")
    await directory.add(alice)
    assert await directory.get("alice") == alice
    assert await directory.get("bob") is None
    await directory.add(UserRecord(name="bob"))
    assert [u.name for u in await directory.list()] == ["alice", "bob"]
    with pytest.raises(UserExists):
        await directory.add(UserRecord(name="alice"))
    assert await directory.remove("alice") is True
    assert await directory.remove("alice") is False
    assert [u.name for u in await directory.list()] == ["bob"]


async def test_tokens_find_their_user_until_it_is_removed(directory: UserDirectory) -> None:
    await directory.add(UserRecord(name="carol"))
    await directory.add_token("carol", token_digest("t1"))
    await directory.add_token("carol", token_digest("t2"))
    for token in ("t1", "t2"):
        found = await directory.by_token(token_digest(token))
        assert found is not None and found.name == "carol"
    assert await directory.by_token(token_digest("t3")) is None
    await directory.remove("carol")
    assert await directory.by_token(token_digest("t1")) is None
    with pytest.raises(NoSuchUser):
        await directory.add_token("carol", token_digest("t4"))


async def test_a_password_hash_is_replaced(directory: UserDirectory) -> None:
    await directory.add(UserRecord(name="dan", password_hash="old"))
    await directory.set_password("dan", "new")
    found = await directory.get("dan")
    assert found is not None and found.password_hash == "new"
    with pytest.raises(NoSuchUser):
        await directory.set_password("nobody", "x")


async def test_a_re_made_user_has_a_new_serial(directory: UserDirectory) -> None:
    await directory.add(UserRecord(name="erin"))
    first = await directory.get("erin")
    await directory.remove("erin")
    await directory.add(UserRecord(name="erin"))
    second = await directory.get("erin")
    assert first is not None and second is not None and first.serial != second.serial


async def test_the_users_file_is_private_and_read_again_when_changed(tmp_path: Path) -> None:
    path = tmp_path / "users.toml"
    writer, reader = FileDirectory(path), FileDirectory(path)
    await writer.add(UserRecord(name="alice", password_hash="h"))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert await reader.get("alice") is not None
    await writer.add(UserRecord(name="bob"))
    assert {u.name for u in await reader.list()} == {"alice", "bob"}
    left = [n for n in os.listdir(tmp_path) if n.startswith(".users.toml.")]
    assert left == [".users.toml.lock"]  # no temporary file left behind


async def test_login_sessions_are_kept_revoked_and_expire(logins: LoginStore) -> None:
    await logins.create("d1", LoginSession("alice", "s1"), ttl=60)
    await logins.create("d2", LoginSession("alice", "s1"), ttl=60)
    await logins.create("d3", LoginSession("bob", "s2"), ttl=60)
    assert await logins.get("d1") == LoginSession("alice", "s1")
    await logins.revoke("d1")
    assert await logins.get("d1") is None
    assert await logins.revoke_user("alice") == 1
    assert await logins.get("d2") is None and await logins.get("d3") is not None
    await logins.create("short", LoginSession("bob", "s2"), ttl=50 * MS)

    async def gone() -> bool:
        return await logins.get("short") is None

    await eventually(gone, timeout_ms=2000, what="the short session to expire")


async def test_failures_are_counted_in_a_sliding_window(logins: LoginStore) -> None:
    assert await logins.failures("ip:1.2.3.4", window=60) == (0, 0.0)
    for _ in range(3):
        await logins.add_failure("ip:1.2.3.4", window=60)
    count, wait = await logins.failures("ip:1.2.3.4", window=60)
    assert count == 3 and 58 < wait <= 60
    assert (await logins.failures("user:alice", window=60))[0] == 0
    await logins.clear_failures("ip:1.2.3.4")
    assert (await logins.failures("ip:1.2.3.4", window=60))[0] == 0
    await logins.add_failure("user:x", window=100 * MS)

    async def forgotten() -> bool:
        return (await logins.failures("user:x", window=100 * MS))[0] == 0

    await eventually(forgotten, timeout_ms=2000, what="the failure to leave the window")


async def test_a_login_link_is_spent_once(logins: LoginStore) -> None:
    await logins.create_link("L", "admin", ttl=60)
    assert await logins.spend_link("L") == "admin"
    assert await logins.spend_link("L") is None
    assert await logins.spend_link("unknown") is None
