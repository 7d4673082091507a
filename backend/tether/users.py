"""Accounts: what a user is, which names are allowed, and the ``UserDirectory`` Protocol.

A user has a **name** of 1 to 64 characters: lowercase ASCII letters, digits, ``.``,
``_`` and ``-``, starting with a letter or a digit (``alice``, ``ops-bot``,
``j.smith``). Names are never renamed, so the id ``user:NAME`` is stable for as long
as the account lives; one letter case only, so ``Alice`` and ``alice`` cannot be two
people. Group names follow the same rule. Each account also has a random ``serial``
made at creation: a login session names it, so a session of a removed user stays
refused when someone re-creates the name.

An account made by an OpenID Connect login (``oidc.py``) names its provider's subject
(``oidc_subject``, the issuer and ``sub``): only that subject may log in to it, it has no
password, and its roles and groups come from the provider at each login (they are kept in
the login session, not here).

Two directories implement the Protocol and pass one contract suite
(``tests/integration/test_user_directory.py``): a TOML file (``users_file.py``, for the
memory store; or in memory only, without a file) and Redis (``store/redis_users.py``).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field, replace
from typing import Protocol

from tether.messages import now_iso
from tether.principal import Principal

NAME_RULE = (
    "1 to 64 characters: a-z, 0-9, '.', '_', '-', '@', '+', starting with a letter or digit"
)
# '@' and '+': a single sign-on proxy names people by e-mail address (proxy mode, auth.py),
# and each name a caller can have must be one a share or an assignee can name.
_NAME = re.compile(r"[a-z0-9][a-z0-9._@+-]{0,63}")
_PLAIN_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
MAX_GROUPS = 64


class UserExists(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(f"a user named {name!r} already exists")


class NoSuchUser(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(f"no user is named {name!r}")


def valid_name(name: str) -> bool:
    return _NAME.fullmatch(name) is not None


def valid_plain_name(name: str) -> bool:
    """A valid name without '@' or '+' (the rule before e-mail-like names were allowed;
    OpenID logins keep it, so that an account they made keeps its name)."""
    return _PLAIN_NAME.fullmatch(name) is not None


def name_problem(name: str, what: str = "a user name") -> str | None:
    """Why ``name`` cannot be a user (or group) name, or None."""
    return None if valid_name(name) else f"{what} has {NAME_RULE}; {name!r} does not"


@dataclass(frozen=True, slots=True)
class UserRecord:
    """One account as a directory stores it. Secrets appear only hashed."""

    name: str
    admin: bool = False
    groups: frozenset[str] = frozenset()
    email: str | None = None
    password_hash: str | None = None
    token_digests: tuple[str, ...] = ()
    serial: str = field(default_factory=lambda: secrets.token_hex(8))
    created_at: str = field(default_factory=now_iso)
    oidc_subject: str | None = None  # "ISSUER SUB" of an account an OpenID provider made

    def principal(self) -> Principal:
        return Principal.user(self.name, admin=self.admin, groups=self.groups)

    def with_password(self, password_hash: str) -> UserRecord:
        return replace(self, password_hash=password_hash)

    def with_token(self, digest: str) -> UserRecord:
        return replace(self, token_digests=(*self.token_digests, digest))


class UserDirectory(Protocol):
    """Where accounts live. Every method is safe to call from several processes at once."""

    async def get(self, name: str) -> UserRecord | None:
        """The user called ``name``, or None."""
        ...

    async def by_token(self, digest: str) -> UserRecord | None:
        """The user one of whose API tokens has SHA-256 ``digest``, or None."""
        ...

    async def add(self, user: UserRecord) -> None:
        """Create ``user``. Raises :class:`UserExists`."""
        ...

    async def set_password(self, name: str, password_hash: str) -> None:
        """Replace the user's password hash. Raises :class:`NoSuchUser`."""
        ...

    async def add_token(self, name: str, digest: str) -> None:
        """Give the user one more API token. Raises :class:`NoSuchUser`."""
        ...

    async def remove(self, name: str) -> bool:
        """Delete the user and its tokens; False when there was none."""
        ...

    async def list(self) -> list[UserRecord]:
        """Every user, by name."""
        ...

    async def close(self) -> None: ...
