"""``SessionRunner``: runs one session's task function from start to a terminal status.

The runner owns the session while it runs: it is the only writer of the task's events
(through its :class:`~tether.writer.SessionWriter`), it keeps the futures the task waits
on for answers, and it listens to the session's feed, where answers (recorded atomically
by whichever hub received them) and cancel commands arrive. Whatever the task does,
:meth:`SessionRunner.run` ends the session as ``completed``, ``failed`` or ``cancelled``,
except when the hub itself is shutting down, in which case the session stays as it is for
another runner to resume.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from pydantic import BaseModel

from tether.context import MISSING, CancelSession, Context
from tether.errors import LeaseLost, Nondeterminism, RequestTimedOut, StoreUnavailable
from tether.forms import Form
from tether.hub import TaskDef
from tether.journal import Journal, RecordedAnswer
from tether.messages import (
    EventBase,
    ProgressEvent,
    ProgressInfo,
    Request,
    RequestAnsweredEvent,
    RequestConfirmationEvent,
    RequestExpiredEvent,
    RequestUserInputEvent,
    StateEvent,
    TaskCancelledEvent,
    TaskCompletedEvent,
    TaskFailedEvent,
    dump_json,
    event_body,
    now_iso,
    printable,
)
from tether.requests import PendingRequest
from tether.store.base import Entry, SessionRecord, Store, parse_cancel
from tether.store.codec import cancelled_fields
from tether.writer import SessionWriter

log = logging.getLogger(__name__)

_ANSWERED = '"type":"request_answered"'
MAX_TRACEBACK = 16_000  # characters of a failure's traceback kept (its end: the raise)


class SessionRunner:
    """Runs one session. See the module docstring."""

    def __init__(
        self,
        *,
        store: Store,
        task: TaskDef,
        record: SessionRecord,
        runner_id: str,
        resume: bool = False,
    ) -> None:
        self._store = store
        self._task_def = task
        self._record = record
        self._resume = resume
        self.session_id = record.session.id
        self.owner = record.session.owner
        self.state: dict[str, Any] = {}
        self.failed_attempt = 1
        self.failed_step: tuple[str, BaseException] | None = None  # (step, what it raised)
        self.journal = Journal()
        self._runner_id = runner_id
        self._writer = SessionWriter(store, self.session_id, runner=runner_id)
        self._waiting: dict[str, asyncio.Future[Any]] = {}
        self._answered: dict[str, Any] = {}  # answers seen on the feed, by request id
        self._models: dict[str, type[BaseModel]] = {}
        self._emitted: dict[str, int] = {}  # scoped emits made by this run, per scope
        self._task: asyncio.Task[Any] | None = None
        self._cancel_reason: str | None = None
        self._cancel_by: str | None = None
        self._diverged: Nondeterminism | None = None
        self._abandoned = False
        self._background: set[asyncio.Task[None]] = set()

    # --- the run ---------------------------------------------------------------------

    async def run(self) -> None:
        """Run the task to a terminal status. Cancelling this coroutine = hub shutdown."""
        await self._store.subscribe(self.session_id, self)
        try:
            # Subscribed first, read second: an answer or a cancel recorded in between is
            # in what we read or on the feed, never in neither.
            if self._resume:
                self.journal = await Journal.load(self._store, self.session_id)
            self._record = await self._store.get_session(self.session_id) or self._record
            if self._abandoned:
                return
            if self._record.session.status == "pending":
                await self._writer.write(Entry(set={"status": "running"}))
            self._task = asyncio.create_task(self._call_task(), name=f"task-{self.session_id}")
            if self._record.cancel_requested:
                self.cancel("cancelled", by=self._record.cancel_by)
            try:
                await asyncio.wait([self._task])
            except asyncio.CancelledError:
                self._task.cancel()
                with contextlib.suppress(BaseException):
                    await self._task
                raise
            if not self._abandoned:
                await self._finish(self._task)
        except LeaseLost:
            log.info("Session %s is now run by another hub", self.session_id)
        finally:
            for task in self._background:
                task.cancel()
            await self._store.unsubscribe(self.session_id, self)
            await self._writer.close()

    async def _call_task(self) -> Any:
        ctx = Context(self)
        inputs = self._task_def.input_model.model_validate(self._record.session.inputs)
        if self._task_def.takes_inputs:
            return await self._task_def.fn(ctx, inputs)
        # ``async def task(ctx)`` takes no inputs parameter at all.
        return await self._task_def.fn(ctx)

    async def _finish(self, task: asyncio.Task[Any]) -> None:
        """Write the terminal entry. If that fails for any reason but the store or the
        lease, write a plain ``failed`` instead: a session must never be left running
        (it would be adopted and re-run, and fail the same way, for ever)."""
        try:
            await self._writer.write_durable(self._outcome(task))
        except (LeaseLost, StoreUnavailable, asyncio.CancelledError):
            raise
        except Exception as exc:
            log.error("Session %s: its outcome could not be recorded", self.session_id,
                      exc_info=exc)
            await self._store.append(
                self.session_id,
                [self._failed(now_iso(), RuntimeError(
                    f"The task's outcome could not be recorded: {type(exc).__name__}"))],
                runner=self._runner_id,
            )

    def _outcome(self, task: asyncio.Task[Any]) -> Entry:
        ts = now_iso()
        exc = None if task.cancelled() else task.exception()
        if self._diverged is not None:  # even if the task caught it: its journal is void
            entry = self._failed(ts, self._diverged)
        elif task.cancelled() or self._cancel_reason is not None:
            entry = _cancelled(ts, self._cancel_reason or "cancelled", self._cancel_by)
        elif isinstance(exc, CancelSession):
            entry = _cancelled(ts, exc.reason)
        elif isinstance(exc, LeaseLost):
            raise exc
        elif exc is not None:
            entry = self._failed(ts, exc)
        else:
            entry = self._completed(ts, task.result())
        return entry

    def _completed(self, ts: str, result: Any) -> Entry:
        if isinstance(result, BaseModel):
            result = result.model_dump(mode="json")
        try:
            result_json = dump_json(result)
        except TypeError as exc:
            return self._failed(ts, TypeError(f"The task's result is {exc}"))
        event = TaskCompletedEvent(seq=0, ts=ts, result=result)
        return Entry(body=event_body(event), set={"status": "completed", "result": result_json})

    def _failed(self, ts: str, exc: BaseException) -> Entry:
        message = printable(str(exc) or type(exc).__name__)
        if not isinstance(exc, (RequestTimedOut, Nondeterminism)):
            log.warning("Session %s failed", self.session_id, exc_info=exc)
        step = self.failed_step[0] if self.failed_step and self.failed_step[1] is exc else None
        event = TaskFailedEvent(
            seq=0, ts=ts, error=message, can_retry=False, attempt=self.failed_attempt,
            error_type=type(exc).__name__, step=step,
        )
        trace = printable("".join(traceback.format_exception(exc)))[-MAX_TRACEBACK:]
        error = dump_json({"type": type(exc).__name__, "message": message, "traceback": trace})
        return Entry(body=event_body(event), set={"status": "failed", "error": error})

    def cancel(self, reason: str, *, by: str | None = None) -> None:
        """Cancel the task: it sees ``CancelledError`` at whatever it is awaiting.
        ``by``: the user who asked (None: unknown)."""
        if self._task is not None and not self._task.done():
            self._cancel_reason = reason
            self._cancel_by = by
            self._task.cancel()

    def abandon(self) -> None:
        """Stop without a terminal status: another hub now owns the session (checked
        before the task starts, too)."""
        self._abandoned = True
        if self._task is not None and not self._task.done():
            self._task.cancel()

    # --- the journal -----------------------------------------------------------------

    def recorded(self, key: str, kind: str, name: str | None = None) -> dict[str, Any] | None:
        """The journal entry at ``key``, if this call was made before (see journal.py)."""
        try:
            return self.journal.lookup(key, kind, name)
        except Nondeterminism as exc:
            self.diverged(key, exc.expected, exc.got)

    def diverged(self, key: str, expected: str, got: str) -> NoReturn:
        """The task's code no longer matches its journal at ``key``: the session fails
        (even if the task catches this), naming the key and any change of version."""
        started, now = self._record.version, self._task_def.version
        versions = (
            f" The session started with task version {started!r}; this hub runs {now!r}."
            if started != now else ""
        )
        self._diverged = Nondeterminism(key, expected, got, versions)
        raise self._diverged

    async def record(self, key: str, data: dict[str, Any]) -> None:
        """Write a journal entry and wait until it is stored.

        Raises:
            TypeError: the entry (a step's result, say) cannot be stored as JSON.
        """
        try:
            encoded = dump_json(data)
        except TypeError as exc:
            raise TypeError(f"A recorded result is {exc}") from exc
        await self._writer.write_durable(Entry(journal={key: encoded}))

    def _replayed_emit(self, scope: str) -> bool:
        """Count one emit of ``scope``; True when the log already holds it."""
        index = self._emitted.get(scope, 0) + 1
        self._emitted[scope] = index
        return index <= self.journal.emitted.get(scope, 0)

    # --- what the context calls ------------------------------------------------------

    async def emit(self, event: EventBase, scope: str) -> None:
        if not self._replayed_emit(scope):
            progress = {}
            if isinstance(event, ProgressEvent):  # kept per label for snapshots
                info = ProgressInfo(done=event.done, total=event.total)
                progress = {event.label or "": info.model_dump_json()}
            await self._writer.write(
                Entry(body=event_body(event), emit_scope=scope, progress=progress)
            )

    async def set_state(self, values: dict[str, Any], scope: str) -> None:
        merged = {**self.state, **values}
        try:
            state_json = dump_json(merged)
        except TypeError as exc:
            raise TypeError(f"Task state is {exc}") from exc
        self.state = merged
        if self._replayed_emit(scope):
            return
        event = StateEvent(seq=0, ts=now_iso(), state=merged)
        await self._writer.write(
            Entry(body=event_body(event), set={"state": state_json}, emit_scope=scope)
        )

    async def ask_input(
        self, *, key: str, scope: str, prompt: str, form: Form, timeout: float | None,
        default: Any,
    ) -> Any:
        rid, created, expires = self._request_identity(key, "input", timeout)
        request = Request(
            request_id=rid, kind="input", prompt=prompt, fields=form.fields,
            schema_=form.schema, created_at=created, expires_at=expires,
        )
        event = RequestUserInputEvent(
            seq=0, ts=created, request_id=rid, prompt=prompt, fields=form.fields,
            schema_=form.schema, expires_at=expires,
        )
        pending = PendingRequest(request=request, model_ref=form.model_ref, journal_key=key)
        return await self._open(pending, event, scope, default, model=form.model)

    async def ask_confirm(
        self, *, key: str, scope: str, prompt: str, details: str | None,
        timeout: float | None, default: Any,
    ) -> Any:
        rid, created, expires = self._request_identity(key, "confirm", timeout)
        request = Request(
            request_id=rid, kind="confirm", prompt=prompt, details=details,
            created_at=created, expires_at=expires,
        )
        event = RequestConfirmationEvent(
            seq=0, ts=created, request_id=rid, prompt=prompt, details=details,
            expires_at=expires,
        )
        pending = PendingRequest(request=request, journal_key=key)
        return await self._open(pending, event, scope, default)

    async def ask_retry(
        self, *, key: str, scope: str, step: str, error: str, attempt: int,
        error_type: str | None = None,
    ) -> bool:
        rid, created, _ = self._request_identity(key, "retry", None)
        request = Request(
            request_id=rid, kind="retry", prompt=f"{step!r} failed. Try again?",
            error=error, attempt=attempt, created_at=created,
        )
        event = TaskFailedEvent(
            seq=0, ts=created, error=error, can_retry=True, attempt=attempt, request_id=rid,
            error_type=error_type, step=step,
        )
        pending = PendingRequest(request=request, journal_key=key)
        return bool(await self._open(pending, event, scope, MISSING))

    def _request_identity(
        self, key: str, kind: str, timeout: float | None
    ) -> tuple[str, str, str | None]:
        """Id and times of the request made at ``key``: the recorded ones on a resumed
        run (the same request id, the same deadline), new ones otherwise."""
        recorded = self.recorded(key, kind)
        if recorded is not None:
            rid = str(recorded["request_id"])
            raw = self._record.pending_raw.get(rid)
            if raw is not None:
                stored = PendingRequest.model_validate_json(raw).request
                return rid, stored.created_at, stored.expires_at
            _, created, expires = _new_request_times(timeout)
            return rid, created, expires
        return _new_request_times(timeout)

    async def _open(
        self,
        pending: PendingRequest,
        event: EventBase,
        scope: str,
        default: Any,
        *,
        model: type[BaseModel] | None = None,
    ) -> Any:
        """Open the request (or find it open, or answered, on a resumed run) and wait."""
        request = pending.request
        rid = request.request_id
        logged = self._replayed_emit(scope)
        answer = self.journal.answer(rid)
        if answer is not None:
            if not logged:  # a fork: its log starts empty, so show the exchange whole
                await self._show_recorded(event, request, answer, scope)
            if answer.expired:
                return self._expired_value(request, default)
            return answer.value
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[rid] = future
        if model is not None:
            self._models[rid] = model
        try:
            if rid not in self._record.pending_raw:
                journal = dump_json({"kind": request.kind, "request_id": rid})
                await self._writer.write_durable(
                    Entry(
                        body=None if logged else event_body(event),
                        pending_add={rid: pending.model_dump_json()},
                        journal={pending.journal_key or rid: journal},
                        emit_scope=None if logged else scope,
                    )
                )
            if rid in self._answered and not future.done():
                future.set_result(self._answered[rid])
            if request.expires_at is None:
                return await future
            remaining = _seconds_until(request.expires_at)
            try:
                return await asyncio.wait_for(asyncio.shield(future), max(0.0, remaining))
            except TimeoutError:
                return await self._expire(request, default)
        finally:
            self._waiting.pop(rid, None)
            self._models.pop(rid, None)

    async def _show_recorded(
        self, event: EventBase, request: Request, answer: RecordedAnswer, scope: str
    ) -> None:
        await self._writer.write(Entry(body=event_body(event), emit_scope=scope))
        ts = now_iso()
        closing: EventBase
        if answer.expired:
            closing = RequestExpiredEvent(seq=0, ts=ts, request_id=request.request_id)
        else:
            closing = RequestAnsweredEvent(
                seq=0, ts=ts, request_id=request.request_id, kind=request.kind,
                value=answer.value, by=answer.by,
            )
        # Not scoped: a live answer's event is not the task's emit either.
        await self._writer.write(Entry(body=event_body(closing)))

    @staticmethod
    def _expired_value(request: Request, default: Any) -> Any:
        if default is MISSING:
            raise RequestTimedOut(request.request_id, request.prompt)
        return default

    async def _expire(self, request: Request, default: Any) -> Any:
        rid = request.request_id
        backoff = 0.05
        while True:  # a deadline during a store outage waits for the store, like a write
            try:
                ts = now_iso()
                outcome = await self._store.resolve_request(
                    self.session_id, rid,
                    answer_json=dump_json({"expired": True, "at": ts}),
                    body=event_body(RequestExpiredEvent(seq=0, ts=ts, request_id=rid)),
                )
                recorded_raw = None
                if outcome != "ok":
                    recorded_raw = (await self._store.answers(self.session_id)).get(rid)
                break
            except StoreUnavailable:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
        if recorded_raw is None:  # expired now (or closed without a record: treat alike)
            return self._expired_value(request, default)
        # Closed already: an answer won the race, or an earlier run expired it.
        recorded = json.loads(recorded_raw)
        if recorded.get("expired"):
            return self._expired_value(request, default)
        return recorded["value"]

    def live_model(self, request_id: str) -> type[BaseModel] | None:
        """The exact model class an open input request validates with, if it is ours."""
        return self._models.get(request_id)

    # --- the feed (SessionListener) --------------------------------------------------

    def on_frames(self, session_id: str, frames: Sequence[str]) -> None:
        for frame in frames:
            if frame.find(_ANSWERED, 0, 80) == -1:
                continue
            event = json.loads(frame)
            self._answered[event["request_id"]] = event["value"]
            future = self._waiting.get(event["request_id"])
            if future is not None and not future.done():
                future.set_result(event["value"])

    def on_command(self, session_id: str, command: str) -> None:
        is_cancel, by = parse_cancel(command)
        if is_cancel:
            self.cancel("cancelled", by=by)

    def on_outage(self) -> None:
        return None  # the writer retries; answers are refilled by on_resync

    def on_resync(self) -> None:
        task = asyncio.create_task(self._refill())
        self._background.add(task)  # referenced until done; cancelled with the runner
        task.add_done_callback(self._background.discard)
        task.add_done_callback(_log_failure)

    async def _refill(self) -> None:
        """After a feed outage: pick up answers and cancels that we may have missed.

        Retried until it succeeds (or the task ends): the feed being back does not mean
        every pooled connection is, and an answer published during the outage reaches
        the waiting task only through this read. Given up once, the task waited forever.
        """
        delay = 0.05
        while self._task is None or not self._task.done():
            try:
                await self._refill_once()
                return
            except StoreUnavailable as exc:
                log.warning("Session %s refills later: %s", self.session_id, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def _refill_once(self) -> None:
        answers = await self._store.answers(self.session_id)
        for rid, raw in answers.items():
            future = self._waiting.get(rid)
            recorded = json.loads(raw)
            if future is not None and not future.done() and "value" in recorded:
                future.set_result(recorded["value"])
        record = await self._store.get_session(self.session_id)
        if record is not None and record.cancel_requested:
            self.cancel("cancelled", by=record.cancel_by)


def _cancelled(ts: str, reason: str, by: str | None = None) -> Entry:
    event = TaskCancelledEvent(seq=0, ts=ts, reason=reason, by=by)
    return Entry(body=event_body(event), set=cancelled_fields(reason, by))


def _new_request_times(timeout: float | None) -> tuple[str, str, str | None]:
    now = datetime.now(UTC)
    created = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    expires = None
    if timeout is not None:
        deadline = now + timedelta(seconds=timeout)
        expires = deadline.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return secrets.token_hex(8), created, expires


def _seconds_until(iso: str) -> float:
    deadline = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return (deadline - datetime.now(UTC)).total_seconds()


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("Refilling a session failed", exc_info=task.exception())

