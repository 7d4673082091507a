"""The audit log: who did what to which session, when, from where, and how it went.

Handlers describe what happened with :meth:`Audit.record` (or :meth:`Audit.attempt` for a
change that the store writes together with its entry); the store keeps the entries in a
capped log, the newest ``TETHER_AUDIT_MAX`` of them, and ``GET /api/audit`` pages through
them for admins (``audit_api.py``).

Actions recorded (``action``): ``login``, ``login_failed``, ``logout``, ``answer``,
``cancel``; the sharing code adds ``share.add``, ``share.remove``, ``link.create`` and
``link.revoke`` with the same call. ``outcome`` is ``ok`` or the error code the caller got
(``invalid_credentials``, ``already_answered``, ``unknown_session``...).

An entry never holds a secret: no password, no token, no cookie and no answer value (the
answer itself is recorded with the session; its entry names only the request).

Durability, by kind of entry:

- An answer or a cancel that succeeds is written in the same atomic store step as its
  entry (one Lua script in Redis), so there is never an answer without its entry, nor an
  entry for an answer that was not recorded.
- Every other entry (logins, logouts, refused answers and cancels) is a write of its own.
  If it fails, the action still goes through and the entry goes to the process log at
  ERROR level instead: refusing a login because the audit log is unreachable would not
  make the login any less real, and the store that keeps login sessions is the same one.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from pydantic import BaseModel, ConfigDict

from tether.errors import TetherError
from tether.messages import now_iso
from tether.principal import user_id
from tether.users import valid_name

if TYPE_CHECKING:
    # Types only: the package (and tether.client with it) imports without Starlette.
    from starlette.types import Scope

    from tether.store.base import Store

log = logging.getLogger(__name__)

MAX_AGENT = 200  # characters of User-Agent kept: enough to tell browsers and tools apart
MAX_FILTER = 200  # characters of an ?action=/?session=/?user= filter
MAX_LIMIT = 500  # entries per page of GET /api/audit
SCAN_LIMIT = 5000  # entries one page may look at for matches: bounded work per request
# Entry ids are the store's: Redis stream ids (``<ms>-<n>``), and the memory store makes
# the same shape, so one cursor syntax serves both.
ENTRY_ID = re.compile(r"[0-9]{1,20}-[0-9]{1,20}")
MAX_ID_PART = 2**64 - 1  # each half of a Redis stream id is an unsigned 64-bit number

T = TypeVar("T")


class AuditEntry(BaseModel):
    """One thing that happened. ``id`` is the store's (and the page cursor); the rest is
    written by the hub."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str = ""
    at: str
    action: str
    user: str | None = None  # principal id; for a failed login, the name that was tried
    session: str | None = None
    request: str | None = None
    target: str | None = None  # a share's user:/group: name and role, a link's id
    ip: str | None = None
    agent: str | None = None
    outcome: str = "ok"
    via: str | None = None  # how: "password", "link", "oidc"; "http", "ws"

    def stored(self) -> str:
        """The JSON the store keeps: everything but the id, which the store assigns."""
        return self.model_dump_json(exclude={"id"}, exclude_none=True)

    @classmethod
    def from_stored(cls, entry_id: str, text: str) -> AuditEntry:
        return cls.model_validate_json(text).model_copy(update={"id": entry_id})


class AuditPage(BaseModel):
    """A page of ``GET /api/audit``: newest first; ``next`` is the ``before`` of the next
    page, null at the end. A filtered page may hold fewer than ``limit`` entries (even
    none) while ``next`` is set: each page looks at no more than SCAN_LIMIT entries."""

    model_config = ConfigDict(frozen=True)

    entries: list[AuditEntry]
    next: str | None


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """What ``GET /api/audit`` asks for; None filters match everything."""

    limit: int = 50
    before: str | None = None
    action: str | None = None
    session: str | None = None
    user: str | None = None
    scan: int = SCAN_LIMIT  # entries to look at, at most, for this page

    def matches(self, entry: AuditEntry) -> bool:
        return (
            (self.action is None or entry.action == self.action)
            and (self.session is None or entry.session == self.session)
            and (self.user is None or entry.user == self.user)
        )


def entry_key(entry_id: str) -> tuple[int, int]:
    """An entry id as numbers, in the order the log keeps."""
    ms, _, n = entry_id.partition("-")
    return int(ms), int(n or 0)


def valid_cursor(text: str) -> bool:
    """``text`` can be an entry id (and so a ``before`` cursor)."""
    return ENTRY_ID.fullmatch(text) is not None and max(entry_key(text)) <= MAX_ID_PART


class PageCollector:
    """Builds an :class:`AuditPage` from entries offered newest first (both stores use it,
    so their pages agree). ``offer`` says whether to go on."""

    def __init__(self, query: AuditQuery) -> None:
        self.query = query
        self.entries: list[AuditEntry] = []
        self.next: str | None = None
        self._scanned = 0

    def offer(self, entry: AuditEntry) -> bool:
        if self.query.matches(entry):
            if len(self.entries) == self.query.limit:  # one more exists: the page is full
                self.next = self.entries[-1].id
                return False
            self.entries.append(entry)
        self._scanned += 1
        if self._scanned >= self.query.scan:
            self.next = entry.id  # the rest of the log is for the next page
            return False
        return True

    def page(self) -> AuditPage:
        return AuditPage(entries=self.entries, next=self.next)


@dataclass(frozen=True, slots=True)
class Where:
    """Where a request came from, as this hub sees it: the peer's address (a proxy's, when
    there is one in front) and the start of its User-Agent."""

    ip: str | None
    agent: str | None

    @classmethod
    def of(cls, scope: Scope) -> Where:
        client = scope.get("client")
        agent = next((v for k, v in scope.get("headers", ()) if k == b"user-agent"), None)
        return cls(
            ip=str(client[0]) if client else None,
            agent=agent.decode("latin-1")[:MAX_AGENT] if agent is not None else None,
        )


def attempted_user(username: str) -> str | None:
    """The user id a failed login tried, when the name could be one; None otherwise (so a
    password typed into the name field is not kept, unless it looks like a name)."""
    name = username.strip().lower()
    return user_id(name) if valid_name(name) else None


class Audit:
    """Records entries in the store's audit log; one per process, in the lifespan state."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @staticmethod
    def entry(
        action: str,
        *,
        user: str | None,
        where: Where,
        session: str | None = None,
        request: str | None = None,
        outcome: str = "ok",
        via: str | None = None,
        target: str | None = None,
    ) -> AuditEntry:
        """An entry stamped now, for :meth:`attempt` or :meth:`write`."""
        return AuditEntry(
            at=now_iso(), action=action, user=user, session=session, request=request,
            target=target, ip=where.ip, agent=where.agent, outcome=outcome, via=via,
        )

    async def record(
        self,
        action: str,
        *,
        user: str | None,
        where: Where,
        session: str | None = None,
        request: str | None = None,
        outcome: str = "ok",
        via: str | None = None,
        target: str | None = None,
    ) -> None:
        """Record that ``user`` did ``action`` (the one call for anything audited).

        Never raises: an entry that cannot be written is logged instead (see the module
        docstring).
        """
        await self.write(self.entry(
            action, user=user, where=where, session=session, request=request,
            outcome=outcome, via=via, target=target,
        ))

    async def write(self, entry: AuditEntry) -> None:
        try:
            await self._store.add_audit(entry)
        except Exception:  # the store is down, or worse: the action still stands
            log.error("Audit entry not stored, kept here instead: %s", entry.stored(),
                      exc_info=True)

    async def attempt(self, entry: AuditEntry, step: Callable[[AuditEntry], Awaitable[T]]) -> T:
        """Run ``step``, which writes ``entry`` in the same store step as its change when
        it succeeds; when it fails with a :class:`TetherError`, record ``entry`` with the
        error's code as its outcome, and raise the error on."""
        try:
            return await step(entry)
        except TetherError as exc:
            await self.write(entry.model_copy(update={"outcome": exc.code, "at": now_iso()}))
            raise

    async def logged_in(self, user: str, where: Where, *, via: str) -> None:
        """A login that worked (``via``: ``password``, ``link``, ``oidc``)."""
        await self.record("login", user=user, where=where, via=via)

    async def login_failed(
        self, user: str | None, where: Where, *, via: str, outcome: str
    ) -> None:
        """A login that did not (``user``: the id that was tried, if known)."""
        await self.record("login_failed", user=user, where=where, via=via, outcome=outcome)

    async def page(self, query: AuditQuery) -> AuditPage:
        return await self._store.read_audit(query)
