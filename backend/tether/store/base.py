"""What a store must do: the one Protocol that the memory and Redis stores implement.

A store holds, per session: the session record, its open requests, its answers, its
journal and its numbered event log; and it carries live events and commands between
processes. Every multi-key change is one atomic step (a Lua script in Redis, a plain
synchronous block in memory), so readers never see a record and a log that disagree.

Numbering happens here: :meth:`Store.append` assigns ``seq`` atomically, so a runner, an
answer arriving through another hub and a cancel can all write to one log without a lock
between processes. The same call recomputes the status: ``waiting`` while any request is
open, ``running`` otherwise, and emits a ``status`` event whenever it changes.

The behaviour is pinned down by ``tests/integration/test_store_contract.py``, which runs
against both implementations.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from tether.audit import AuditEntry, AuditPage, AuditQuery
from tether.messages import ForkOrigin, ProgressInfo, Session, seq_of
from tether.notifications import Audience, Notification
from tether.records import PendingRequest, RecordedAnswer

__all__ = ["PendingRequest", "RecordedAnswer"]  # the store boundary's types, re-exported

# A pseudo-session whose feed carries the command "released" whenever a hub lets leases
# go: lease keepers subscribe to it like to a session, and adopt at once.
RELEASES = "__released__"

UpdateOutcome = Literal["ok", "closed"]
ResolveOutcome = Literal["ok", "already_answered", "unknown_request", "session_finished"]
CancelOutcome = Literal["ok", "already_finished", "unknown_session"]
ClaimOutcome = Literal["ok", "held", "finished", "gone"]

# The command a session's runner receives when someone asks to cancel it:
# ``cancel`` alone, or ``cancel:<user id>`` naming who asked (see cancel_command).
CANCEL = "cancel"


# A pseudo-session whose feed carries the command "outbox" whenever a notification is
# queued: every hub's dispatcher listens, and looks at once (dispatch.py).
OUTBOX = "__outbox__"
OUTBOX_COMMAND = "outbox"

# The command every hub's connections to a session receive when a share or link of it is
# removed: each asks again whether its caller may still watch (ws.py).
ACCESS_CHANGED = "access"


def cancel_command(by: str | None) -> str:
    return CANCEL if not by else f"{CANCEL}:{by}"


def parse_cancel(command: str) -> tuple[bool, str | None]:
    """``(is a cancel, who asked)`` for a command made by :func:`cancel_command`."""
    name, _, by = command.partition(":")
    return name == CANCEL, by or None



# The "owner" whose index lists every session, for admins (no principal id is "*").
EVERYONE = "*"

# The statuses of a session that is not finished (quotas count these).
OPEN_STATUSES = frozenset({"pending", "running", "waiting"})


@dataclass(frozen=True, slots=True)
class StartQuota:
    """What a start of an owner's session is checked against, in the step that creates
    it (quotas.py): starts per ``window`` seconds, and sessions open at once. 0: no
    limit."""

    starts_per_window: int = 0
    max_open: int = 0
    window: int = 60

    @property
    def limits(self) -> bool:
        return self.starts_per_window > 0 or self.max_open > 0


def starts_key(owner: str) -> str:
    """The :meth:`Store.hit` key an owner's starts are counted under."""
    return f"starts:{owner}"

@dataclass(frozen=True, slots=True)
class NewSession:
    """What :meth:`Store.create_session` writes; JSON fields arrive already encoded."""

    id: str
    task: str
    owner: str
    created_at: str
    inputs_json: str
    version: str
    runner: str
    first_event: str  # the body of the initial ``status: pending`` event
    forked_from: ForkOrigin | None = None
    # The session's own trace context, a W3C traceparent (tracing.py); None: not traced.
    trace: str | None = None


@dataclass(frozen=True, slots=True)
class Seed:
    """A fork's past: the source's journal entries (their JSON, which the store never
    reads) and answers up to the fork point."""

    journal: dict[str, str] = field(default_factory=dict)
    answers: dict[str, RecordedAnswer] = field(default_factory=dict)


@dataclass(slots=True)  # not frozen: that tripled the cost of making one, once per event
class Entry:
    """One atomic unit of an append: at most one event plus the record changes it implies.
    Nothing changes an entry once it is made.

    Values in ``set`` are the stored strings of record fields (``status`` plain, ``state``,
    ``result`` and ``error`` JSON). ``pending_add`` maps request ids to the requests that
    open. ``journal`` maps journal keys to the entries' JSON (made by the replay core; the
    store keeps it and never reads it). ``emit_scope`` names the context scope that
    emitted the event, so a resumed task can tell which of its emits are already in the
    log. ``progress`` maps a progress label (``""`` for none) to its latest value: the
    store keeps it with the event, so a snapshot can show every bar even once the events
    that drew them are trimmed.
    """

    body: str | None = None
    set: dict[str, str] = field(default_factory=dict)
    pending_add: dict[str, PendingRequest] = field(default_factory=dict)
    pending_del: tuple[str, ...] = ()
    journal: dict[str, str] = field(default_factory=dict)
    emit_scope: str | None = None
    progress: dict[str, ProgressInfo] = field(default_factory=dict)
    # Notifications this entry's event causes (``seq`` 0: the store numbers them with the
    # event); queued in the outbox in the same step, and only with a body.
    notify: tuple[Notification, ...] = ()


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A session as stored, with the fields the wire does not show."""

    session: Session
    version: str
    runner: str
    cancel_requested: bool
    # request id -> the open request, in the order they were opened
    requests: dict[str, PendingRequest]
    cancel_by: str | None = None  # who asked first to cancel (None: nobody, or unknown)
    # every assignee any request of the session ever had (open or closed): they may read it
    assignees: frozenset[str] = frozenset()
    trace: str | None = None  # the session's trace context (NewSession.trace)


# --- inboxes: the open requests waiting for someone, across sessions -------------------
#
# Opening a request lists it, in the same atomic step, in one inbox per assignee (the
# assignee string itself, "user:bob" / "group:finance") or, unassigned, in its session
# owner's (owner_inbox); answering, expiring or the session finishing unlists it in the
# step that closes it. An inbox is ordered by when the request opened.

OWNER_INBOX_PREFIX = "owner:"


def owner_inbox(owner: str) -> str:
    """The inbox of the unassigned open requests in ``owner``'s sessions."""
    return OWNER_INBOX_PREFIX + owner


def inboxes_of(pending: PendingRequest, owner: str) -> tuple[str, ...]:
    """The inboxes an open request is listed in."""
    return tuple(pending.request.assignees) or (owner_inbox(owner),)


def opened_ms(pending: PendingRequest) -> int:
    """When the request opened, in epoch milliseconds (an inbox's order)."""
    stamp = pending.request.created_at.replace("Z", "+00:00")
    return int(datetime.fromisoformat(stamp).timestamp() * 1000)


@dataclass(frozen=True, slots=True, order=True)
class InboxEntry:
    """One listed request. Inboxes read newest first: descending by these fields in
    order (session ids have a fixed length, so this is also the order of the stored
    member ``"<session id>/<request id>"``)."""

    opened_ms: int
    session_id: str
    request_id: str

    @property
    def member(self) -> str:
        return f"{self.session_id}/{self.request_id}"

    @property
    def cursor(self) -> str:
        """An opaque ``before`` cursor: the next page starts just after this entry."""
        return f"{self.opened_ms}.{self.session_id}.{self.request_id}"

    @classmethod
    def from_cursor(cls, text: str) -> InboxEntry | None:
        """The entry a :attr:`cursor` names; None when ``text`` is not one."""
        parts = text.split(".")
        if len(parts) != 3 or not (parts[0].isascii() and parts[0].isdigit()):
            return None
        if not all(p.isascii() and p.isalnum() and len(p) <= 64 for p in parts[1:]):
            return None
        return cls(int(parts[0][:18]), parts[1], parts[2])

    @classmethod
    def from_member(cls, member: str, score: float) -> InboxEntry:
        session_id, _, request_id = member.partition("/")
        return cls(int(score), session_id, request_id)


def newest_first(
    entries: Iterable[InboxEntry], *, limit: int, before: InboxEntry | None
) -> list[InboxEntry]:
    """Up to ``limit`` of ``entries`` older than ``before``, newest first, each once."""
    kept = {e for e in entries if before is None or e < before}
    return sorted(kept, reverse=True)[:limit]


@dataclass(frozen=True, slots=True)
class EventRange:
    """The frames with seq > after that the log still keeps, oldest first, at most limit.

    ``trimmed`` when some frames with seq > after are gone (past the history cap): then
    ``frames`` starts at the oldest event the log keeps, and :attr:`gone_upto` is the seq
    just before it, which is where a ``snapshot`` stands in for what is gone.
    """

    frames: list[str]
    last_seq: int
    trimmed: bool
    # The log's epoch when it was read (epochs.py); None for a log written before epochs.
    epoch: str | None = None

    @property
    def gone_upto(self) -> int:
        """The seq just before the oldest kept event (``last_seq`` if none is kept)."""
        return seq_of(self.frames[0]) - 1 if self.frames else self.last_seq


# --- the outbox: notifications waiting to be delivered (dispatch.py) -------------------
#
# Each session's notifications wait in its outbox in seq order. A dispatcher claims a due
# session (a lease on the store's clock, so one dispatcher at a time works on a session's
# outbox and its deliveries stay in order), records each channel's state per notification,
# and releases it: finished notifications at the head leave, and the session is due again
# when its next retry is.

DeliveryStatus = Literal["retrying", "delivered", "failed"]


@dataclass(frozen=True, slots=True)
class DeliveryState:
    """One channel's progress with one notification. ``failed``: given up."""

    status: DeliveryStatus
    attempts: int
    first_at: float  # epoch seconds of the first attempt
    next_at: float | None = None  # epoch seconds of the next attempt (retrying)

    @property
    def finished(self) -> bool:
        return self.status != "retrying"

    def to_json(self) -> str:
        return json.dumps({"status": self.status, "attempts": self.attempts,
                           "first_at": self.first_at, "next_at": self.next_at})

    @classmethod
    def from_json(cls, raw: str) -> DeliveryState:
        data = json.loads(raw)
        return cls(status=data["status"], attempts=int(data["attempts"]),
                   first_at=float(data["first_at"]), next_at=data.get("next_at"))


def delivery_field(notification_id: str, channel: str) -> str:
    """Where a notification's state for a channel is kept (per session)."""
    return f"{notification_id} {channel}"


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A queued notification and what each channel has made of it so far."""

    notification: Notification
    deliveries: dict[str, DeliveryState] = field(default_factory=dict)


class SessionListener(Protocol):
    """Receives what happens to the sessions it subscribed to, in seq order per session."""

    def on_frames(self, session_id: str, frames: Sequence[str]) -> None: ...

    def on_command(self, session_id: str, command: str) -> None: ...

    def on_resync(self) -> None:
        """The feed may have dropped messages (a reconnect): refill from the log."""
        ...

    def on_outage(self) -> None:
        """The feed lost its connection; ``on_resync`` follows once it is back."""
        ...


class Store(Protocol):
    """Where sessions live. See the module docstring for the guarantees."""

    # Whether notifications are queued at all (notifications.Audience): none is while
    # nobody could receive it.
    audience: Audience

    def session_id_for(self, candidate: str, *, owner: str, idempotency_key: str | None) -> str:
        """The id to give a new session of ``owner`` made with ``idempotency_key``:
        ``candidate`` (a fresh sessions.new_session_id), or one like it that the store can
        create together with the key in one step (a cluster keeps them in one slot).
        :meth:`create_session` returns the id it made, which is this one."""
        ...

    async def create_session(
        self,
        new: NewSession,
        *,
        idempotency_key: str | None = None,
        fingerprint: str = "",
        seed: Seed | None = None,
        quota: StartQuota | None = None,
    ) -> tuple[str, bool, str]:
        """Create ``new`` unless the owner already used ``idempotency_key``.

        The new session's lease is held by ``new.runner``; ``seed`` pre-fills its journal
        and answers (a fork). Returns ``(session_id, created, fingerprint_of_original)``.

        With ``quota``, the start is counted (as :meth:`hit` counts, under
        :func:`starts_key`) and checked in the same step that creates it, so concurrent
        starts on any hub cannot all pass; a repeat of a used ``idempotency_key`` returns
        its session and counts nothing.

        Raises:
            TooManyStarts: this start is over ``quota.starts_per_window`` (nothing made).
            TooManyOpenSessions: ``quota.max_open`` of the owner's sessions are open
                (this start is still counted, as a refused one counts).
        """
        ...

    async def get_session(self, session_id: str) -> SessionRecord | None: ...

    async def list_sessions(
        self, owner: str, *, status: str | None, limit: int, before: str | None
    ) -> tuple[list[Session], str | None]:
        """The owner's sessions (every session for :data:`EVERYONE`), newest first, and a
        cursor for the next page."""
        ...

    async def count_open(self, owner: str) -> int:
        """How many of the owner's sessions are not finished (pending, running, waiting)."""
        ...

    async def hit(self, key: str, *, window: int) -> tuple[int, float]:
        """Count one event under ``key`` in the current ``window``-second window, for every
        hub of the store; returns the count so far in it and the seconds left in it."""
        ...

    async def append(
        self,
        session_id: str,
        entries: Sequence[Entry],
        *,
        runner: str | None = None,
        batch: str | None = None,
        floor: int = 0,
    ) -> int:
        """Apply ``entries`` in order, numbering their events; return the last seq.

        With ``runner``, refuse (``LeaseLost``) unless the record names that runner.
        With ``batch``, a token unique to this batch: if it is the last batch applied,
        apply nothing and return the current last seq (a retry after a lost reply).
        ``floor``: the last seq the caller saw the log reach; a log that ends below it
        lost its tail (a failover, a restore), and the same step gives it a new epoch
        before numbering anything (epochs.py).
        """
        ...

    def append_soon(
        self,
        session_id: str,
        entries: Sequence[Entry],
        *,
        runner: str | None = None,
        batch: str | None = None,
        floor: int = 0,
    ) -> asyncio.Future[int]:
        """:meth:`append`, without a coroutine: the future gets what ``append`` would
        return or raise. For callers that keep no task per write (the session writer).
        Called from the running event loop; the Redis store writes the appends of one
        loop turn together (``store/appends.py``).
        """
        ...

    async def read_events(self, session_id: str, *, after: int, limit: int) -> EventRange:
        """Up to ``limit`` kept frames with seq > ``after``; from a trimmed point, the
        oldest kept ones (see :class:`EventRange`), never nothing while any is kept.

        Raises:
            UnknownSession.
        """
        ...

    async def renew_epoch(self, session_id: str, *, replacing: str | None) -> str:
        """Give the log a new epoch unless it has moved on from ``replacing`` already
        (another hub or a writer renewed it); with None, only if it has none. Returns
        the epoch it has now (epochs.py).

        Raises:
            UnknownSession.
        """
        ...

    async def resolve_request(
        self,
        session_id: str,
        request_id: str,
        *,
        answer: RecordedAnswer,
        body: str,
        audit: AuditEntry | None = None,
        notify: Notification | None = None,
    ) -> ResolveOutcome:
        """Close an open request exactly once: record ``answer``, append ``body``, add
        ``audit`` to the audit log and queue ``notify`` (numbered with ``body``), all in
        one step (none of it unless ``ok``).

        Used both for answers and for expiry; the first caller wins.
        """
        ...

    async def update_request(
        self, session_id: str, request_id: str, *, pending: PendingRequest, body: str,
        runner: str, notify: Notification | None = None,
    ) -> UpdateOutcome:
        """Replace an open request (a reminder or an escalation changed it), list it in
        its assignees' inboxes, append ``body`` and queue ``notify``, in one step;
        ``closed`` (and nothing written) once it was answered or expired, or the session
        finished.

        Raises:
            LeaseLost: ``runner`` no longer holds the session.
            UnknownSession.
        """
        ...

    async def answers(self, session_id: str) -> dict[str, RecordedAnswer]:
        """Recorded answers, by request id."""
        ...

    async def open_requests(
        self, inboxes: Collection[str], *, limit: int, before: InboxEntry | None = None
    ) -> list[InboxEntry]:
        """The requests listed in any of ``inboxes`` (assignee strings and
        :func:`owner_inbox` names), newest first, each once, older than ``before``,
        at most ``limit``."""
        ...

    async def journal(self, session_id: str) -> dict[str, str]: ...

    async def emit_counts(self, session_id: str) -> dict[str, int]: ...

    async def fork_seed(self, session_id: str, *, at_seq: int) -> Seed:
        """The journal entries and answers the session had recorded when ``at_seq`` was
        its last event."""
        ...

    # --- leases: which runner owns an unfinished session, on the store's clock -----

    async def claim(self, session_id: str, runner: str) -> ClaimOutcome:
        """Take the session's lease unless another runner holds a live one."""
        ...

    async def renew(self, runner: str, session_ids: Collection[str]) -> list[str]:
        """Extend ``runner``'s leases; return the ids it no longer holds."""
        ...

    async def release(self, runner: str, session_ids: Collection[str]) -> int:
        """Let the leases run out now, so another hub may claim at once."""
        ...

    async def orphans(self, limit: int) -> list[str]:
        """Unfinished sessions whose lease has run out."""
        ...

    async def owned_by(self, runner: str) -> list[str]:
        """Unfinished sessions whose record names ``runner``, whatever their lease."""
        ...

    async def request_cancel(
        self, session_id: str, *, by: str | None = None, audit: AuditEntry | None = None
    ) -> CancelOutcome:
        """Mark the session for cancellation and tell its runner (the command
        :func:`cancel_command` makes, naming who asked first: a later cancel while it
        runs does not change who cancelled it). ``audit`` goes to the audit log in the
        same step, when the outcome is ``ok``."""
        ...

    # --- the audit log (audit.py): capped, newest entries kept ------------------------

    async def add_audit(self, entry: AuditEntry) -> None:
        """Append ``entry`` to the audit log (its ``id`` is assigned here, increasing)."""
        ...

    async def read_audit(self, query: AuditQuery) -> AuditPage:
        """The entries matching ``query``, newest first (see :class:`AuditPage`)."""
        ...

    # --- the outbox (see OutboxItem) -------------------------------------------------

    async def enqueue_notification(self, notification: Notification) -> None:
        """Queue a notification no event carries (a reminder, an escalation), with the
        ``seq`` it names, behind the session's others."""
        ...

    async def claim_outbox(
        self, dispatcher: str, *, limit: int, lease_seconds: float
    ) -> list[str]:
        """Up to ``limit`` sessions whose outbox is due, now held by ``dispatcher`` for
        ``lease_seconds`` (a claim whose lease ran out is due again)."""
        ...

    async def renew_outbox(
        self, dispatcher: str, session_ids: Collection[str], *, lease_seconds: float
    ) -> list[str]:
        """Extend ``dispatcher``'s claims; return the ids it no longer holds."""
        ...

    async def read_outbox(self, session_id: str, *, limit: int) -> list[OutboxItem]:
        """The session's first ``limit`` queued notifications, oldest first."""
        ...

    async def save_delivery(
        self, session_id: str, dispatcher: str, notification_id: str, channel: str,
        state: DeliveryState,
    ) -> bool:
        """Record ``state``; False (nothing written) unless ``dispatcher`` holds the
        session's claim."""
        ...

    async def release_outbox(
        self, session_id: str, dispatcher: str, *, finished: Sequence[OutboxItem],
        seen: int, delay: float | None,
    ) -> None:
        """Let the claim go (if still held): drop ``finished`` (the head of the outbox,
        every channel done with each) and their states; the session is due again now if
        more than the ``seen`` notifications are queued or ``delay`` is None while some
        are, after ``delay`` seconds otherwise, never once the outbox is empty."""
        ...

    async def notify(self, session_id: str, command: str) -> None:
        """Send ``command`` to every listener of the session, on every hub."""
        ...

    async def subscribe(self, session_id: str, listener: SessionListener) -> None:
        """Start feeding ``listener``; returns once no later event can be missed."""
        ...

    async def unsubscribe(self, session_id: str, listener: SessionListener) -> None: ...

    async def shared_secret(self, candidate: str) -> str:
        """The secret every hub on this store signs identities with (first one wins)."""
        ...

    async def ping(self) -> bool:
        """True when the store answers."""
        ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...
