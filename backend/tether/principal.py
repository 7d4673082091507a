"""``Principal``: who a request acts for, as every handler sees it.

The identity middleware (:mod:`tether.auth`) puts one on ``scope["state"]["principal"]``
for every HTTP request and WebSocket it lets through, and its ``id`` on
``scope["state"]["user"]``, which is what session records name as ``owner``.

Ids come in two shapes, and neither ever changes for the same person:

- ``user:NAME`` for an account (``tether users add NAME``) and for a user named by a
  trusted proxy's ``X-Tether-User`` header. Sharing names people this way
  (``"with": "user:bob"``).
- ``u_<16 hex>`` for an anonymous per-browser identity (single-person mode). It has no
  roles and no groups, and nobody else can name it.
- ``link:<id>`` for whoever holds a share link: no account, no roles, and
  ``session_scope`` names the one session it may watch (read-only; see ``access.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

USER_PREFIX = "user:"
ADMIN = "admin"
MEMBER = "member"


@dataclass(frozen=True, slots=True)
class Principal:
    """A caller: its stable ``id``, a ``name`` for people, its ``roles`` and ``groups``."""

    id: str
    name: str
    roles: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    session_scope: str | None = None  # a share link's session; None for everyone else

    @property
    def is_admin(self) -> bool:
        """Admins see and do everything, other users' sessions included."""
        return ADMIN in self.roles

    @classmethod
    def anonymous(cls, browser_id: str) -> Principal:
        """The one person of single-person mode, known only by a browser cookie."""
        return cls(id=browser_id, name="anonymous")

    @classmethod
    def user(
        cls, name: str, *, admin: bool = False, groups: frozenset[str] = frozenset()
    ) -> Principal:
        """An account, or a user vouched for by a trusted proxy."""
        roles = frozenset({MEMBER, ADMIN}) if admin else frozenset({MEMBER})
        return cls(id=user_id(name), name=name, roles=roles, groups=groups)


def link_principal(link_id: str, session_id: str) -> Principal:
    """The holder of share link ``link_id``, which shows ``session_id`` read-only."""
    return Principal(id=f"link:{link_id}", name="link", session_scope=session_id)


def user_id(name: str) -> str:
    """The stable id of the user called ``name``."""
    return USER_PREFIX + name
