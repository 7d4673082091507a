"""``SessionManager``: starts sessions, supervises their runners, takes answers and cancels.

This is the pure core the HTTP and WebSocket layers call into; it knows nothing of
Starlette. Answers may arrive at any hub: the manager validates them with the request's
own model (the live class when this hub runs the session) and records them with one
atomic store call, so the first valid answer wins wherever it came from and the runner
learns of it through the session's feed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from tether.access import Level, level_on, may_answer, may_cancel, may_fork, targets_of
from tether.audit import AuditEntry
from tether.errors import (
    AlreadyAnswered,
    AlreadyFinished,
    Forbidden,
    IdempotencyKeyReused,
    InvalidInputs,
    InvalidMessage,
    InvalidValue,
    SessionFinished,
    StoreUnavailable,
    UnknownRequest,
    UnknownSession,
    UnknownTask,
)
from tether.executors import Executors
from tether.forks import with_hints
from tether.forms import field_errors
from tether.hub import Hub
from tether.messages import (
    TERMINAL_STATUSES,
    ForkOrigin,
    Request,
    RequestAnsweredEvent,
    RequestKind,
    Session,
    StatusEvent,
    dump_json,
    event_body,
    now_iso,
)
from tether.metrics import HubMetrics, epoch_of
from tether.notifications import SessionNotices
from tether.parking import Parking
from tether.principal import Principal
from tether.requests import PendingRequest, answer_record, validate_answer
from tether.runner import SessionRunner
from tether.sealing import Sealer
from tether.sharing import ShareStore
from tether.store.base import NewSession, ResolveOutcome, SessionRecord, StartQuota, Store
from tether.store.codec import new_record
from tether.tracing import SessionTrace, Tracing

log = logging.getLogger(__name__)


def new_session_id() -> str:
    """Time-ordered ids (48-bit milliseconds, then 64 random bits): sorting = age."""
    return f"{int(time.time() * 1000):012x}{secrets.token_hex(8)}"


_SESSION_ID = re.compile(r"[0-9a-f]{28}")


def session_id_time(session_id: str) -> float | None:
    """When :func:`new_session_id` made ``session_id`` (epoch seconds); None for a string
    it cannot have made."""
    if not _SESSION_ID.fullmatch(session_id):
        return None
    return int(session_id[:12], 16) / 1000


def forgotten_session(session_id: str, restarted_at: float) -> UnknownSession:
    """``UnknownSession`` for a session a memory store lost when its hub restarted.

    The message is also the WebSocket's 4404 close reason, so it stays within a close
    frame's 123 bytes (the time is fixed-width).
    """
    at = datetime.fromtimestamp(restarted_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return UnknownSession(session_id, (
        f"The hub keeps sessions in memory and restarted at {at}; older ones are gone"
        " (TETHER_REDIS_URL keeps them)."
    ))


@dataclass(frozen=True, slots=True)
class Grant:
    """A session and what the caller who asked for it may do with it (``access.py``)."""

    record: SessionRecord
    level: Level


class SessionManager:
    """See the module docstring. Build one per process; ``close()`` on shutdown."""

    def __init__(
        self, *, store: Store, shares: ShareStore, hub: Hub, hub_id: str, sealer: Sealer,
        forgets_before: float | None = None, tracing: Tracing | None = None,
        executors: Executors | None = None, metrics: HubMetrics | None = None,
        park_after: float = 0.0,
    ) -> None:
        """``forgets_before``: with a store that keeps nothing across restarts (memory),
        when it started (epoch seconds); a session made before then that is not found is
        reported as lost in the restart instead of as never having existed. ``tracing``:
        the hub's spans (none by default). ``executors``: where tasks may send steps
        (``executor="ray"``); none by default. ``metrics``: the hub's (``tether_sessions`` is
        counted from this manager's runners). ``park_after``: seconds a runner that
        only waits for an answer is kept before it is parked (parking.py; 0: never)."""
        self._store = store
        self._tracing = tracing or Tracing(hub_id=hub_id)
        self._executors = executors or Executors()
        self._shares = shares
        self._sealer = sealer
        self._hub = hub
        self._hub_id = hub_id
        self._forgets_before = forgets_before
        self._runners: dict[str, SessionRunner] = {}
        self._resuming: set[str] = set()  # read from the store, to run (see resume)
        self.foreign: set[str] = set()  # sessions of tasks this hub does not serve
        self._supervised: set[asyncio.Task[None]] = set()
        self._metrics = metrics or HubMetrics(tasks=hub.tasks)
        self._metrics.count_sessions_with(self.census)
        self.parking = Parking(store=store, after=park_after, resume=self.resume,
                               parked_total=self._metrics.sessions_parked.inc)

    @property
    def hub(self) -> Hub:
        return self._hub

    @property
    def store(self) -> Store:
        return self._store

    @property
    def shares(self) -> ShareStore:
        return self._shares

    @property
    def running(self) -> int:
        return len(self._runners)

    def census(self) -> dict[tuple[str, str], int]:
        """``{(task, status): count}`` of the sessions this hub runs now, from memory
        (a parked session waits)."""
        counts: dict[tuple[str, str], int] = {}
        parking = self.parking
        for runner in self._runners.values():
            if runner.session_id not in parking:  # a parked runner still unwinding
                key = (runner.task_name, runner.status)
                counts[key] = counts.get(key, 0) + 1
        for task in parking.census():
            counts[(task, "waiting")] = counts.get((task, "waiting"), 0) + 1
        return counts

    # --- starting --------------------------------------------------------------------

    async def start(
        self,
        task_name: str,
        inputs: dict[str, Any],
        *,
        owner: str,
        idempotency_key: str | None = None,
        trace_headers: Mapping[str, str] | None = None,
        quota: StartQuota | None = None,
    ) -> tuple[Session, bool]:
        """Validate and create a session, then run it. Returns ``(session, created)``.

        ``trace_headers``: the caller's W3C ``traceparent`` (and ``tracestate``), whose
        trace the session's spans continue (tracing.py). ``quota``: the owner's limits,
        checked by the store as it creates the session.

        Raises:
            UnknownTask, InvalidInputs, IdempotencyKeyReused, TooManyStarts,
            TooManyOpenSessions.
        """
        task = self._hub.tasks.get(task_name)
        if task is None:
            raise UnknownTask(task_name)
        try:
            validated = task.input_model.model_validate(inputs)
            inputs_json = dump_json(validated.model_dump(mode="json"))
        except ValidationError as exc:
            raise InvalidInputs(field_errors(exc)) from exc
        except TypeError as exc:  # e.g. text that is not valid Unicode
            raise InvalidInputs({"__root__": f"The inputs are {exc}"}) from exc
        fingerprint = hashlib.sha256(
            json.dumps([task_name, inputs], sort_keys=True, default=str).encode()
        ).hexdigest()[:32]
        created_at = now_iso()
        new = NewSession(
            id=self._store.session_id_for(
                new_session_id(), owner=owner, idempotency_key=idempotency_key
            ),
            task=task_name,
            owner=owner,
            created_at=created_at,
            inputs_json=inputs_json,
            version=task.version,
            runner=self._hub_id,
            first_event=event_body(StatusEvent(seq=0, ts=created_at, status="pending")),
        )
        # The runner listens before the session exists, so a cancel sent as soon as it
        # does reaches it on the feed, and the record is the one written here: a start
        # costs the create and nothing read back.
        with self._tracing.creating(new.id, task_name, headers=trace_headers) as opening:
            traced = opening.traced(new)
            record = new_record(traced)
            runner = self._runner(record, fresh=True)
            await runner.listen()
            try:
                session_id, created, original = await self._store.create_session(
                    traced, idempotency_key=idempotency_key, fingerprint=fingerprint,
                    quota=quota,
                )
            except BaseException:
                await runner.stop_listening()
                raise
            opening.made(session_id, created=created)
        if created:
            self._metrics.for_task(task_name).started()
            self._run(runner)
            return record.session, True
        await runner.stop_listening()  # the key's first start made the session
        if original != fingerprint:
            raise IdempotencyKeyReused(idempotency_key or "")
        earlier = await self._store.get_session(session_id)
        if earlier is None:  # finished and expired since: only for a very old key
            raise UnknownSession(session_id)
        return earlier.session, False

    def _runner(
        self, record: SessionRecord, *, resume: bool = False, fresh: bool = False
    ) -> SessionRunner:
        return SessionRunner(
            store=self._store, task=self._hub.tasks[record.session.task], record=record,
            runner_id=self._hub_id, sealer=self._sealer, resume=resume, fresh=fresh,
            tracing=self._tracing, executors=self._executors,
            metrics=self._metrics.for_task(record.session.task),
        )

    def _launch(self, record: SessionRecord, *, resume: bool = False) -> None:
        self._run(self._runner(record, resume=resume))

    def _run(self, runner: SessionRunner) -> None:
        session_id = runner.session_id
        self._runners[session_id] = runner
        task = asyncio.create_task(runner.run(), name=f"runner-{session_id}")
        self._supervised.add(task)
        task.add_done_callback(lambda t: self._runner_done(session_id, t))
        self.parking.start(self._runners.values)

    def _runner_done(self, session_id: str, task: asyncio.Task[None]) -> None:
        self._supervised.discard(task)
        self._runners.pop(session_id, None)
        self.parking.stopped(session_id)
        if not task.cancelled() and task.exception() is not None:
            log.error("Runner of session %s crashed", session_id, exc_info=task.exception())

    # --- resuming, forking and giving sessions up ------------------------------------

    def running_ids(self) -> list[str]:
        """The sessions this hub runs or has parked now (their leases need renewing)."""
        held = {*self._runners, *self._resuming}
        return [*held, *(i for i in self.parking.ids() if i not in held)]

    async def resume(self, session_id: str) -> None:
        """Run a session again from its journal (this hub holds its lease now)."""
        if session_id in self._runners or session_id in self._resuming:
            return  # running, or about to (a wake and an adoption at once: one runner)
        self._resuming.add(session_id)
        try:
            await self._resume(session_id)
        finally:
            self._resuming.discard(session_id)

    async def _resume(self, session_id: str) -> None:
        self.parking.discard(session_id)  # adopted while parked: it runs now
        record = await self._store.get_session(session_id)
        if record is None or record.session.status in TERMINAL_STATUSES:
            return
        if record.session.task not in self._hub.tasks:
            # Another hub (say, a newer version mid-deploy) may serve it: let it go, and
            # do not adopt it again.
            log.warning("Session %s runs task %r, which this hub does not serve; leaving it "
                        "to a hub that does", session_id, record.session.task)
            self.foreign.add(session_id)
            await self._store.release(self._hub_id, [session_id])
            return
        self._metrics.for_task(record.session.task).resumed_session()
        self._launch(record, resume=True)

    def lost(self, session_id: str) -> None:
        """Another hub took the session over: stop our runner, write nothing more."""
        self._metrics.leases_lost.inc()
        self.parking.discard(session_id)
        runner = self._runners.get(session_id)
        if runner is not None:
            runner.abandon()

    async def fork(
        self, session_id: str, *, who: Principal, at_seq: int | None = None
    ) -> Session:
        """Start a new session whose past is the source's up to ``at_seq`` (default: now).

        Its task runs from the start with the source's journal up to that point, so
        finished steps return their recorded results, questions answered before
        ``at_seq`` keep their answers, and the first question after it is asked again,
        its form pre-filled with the source's answer (see :mod:`tether.forks`).

        Raises:
            UnknownSession, Forbidden, InvalidMessage (``at_seq`` out of range).
        """
        grant = await self.get(session_id, who=who)
        if not may_fork(grant.level):
            raise Forbidden("Only the session's owner may fork it.")
        record = grant.record
        source = record.session
        at = source.last_seq if at_seq is None else at_seq
        if not 1 <= at <= source.last_seq:
            raise InvalidMessage(
                f"at_seq must be from 1 to {source.last_seq}.", fields={"at_seq": str(at_seq)}
            )
        seed = with_hints(
            await self._store.fork_seed(session_id, at_seq=at),
            await self._store.journal(session_id), await self._store.answers(session_id),
        )
        created_at = now_iso()
        new = NewSession(
            id=new_session_id(), task=source.task, owner=who.id, created_at=created_at,
            inputs_json=dump_json(source.inputs), version=record.version,
            runner=self._hub_id,
            first_event=event_body(StatusEvent(seq=0, ts=created_at, status="pending")),
            forked_from=ForkOrigin(session_id=session_id, at_seq=at),
        )
        with self._tracing.forking(new.id, record, at_seq=at) as opening:
            new_id, _, _ = await self._store.create_session(opening.traced(new), seed=seed)
        forked = await self._store.get_session(new_id)
        if forked is None:
            raise UnknownSession(new_id)
        self._metrics.for_task(source.task).started()
        self._launch(forked, resume=True)
        return forked.session

    # --- reading ---------------------------------------------------------------------

    async def get(self, session_id: str, *, who: Principal) -> Grant:
        """The session and ``who``'s level on it; ``UnknownSession`` when it does not
        exist or ``who`` may not see it (the same answer, so ids reveal nothing)."""
        record = await self._store.get_session(session_id)
        if record is None and self._forgets_before is not None:
            made = session_id_time(session_id)
            if made is not None and made < self._forgets_before:
                raise forgotten_session(session_id, self._forgets_before)
        if record is None:
            raise UnknownSession(session_id)
        owner = record.session.owner
        if who.id == owner and who.session_scope is None:  # the common case: no shares read
            return Grant(record, Level.ADMIN if who.is_admin else Level.OWNER)
        shares = {} if who.is_admin else await self._shares.shares(session_id)
        level = level_on(
            who, session_id, owner, {t: s.role for t, s in shares.items()}, record.assignees
        )
        if level is Level.NONE:
            raise UnknownSession(session_id)
        if who.session_scope is not None and await self.link_expiry(who) is None:
            raise UnknownSession(session_id, "This link has expired or was revoked.")
        return Grant(record, level)

    async def link_expiry(self, who: Principal) -> float | None:
        """When the share link ``who`` holds expires (epoch seconds); None once it is
        revoked or expired. A connection opened by the link is checked again then."""
        if who.session_scope is None:
            return None
        link_id = who.id.removeprefix("link:")
        for link in await self._shares.links(who.session_scope):
            if link.id == link_id:
                return link.expires_at
        return None

    async def list_shared(
        self, who: Principal, *, status: str | None, limit: int, before: str | None
    ) -> tuple[list[Grant], str | None]:
        """Sessions shared with ``who`` or its groups, newest first, with a cursor for
        the next page (as :meth:`Store.list_sessions` has it)."""
        targets = targets_of(who)
        found: list[Grant] = []
        gone: list[str] = []
        cursor = before
        while targets and len(found) <= limit:
            ids = await self._shares.shared_with(targets, limit=limit + 1, before=cursor)
            for session_id in ids:
                record = await self._store.get_session(session_id)
                if record is None:  # finished and expired: its shares went with it
                    gone.append(session_id)
                    continue
                if status not in (None, record.session.status):
                    continue
                shares = await self._shares.shares(session_id)
                level = level_on(
                    who, session_id, record.session.owner,
                    {t: share.role for t, share in shares.items()}, record.assignees,
                )
                if level is not Level.NONE:
                    found.append(Grant(record, level))
            if len(ids) <= limit:
                break
            cursor = ids[-1]
        for target in targets:
            await self._shares.forget_shared(target, gone)
        shown = found[:limit]
        return shown, (shown[-1].record.session.id if len(found) > limit else None)

    # --- answering and cancelling ----------------------------------------------------

    async def answer(
        self,
        session_id: str,
        *,
        who: Principal,
        value: Any,
        request_id: str | None = None,
        kind: RequestKind | None = None,
        audit: AuditEntry | None = None,
    ) -> str:
        """Record ``who``'s answer to an open request; return the request id.

        ``request_id`` may be left out when exactly one open request has ``kind``.
        ``audit`` is stored with the answer, in the same step, naming the request.

        Raises:
            UnknownSession, Forbidden, UnknownRequest, InvalidMessage (wrong kind),
            InvalidValue, AlreadyAnswered, SessionFinished.
        """
        local = self._answered_locally(session_id, who, request_id, kind)
        if local is not None:
            guess, runner = local
            outcome = await self._resolve(
                session_id, guess, runner.notices, who, value, audit,
                task=runner.task_name, trace=runner.tracing,
            )
            if outcome == "ok":
                return guess.request.request_id
            # Closed meanwhile, or this hub's view was behind the store's: the stored
            # session decides what the caller is told, as for any other answer.
        grant = await self.get(session_id, who=who)
        record = grant.record
        if record.session.status in TERMINAL_STATUSES:
            raise SessionFinished(session_id)
        pending = self._find_request(record, request_id, kind)
        if pending is None:
            assert request_id is not None
            raise await self._closed_request_error(session_id, request_id)
        request = pending.request
        if not may_answer(who, grant.level, request.assignees):
            raise Forbidden(
                f"Request {request.request_id!r} waits for {', '.join(request.assignees)};"
                " you may not answer it." if request.assignees else
                "You may watch this session but not answer it."
            )
        if kind is not None and request.kind != kind:
            raise InvalidMessage(
                f"Request {request.request_id!r} is a {request.kind} request, not {kind}."
            )
        outcome = await self._resolve(
            session_id, pending, SessionNotices.of(record.session), who, value, audit,
            task=record.session.task, trace=self._tracing.session(record),
        )
        if outcome == "already_answered":
            raise AlreadyAnswered(request.request_id)
        if outcome == "session_finished":
            raise SessionFinished(session_id)
        if outcome == "unknown_request":
            raise UnknownRequest(request.request_id)
        return request.request_id

    def _answered_locally(
        self, session_id: str, who: Principal, request_id: str | None,
        kind: RequestKind | None,
    ) -> tuple[PendingRequest, SessionRunner] | None:
        """The request an answer is for, and its runner, when this hub runs the session
        and can tell without reading the store: the caller is its owner (who may answer
        any request nobody is assigned to; an escalation keeps the owner among the
        assignees) and the runner has exactly that request open. None: read the store (``answer``).

        The store still decides whether the answer lands (first one wins, never on a
        closed request or a finished session); only the read before it is saved.
        """
        runner = self._runners.get(session_id)
        if runner is None or who.id != runner.owner or who.session_scope is not None:
            return None
        pending = runner.open_request(request_id, kind)
        if pending is None or pending.request.assignees:
            return None
        return pending, runner

    async def _resolve(
        self, session_id: str, pending: PendingRequest, notices: SessionNotices,
        who: Principal, value: Any, audit: AuditEntry | None, *, task: str,
        trace: SessionTrace,
    ) -> ResolveOutcome:
        """Validate ``value`` for ``pending`` and record it, with its event, ``audit``
        and notification, in one store step. ``task`` and ``trace``: the session's task
        and spans, for the metrics and the request's span once the answer landed."""
        request = pending.request
        runner = self._runners.get(session_id)
        model = runner.live_model(request.request_id) if runner else None
        validated = validate_answer(pending, value, model=model)
        ts = now_iso()
        try:
            recorded = answer_record(validated, by=who.id, at=ts, sealer=self._sealer)
        except TypeError as exc:  # e.g. text that is not valid Unicode
            raise InvalidValue({"value": f"The answer is {exc}"}) from exc
        answered = RequestAnsweredEvent(  # secret fields masked: every tab sees this
            seq=0, ts=ts, request_id=request.request_id, kind=request.kind,
            value=validated.public, by=who.id,
        )
        outcome = await self._store.resolve_request(
            session_id,
            request.request_id,
            answer=recorded,
            body=event_body(answered),
            audit=audit.model_copy(update={"request": request.request_id, "at": ts})
            if audit is not None else None,
            notify=notices.request_answered(request, by=who.id, at=ts),
        )
        if outcome == "ok":  # the request's span, from when it was asked to now; metrics
            trace.request_closed(pending, "answered", at=ts)
            self._answered(task, request, ts)
        return outcome

    def _answered(self, task: str, request: Request, at: str) -> None:
        """Count the answer this hub recorded: its event, and how long it waited."""
        task_metrics = self._metrics.for_task(task)
        task_metrics.appended.inc()
        opened, answered = epoch_of(request.created_at), epoch_of(at)
        if opened is not None and answered is not None:
            task_metrics.waited(request.kind, "answered", answered - opened)

    def _find_request(
        self, record: SessionRecord, request_id: str | None, kind: RequestKind | None
    ) -> PendingRequest | None:
        if request_id is not None:
            return record.requests.get(request_id)
        candidates = [
            p for p in record.requests.values() if kind is None or p.request.kind == kind
        ]
        if len(candidates) != 1:
            what = f"{kind} request" if kind else "request"
            raise UnknownRequest(
                None,
                f"Name the request_id: {len(candidates)} open {what}s match."
                if candidates else f"There is no open {what} in this session.",
            )
        return candidates[0]

    async def _closed_request_error(self, session_id: str, request_id: str) -> Exception:
        recorded = (await self._store.answers(session_id)).get(request_id)
        if recorded is None:
            return UnknownRequest(request_id)
        if recorded.expired:
            return UnknownRequest(request_id, f"Request {request_id!r} expired unanswered.")
        return AlreadyAnswered(request_id)

    async def cancel(
        self, session_id: str, *, who: Principal, audit: AuditEntry | None = None
    ) -> Grant:
        """Ask the session's runner to cancel it on ``who``'s behalf (idempotent while it
        runs; the first to ask is recorded as who cancelled it). ``audit`` is stored in
        the same step as the request to cancel.

        Raises:
            UnknownSession, Forbidden, AlreadyFinished.
        """
        grant = await self.get(session_id, who=who)
        if not may_cancel(grant.level):
            raise Forbidden("Only the session's owner may cancel it.")
        record = grant.record
        outcome = await self._store.request_cancel(session_id, by=who.id, audit=audit)
        if outcome == "already_finished":
            raise AlreadyFinished(session_id, record.session.status)
        if outcome == "unknown_session":
            raise UnknownSession(session_id)
        return await self.get(session_id, who=who)

    # --- shutdown --------------------------------------------------------------------

    async def close(self, *, timeout: float = 5.0) -> None:
        """Stop every runner; their sessions stay resumable in the store."""
        await self.parking.close()  # first: no wake starts a runner after this
        tasks = list(self._supervised)
        for task in tasks:
            task.cancel()
        if tasks:
            with contextlib.suppress(TimeoutError, StoreUnavailable):
                await asyncio.wait(tasks, timeout=timeout)
