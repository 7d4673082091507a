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

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from tether.messages import ForkOrigin, ProgressInfo, Session, seq_of
from tether.records import PendingRequest, RecordedAnswer

__all__ = ["PendingRequest", "RecordedAnswer"]  # the store boundary's types, re-exported

# A pseudo-session whose feed carries the command "released" whenever a hub lets leases
# go: lease keepers subscribe to it like to a session, and adopt at once.
RELEASES = "__released__"

ResolveOutcome = Literal["ok", "already_answered", "unknown_request", "session_finished"]
CancelOutcome = Literal["ok", "already_finished", "unknown_session"]
ClaimOutcome = Literal["ok", "held", "finished", "gone"]

# The command a session's runner receives when someone asks to cancel it:
# ``cancel`` alone, or ``cancel:<user id>`` naming who asked (see cancel_command).
CANCEL = "cancel"


def cancel_command(by: str | None) -> str:
    return CANCEL if not by else f"{CANCEL}:{by}"


def parse_cancel(command: str) -> tuple[bool, str | None]:
    """``(is a cancel, who asked)`` for a command made by :func:`cancel_command`."""
    name, _, by = command.partition(":")
    return name == CANCEL, by or None



# The statuses of a session that is not finished (quotas count these).
OPEN_STATUSES = frozenset({"pending", "running", "waiting"})

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


@dataclass(frozen=True, slots=True)
class Seed:
    """A fork's past: the source's journal entries (their JSON, which the store never
    reads) and answers up to the fork point."""

    journal: dict[str, str] = field(default_factory=dict)
    answers: dict[str, RecordedAnswer] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Entry:
    """One atomic unit of an append: at most one event plus the record changes it implies.

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

    @property
    def gone_upto(self) -> int:
        """The seq just before the oldest kept event (``last_seq`` if none is kept)."""
        return seq_of(self.frames[0]) - 1 if self.frames else self.last_seq


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

    async def create_session(
        self,
        new: NewSession,
        *,
        idempotency_key: str | None = None,
        fingerprint: str = "",
        seed: Seed | None = None,
    ) -> tuple[str, bool, str]:
        """Create ``new`` unless the owner already used ``idempotency_key``.

        The new session's lease is held by ``new.runner``; ``seed`` pre-fills its journal
        and answers (a fork). Returns ``(session_id, created, fingerprint_of_original)``.
        """
        ...

    async def get_session(self, session_id: str) -> SessionRecord | None: ...

    async def list_sessions(
        self, owner: str, *, status: str | None, limit: int, before: str | None
    ) -> tuple[list[Session], str | None]:
        """The owner's sessions, newest first, and a cursor for the next page."""
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
    ) -> int:
        """Apply ``entries`` in order, numbering their events; return the last seq.

        With ``runner``, refuse (``LeaseLost``) unless the record names that runner.
        With ``batch``, a token unique to this batch: if it is the last batch applied,
        apply nothing and return the current last seq (a retry after a lost reply).
        """
        ...

    async def read_events(self, session_id: str, *, after: int, limit: int) -> EventRange:
        """Up to ``limit`` kept frames with seq > ``after``; from a trimmed point, the
        oldest kept ones (see :class:`EventRange`), never nothing while any is kept.

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
    ) -> ResolveOutcome:
        """Close an open request exactly once: record ``answer``, append ``body``.

        Used both for answers and for expiry; the first caller wins.
        """
        ...

    async def answers(self, session_id: str) -> dict[str, RecordedAnswer]:
        """Recorded answers, by request id."""
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

    async def request_cancel(self, session_id: str, *, by: str | None = None) -> CancelOutcome:
        """Mark the session for cancellation and tell its runner (the command
        :func:`cancel_command` makes, naming who asked first: a later cancel while it
        runs does not change who cancelled it)."""
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
