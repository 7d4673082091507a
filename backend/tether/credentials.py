"""Passwords and API tokens: how they are made, stored and checked.

- **Passwords** are hashed with Argon2id through ``argon2-cffi`` (the winner of the
  Password Hashing Competition, with the library's RFC 9106 defaults). A hash made with
  older parameters is re-made at the next successful login (:meth:`Passwords.verify`
  says when). A username that does not exist is checked against a dummy hash, so a
  wrong name and a wrong password take the same time and get the same answer.
- **API tokens** are 32 random bytes (``secrets.token_urlsafe``), shown once and stored
  only as their SHA-256. A slow hash protects guessable secrets; a token has 256 bits of
  entropy, so nobody can brute-force it from its hash, and a fast hash lets every request
  be checked without an Argon2 round. Lookup is by hash (the attacker controls the token,
  not its hash, so the index leaks nothing useful), then the stored and computed hashes
  are compared with ``hmac.compare_digest``.

Argon2 takes tens of milliseconds of CPU and 64 MiB: callers on the event loop run
:meth:`Passwords.verify` in a thread.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

TOKEN_PREFIX = "tether_"
MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # Argon2 takes any length; this bounds the work a request can ask for


class Passwords:
    """Hashes and checks passwords; one per process (its dummy hash costs one Argon2 run)."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> tuple[bool, bool]:
        """``(matches, needs_rehash)``. ``stored`` None (no such user, or a user without a
        password) is checked against the dummy hash and never matches."""
        if len(password) > MAX_PASSWORD:
            password = password[:MAX_PASSWORD]  # still one full Argon2 run, then refused
            stored = None
        try:
            self._hasher.verify(stored or self._dummy, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False, False
        if stored is None:
            return False, False
        return True, self._hasher.check_needs_rehash(stored)


def password_problem(password: str) -> str | None:
    """Why ``password`` cannot be set, or None."""
    if len(password) < MIN_PASSWORD:
        return f"a password needs at least {MIN_PASSWORD} characters"
    if len(password) > MAX_PASSWORD:
        return f"a password has at most {MAX_PASSWORD} characters"
    return None


def new_token() -> str:
    """A new API token; the prefix lets secret scanners recognise a leaked one."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What is stored of a token: its SHA-256, in hex."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def digests_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
