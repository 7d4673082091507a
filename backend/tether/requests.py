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
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, SecretBytes, SecretStr, ValidationError
from pydantic_core import to_jsonable_python

from tether.backoff import Backoff
from tether.errors import InvalidValue, RequestTimedOut, StoreUnavailable
from tether.forms import Form, field_errors, resolve_model
from tether.messages import (
    EventBase,
    Request,
    RequestAnsweredEvent,
    RequestConfirmationEvent,
    RequestExpiredEvent,
    RequestUserInputEvent,
    TaskFailedEvent,
    event_body,
    now_iso,
)
from tether.records import PendingRequest, RecordedAnswer
from tether.replay import (
    Replay,
    RequestTimes,
    request_entry,
    request_times,
    seconds_until,
)
from tether.sealing import Sealer
from tether.store.base import Entry, Store
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


# --- one session's open requests ---------------------------------------------------------


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
    ) -> None:
        self._store = store
        self._writer = writer
        self._session_id = session_id
        self._replay = replay
        self._sealer = sealer
        self._pending = dict(pending)
        self._waiting: dict[str, asyncio.Future[Any]] = {}
        self._answered: dict[str, Any] = {}  # answers seen on the feed, by request id
        self._models: dict[str, type[BaseModel]] = {}

    # --- asking ---

    async def ask_input(
        self, *, key: str, scope: str, prompt: str, form: Form, timeout: float | None,
        default: Any, initial: dict[str, Any] | None = None, details: str | None = None,
    ) -> Any:
        times = self._identity(key, "input", timeout)
        request = Request(
            request_id=times.request_id, kind="input", prompt=prompt, fields=form.fields,
            schema_=form.schema, details=details, created_at=times.created_at,
            expires_at=times.expires_at, initial=initial,
        )
        event = RequestUserInputEvent(
            seq=0, ts=times.created_at, request_id=times.request_id, prompt=prompt,
            fields=form.fields, schema_=form.schema, expires_at=times.expires_at,
            initial=initial, details=details,
        )
        pending = PendingRequest(
            request=request, model_ref=form.model_ref, journal_key=key,
            secret=form.has_secrets,
        )
        return await self._open(pending, event, scope, default, model=form.model)

    async def ask_confirm(
        self, *, key: str, scope: str, prompt: str, details: str | None,
        timeout: float | None, default: Any,
    ) -> Any:
        times = self._identity(key, "confirm", timeout)
        request = Request(
            request_id=times.request_id, kind="confirm", prompt=prompt, details=details,
            created_at=times.created_at, expires_at=times.expires_at,
        )
        event = RequestConfirmationEvent(
            seq=0, ts=times.created_at, request_id=times.request_id, prompt=prompt,
            details=details, expires_at=times.expires_at,
        )
        return await self._open(PendingRequest(request=request, journal_key=key), event,
                                scope, default)

    async def ask_retry(
        self, *, key: str, scope: str, step: str, error: str, attempt: int,
        error_type: str | None = None,
    ) -> bool:
        times = self._identity(key, "retry", None)
        rid = times.request_id
        request = Request(
            request_id=rid, kind="retry", prompt=f"{step!r} failed. Try again?",
            error=error, attempt=attempt, created_at=times.created_at,
        )
        event = TaskFailedEvent(
            seq=0, ts=times.created_at, error=error, can_retry=True, attempt=attempt,
            request_id=rid, error_type=error_type, step=step,
        )
        pending = PendingRequest(request=request, journal_key=key)
        return bool(await self._open(pending, event, scope, MISSING))

    def live_model(self, request_id: str) -> type[BaseModel] | None:
        """The exact model class an open input request validates with, if it is ours."""
        return self._models.get(request_id)

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
            if rid not in self._pending:
                journal = request_entry(request.kind, rid)
                key = pending.journal_key or rid
                await self._writer.write_durable(
                    Entry(
                        body=None if logged else event_body(event),
                        pending_add={rid: pending},
                        journal={key: journal},
                        emit_scope=None if logged else scope,
                    )
                )
                self._pending[rid] = pending
                self._replay.remember(key, journal)
            if rid in self._answered and not future.done():
                future.set_result(self._answered[rid])
            if request.expires_at is None:
                value = await future
            else:
                remaining = seconds_until(request.expires_at, datetime.now(UTC))
                try:
                    value = await asyncio.wait_for(asyncio.shield(future), max(0.0, remaining))
                except TimeoutError:
                    return await self._expire(request, default)
            if pending.secret:  # the feed carries the masked value: open the sealed one
                recorded = await self._recorded_answer(rid)
                if recorded is not None:
                    return self._value_of(request, recorded, default)
            return value
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
                )
                recorded = None if outcome == "ok" else await self._recorded_answer(rid)
                break
            except StoreUnavailable:
                await backoff.wait()
        if recorded is None:  # expired now (or closed without a record: treat alike)
            recorded = RecordedAnswer(expired=True, at=ts)
        # Closed already: an answer won the race, or an earlier run expired it.
        return self._value_of(request, recorded, default)

    async def _recorded_answer(self, request_id: str) -> RecordedAnswer | None:
        return (await self._store.answers(self._session_id)).get(request_id)

    # --- what the feed brings ---

    def answered(self, request_id: str, value: Any) -> None:
        """An answer was recorded (a ``request_answered`` event on the session's feed)."""
        self._answered[request_id] = value
        future = self._waiting.get(request_id)
        if future is not None and not future.done():
            future.set_result(value)

    def refill(self, answers: Mapping[str, RecordedAnswer]) -> None:
        """After a feed outage: hand waiting requests the answers recorded meanwhile."""
        for rid, recorded in answers.items():
            if not recorded.expired:
                self.answered(rid, recorded.value)
