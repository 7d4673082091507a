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
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from tether.errors import (
    AlreadyAnswered,
    AlreadyFinished,
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
from tether.forks import with_hints
from tether.forms import field_errors
from tether.hub import Hub
from tether.messages import (
    TERMINAL_STATUSES,
    ForkOrigin,
    RequestAnsweredEvent,
    RequestKind,
    Session,
    StatusEvent,
    dump_json,
    event_body,
    now_iso,
)
from tether.requests import PendingRequest, answer_record, validate_answer
from tether.runner import SessionRunner
from tether.sealing import Sealer
from tether.store.base import NewSession, SessionRecord, Store

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


class SessionManager:
    """See the module docstring. Build one per process; ``close()`` on shutdown."""

    def __init__(
        self, *, store: Store, hub: Hub, hub_id: str, sealer: Sealer,
        forgets_before: float | None = None,
    ) -> None:
        """``forgets_before``: with a store that keeps nothing across restarts (memory),
        when it started (epoch seconds); a session made before then that is not found is
        reported as lost in the restart instead of as never having existed."""
        self._store = store
        self._sealer = sealer
        self._hub = hub
        self._hub_id = hub_id
        self._forgets_before = forgets_before
        self._runners: dict[str, SessionRunner] = {}
        self.foreign: set[str] = set()  # sessions of tasks this hub does not serve
        self._supervised: set[asyncio.Task[None]] = set()

    @property
    def hub(self) -> Hub:
        return self._hub

    @property
    def store(self) -> Store:
        return self._store

    @property
    def running(self) -> int:
        return len(self._runners)

    # --- starting --------------------------------------------------------------------

    async def start(
        self,
        task_name: str,
        inputs: dict[str, Any],
        *,
        owner: str,
        idempotency_key: str | None = None,
    ) -> tuple[Session, bool]:
        """Validate and create a session, then run it. Returns ``(session, created)``.

        Raises:
            UnknownTask, InvalidInputs, IdempotencyKeyReused.
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
            id=new_session_id(),
            task=task_name,
            owner=owner,
            created_at=created_at,
            inputs_json=inputs_json,
            version=task.version,
            runner=self._hub_id,
            first_event=event_body(StatusEvent(seq=0, ts=created_at, status="pending")),
        )
        session_id, created, original = await self._store.create_session(
            new, idempotency_key=idempotency_key, fingerprint=fingerprint
        )
        if not created and original != fingerprint:
            raise IdempotencyKeyReused(idempotency_key or "")
        record = await self._store.get_session(session_id)
        if record is None:  # expired between the two calls: only for a very old key
            raise UnknownSession(session_id)
        if created:
            self._launch(record)
        return record.session, created

    def _launch(self, record: SessionRecord, *, resume: bool = False) -> None:
        task_def = self._hub.tasks[record.session.task]
        runner = SessionRunner(
            store=self._store, task=task_def, record=record, runner_id=self._hub_id,
            sealer=self._sealer, resume=resume,
        )
        self._runners[record.session.id] = runner
        task = asyncio.create_task(runner.run(), name=f"runner-{record.session.id}")
        self._supervised.add(task)
        task.add_done_callback(lambda t: self._runner_done(record.session.id, t))

    def _runner_done(self, session_id: str, task: asyncio.Task[None]) -> None:
        self._supervised.discard(task)
        self._runners.pop(session_id, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("Runner of session %s crashed", session_id, exc_info=task.exception())

    # --- resuming, forking and giving sessions up ------------------------------------

    def running_ids(self) -> list[str]:
        """The sessions this hub runs now (their leases need renewing)."""
        return list(self._runners)

    async def resume(self, session_id: str) -> None:
        """Run a session again from its journal (this hub holds its lease now)."""
        if session_id in self._runners:
            return
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
        self._launch(record, resume=True)

    def lost(self, session_id: str) -> None:
        """Another hub took the session over: stop our runner, write nothing more."""
        runner = self._runners.get(session_id)
        if runner is not None:
            runner.abandon()

    async def fork(self, session_id: str, *, user: str, at_seq: int | None = None) -> Session:
        """Start a new session whose past is the source's up to ``at_seq`` (default: now).

        Its task runs from the start with the source's journal up to that point, so
        finished steps return their recorded results, questions answered before
        ``at_seq`` keep their answers, and the first question after it is asked again,
        its form pre-filled with the source's answer (see :mod:`tether.forks`).

        Raises:
            UnknownSession, InvalidMessage (``at_seq`` out of range).
        """
        record = await self.get(session_id, user=user)
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
            id=new_session_id(), task=source.task, owner=user, created_at=created_at,
            inputs_json=dump_json(source.inputs), version=record.version,
            runner=self._hub_id,
            first_event=event_body(StatusEvent(seq=0, ts=created_at, status="pending")),
            forked_from=ForkOrigin(session_id=session_id, at_seq=at),
        )
        new_id, _, _ = await self._store.create_session(new, seed=seed)
        forked = await self._store.get_session(new_id)
        if forked is None:
            raise UnknownSession(new_id)
        self._launch(forked, resume=True)
        return forked.session

    # --- reading ---------------------------------------------------------------------

    async def get(self, session_id: str, *, user: str) -> SessionRecord:
        """The session if it exists and belongs to ``user``; else ``UnknownSession``."""
        record = await self._store.get_session(session_id)
        if record is None and self._forgets_before is not None:
            made = session_id_time(session_id)
            if made is not None and made < self._forgets_before:
                raise forgotten_session(session_id, self._forgets_before)
        if record is None or record.session.owner != user:
            raise UnknownSession(session_id)
        return record

    # --- answering and cancelling ----------------------------------------------------

    async def answer(
        self,
        session_id: str,
        *,
        user: str,
        value: Any,
        request_id: str | None = None,
        kind: RequestKind | None = None,
    ) -> str:
        """Record ``user``'s answer to an open request; return the request id.

        ``request_id`` may be left out when exactly one open request has ``kind``.

        Raises:
            UnknownSession, UnknownRequest, InvalidMessage (wrong kind), InvalidValue,
            AlreadyAnswered, SessionFinished.
        """
        record = await self.get(session_id, user=user)
        if record.session.status in TERMINAL_STATUSES:
            raise SessionFinished(session_id)
        pending = self._find_request(record, request_id, kind)
        if pending is None:
            assert request_id is not None
            raise await self._closed_request_error(session_id, request_id)
        request = pending.request
        if kind is not None and request.kind != kind:
            raise InvalidMessage(
                f"Request {request.request_id!r} is a {request.kind} request, not {kind}."
            )
        runner = self._runners.get(session_id)
        model = runner.live_model(request.request_id) if runner else None
        validated = validate_answer(pending, value, model=model)
        ts = now_iso()
        try:
            recorded = answer_record(validated, by=user, at=ts, sealer=self._sealer)
        except TypeError as exc:  # e.g. text that is not valid Unicode
            raise InvalidValue({"value": f"The answer is {exc}"}) from exc
        answered = RequestAnsweredEvent(  # secret fields masked: every tab sees this
            seq=0, ts=ts, request_id=request.request_id, kind=request.kind,
            value=validated.public, by=user,
        )
        outcome = await self._store.resolve_request(
            session_id,
            request.request_id,
            answer=recorded,
            body=event_body(answered),
        )
        if outcome == "already_answered":
            raise AlreadyAnswered(request.request_id)
        if outcome == "session_finished":
            raise SessionFinished(session_id)
        if outcome == "unknown_request":
            raise UnknownRequest(request.request_id)
        return request.request_id

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

    async def cancel(self, session_id: str, *, user: str) -> Session:
        """Ask the session's runner to cancel it on ``user``'s behalf (idempotent while it
        runs; the first to ask is recorded as who cancelled it).

        Raises:
            UnknownSession, AlreadyFinished.
        """
        record = await self.get(session_id, user=user)
        outcome = await self._store.request_cancel(session_id, by=user)
        if outcome == "already_finished":
            raise AlreadyFinished(session_id, record.session.status)
        if outcome == "unknown_session":
            raise UnknownSession(session_id)
        record = await self.get(session_id, user=user)
        return record.session

    # --- shutdown --------------------------------------------------------------------

    async def close(self, *, timeout: float = 5.0) -> None:
        """Stop every runner; their sessions stay resumable in the store."""
        tasks = list(self._supervised)
        for task in tasks:
            task.cancel()
        if tasks:
            with contextlib.suppress(TimeoutError, StoreUnavailable):
                await asyncio.wait(tasks, timeout=timeout)
