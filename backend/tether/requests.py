"""Requests: open questions to people, from the moment a task asks until it has an answer.

Two halves live here. :func:`validate_answer` is what every answer goes through, on any
hub: everything needed to check it travels with the request (its kind, its fields and,
for pydantic models, the import path of the model), so the same value is refused with the
same field errors wherever it arrives. :class:`RequestBook` is the life cycle of the
requests one running session has open: it opens a request (journaled with the event that
shows it, in one atomic write), waits for the first answer from any tab or hub, expires it
at its deadline (racing a late answer through the store, first one wins), finds it
answered or open again on a resumed run, and shows a fork the exchanges it inherited.

Secret fields (``SecretStr`` in the model, ``password`` in a field list) are masked in
everything a person or a log can see — the ``request_answered`` event, the answer record's
``value`` — and kept, encrypted with the hub secret, in the record's ``sealed`` field; the
task gets the real value, opened from there (see :mod:`tether.sealing`).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, SecretBytes, SecretStr, ValidationError
from pydantic_core import to_jsonable_python

from tether.backoff import Backoff
from tether.errors import InvalidValue, RequestTimedOut, StoreUnavailable
from tether.followups import Due, FollowUp, escalated, next_due, reminded
from tether.forms import Form, field_errors, model_ref, resolve_model
from tether.messages import (
    EventBase,
    Request,
    RequestAnsweredEvent,
    RequestConfirmationEvent,
    RequestEscalatedEvent,
    RequestExpiredEvent,
    RequestReminderEvent,
    RequestUserInputEvent,
    TaskFailedEvent,
    event_body,
    now_iso,
)
from tether.metrics import TaskMetrics, epoch_of
from tether.notifications import SessionNotices
from tether.records import PendingRequest, RecordedAnswer
from tether.replay import (
    Replay,
    RequestTimes,
    request_entry,
    request_times,
)
from tether.sealing import Sealer
from tether.store.base import Entry, Store
from tether.tracing import NO_TRACE, SessionTrace
from tether.writer import SessionWriter


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""The default of ``default=``: no default, so an expired request fails the task."""

__all__ = ["MISSING", "PendingRequest", "RequestBook", "ValidatedAnswer", "validate_answer"]


# --- answers -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ValidatedAnswer:
    """An answer that fits its request: ``public`` as people and logs see it (secret
    fields masked), ``full`` as the task gets it."""

    public: Any
    full: Any

    @property
    def has_secrets(self) -> bool:
        return bool(self.public != self.full)


def validate_answer(
    pending: PendingRequest, value: Any, *, model: type[BaseModel] | None = None
) -> ValidatedAnswer:
    """Check ``value`` against the request and return it in the forms that are recorded.

    Input answers are validated with the request's model (``model`` when the caller holds
    the live class) and recorded as the model's JSON dump; confirmations and retry
    decisions must be booleans.

    Raises:
        InvalidValue: with field errors, when the value does not fit.
    """
    request = pending.request
    if request.kind in ("confirm", "retry"):
        if not isinstance(value, bool):
            raise InvalidValue({"value": "Answer with true or false."})
        return ValidatedAnswer(value, value)
    if not isinstance(value, dict):
        raise InvalidValue({"__root__": "Answer with an object of field values."})
    validator = model or resolve_model(pending.model_ref, request.fields or [])
    try:
        instance = validator.model_validate(value)
    except ValidationError as exc:
        raise InvalidValue(field_errors(exc)) from exc
    public = instance.model_dump(mode="json")
    return ValidatedAnswer(public, to_jsonable_python(_revealed(instance.model_dump())))


def _revealed(value: Any) -> Any:
    """A python dump with every secret replaced by what it hides."""
    if isinstance(value, SecretStr | SecretBytes):
        return _revealed(value.get_secret_value())
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, dict):
        return {k: _revealed(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_revealed(v) for v in value]
    return value


def answer_record(
    answer: ValidatedAnswer, *, by: str, at: str, sealer: Sealer
) -> RecordedAnswer:
    """The stored record of an answer (the full value sealed when it has secrets).

    Raises:
        TypeError: the value cannot be stored as JSON (e.g. text that is not Unicode).
    """
    sealed = None
    if answer.has_secrets:
        sealed = sealer.seal(json.dumps(answer.full, ensure_ascii=False))
    record = RecordedAnswer(expired=False, value=answer.public, by=by, at=at, sealed=sealed)
    record.to_json()  # refused now, with the person's answer, rather than in the store
    return record


def _scheduled(follow_up: FollowUp | None, created_at: str) -> dict[str, Any]:
    """A new request's reminder and escalation fields (none without a follow-up)."""
    if follow_up is None:
        return {}
    created = datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    return follow_up.schedule(created)


# --- one session's open requests ---------------------------------------------------------


_EXPIRED = object()  # _answer_of: the request's deadline came first


class RequestBook:
    """The requests of one running session. See the module docstring.

    Args:
        pending: the session's open requests as stored when the run began (a resumed run
            finds its requests open, with their ids and deadlines).
    """

    def __init__(
        self,
        *,
        store: Store,
        writer: SessionWriter,
        session_id: str,
        replay: Replay,
        sealer: Sealer,
        pending: Mapping[str, PendingRequest],
        notices: SessionNotices,
        owner: str = "",
        runner_id: str = "",
        tracing: SessionTrace | None = None,
        metrics: TaskMetrics | None = None,
    ) -> None:
        self._store = store
        self._tracing = tracing or NO_TRACE
        self._metrics = metrics
        self._notices = notices
        self._writer = writer
        self._session_id = session_id
        self._replay = replay
        self._sealer = sealer
        self._pending = dict(pending)
        # Requests whose opening entry is with the writer: an answer may arrive before
        # the asking task has seen that write land (open_request).
        self._opening: dict[str, PendingRequest] = {}
        self._owner = owner  # whom an unassigned request waits for (escalation keeps them)
        self._runner_id = runner_id  # the lease a reminder or an escalation is written under
        self._waiting: dict[str, asyncio.Future[Any]] = {}
        self._answered: dict[str, Any] = {}  # answers seen on the feed, by request id
        self._answered_at: dict[str, str] = {}  # when they were recorded (for metrics)
        self._expired_ids: set[str] = set()  # closed by their deadline in this run
        self._models: dict[str, type[BaseModel]] = {}
        # (the task awaiting an answer, since when): what parking looks at (parking.py)
        self._blocked: tuple[asyncio.Task[Any] | None, float] | None = None
        # Called once, when the task first waits for an answer (runner.py: a cancel
        # recorded while the session waited unrun hits the task where it waited).
        self.on_wait: Callable[[], None] | None = None

    # --- asking ---

    async def ask_input(
        self, *, key: str, scope: str, prompt: str, form: Form, timeout: float | None,
        default: Any, initial: dict[str, Any] | None = None, details: str | None = None,
        assignees: tuple[str, ...] = (), follow_up: FollowUp | None = None,
    ) -> Any:
        times = self._identity(key, "input", timeout)
        request = Request(
            request_id=times.request_id, kind="input", prompt=prompt, fields=form.fields,
            schema_=form.schema, details=details, created_at=times.created_at,
            expires_at=times.expires_at, initial=initial, assignees=list(assignees),
            **_scheduled(follow_up, times.created_at),
        )
        event = RequestUserInputEvent(
            seq=0, ts=times.created_at, request_id=times.request_id, prompt=prompt,
            fields=form.fields, schema_=form.schema, expires_at=times.expires_at,
            initial=initial, details=details, assignees=list(assignees),
        )
        pending = PendingRequest(
            request=request, model_ref=form.model_ref, journal_key=key,
            secret=form.has_secrets,
        )
        return await self._open(pending, event, scope, default, model=form.model)

    async def ask_confirm(
        self, *, key: str, scope: str, prompt: str, details: str | None,
        timeout: float | None, default: Any, assignees: tuple[str, ...] = (),
        follow_up: FollowUp | None = None,
    ) -> Any:
        times = self._identity(key, "confirm", timeout)
        request = Request(
            request_id=times.request_id, kind="confirm", prompt=prompt, details=details,
            created_at=times.created_at, expires_at=times.expires_at,
            assignees=list(assignees), **_scheduled(follow_up, times.created_at),
        )
        event = RequestConfirmationEvent(
            seq=0, ts=times.created_at, request_id=times.request_id, prompt=prompt,
            details=details, expires_at=times.expires_at, assignees=list(assignees),
        )
        return await self._open(PendingRequest(request=request, journal_key=key), event,
                                scope, default)

    async def ask_retry(
        self, *, key: str, scope: str, step: str, error: str, attempt: int,
        error_type: str | None = None, assignees: tuple[str, ...] = (),
    ) -> bool:
        times = self._identity(key, "retry", None)
        rid = times.request_id
        request = Request(
            request_id=rid, kind="retry", prompt=f"{step!r} failed. Try again?",
            error=error, attempt=attempt, created_at=times.created_at,
            assignees=list(assignees),
        )
        event = TaskFailedEvent(
            seq=0, ts=times.created_at, error=error, can_retry=True, attempt=attempt,
            request_id=rid, error_type=error_type, step=step, assignees=list(assignees),
        )
        pending = PendingRequest(request=request, journal_key=key)
        return bool(await self._open(pending, event, scope, MISSING))

    def live_model(self, request_id: str) -> type[BaseModel] | None:
        """The exact model class an open input request validates with, if it is ours."""
        return self._models.get(request_id)

    @property
    def waiting(self) -> bool:
        """The task waits for an answer now."""
        return bool(self._waiting)

    def open_request(
        self, request_id: str | None, kind: str | None
    ) -> PendingRequest | None:
        """The open request an answer naming ``request_id`` (None: the one open request
        of ``kind``) is for, as this run knows it: stored open or being stored, and no
        answer or expiry seen yet. None when there is no such request or more than one
        matches.

        Being stored counts: a tab learns of a request only from the store's feed, so an
        answer to it can reach the hub before the asking task has resumed from the
        write (on a busy hub, almost half the answers of `make bench`'s answers scenario did).
        What this run knows may lag the store either way: it is for a first guess only
        (the store decides whether the answer lands).
        """
        if request_id is not None:
            pending = self._pending.get(request_id) or self._opening.get(request_id)
            if pending is None or not self._is_open(request_id):
                return None
            return pending if kind is None or pending.request.kind == kind else None
        found = [p for book in (self._pending, self._opening) for rid, p in book.items()
                 if self._is_open(rid) and (kind is None or p.request.kind == kind)]
        return found[0] if len(found) == 1 else None

    def _is_open(self, request_id: str) -> bool:
        return request_id not in self._answered and request_id not in self._expired_ids

    def _identity(self, key: str, kind: str, timeout: float | None) -> RequestTimes:
        recorded = self._replay.request_id(key, kind)
        stored = self._pending.get(recorded) if recorded is not None else None
        return request_times(
            recorded_id=recorded,
            stored=None if stored is None else RequestTimes(
                stored.request.request_id, stored.request.created_at,
                stored.request.expires_at,
            ),
            timeout=timeout, now=datetime.now(UTC), new_id=lambda: secrets.token_hex(8),
        )

    # --- the life cycle ---

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
        logged = self._replay.emit(scope)
        answer = self._replay.answer(rid)
        if answer is not None:
            if not logged:  # a fork: its log starts empty, so show the exchange whole
                await self._show_recorded(event, request, answer, scope)
            return self._value_of(request, answer, default)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[rid] = future
        if model is not None:
            self._models[rid] = model
        try:
            # Answered on the feed already (a resumed run whose answer came while it
            # started): opening it again would re-list an answered request as pending.
            if rid not in self._pending and rid not in self._answered:
                self._fire_on_wait()  # a new request: past what the journal holds
                pending = self._tracing.asking(pending)  # where its span will hang
                journal = request_entry(request.kind, rid)
                key = pending.journal_key or rid
                self._opening[rid] = pending
                try:
                    await self._writer.write_durable(
                        Entry(
                            body=None if logged else event_body(event),
                            pending_add={rid: pending},
                            journal={key: journal},
                            emit_scope=None if logged else scope,
                            notify=() if logged else (self._notices.request_created(request),),
                        )
                    )
                finally:
                    del self._opening[rid]
                self._pending[rid] = pending
                self._replay.remember(key, journal)
            if rid in self._answered and not future.done():
                future.set_result(self._answered[rid])
            value = await self._answer_of(rid, pending, future)
            if value is _EXPIRED:
                return await self._expire(self._pending.get(rid, pending).request, default)
            if pending.secret:  # the feed carries the masked value: open the sealed one
                recorded = await self._recorded_answer(rid)
                if recorded is not None:
                    value = self._value_of(request, recorded, default)
            self._resuming(rid)
            return value
        finally:
            self._left(rid, future)

    async def _answer_of(
        self, rid: str, pending: PendingRequest, future: asyncio.Future[Any]
    ) -> Any:
        """Wait for the answer to ``rid``, reminding and escalating on the way; its
        value, or ``_EXPIRED`` once its deadline has come."""
        while True:
            current = self._pending.get(rid, pending).request  # as stored (resumed too)
            due = next_due(current, datetime.now(UTC))
            try:
                return await self._await(future, None if due is None else due[1])
            except TimeoutError:
                assert due is not None
                later = next_due(current, datetime.now(UTC))
                if later is not None and later[1] > 0:
                    # Early: a loop's timers may fire up to a millisecond before their
                    # time (uvloop counts in whole milliseconds). The stored moment
                    # decides, so no deadline is recorded as met before it was.
                    continue
                if due[0] == "expire":
                    return _EXPIRED
                await self._follow_up(rid, due[0])

    def _left(self, rid: str, future: asyncio.Future[Any]) -> None:
        """The task stopped waiting for ``rid``. Answered or expired, it went on past it,
        and nothing in this run asks about it again (a key opens one request per run):
        forget it. Kept, a session asking thousands of questions held every one of them,
        and each answer without an id looked through them all."""
        self._waiting.pop(rid, None)
        self._models.pop(rid, None)
        if not future.done() and rid not in self._expired_ids:
            return  # cancelled while it waited: the request stays open
        self._pending.pop(rid, None)
        self._answered.pop(rid, None)
        self._answered_at.pop(rid, None)
        self._expired_ids.discard(rid)

    async def _await(self, future: asyncio.Future[Any], timeout: float | None) -> Any:
        """The answer, or TimeoutError after ``timeout`` seconds (the future lives on)."""
        self._fire_on_wait()
        self._blocked = (asyncio.current_task(), time.monotonic())
        try:
            if timeout is None:
                return await future
            # Not wait_for: on Python 3.11 it returns the answer when the task is cancelled
            # as the answer comes, and the cancel (of the session) would be lost.
            async with asyncio.timeout(timeout):
                return await asyncio.shield(future)
        finally:
            self._blocked = None

    def _fire_on_wait(self) -> None:
        if self.on_wait is not None:
            on_wait, self.on_wait = self.on_wait, None
            on_wait()

    def open_ids(self) -> tuple[str, ...]:
        return tuple(sorted(rid for rid in self._pending if self._is_open(rid)))

    def models_importable(self) -> bool:
        """Every open input request's model can be found again by name: another runner
        (or the answer path of a parked session) validates with that class, not with one
        rebuilt from the fields, which would lack its validators."""
        return all(model_ref(model) is not None for model in self._models.values())

    def idle_for(self, task: asyncio.Task[Any], now: float) -> float:
        """How long ``task`` itself has been awaiting an answer that has not come
        (negative: it is not, or one came and it has yet to go on)."""
        blocked = self._blocked
        if blocked is None or blocked[0] is not task:
            return -1.0
        if any(future.done() for future in self._waiting.values()):
            return -1.0
        return now - blocked[1]

    def next_due(self) -> float | None:
        """Seconds until an open request's next deadline, reminder or escalation; None
        when none has one."""
        now = datetime.now(UTC)
        dues = [due[1] for rid, pending in self._pending.items()
                if self._is_open(rid) and (due := next_due(pending.request, now)) is not None]
        return min(dues) if dues else None

    def _resuming(self, rid: str) -> None:
        """The task goes on with the answer to ``rid``: time it from the answer's record."""
        answered = epoch_of(self._answered_at.pop(rid, ""))
        if self._metrics is not None and answered is not None:
            self._metrics.answer_resumed(time.time() - answered)

    async def _follow_up(self, rid: str, due: Due) -> None:
        """Remind, or escalate, the open request ``rid`` (once: the store keeps when)."""
        pending = self._pending[rid]
        now = datetime.now(UTC)
        ts = now_iso()
        if due == "remind":
            request = reminded(pending.request, now)
            event: EventBase = RequestReminderEvent(
                seq=0, ts=ts, request_id=rid, assignees=list(request.assignees)
            )
            notice = self._notices.make("request.reminder", at=ts, request=request)
        else:
            request, added = escalated(pending.request, now, self._owner)
            event = RequestEscalatedEvent(
                seq=0, ts=ts, request_id=rid, assignees=list(request.assignees), added=added
            )
            notice = self._notices.make(
                "request.escalated", at=ts, request=request, added=added
            )
        changed = pending.model_copy(update={"request": request})
        backoff = Backoff()
        while True:  # as for a deadline: a store outage delays it, nothing skips it
            try:
                outcome = await self._store.update_request(
                    self._session_id, rid, pending=changed, body=event_body(event),
                    runner=self._runner_id, notify=notice,
                )
                break
            except StoreUnavailable:
                await backoff.wait()
        # "closed": answered meanwhile; the answer is on its way through the feed.
        self._pending[rid] = changed
        if outcome == "ok" and self._metrics is not None:
            self._metrics.appended.inc()  # the reminder's or the escalation's event

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

    def _value_of(self, request: Request, answer: RecordedAnswer, default: Any) -> Any:
        if answer.expired:
            if default is MISSING:
                raise RequestTimedOut(request.request_id, request.prompt)
            return default
        if answer.sealed is not None:
            return json.loads(self._sealer.open(answer.sealed))
        return answer.value

    async def _expire(self, request: Request, default: Any) -> Any:
        rid = request.request_id
        ts = now_iso()
        backoff = Backoff()
        while True:  # a deadline during a store outage waits for the store, like a write
            try:
                outcome = await self._store.resolve_request(
                    self._session_id, rid,
                    answer=RecordedAnswer(expired=True, at=ts),
                    body=event_body(RequestExpiredEvent(seq=0, ts=ts, request_id=rid)),
                    notify=self._notices.request_expired(request, at=ts),
                )
                recorded = None if outcome == "ok" else await self._recorded_answer(rid)
                break
            except StoreUnavailable:
                await backoff.wait()
        if outcome == "ok" and rid in self._pending:
            self._tracing.request_closed(self._pending[rid], "expired", at=ts)
        self._expired_ids.add(rid)
        if recorded is None:  # expired now (or closed without a record: treat alike)
            recorded = RecordedAnswer(expired=True, at=ts)
            self._expired(request, ts)
        # Closed already: an answer won the race, or an earlier run expired it.
        return self._value_of(request, recorded, default)

    def _expired(self, request: Request, at: str) -> None:
        opened, closed = epoch_of(request.created_at), epoch_of(at)
        if self._metrics is not None and opened is not None and closed is not None:
            self._metrics.appended.inc()  # its request_expired event
            self._metrics.waited(request.kind, "expired", closed - opened)

    async def _recorded_answer(self, request_id: str) -> RecordedAnswer | None:
        return (await self._store.answers(self._session_id)).get(request_id)

    # --- what the feed brings ---

    def answered(self, request_id: str, value: Any, *, at: str | None = None) -> None:
        """An answer was recorded (a ``request_answered`` event on the session's feed),
        at ``at`` (the event's ``ts``) when known."""
        self._answered[request_id] = value
        if at is not None and request_id not in self._answered_at:
            self._answered_at[request_id] = at
        future = self._waiting.get(request_id)
        if future is not None and not future.done():
            future.set_result(value)

    def carry_answers_from(self, earlier: RequestBook) -> None:
        """Take over the answers ``earlier`` saw on the feed: the book a runner had
        while it read its session, replaced by one built from what it read."""
        for rid, value in earlier._answered.items():
            self.answered(rid, value, at=earlier._answered_at.get(rid))

    def refill(self, answers: Mapping[str, RecordedAnswer]) -> None:
        """After a feed outage: hand waiting requests the answers recorded meanwhile."""
        for rid, recorded in answers.items():
            if not recorded.expired:
                self.answered(rid, recorded.value, at=recorded.at)
