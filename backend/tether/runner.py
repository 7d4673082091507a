"""``SessionRunner``: runs one session's task function from start to a terminal status.

The runner owns the session while it runs: it is the only writer of the task's events
(through its :class:`~tether.writer.SessionWriter`), it is the :class:`~tether.context.
Runtime` its task's contexts talk to, and it listens to the session's feed, where answers
(recorded atomically by whichever hub received them) and cancel commands arrive. What a
resumed run must replay is decided by its :class:`~tether.replay.Replay` (no I/O); the
requests' life cycle is its :class:`~tether.requests.RequestBook`'s. Whatever the task
does, :meth:`SessionRunner.run` ends the session as ``completed``, ``failed`` or
``cancelled``, except when the hub itself is shutting down, in which case the session
stays as it is for another runner to resume.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import traceback
from collections.abc import Sequence
from typing import Any

from opentelemetry.trace import Span
from pydantic import BaseModel

from tether.backoff import Backoff
from tether.context import CancelSession, Context
from tether.errors import LeaseLost, Nondeterminism, RequestTimedOut, StoreUnavailable
from tether.executors import Executors
from tether.followups import FollowUp
from tether.forks import hint_for
from tether.forms import Form
from tether.hub import TaskDef
from tether.logs import current_session
from tether.messages import (
    EventBase,
    ProgressEvent,
    ProgressInfo,
    StateEvent,
    TaskCancelledEvent,
    TaskCompletedEvent,
    TaskFailedEvent,
    dump_json,
    event_body,
    now_iso,
    printable,
)
from tether.metrics import HubMetrics, TaskMetrics
from tether.notifications import SessionNotices
from tether.replay import Replay
from tether.requests import RequestBook
from tether.sealing import Sealer
from tether.store.base import Entry, PendingRequest, SessionRecord, Store, parse_cancel
from tether.store.codec import cancelled_fields
from tether.tracing import SessionTrace, Tracing
from tether.writer import SessionWriter

log = logging.getLogger(__name__)

_ANSWERED = '"type":"request_answered"'
PARKED = "tether: parked"  # the message of the CancelledError a parked task sees
MAX_TRACEBACK = 16_000  # characters of a failure's traceback kept (its end: the raise)


class SessionRunner:
    """Runs one session. See the module docstring.

    A session may wait for an answer for days, so a runner keeps only what the run needs:
    slots, no session record once the task has its inputs (the record holds them, as the
    task keeps them as it chose to), no set for background tasks until there is one.
    """

    __slots__ = (
        "_abandoned",
        "_background",
        "_cancel_by",
        "_cancel_early",
        "_cancel_reason",
        "_fresh",
        "_listening",
        "_metrics",
        "_notices",
        "_record",
        "_requests",
        "_resume",
        "_runner_id",
        "_sealer",
        "_span",
        "_steps",
        "_store",
        "_task",
        "_task_def",
        "_writer",
        "executors",
        "failed_attempt",
        "failed_step",
        "owner",
        "replay",
        "session_id",
        "state",
        "tracing",
    )

    def __init__(
        self,
        *,
        store: Store,
        task: TaskDef,
        record: SessionRecord,
        runner_id: str,
        sealer: Sealer,
        resume: bool = False,
        tracing: Tracing | None = None,
        executors: Executors | None = None,
        metrics: TaskMetrics | None = None,
        fresh: bool = False,
    ) -> None:
        """``fresh``: ``record`` is a session this hub is creating now, made here (not
        read back), and :meth:`listen` was called before the store created it: nothing
        can be on record that the feed did not bring, so :meth:`run` reads nothing."""
        self._store = store
        self.executors = executors or Executors()
        self._metrics = metrics or HubMetrics(tasks=(task.name,)).for_task(task.name)
        self._task_def = task
        # Until the task has started with its inputs (dropped then: see _start_task).
        self._record: SessionRecord | None = record
        self._resume = resume
        self._fresh = fresh and not resume
        self._listening = False
        self._sealer = sealer
        self.session_id = record.session.id
        self.owner = record.session.owner
        self._notices = SessionNotices.of(record.session)
        self.state: dict[str, Any] = {}
        self.failed_attempt = 1
        self.failed_step: tuple[str, BaseException] | None = None  # (step, what it raised)
        self.replay = Replay(versions=(record.version, task.version))
        self._runner_id = runner_id
        # The spans of this run (none without tracing); the run's own is in _span.
        self.tracing: SessionTrace = (tracing or Tracing()).session(record)
        self._span: Span | None = None
        self._writer = SessionWriter(
            store, self.session_id, runner=runner_id, appended=self._metrics.appended.inc
        )
        self._requests = self._request_book(record)
        self._task: asyncio.Task[Any] | None = None
        self._cancel_reason: str | None = None
        self._cancel_by: str | None = None
        # A cancel command that came before the task started: applied when it does.
        self._cancel_early: tuple[str, str | None] | None = None
        self._abandoned = False
        self._background: set[asyncio.Task[None]] | None = None
        self._steps = 0  # step bodies running now (not parked meanwhile)

    def _request_book(self, record: SessionRecord) -> RequestBook:
        return RequestBook(
            store=self._store, writer=self._writer, session_id=self.session_id,
            replay=self.replay, sealer=self._sealer,
            pending=record.requests, notices=self._notices,
            owner=record.session.owner, runner_id=self._runner_id,
            tracing=self.tracing, metrics=self._metrics,
        )

    @property
    def task_name(self) -> str:
        return self._task_def.name

    @property
    def status(self) -> str:
        """``pending`` until the task starts, then ``waiting`` while it waits for an
        answer and ``running`` otherwise (as the store's status, without reading it)."""
        if self._task is None:
            return "pending"
        return "waiting" if self._requests.waiting else "running"

    # --- the run ---------------------------------------------------------------------

    async def listen(self) -> None:
        """Subscribe to the session's feed (``run`` does it unless this was called)."""
        if not self._listening:
            await self._store.subscribe(self.session_id, self)
            self._listening = True

    async def stop_listening(self) -> None:
        """Unsubscribe: a runner that listened but will not run (its start was a repeat)."""
        if self._listening:
            self._listening = False
            await self._store.unsubscribe(self.session_id, self)

    async def run(self) -> None:
        """Run the task to a terminal status. Cancelling this coroutine = hub shutdown."""
        with self.tracing.run(resumed=self._resume) as self._span:  # the task inherits it
            await self._run()

    async def _run(self) -> None:
        current_session.set(self.session_id)  # this task's log lines name the session
        await self.listen()
        try:
            # Subscribed first, read second: an answer or a cancel recorded in between is
            # in what we read or on the feed, never in neither. A fresh session was
            # subscribed to before it existed: everything since is on the feed.
            if not self._fresh:
                await self._reread()
            if self._abandoned:
                return
            task = await self._start_task()
            try:
                await _until_done(task)
            except asyncio.CancelledError:
                task.cancel()
                # Hub shutdown: give the task its chance to unwind, whatever it raises
                # then (_until_done neither raises the task's error nor cancels it).
                await _until_done(task)
                raise
            if not self._abandoned:
                await self._finish(task)
        except LeaseLost:
            log.info("Session %s is now run by another hub", self.session_id)
        finally:
            for background in self._background or ():
                background.cancel()
            await self.stop_listening()
            await self._writer.close()

    async def _start_task(self) -> asyncio.Task[Any]:
        """Start the task, and let go of the session record (the inputs go to the task)."""
        record, self._record = self._record, None
        assert record is not None, "a runner runs once"
        self._task = task = asyncio.create_task(
            self._call_task(record.session.inputs), name=f"task-{self.session_id}"
        )
        if record.session.status == "pending":
            # Queued now, before the task's first step runs (on the next turn of the
            # loop): "running" comes first in the log all the same, and leaves in one
            # append with the task's first writes (a request it opens at once).
            await self._writer.write(Entry(set={"status": "running"}))
        if record.cancel_requested and record.session.status == "waiting" and self._resume:
            # Cancelled while it waited for a person and no runner ran it (parked, or its
            # hub was down): the task runs up to where it waited, from the journal, and
            # is cancelled there, as it would have been live, so its ``finally`` and
            # ``except CancelledError`` blocks run once, as they would have. (Should it
            # write something new first, changed code, it is cancelled there.)
            by = record.cancel_by
            self._requests.on_wait = lambda: self.cancel("cancelled", by=by)
        elif record.cancel_requested:
            self.cancel("cancelled", by=record.cancel_by)
        elif self._cancel_early is not None:
            reason, by = self._cancel_early
            self.cancel(reason, by=by)
        return task

    async def _reread(self) -> None:
        """The session as stored now (and, resumed, what earlier runs did)."""
        if self._resume:
            await self._load_replay()
        record = await self._store.get_session(self.session_id) or self._record
        assert record is not None, "read again before the task starts"
        self._record = record
        # An answer the feed brought while we read is in the first book, maybe in
        # neither read: the new book must have it too, or the task asks again.
        earlier, self._requests = self._requests, self._request_book(record)
        self._requests.carry_answers_from(earlier)

    async def _load_replay(self) -> None:
        """What earlier runs of this session did: journal, answers and emit counts."""
        journal = await self._store.journal(self.session_id)
        answers = await self._store.answers(self.session_id)
        self.replay.entries = {key: json.loads(raw) for key, raw in journal.items()}
        self.replay.answers = answers
        self.replay.logged = await self._store.emit_counts(self.session_id)

    async def _call_task(self, raw_inputs: dict[str, Any]) -> Any:
        ctx = Context(self)
        inputs = self._task_def.input_model.model_validate(raw_inputs)
        del raw_inputs  # this frame lives as long as the task: keep only what it keeps
        if self._task_def.takes_inputs:
            return await self._task_def.fn(ctx, inputs)
        # ``async def task(ctx)`` takes no inputs parameter at all.
        return await self._task_def.fn(ctx)

    async def _finish(self, task: asyncio.Task[Any]) -> None:
        """Write the terminal entry. If that fails for any reason but the store or the
        lease, write a plain ``failed`` instead: a session must never be left running
        (it would be adopted and re-run, and fail the same way, for ever)."""
        try:
            outcome = self._outcome(task)
            await self._writer.write_durable(outcome)
            self._metrics.finished(outcome.set.get("status", ""))
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
            self._metrics.appended.inc()
            self._metrics.finished("failed")

    def _outcome(self, task: asyncio.Task[Any]) -> Entry:
        ts = now_iso()
        exc = None if task.cancelled() else task.exception()
        if self.replay.diverged is not None:  # even if the task caught it: its journal is void
            entry = self._failed(ts, self.replay.diverged)
        elif task.cancelled() or self._cancel_reason is not None:
            entry = self._cancelled(ts, self._cancel_reason or "cancelled", self._cancel_by)
        elif isinstance(exc, CancelSession):
            entry = self._cancelled(ts, exc.reason)
        elif isinstance(exc, LeaseLost):
            raise exc
        elif exc is not None:
            entry = self._failed(ts, exc)
        else:
            entry = self._completed(ts, task.result())
        self.tracing.finished(self._span, entry.set["status"], self.replay.diverged or exc)
        return entry

    def _completed(self, ts: str, result: Any) -> Entry:
        if isinstance(result, BaseModel):
            result = result.model_dump(mode="json")
        try:
            result_json = dump_json(result)
        except TypeError as exc:
            return self._failed(ts, TypeError(f"The task's result is {exc}"))
        event = TaskCompletedEvent(seq=0, ts=ts, result=result)
        return Entry(body=event_body(event), set={"status": "completed", "result": result_json},
                     notify=(self._notices.finished("completed", at=ts),))

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
        return Entry(body=event_body(event), set={"status": "failed", "error": error},
                     notify=(self._notices.finished("failed", at=ts),))

    def _cancelled(self, ts: str, reason: str, by: str | None = None) -> Entry:
        event = TaskCancelledEvent(seq=0, ts=ts, reason=reason, by=by)
        return Entry(body=event_body(event), set=cancelled_fields(reason, by),
                     notify=(self._notices.finished("cancelled", at=ts),))

    def cancel(self, reason: str, *, by: str | None = None) -> None:
        """Cancel the task: it sees ``CancelledError`` at whatever it is awaiting.
        ``by``: the user who asked (None: unknown)."""
        if self._task is None:  # not started yet: cancelled as soon as it starts
            if self._cancel_early is None:
                self._cancel_early = (reason, by)
            return
        if not self._task.done():
            self._cancel_reason = reason
            self._cancel_by = by
            self._task.cancel()

    def parkable(self, idle: float, now: float) -> bool:
        """The task itself has awaited an answer for ``idle`` seconds, with nothing else
        under way: no background work, nothing on its way to the store (parking.py)."""
        task = self._task
        if (task is None or task.done() or self._abandoned or self._background
                or self._steps or self._cancel_reason is not None or task.cancelling()
                or self._requests.on_wait is not None):
            return False
        return (self._writer.idle and self._requests.idle_for(task, now) >= idle
                and self._requests.models_importable())

    def next_due(self) -> float | None:
        """Seconds until an open request's deadline, reminder or escalation is due."""
        return self._requests.next_due()

    def open_request_ids(self) -> tuple[str, ...]:
        """The ids of the requests open now, sorted."""
        return self._requests.open_ids()

    def park(self) -> None:
        """Stop without a terminal status and write nothing more, not even what the
        task's ``finally`` blocks write as it unwinds: the session waits in the store,
        and the run that resumes it from its journal does what is left (parking.py)."""
        self._writer.stop()
        self._abandoned = True
        if self._task is not None and not self._task.done():
            self._task.cancel(PARKED)

    def abandon(self) -> None:
        """Stop without a terminal status: another hub now owns the session (checked
        before the task starts, too)."""
        self._abandoned = True
        if self._task is not None and not self._task.done():
            self._task.cancel()

    # --- the Runtime its contexts talk to --------------------------------------------

    def caught_up(self) -> None:
        """The task does something new: a cancel waiting for it to wait applies now."""
        on_wait, self._requests.on_wait = self._requests.on_wait, None
        if on_wait is not None:
            on_wait()

    async def record(self, key: str, entry_json: str) -> None:
        self.caught_up()
        await self._writer.write_durable(Entry(journal={key: entry_json}))
        self.replay.remember(key, entry_json)

    def steps_running(self, delta: int) -> None:
        self._steps += delta

    def step_failed(self, step: str, attempt: int, exc: BaseException) -> None:
        self.failed_step = (step, exc)
        self.failed_attempt = attempt

    async def emit(self, event: EventBase, scope: str) -> None:
        if not self.replay.emit(scope):
            self.caught_up()
            if isinstance(event, ProgressEvent):  # kept per label for snapshots
                info = ProgressInfo(done=event.done, total=event.total)
                entry = Entry(body=event_body(event), emit_scope=scope,
                              progress={event.label or "": info})
            else:
                entry = Entry(body=event_body(event), emit_scope=scope)
            await self._writer.write(entry)

    async def emit_body(self, body: str, scope: str) -> None:
        if not self.replay.emit(scope):
            self.caught_up()
            await self._writer.write(Entry(body=body, emit_scope=scope))

    async def set_state(self, values: dict[str, Any], scope: str) -> None:
        merged = {**self.state, **values}
        try:
            state_json = dump_json(merged)
        except TypeError as exc:
            raise TypeError(f"Task state is {exc}") from exc
        self.state = merged
        if self.replay.emit(scope):
            return
        self.caught_up()
        event = StateEvent(seq=0, ts=now_iso(), state=merged)
        await self._writer.write(
            Entry(body=event_body(event), set={"state": state_json}, emit_scope=scope)
        )

    async def ask_input(
        self, *, key: str, scope: str, prompt: str, form: Form, timeout: float | None,
        default: Any, initial: dict[str, Any] | None = None, details: str | None = None,
        assignees: tuple[str, ...] = (), follow_up: FollowUp | None = None,
    ) -> Any:
        if initial is None:  # a fork re-asking: the source's answer (see forks.py)
            initial = hint_for(self.replay.entries, key, form)
        return await self._requests.ask_input(
            key=key, scope=scope, prompt=prompt, form=form, timeout=timeout, default=default,
            initial=initial, details=details, assignees=assignees, follow_up=follow_up,
        )

    async def ask_confirm(
        self, *, key: str, scope: str, prompt: str, details: str | None,
        timeout: float | None, default: Any, assignees: tuple[str, ...] = (),
        follow_up: FollowUp | None = None,
    ) -> Any:
        return await self._requests.ask_confirm(
            key=key, scope=scope, prompt=prompt, details=details, timeout=timeout,
            default=default, assignees=assignees, follow_up=follow_up,
        )

    async def ask_retry(
        self, *, key: str, scope: str, step: str, error: str, attempt: int,
        error_type: str | None = None, assignees: tuple[str, ...] = (),
    ) -> bool:
        return await self._requests.ask_retry(
            key=key, scope=scope, step=step, error=error, attempt=attempt,
            error_type=error_type, assignees=assignees,
        )

    def live_model(self, request_id: str) -> type[BaseModel] | None:
        """The exact model class an open input request validates with, if it is ours."""
        return self._requests.live_model(request_id)

    def open_request(self, request_id: str | None, kind: str | None) -> PendingRequest | None:
        """The open request an answer is for, as this run knows it (see
        :meth:`RequestBook.open_request`)."""
        return self._requests.open_request(request_id, kind)

    @property
    def notices(self) -> SessionNotices:
        return self._notices

    # --- the feed (SessionListener) --------------------------------------------------

    def on_frames(self, session_id: str, frames: Sequence[str]) -> None:
        for frame in frames:
            if frame.find(_ANSWERED, 0, 80) == -1:
                continue
            event = json.loads(frame)
            self._requests.answered(event["request_id"], event["value"], at=event.get("ts"))

    def on_command(self, session_id: str, command: str) -> None:
        is_cancel, by = parse_cancel(command)
        if is_cancel:
            self.cancel("cancelled", by=by)

    def on_outage(self) -> None:
        return None  # the writer retries; answers are refilled by on_resync

    def on_resync(self) -> None:
        task = asyncio.create_task(self._refill())
        if self._background is None:
            self._background = set()
        self._background.add(task)  # referenced until done; cancelled with the runner
        task.add_done_callback(self._background.discard)
        task.add_done_callback(_log_failure)

    async def _refill(self) -> None:
        """After a feed outage: pick up answers and cancels that we may have missed.

        Retried until it succeeds (or the task ends): the feed being back does not mean
        every pooled connection is, and an answer published during the outage reaches
        the waiting task only through this read. Given up once, the task waited forever.
        """
        backoff = Backoff(jitter=False)
        while self._task is None or not self._task.done():
            try:
                self._requests.refill(await self._store.answers(self.session_id))
                record = await self._store.get_session(self.session_id)
                if record is not None and record.cancel_requested:
                    self.cancel("cancelled", by=record.cancel_by)
                return
            except StoreUnavailable as exc:
                log.warning("Session %s refills later: %s", self.session_id, exc)
                await backoff.wait()


async def _until_done(task: asyncio.Task[Any]) -> None:
    """Wait for ``task`` to finish, whatever its outcome (which is not raised here).

    ``asyncio.wait([task])`` does the same but keeps a set, a future and a callback
    closure for as long as it waits (1.1 KiB per session, waiting for days); this keeps a
    future and a partial. Cancelling the waiter leaves ``task`` running.
    """
    waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    wake = functools.partial(_wake, waiter)
    task.add_done_callback(wake)
    try:
        await waiter
    finally:
        task.remove_done_callback(wake)


def _wake(waiter: asyncio.Future[None], _: asyncio.Task[Any]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("Refilling a session failed", exc_info=task.exception())
