"""Who may do what with a session: the one place that decides it, without I/O.

A caller has a :class:`Level` on each session, from what the store knows about it:

- ``OWNER`` — the principal started it (``session.owner``);
- ``ADMIN`` — the principal has the ``admin`` role: everything, on every session;
- ``ANSWERER`` / ``VIEWER`` — a share names the principal (``user:bob``) or one of its
  groups (``group:finance``) with that role; the strongest matching share counts;
- ``VIEWER`` — also a share link's holder (a principal scoped to that one session), and
  anyone a request of the session was ever assigned to, so they can see what they answer;
- ``NONE`` — everyone else, who is told what a missing id gets (404 / 4404): a
  session's existence is as private as its content.

What each level allows is below; handlers ask these functions and never compare roles
themselves.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from enum import IntEnum
from typing import Literal

from tether.messages import AccessName, Session
from tether.principal import Principal
from tether.users import valid_name

ShareRole = Literal["viewer", "answerer"]
SHARE_ROLES: tuple[ShareRole, ...] = ("viewer", "answerer")
USER_TARGET = "user:"
GROUP_TARGET = "group:"


class Level(IntEnum):
    NONE = 0
    VIEWER = 1
    ANSWERER = 2
    OWNER = 3
    ADMIN = 4

    @property
    def wire_name(self) -> AccessName:
        """The session's ``access`` field as the caller is sent it."""
        names: dict[Level, AccessName] = {
            Level.VIEWER: "viewer", Level.ANSWERER: "answerer",
            Level.OWNER: "owner", Level.ADMIN: "admin",
        }
        return names[self]


def targets_of(principal: Principal) -> list[str]:
    """The share targets that name ``principal``: its id and each of its groups."""
    if principal.session_scope is not None:
        return []  # a link's holder is nobody a share can name
    return [principal.id, *(GROUP_TARGET + group for group in sorted(principal.groups))]


def level_on(
    principal: Principal,
    session_id: str,
    owner: str,
    shares: Mapping[str, ShareRole],
    assignees: Collection[str] = (),
) -> Level:
    """``principal``'s level on the session ``session_id`` owned by ``owner``, shared as
    ``shares`` (target -> role), whose requests were assigned to ``assignees``."""
    if principal.session_scope is not None:  # a share link: that session, read-only
        return Level.VIEWER if principal.session_scope == session_id else Level.NONE
    if principal.is_admin:
        return Level.ADMIN
    if principal.id == owner:
        return Level.OWNER
    level = Level.NONE
    for target in targets_of(principal):
        role = shares.get(target)
        if role == "answerer":
            return Level.ANSWERER
        if role == "viewer" or target in assignees:
            level = Level.VIEWER
    return level


def may_answer(principal: Principal, level: Level, assignees: Collection[str]) -> bool:
    """May ``principal`` (at ``level`` on the session) answer a request assigned to
    ``assignees`` (empty: to whoever answers the session)?

    An assigned request waits for its assignees: not even the owner answers it for them,
    only an admin may step in.
    """
    if principal.session_scope is not None:
        return False
    if level >= Level.ADMIN:
        return True
    if assignees:
        return any(target in assignees for target in targets_of(principal))
    return level >= Level.ANSWERER


def may_cancel(level: Level) -> bool:
    """Cancelling ends the task for everyone: its owner's call (or an admin's)."""
    return level >= Level.OWNER


def may_fork(level: Level) -> bool:
    """A fork replays the source's answers, secret ones included, into a new session."""
    return level >= Level.OWNER


def may_manage_sharing(level: Level) -> bool:
    """Who may add and remove shares and links."""
    return level >= Level.OWNER


def may_list_shares(principal: Principal, level: Level) -> bool:
    """Anyone who sees the session sees whom it is shared with, except a link's holder
    (who has no account and is not part of the team)."""
    return level >= Level.VIEWER and principal.session_scope is None


def sees_traceback(level: Level) -> bool:
    """A failure's traceback may name paths and values of the owner's environment."""
    return level >= Level.OWNER


def seen_by(session: Session, level: Level) -> Session:
    """``session`` as a caller at ``level`` may see it: the one place that decides what
    only its owner is sent (the failure's traceback) and that tells the caller its
    ``access``. Every Session the hub serves passes here."""
    update: dict[str, object] = {"access": level.wire_name}
    error = session.error
    if error is not None and error.traceback is not None and not sees_traceback(level):
        update["error"] = error.model_copy(update={"traceback": None})
    return session.model_copy(update=update)


def parse_target(raw: str) -> str | None:
    """``user:NAME`` / ``group:NAME`` normalised (names lowercased), or None if it is
    neither. Names follow the account names' rules (``users.valid_name``)."""
    kind, sep, name = raw.strip().partition(":")
    if not sep:
        return None
    prefix = f"{kind.lower()}:"
    name = name.strip().lower()
    if prefix not in (USER_TARGET, GROUP_TARGET) or not valid_name(name):
        return None
    return prefix + name
