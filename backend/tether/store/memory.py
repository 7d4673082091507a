"""The embedded store: everything in this process's memory, nothing survives a restart.

It keeps exactly the semantics of the Redis store (the contract suite runs against both);
each method body is synchronous between awaits, which makes every change atomic.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections import deque
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from tether.audit import AuditEntry, AuditPage, AuditQuery, PageCollector, entry_key
from tether.epochs import new_epoch, tail_lost
from tether.errors import LeaseLost, TooManyOpenSessions, TooManyStarts, UnknownSession
from tether.messages import (
    TERMINAL_STATUSES,
    ProgressInfo,
    Session,
    StatusEvent,
    event_body,
    frame_with_seq,
    now_iso,
)
from tether.notifications import Audience, Notification
from tether.store.base import (
    EVERYONE,
    OPEN_STATUSES,
    OUTBOX,
    OUTBOX_COMMAND,
    RELEASES,
    CancelOutcome,
    ClaimOutcome,
    DeliveryState,
    Entry,
    EventRange,
    InboxEntry,
    NewSession,
    OutboxItem,
    PendingRequest,
    RecordedAnswer,
    ResolveOutcome,
    Seed,
    SessionListener,
    SessionRecord,
    StartQuota,
    UpdateOutcome,
    cancel_command,
    delivery_field,
    inboxes_of,
    newest_first,
    opened_ms,
    starts_key,
)
from tether.store.codec import fields_for_new, page_of, record_from_fields, seed_upto

IDEMPOTENCY_TTL = 24 * 3600.0
SWEEP_INTERVAL = 60.0
OWNER_INDEX_CAP = 10_000


@dataclass(slots=True)
class _Stored:
    fields: dict[str, str]
    events: deque[str]
    pending: dict[str, PendingRequest] = field(default_factory=dict)
    answers: dict[str, RecordedAnswer] = field(default_factory=dict)
    journal: dict[str, str] = field(default_factory=dict)
    emits: dict[str, int] = field(default_factory=dict)
    progress: dict[str, ProgressInfo] = field(default_factory=dict)  # latest per label
    marks: dict[str, int] = field(default_factory=dict)  # "j:<key>" / "a:<rid>" -> seq
    expires_at: float | None = None
    assignees: set[str] = field(default_factory=set)  # of every request it ever had
    # open requests as listed: request id -> (its entry, the inboxes it is in)
    listed: dict[str, tuple[InboxEntry, tuple[str, ...]]] = field(default_factory=dict)


class MemoryStore:
    """Sessions in a dict. See :class:`tether.store.base.Store`."""

    def __init__(
        self,
        *,
        history_cap: int = 10_000,
        finished_ttl: float = 7 * 86400,
        lease_seconds: float = 10.0,
        audit_max: int = 100_000,
    ) -> None:
        self.audience = Audience()
        self._history_cap = history_cap
        self._finished_ttl = finished_ttl
        self._lease_seconds = lease_seconds
        self._leases: dict[str, float] = {}  # unfinished session id -> lease expiry
        self._sessions: dict[str, _Stored] = {}
        # owner -> session ids sorted ascending: ids are time-ordered, and ordering by id
        # (not by insertion) is what Redis's lex-sorted index does, so that the ``before``
        # cursor (an id) pages through sessions created in the same millisecond exactly once.
        self._by_owner: dict[str, list[str]] = {}
        self._hits: dict[str, tuple[int, float]] = {}  # quota key -> (count, window end)
        # inbox name -> its open requests, ascending (see base.InboxEntry)
        self._inboxes: dict[str, list[InboxEntry]] = {}
        self._idempotency: dict[tuple[str, str], tuple[str, str, float]] = {}
        self._listeners: dict[str, set[SessionListener]] = {}
        self._next_sweep = 0.0
        self._secret: str | None = None
        self._audit: deque[AuditEntry] = deque(maxlen=audit_max)
        self._audit_last = (0, 0)  # the last entry id, as (ms, n): ids only ever grow
        # the outbox (see base.OutboxItem): session id -> its queued notifications, when
        # it is due (monotonic; 0: now) or its claim expires, who holds it, its states
        self._outboxes: dict[str, deque[Notification]] = {}
        self._outbox_due: dict[str, float] = {}
        self._outbox_claims: dict[str, str] = {}
        self._deliveries: dict[str, dict[str, DeliveryState]] = {}

    # --- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self._listeners.clear()

    async def ping(self) -> bool:
        return True

    async def shared_secret(self, candidate: str) -> str:
        # First one wins, as in Redis: a second app on this store must not re-key identities.
        if self._secret is None:
            self._secret = candidate
        return self._secret

    # --- sessions --------------------------------------------------------------------

    def _get(self, session_id: str) -> _Stored | None:
        stored = self._sessions.get(session_id)
        if stored is not None and stored.expires_at is not None:
            if stored.expires_at <= time.monotonic():
                del self._sessions[session_id]
                return None
        return stored

    def session_id_for(self, candidate: str, *, owner: str, idempotency_key: str | None) -> str:
        return candidate

    async def create_session(
        self,
        new: NewSession,
        *,
        idempotency_key: str | None = None,
        fingerprint: str = "",
        seed: Seed | None = None,
        quota: StartQuota | None = None,
    ) -> tuple[str, bool, str]:
        now = time.monotonic()
        self._sweep(now)
        if idempotency_key is not None:
            known = self._idempotency.get((new.owner, idempotency_key))
            if known is not None and known[2] > now:
                return known[0], False, known[1]
        if quota is not None:
            self._admit(new.owner, quota)
        if idempotency_key is not None:
            self._idempotency[(new.owner, idempotency_key)] = (
                new.id, fingerprint, now + IDEMPOTENCY_TTL
            )
        first = frame_with_seq(1, new.first_event)
        self._sessions[new.id] = _Stored(
            fields=fields_for_new(new),
            events=deque([first], maxlen=self._history_cap),
            journal=dict(seed.journal) if seed else {},
            answers=dict(seed.answers) if seed else {},
        )
        self._leases[new.id] = now + self._lease_seconds
        for index in (new.owner, EVERYONE):
            owned = self._by_owner.setdefault(index, [])
            bisect.insort(owned, new.id)
            del owned[:-OWNER_INDEX_CAP]  # as in Redis: the newest ids are listed
        self._publish(new.id, [first])
        return new.id, True, fingerprint

    def _admit(self, owner: str, quota: StartQuota) -> None:
        """Count the start and check it (as create.lua does, in the same order)."""
        if quota.starts_per_window > 0:
            count, left = self._hit(starts_key(owner), quota.window)
            if count > quota.starts_per_window:
                raise TooManyStarts(quota.starts_per_window, left)
        if quota.max_open > 0 and self._count_open(owner) >= quota.max_open:
            raise TooManyOpenSessions(quota.max_open)

    def _sweep(self, now: float) -> None:
        """Drop expired sessions and idempotency keys (at most once a minute)."""
        if now < self._next_sweep:
            return
        self._next_sweep = now + SWEEP_INTERVAL
        for session_id in [k for k, v in self._sessions.items()
                           if v.expires_at is not None and v.expires_at <= now]:
            del self._sessions[session_id]
        for key in [k for k, v in self._idempotency.items() if v[2] <= now]:
            del self._idempotency[key]
        for owner, ids in list(self._by_owner.items()):
            kept = [i for i in ids if i in self._sessions]
            if kept:
                self._by_owner[owner] = kept
            else:
                del self._by_owner[owner]

    async def get_session(self, session_id: str) -> SessionRecord | None:
        stored = self._get(session_id)
        if stored is None:
            return None
        return record_from_fields(
            stored.fields, stored.pending, stored.progress, assignees=stored.assignees
        )

    async def list_sessions(
        self, owner: str, *, status: str | None, limit: int, before: str | None
    ) -> tuple[list[Session], str | None]:
        ids = self._by_owner.get(owner, [])
        out: list[Session] = []
        gone: list[str] = []
        end = len(ids) if before is None else bisect.bisect_left(ids, before)
        for session_id in reversed(ids[:end]):
            stored = self._get(session_id)
            if stored is None:
                gone.append(session_id)  # finished sessions that expired
                continue
            if status is not None and stored.fields["status"] != status:
                continue
            out.append(record_from_fields(stored.fields, stored.pending, stored.progress).session)
            if len(out) == limit + 1:
                break
        for session_id in gone:
            ids.remove(session_id)
        return page_of(out, limit)

    async def count_open(self, owner: str) -> int:
        return self._count_open(owner)

    def _count_open(self, owner: str) -> int:
        return sum(
            1 for session_id in self._by_owner.get(owner, [])
            if (stored := self._get(session_id)) is not None
            and stored.fields["status"] in OPEN_STATUSES
        )

    async def hit(self, key: str, *, window: int) -> tuple[int, float]:
        return self._hit(key, window)

    def _hit(self, key: str, window: int) -> tuple[int, float]:
        now = time.monotonic()
        count, ends = self._hits.get(key, (0, 0.0))
        if now >= ends:
            count, ends = 0, now + window
            # Forget ended windows now and then, so the table stays as small as the traffic.
            self._hits = {k: v for k, v in self._hits.items() if v[1] > now}
        self._hits[key] = (count + 1, ends)
        return count + 1, ends - now

    # --- the log ---------------------------------------------------------------------

    async def append(
        self,
        session_id: str,
        entries: Sequence[Entry],
        *,
        runner: str | None = None,
        batch: str | None = None,
        floor: int = 0,
    ) -> int:
        return self._append(session_id, entries, runner=runner, batch=batch, floor=floor)

    def append_soon(
        self,
        session_id: str,
        entries: Sequence[Entry],
        *,
        runner: str | None = None,
        batch: str | None = None,
        floor: int = 0,
    ) -> asyncio.Future[int]:
        # Applied at once, as append() is; the future is done when it is returned.
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        try:
            future.set_result(
                self._append(session_id, entries, runner=runner, batch=batch, floor=floor)
            )
        except Exception as exc:  # LeaseLost, UnknownSession: what append() would raise
            future.set_exception(exc)
        return future

    def _append(
        self, session_id: str, entries: Sequence[Entry], *, runner: str | None,
        batch: str | None, floor: int,
    ) -> int:
        stored = self._get(session_id)
        if stored is None:
            raise UnknownSession(session_id)
        if runner is not None and stored.fields["runner"] != runner:
            raise LeaseLost(session_id)
        if tail_lost(floor=floor, log_last=int(stored.fields["last_seq"])):
            stored.fields["epoch"] = new_epoch()
        if batch is not None:
            if stored.fields.get("batch") == batch:
                return int(stored.fields["last_seq"])
            stored.fields["batch"] = batch
        ts = now_iso()
        frames: list[str] = []
        for entry in entries:
            if stored.fields["status"] in TERMINAL_STATUSES:
                break
            self._apply(stored, entry, ts, frames)
        self._finish_write(session_id, stored, ts, frames)
        return int(stored.fields["last_seq"])

    def _apply(self, stored: _Stored, entry: Entry, ts: str, frames: list[str]) -> None:
        fields = stored.fields
        explicit = entry.set.get("status")
        fields.update({k: v for k, v in entry.set.items() if k != "status"})
        stored.pending.update(entry.pending_add)
        for request_id, pending in entry.pending_add.items():
            self._list(stored, request_id, pending)
        for request_id in entry.pending_del:
            stored.pending.pop(request_id, None)
            self._unlist(stored, request_id)
        if entry.body is not None:
            self._push(stored, entry.body, frames)
            if entry.emit_scope is not None:
                stored.emits[entry.emit_scope] = stored.emits.get(entry.emit_scope, 0) + 1
            for notification in entry.notify:  # numbered with the event that causes it
                self._enqueue(notification.model_copy(update={"seq": int(fields["last_seq"])}))
        stored.progress.update(entry.progress)
        for key, value in entry.journal.items():
            stored.journal[key] = value
            stored.marks[f"j:{key}"] = int(fields["last_seq"])
        self._settle_status(stored, explicit, ts, frames)

    def _settle_status(
        self, stored: _Stored, explicit: str | None, ts: str, frames: list[str]
    ) -> None:
        current = stored.fields["status"]
        new = explicit
        if new is None and current in ("running", "waiting"):
            new = "waiting" if stored.pending else "running"
        if new is not None and new != current:
            stored.fields["status"] = new
            self._push(stored, event_body(StatusEvent(seq=0, ts=ts, status=new)), frames)

    def _push(self, stored: _Stored, body: str, frames: list[str]) -> None:
        seq = int(stored.fields["last_seq"]) + 1
        stored.fields["last_seq"] = str(seq)
        frame = frame_with_seq(seq, body)
        stored.events.append(frame)
        frames.append(frame)

    def _finish_write(self, session_id: str, stored: _Stored, ts: str, frames: list[str]) -> None:
        if not frames:
            return
        stored.fields["updated_at"] = ts
        if stored.fields["status"] in TERMINAL_STATUSES:
            for request_id in list(stored.listed):
                self._unlist(stored, request_id)
            stored.pending.clear()
            stored.expires_at = time.monotonic() + self._finished_ttl
            self._leases.pop(session_id, None)
        self._publish(session_id, frames)

    async def read_events(self, session_id: str, *, after: int, limit: int) -> EventRange:
        stored = self._get(session_id)
        if stored is None:
            raise UnknownSession(session_id)
        last_seq = int(stored.fields["last_seq"])
        first_seq = last_seq - len(stored.events) + 1
        start = max(after + 1, first_seq)
        offset = start - first_seq
        frames = [stored.events[i] for i in range(offset, min(offset + limit, len(stored.events)))]
        return EventRange(frames=frames, last_seq=last_seq, trimmed=after + 1 < first_seq,
                          epoch=stored.fields.get("epoch"))

    async def renew_epoch(self, session_id: str, *, replacing: str | None) -> str:
        stored = self._get(session_id)
        if stored is None:
            raise UnknownSession(session_id)
        current = stored.fields.get("epoch")
        if current is None or current == replacing:
            current = stored.fields["epoch"] = new_epoch()
        return current

    # --- requests and commands -------------------------------------------------------

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
        stored = self._get(session_id)
        if stored is None:
            return "unknown_request"
        if request_id in stored.answers:
            return "already_answered"
        if stored.fields["status"] in TERMINAL_STATUSES:
            return "session_finished"
        if request_id not in stored.pending:
            return "unknown_request"
        ts = now_iso()
        stored.answers[request_id] = answer
        frames: list[str] = []
        self._apply(stored, Entry(
            body=body, pending_del=(request_id,), notify=(notify,) if notify else (),
        ), ts, frames)
        stored.marks[f"a:{request_id}"] = int(stored.fields["last_seq"]) - (len(frames) - 1)
        self._finish_write(session_id, stored, ts, frames)
        if audit is not None:
            self._add_audit(audit)
        return "ok"

    async def update_request(
        self, session_id: str, request_id: str, *, pending: PendingRequest, body: str,
        runner: str, notify: Notification | None = None,
    ) -> UpdateOutcome:
        stored = self._get(session_id)
        if stored is None:
            raise UnknownSession(session_id)
        if stored.fields["runner"] != runner:
            raise LeaseLost(session_id)
        if stored.fields["status"] in TERMINAL_STATUSES or request_id not in stored.pending:
            return "closed"
        ts = now_iso()
        frames: list[str] = []
        self._unlist(stored, request_id)
        entry = Entry(body=body, pending_add={request_id: pending},
                      notify=(notify,) if notify is not None else ())
        self._apply(stored, entry, ts, frames)
        self._finish_write(session_id, stored, ts, frames)
        return "ok"

    # --- inboxes -----------------------------------------------------------------------

    def _list(self, stored: _Stored, request_id: str, pending: PendingRequest) -> None:
        if request_id in stored.listed:
            return
        entry = InboxEntry(opened_ms(pending), stored.fields["id"], request_id)
        inboxes = inboxes_of(pending, stored.fields["owner"])
        stored.listed[request_id] = (entry, inboxes)
        stored.assignees.update(pending.request.assignees)
        for inbox in inboxes:
            bisect.insort(self._inboxes.setdefault(inbox, []), entry)

    def _unlist(self, stored: _Stored, request_id: str) -> None:
        listed = stored.listed.pop(request_id, None)
        if listed is None:
            return
        entry, inboxes = listed
        for inbox in inboxes:
            entries = self._inboxes.get(inbox, [])
            index = bisect.bisect_left(entries, entry)
            if index < len(entries) and entries[index] == entry:
                del entries[index]
            if not entries:
                self._inboxes.pop(inbox, None)

    async def open_requests(
        self, inboxes: Collection[str], *, limit: int, before: InboxEntry | None = None
    ) -> list[InboxEntry]:
        found: list[InboxEntry] = []
        for inbox in set(inboxes):
            entries = self._inboxes.get(inbox, [])
            end = len(entries) if before is None else bisect.bisect_left(entries, before)
            found += entries[max(0, end - limit):end]
        return newest_first(found, limit=limit, before=before)

    async def answers(self, session_id: str) -> dict[str, RecordedAnswer]:
        stored = self._get(session_id)
        return dict(stored.answers) if stored else {}

    async def journal(self, session_id: str) -> dict[str, str]:
        stored = self._get(session_id)
        return dict(stored.journal) if stored else {}

    async def emit_counts(self, session_id: str) -> dict[str, int]:
        stored = self._get(session_id)
        return dict(stored.emits) if stored else {}

    async def fork_seed(self, session_id: str, *, at_seq: int) -> Seed:
        stored = self._get(session_id)
        if stored is None:
            raise UnknownSession(session_id)
        return seed_upto(stored.journal, stored.answers, stored.marks, at_seq)

    # --- leases (one process: they matter only for its own runners) ------------------

    async def claim(self, session_id: str, runner: str) -> ClaimOutcome:
        stored = self._get(session_id)
        if stored is None:
            self._leases.pop(session_id, None)
            return "gone"
        if stored.fields["status"] in TERMINAL_STATUSES:
            self._leases.pop(session_id, None)
            return "finished"
        now = time.monotonic()
        if self._leases.get(session_id, 0.0) > now and stored.fields["runner"] != runner:
            return "held"
        stored.fields["runner"] = runner
        self._leases[session_id] = now + self._lease_seconds
        return "ok"

    async def renew(self, runner: str, session_ids: Collection[str]) -> list[str]:
        now = time.monotonic()
        lost: list[str] = []
        for session_id in session_ids:
            stored = self._get(session_id)
            if (stored is None or stored.fields["runner"] != runner
                    or stored.fields["status"] in TERMINAL_STATUSES):
                lost.append(session_id)
            else:
                self._leases[session_id] = now + self._lease_seconds
        return lost

    async def release(self, runner: str, session_ids: Collection[str]) -> int:
        released = 0
        for session_id in session_ids:
            stored = self._get(session_id)
            if stored is not None and stored.fields["runner"] == runner:
                if session_id in self._leases:
                    self._leases[session_id] = 0.0
                    released += 1
        if released:
            for listener in list(self._listeners.get(RELEASES, ())):
                listener.on_command(RELEASES, "released")
        return released

    async def owned_by(self, runner: str) -> list[str]:
        return [
            sid for sid in self._leases
            if (stored := self._get(sid)) is not None and stored.fields["runner"] == runner
        ]

    async def orphans(self, limit: int) -> list[str]:
        now = time.monotonic()
        expired = sorted((t, sid) for sid, t in self._leases.items() if t <= now)
        return [sid for _, sid in expired[:limit]]

    async def request_cancel(
        self, session_id: str, *, by: str | None = None, audit: AuditEntry | None = None
    ) -> CancelOutcome:
        stored = self._get(session_id)
        if stored is None:
            return "unknown_session"
        if stored.fields["status"] in TERMINAL_STATUSES:
            return "already_finished"
        if stored.fields["cancel"] != "1":  # the first to ask is who cancelled it
            stored.fields["cancel"] = "1"
            stored.fields["cancel_by"] = by or ""
        command = cancel_command(stored.fields.get("cancel_by") or None)
        for listener in list(self._listeners.get(session_id, ())):
            listener.on_command(session_id, command)
        if audit is not None:
            self._add_audit(audit)
        return "ok"

    async def notify(self, session_id: str, command: str) -> None:
        for listener in list(self._listeners.get(session_id, ())):
            listener.on_command(session_id, command)

    # --- the outbox --------------------------------------------------------------------

    def _enqueue(self, notification: Notification) -> None:
        if not self.audience.listening:
            return
        session_id = notification.session_id
        self._outboxes.setdefault(session_id, deque()).append(notification)
        if session_id not in self._outbox_claims:
            self._outbox_due[session_id] = 0.0
        for listener in list(self._listeners.get(OUTBOX, ())):
            listener.on_command(OUTBOX, OUTBOX_COMMAND)

    async def enqueue_notification(self, notification: Notification) -> None:
        self._enqueue(notification)

    async def claim_outbox(
        self, dispatcher: str, *, limit: int, lease_seconds: float
    ) -> list[str]:
        now = time.monotonic()
        due = sorted((at, sid) for sid, at in self._outbox_due.items() if at <= now)
        claimed = [sid for _, sid in due[:limit]]
        for session_id in claimed:
            self._outbox_due[session_id] = now + lease_seconds
            self._outbox_claims[session_id] = dispatcher
        return claimed

    async def renew_outbox(
        self, dispatcher: str, session_ids: Collection[str], *, lease_seconds: float
    ) -> list[str]:
        lost: list[str] = []
        for session_id in session_ids:
            if self._outbox_claims.get(session_id) == dispatcher:
                self._outbox_due[session_id] = time.monotonic() + lease_seconds
            else:
                lost.append(session_id)
        return lost

    async def read_outbox(self, session_id: str, *, limit: int) -> list[OutboxItem]:
        queued = list(self._outboxes.get(session_id, ()))[:limit]
        states = self._deliveries.get(session_id, {})
        items: list[OutboxItem] = []
        for notification in queued:
            prefix = f"{notification.id} "
            items.append(OutboxItem(notification, {
                key[len(prefix):]: state for key, state in states.items()
                if key.startswith(prefix)
            }))
        return items

    async def save_delivery(
        self, session_id: str, dispatcher: str, notification_id: str, channel: str,
        state: DeliveryState,
    ) -> bool:
        if self._outbox_claims.get(session_id) != dispatcher:
            return False
        self._deliveries.setdefault(session_id, {})[
            delivery_field(notification_id, channel)] = state
        return True

    async def release_outbox(
        self, session_id: str, dispatcher: str, *, finished: Sequence[OutboxItem],
        seen: int, delay: float | None,
    ) -> None:
        if self._outbox_claims.get(session_id) != dispatcher:
            return
        del self._outbox_claims[session_id]
        queued = self._outboxes.get(session_id, deque())
        states = self._deliveries.get(session_id, {})
        dropped = 0
        for item in finished:
            if not queued or queued[0].id != item.notification.id:
                break
            queued.popleft()
            dropped += 1
        for item in finished:
            for channel in item.deliveries:
                states.pop(delivery_field(item.notification.id, channel), None)
        if not queued:
            self._outboxes.pop(session_id, None)
            self._outbox_due.pop(session_id, None)
            self._deliveries.pop(session_id, None)
        elif len(queued) > seen - dropped or delay is None:
            self._outbox_due[session_id] = 0.0
        else:
            self._outbox_due[session_id] = time.monotonic() + delay

    # --- the audit log ---------------------------------------------------------------

    def _add_audit(self, entry: AuditEntry) -> None:
        # Ids as Redis makes them for XADD *: milliseconds, then a counter within one.
        ms, n = int(time.time() * 1000), 0
        if ms <= self._audit_last[0]:
            ms, n = self._audit_last[0], self._audit_last[1] + 1
        self._audit_last = (ms, n)
        self._audit.append(entry.model_copy(update={"id": f"{ms}-{n}"}))

    async def add_audit(self, entry: AuditEntry) -> None:
        self._add_audit(entry)

    async def read_audit(self, query: AuditQuery) -> AuditPage:
        collector = PageCollector(query)
        before = entry_key(query.before) if query.before else None
        for entry in reversed(self._audit):
            if before is not None and entry_key(entry.id) >= before:
                continue
            if not collector.offer(entry):
                break
        return collector.page()

    # --- live feed -------------------------------------------------------------------

    async def subscribe(self, session_id: str, listener: SessionListener) -> None:
        self._listeners.setdefault(session_id, set()).add(listener)

    async def unsubscribe(self, session_id: str, listener: SessionListener) -> None:
        listeners = self._listeners.get(session_id)
        if listeners is not None:
            listeners.discard(listener)
            if not listeners:
                del self._listeners[session_id]

    def _publish(self, session_id: str, frames: list[str]) -> None:
        for listener in list(self._listeners.get(session_id, ())):
            listener.on_frames(session_id, frames)

