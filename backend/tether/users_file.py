"""``FileDirectory``: accounts in a TOML file (``--users FILE`` / ``TETHER_USERS_FILE``).

For hubs on the memory store. The ``tether users`` commands and the hub (which re-hashes
a password at login when Argon2's parameters changed) both write the file, so every
change is one read-modify-write under an exclusive ``flock`` on a sidecar lock file,
and the new text replaces the old in one ``os.replace`` of a file created with mode
0600: a reader sees the old file or the new one, never half of one, and the hashes are
never readable by other local users. The hub re-reads the file when its modification
time or size changes, so ``tether users token`` works while it runs.

Without a path the directory lives in memory only (a hub on loopback whose first admin
is made at start; see ``cli.py``).

The file::

    [users.alice]
    admin = true
    groups = ["finance"]
    email = "alice@example.com"
    password = "$argon2id$v=19$m=65536,t=3,p=4$..."
    tokens = ["<sha256 hex>", ...]
    serial = "3f9c0a..."
    created_at = "2026-01-01T00:00:00.000Z"

File access is synchronous: the file is small, and a ``stat`` per lookup is cheaper
than a thread hop.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import tomli_w

from tether.credentials import digests_equal
from tether.users import NoSuchUser, UserExists, UserRecord, valid_name

Users = dict[str, UserRecord]


class UsersFileError(Exception):
    """The users file cannot be read or written; the message says why."""


def _record(name: str, data: dict[str, Any]) -> UserRecord:
    if not valid_name(name) or not isinstance(data, dict):
        raise UsersFileError(f"bad user entry {name!r}")
    try:
        return UserRecord(
            name=name,
            admin=bool(data.get("admin", False)),
            groups=frozenset(str(g) for g in data.get("groups", [])),
            email=str(data["email"]) if data.get("email") else None,
            password_hash=str(data["password"]) if data.get("password") else None,
            token_digests=tuple(str(t) for t in data.get("tokens", [])),
            serial=str(data["serial"]),
            created_at=str(data.get("created_at", "")),
            oidc_subject=str(data["oidc_subject"]) if data.get("oidc_subject") else None,
        )
    except (KeyError, TypeError) as exc:
        raise UsersFileError(f"bad user entry {name!r}: {exc}") from exc


def _table(user: UserRecord) -> dict[str, Any]:
    table: dict[str, Any] = {"admin": user.admin, "groups": sorted(user.groups)}
    if user.email:
        table["email"] = user.email
    if user.password_hash:
        table["password"] = user.password_hash
    table["tokens"] = list(user.token_digests)
    table["serial"] = user.serial
    table["created_at"] = user.created_at
    if user.oidc_subject:
        table["oidc_subject"] = user.oidc_subject
    return table


class FileDirectory:
    """A :class:`~tether.users.UserDirectory` in a TOML file, or in memory (``path`` None)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._users: Users = {}
        self._seen: tuple[int, int] | None = None

    # --- reading -------------------------------------------------------------------------

    def _current(self) -> Users:
        if self.path is None:
            return self._users
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._users, self._seen = {}, None
            return self._users
        except OSError as exc:
            raise UsersFileError(f"cannot read {self.path}: {exc.strerror}") from exc
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._seen:
            self._users, self._seen = self._parse(self.path.read_bytes()), stamp
        return self._users

    def _parse(self, raw: bytes) -> Users:
        try:
            doc = tomllib.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise UsersFileError(f"{self.path} is not valid TOML: {exc}") from exc
        table = doc.get("users", {})
        if not isinstance(table, dict):
            raise UsersFileError(f"{self.path}: [users] must be a table")
        return {name: _record(name, data) for name, data in table.items()}

    # --- writing -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _changing(self) -> Iterator[Users]:
        """Yield the users to change in place; write them back atomically on exit."""
        if self.path is None:
            yield self._users
            return
        lock_path = self.path.with_name(f".{self.path.name}.lock")
        try:
            lock = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise UsersFileError(f"cannot lock {self.path}: {exc.strerror}") from exc
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._seen = None  # re-read under the lock: another process may have written
            users = dict(self._current())
            yield users
            self._write(users)
        finally:
            os.close(lock)

    def _write(self, users: Users) -> None:
        assert self.path is not None
        text = tomli_w.dumps({"users": {n: _table(u) for n, u in sorted(users.items())}})
        # mkstemp creates the file with mode 0600 (before any secret is in it).
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self._seen = None

    # --- the Protocol --------------------------------------------------------------------

    async def get(self, name: str) -> UserRecord | None:
        return self._current().get(name)

    async def by_token(self, digest: str) -> UserRecord | None:
        for user in self._current().values():
            if any(digests_equal(digest, known) for known in user.token_digests):
                return user
        return None

    async def add(self, user: UserRecord) -> None:
        with self._changing() as users:
            if user.name in users:
                raise UserExists(user.name)
            users[user.name] = user

    async def set_password(self, name: str, password_hash: str) -> None:
        with self._changing() as users:
            if name not in users:
                raise NoSuchUser(name)
            users[name] = users[name].with_password(password_hash)

    async def add_token(self, name: str, digest: str) -> None:
        with self._changing() as users:
            if name not in users:
                raise NoSuchUser(name)
            users[name] = users[name].with_token(digest)

    async def remove(self, name: str) -> bool:
        with self._changing() as users:
            return users.pop(name, None) is not None

    async def list(self) -> list[UserRecord]:
        return [u for _, u in sorted(self._current().items())]

    async def close(self) -> None:
        return None
