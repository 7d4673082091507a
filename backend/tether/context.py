"""``Context``: what a task uses to talk to people while it runs.

Every method that shows something (``stream``, ``progress``, ``markdown``, ``set_state``)
queues a numbered event and returns at once; ordering is kept by the session's writer.
Methods that ask (``ask``, ``confirm``, a retry offer inside ``step``) open a request,
record it, and wait for the first valid answer from any tab or hub.

Each context has a *scope*: the root context has ``""``, the context an item of
``ctx.map`` gets has ``"m1[3]/"``. Calls are keyed by scope and a per-scope counter, so
the keys stay the same however concurrently the items run; the journal uses them to
recognise a call when a session is resumed.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NoReturn, Protocol, TypeVar, overload

from pydantic import BaseModel

from tether.assignees import parse_assignees
from tether.executors import Executors, Offload
from tether.followups import FollowUp
from tether.forms import FieldsLike, Form, form_for, initial_values
from tether.messages import EventBase, ProgressEvent, now_iso, text_event_body
from tether.relay import worker_scope
from tether.replay import (
    Replay,
    ScopeKeys,
    StepFailed,
    attempt_entry,
    failure_message,
    item_key,
    item_scope,
    map_entry,
    map_item_entry,
    sleep_entry,
    step_entry,
)
from tether.requests import MISSING
from tether.tracing import SessionTrace

__all__ = ["MISSING", "CancelSession", "Context", "Retry", "Runtime", "StepFailed"]

T = TypeVar("T")
R = TypeVar("R")
M = TypeVar("M", bound=BaseModel)


class Runtime(Protocol):
    """What a :class:`Context` needs from whatever runs its session (the runner)."""

    session_id: str
    owner: str
    state: dict[str, Any]
    replay: Replay
    tracing: SessionTrace  # the spans of steps and maps (tracing.py)
    executors: Executors

    async def emit(self, event: EventBase, scope: str) -> None: ...

    async def emit_body(self, body: str, scope: str) -> None:
        """Emit an event given as its body (``messages.event_body``), made already."""
        ...

    async def set_state(self, values: dict[str, Any], scope: str) -> None: ...

    async def record(self, key: str, entry_json: str) -> None:
        """Journal ``entry_json`` at ``key`` and wait until it is stored."""
        ...

    def step_failed(self, step: str, attempt: int, exc: BaseException) -> None:
        """``exc``, about to propagate, is what ``step``'s attempt ``attempt`` raised."""
        ...

    def caught_up(self) -> None:
        """The task does something its journal does not hold (or waits): a cancel held
        for that moment applies now (runner.py)."""
        ...

    def steps_running(self, delta: int) -> None:
        """A step's body starts (+1) or ends (-1): while one runs, the session is not
        parked (parking.py), or its body would run again."""
        ...

    async def ask_input(
        self, *, key: str, scope: str, prompt: str, form: Form, timeout: float | None,
        default: Any, initial: dict[str, Any] | None = None, details: str | None = None,
        assignees: tuple[str, ...] = (), follow_up: FollowUp | None = None,
    ) -> Any: ...

    async def ask_confirm(
        self, *, key: str, scope: str, prompt: str, details: str | None,
        timeout: float | None, default: Any, assignees: tuple[str, ...] = (),
        follow_up: FollowUp | None = None,
    ) -> Any: ...

    async def ask_retry(
        self, *, key: str, scope: str, step: str, error: str, attempt: int,
        error_type: str | None = None, assignees: tuple[str, ...] = (),
    ) -> bool: ...


@dataclass(frozen=True, slots=True)
class Retry:
    """How ``ctx.step`` retries a failing function.

    Args:
        attempts: how many times the function may run in all (1 = no retry).
        backoff: seconds before the second attempt, doubling each time after.
        ask: ask the person whether to retry after each failure (a ``retry`` request,
            shown as ``task_failed`` with ``can_retry``) instead of retrying on its own.
        assignees: with ``ask``, who is asked (as for :meth:`Context.ask`).

    Raises:
        TypeError, ValueError: ``assignees`` is not a list of ``user:<name>`` /
            ``group:<name>`` strings.
    """

    attempts: int = 3
    backoff: float = 0.0
    ask: bool = False
    assignees: Sequence[str] = ()

    def __post_init__(self) -> None:
        # Checked where the task author wrote it, not at the first failure.
        object.__setattr__(self, "assignees", parse_assignees(self.assignees))

    def delay(self, attempt: int) -> float:
        return float(self.backoff * (2 ** (attempt - 1)))


class CancelSession(BaseException):
    """Raised by :meth:`Context.cancel`; a BaseException so ``except Exception`` lets it by."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_ACTIVE: ContextVar[Context | None] = ContextVar("tether_context", default=None)


class Context:
    """The handle a task gets as its first argument. See the module docstring."""

    def __init__(self, runtime: Runtime, scope: str = "") -> None:
        self._runner = runtime
        self._keys = ScopeKeys(scope)
        self._attempt_no = 0

    @property
    def _own_scope(self) -> str:
        return self._keys.scope

    # --- who and what ----------------------------------------------------------------

    @property
    def session_id(self) -> str:
        return self._runner.session_id

    @property
    def user(self) -> str:
        """The id of the user who started the session."""
        return self._runner.owner

    @property
    def state(self) -> Mapping[str, Any]:
        """The task state set so far (read-only; change it with :meth:`set_state`)."""
        return MappingProxyType(self._runner.state)

    @property
    def executors(self) -> frozenset[str]:
        """The executors this hub offers besides itself (``"ray"`` when
        ``TETHER_RAY_ADDRESS`` is set), for a task that can run either way."""
        return self._runner.executors.names

    @property
    def attempt(self) -> int:
        """Inside a ``ctx.step`` function: which attempt this is (1, 2, …); else 0."""
        return self._here()._attempt_no

    def _here(self) -> Context:
        """The context a call counts under. Inside a ``ctx.map`` item that is the item's
        own context, even when the code calls an enclosing one (``ctx.progress`` from an
        item): items interleave differently on every run, so only per-item counting
        gives the same keys and emit counts when a session is replayed."""
        active = _ACTIVE.get()
        if active is not None and active is not self and active._own_scope.startswith(
            self._own_scope
        ):
            return active
        return self

    @property
    def _scope(self) -> str:
        return self._here()._own_scope

    def _next_key(self, kind: str) -> str:
        return self._here()._keys.next(kind)

    # --- showing ---------------------------------------------------------------------

    async def stream(self, content: str) -> None:
        """Append a line to the session's log."""
        body = text_event_body("stream", now_iso(), str(content))
        await self._runner.emit_body(body, self._scope)

    async def progress(self, done: float, total: float, *, label: str | None = None) -> None:
        """Report ``done`` out of ``total`` (a progress bar in the browser)."""
        event = ProgressEvent(seq=0, ts=now_iso(), done=done, total=total, label=label)
        await self._runner.emit(event, self._scope)

    async def markdown(self, content: str) -> None:
        """Show a block of markdown."""
        body = text_event_body("markdown", now_iso(), content)
        await self._runner.emit_body(body, self._scope)

    async def set_state(self, **values: Any) -> None:
        """Merge ``values`` into the task state and send the whole state to every tab.

        Raises:
            TypeError: if a value is not JSON-serialisable.
        """
        await self._runner.set_state(values, self._scope)

    # --- asking ----------------------------------------------------------------------

    @overload
    async def ask(
        self, spec: type[M], *, prompt: str, timeout: float | None = None, default: Any = ...,
        initial: Mapping[str, Any] | BaseModel | None = None, details: str | None = None,
        assignees: Sequence[str] | None = None, remind_after: float | None = None,
        escalate_after: float | None = None, escalate_to: Sequence[str] | None = None,
    ) -> M: ...

    @overload
    async def ask(
        self, spec: FieldsLike, *, prompt: str, timeout: float | None = None, default: Any = ...,
        initial: Mapping[str, Any] | BaseModel | None = None, details: str | None = None,
        assignees: Sequence[str] | None = None, remind_after: float | None = None,
        escalate_after: float | None = None, escalate_to: Sequence[str] | None = None,
    ) -> dict[str, Any]: ...

    async def ask(
        self,
        spec: type[BaseModel] | FieldsLike,
        *,
        prompt: str,
        timeout: float | None = None,
        default: Any = MISSING,
        initial: Mapping[str, Any] | BaseModel | None = None,
        details: str | None = None,
        assignees: Sequence[str] | None = None,
        remind_after: float | None = None,
        escalate_after: float | None = None,
        escalate_to: Sequence[str] | None = None,
    ) -> Any:
        """Ask a person to fill in a form and wait for a valid answer.

        Args:
            spec: a pydantic model class (the answer is an instance of it) or a list of
                fields ``{"name", "description", "type", "required"?, "default"?,
                "enum"?}`` (the answer is a dict).
            prompt: shown above the form.
            timeout: seconds to wait; then ``default`` is returned, or the task fails.
            default: the answer to use when the request times out.
            initial: values the form starts with (field name -> value, or a model
                instance); unlike ``default`` they are only a suggestion.
            details: markdown shown above the form, to give the person context.
            assignees: who is asked: ``"user:<name>"`` and ``"group:<name>"`` strings;
                only they (or an admin) may answer, and the request is in their inbox.
                None or empty: the session's owner, as usual.
            remind_after: seconds; unanswered by then, whoever it waits for is reminded
                (once; a ``request_reminder`` event, and the notifications it sends).
            escalate_after, escalate_to: seconds, and ``user:``/``group:`` names;
                unanswered by then, ``escalate_to`` join the assignees (and are told).
                ``timeout`` still ends the request; both survive a hub restart (see
                :mod:`tether.followups`).

        Raises:
            RequestTimedOut: the request expired and no ``default`` was given.
            TypeError: ``initial`` is not a mapping or cannot be stored as JSON, or
                ``assignees`` is not a list of strings.
            ValueError: ``initial`` names a field the form does not have, an
                assignee is not ``user:<name>`` / ``group:<name>``, or the follow-up
                times are not positive (or ``escalate_to`` comes without
                ``escalate_after``).
        """
        form = form_for(spec)
        to = parse_assignees(assignees)
        follow_up = FollowUp.of(remind_after, escalate_after, escalate_to)
        value = await self._runner.ask_input(
            key=self._next_key("ask"), scope=self._scope, prompt=prompt, form=form,
            timeout=timeout, default=default, initial=initial_values(form, initial),
            details=details, assignees=to, follow_up=follow_up,
        )
        if value is default and default is not MISSING:
            return value
        return form.model.model_validate(value) if form.returns_model else value

    async def confirm(
        self,
        prompt: str,
        *,
        details: str | None = None,
        timeout: float | None = None,
        default: Any = MISSING,
        assignees: Sequence[str] | None = None,
        remind_after: float | None = None,
        escalate_after: float | None = None,
        escalate_to: Sequence[str] | None = None,
    ) -> bool:
        """Ask a yes/no question and wait for the answer (``assignees``,
        ``remind_after``, ``escalate_after`` and ``escalate_to``: as for :meth:`ask`).

        Raises:
            RequestTimedOut: the request expired and no ``default`` was given.
            TypeError, ValueError: ``assignees`` is not valid (see :meth:`ask`).
        """
        to = parse_assignees(assignees)
        follow_up = FollowUp.of(remind_after, escalate_after, escalate_to)
        value = await self._runner.ask_confirm(
            key=self._next_key("confirm"), scope=self._scope, prompt=prompt, details=details,
            timeout=timeout, default=default, assignees=to, follow_up=follow_up,
        )
        return bool(value)

    # --- doing -----------------------------------------------------------------------

    @overload
    async def step(
        self, name: str, fn: Callable[..., Awaitable[T]], *args: Any,
        retry: Retry | None = None, executor: str | None = None,
        ray_options: Mapping[str, Any] | None = None, **kwargs: Any,
    ) -> T: ...

    @overload
    async def step(
        self, name: str, fn: Callable[..., T], *args: Any,
        retry: Retry | None = None, executor: str | None = None,
        ray_options: Mapping[str, Any] | None = None, **kwargs: Any,
    ) -> T: ...

    async def step(
        self,
        name: str,
        fn: Callable[..., Any],
        *args: Any,
        retry: Retry | None = None,
        executor: str | None = None,
        ray_options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Run a named unit of work and record its result in the session's journal.

        ``fn`` may be sync or async. Its result must be JSON-serialisable (pydantic models,
        dataclasses, datetimes included); on a resumed run the recorded result is rebuilt
        as ``fn``'s return annotation says, so it has the same type as live. With
        ``retry`` a failure is retried (after asking, if ``retry.ask``); the last failure
        propagates as the exception it was, live and after a resume.

        With ``executor="ray"`` each attempt runs as a Ray task on the hub's cluster
        (``ray_options`` go to Ray's ``.options()``, e.g. ``{"num_cpus": 2}``); ``fn``
        must be a module-level function the workers can import, and may report with
        :mod:`tether.worker`. A worker that dies is a failed attempt (``WorkerDied``).

        Raises:
            ExecutorUnavailable: ``executor`` is not offered by this hub.
            NotImportable: ``fn`` cannot run on an executor (a lambda, a closure).
        """
        offload = self._offload(fn, executor, ray_options)
        key = self._next_key("step")
        replay = self._runner.replay
        tracing = self._runner.tracing
        done = replay.step(key, name, fn)
        if done is not None:
            tracing.step_replayed(name, key)
            return done.value
        self._runner.caught_up()
        policy = retry or Retry(attempts=1)
        attempt = 1
        with tracing.step(name, key, executor=executor or "local") as span:
            while True:
                outcome = await self._attempt(key, name, attempt, fn, args, kwargs, offload)
                if not isinstance(outcome, _Failure):
                    break
                tracing.attempt_failed(span, attempt, outcome.exc)
                if attempt >= policy.attempts:
                    self._runner.step_failed(name, attempt, outcome.exc)
                    raise outcome.exc
                if policy.ask:
                    again = await self._runner.ask_retry(
                        key=f"{key}.retry{attempt}", scope=self._scope, step=name,
                        error=failure_message(outcome.exc), attempt=attempt,
                        error_type=type(outcome.exc).__name__,
                        assignees=tuple(policy.assignees),
                    )
                    if not again:
                        self._runner.step_failed(name, attempt, outcome.exc)
                        raise outcome.exc
                else:
                    await self.sleep(policy.delay(attempt))
                attempt += 1
            tracing.attempts(span, attempt)
            await self._runner.record(key, step_entry(name, outcome))
        return outcome

    async def _attempt(
        self, key: str, name: str, attempt: int, fn: Callable[..., Any],
        args: tuple[Any, ...], kwargs: dict[str, Any], offload: Offload | None = None,
    ) -> Any:
        """One attempt: its result, or a ``_Failure``. An attempt that failed in an
        earlier run of this session is not run again: its recorded error stands."""
        attempt_key = f"{key}.attempt{attempt}"
        failed = self._runner.replay.failed_attempt(attempt_key, name)
        if failed is not None:
            return _Failure(failed)
        here = self._here()
        here._attempt_no = attempt
        self._runner.steps_running(1)
        try:
            if offload is not None:
                return await offload.call(args, kwargs, self._reports_to(attempt_key))
            result = fn(*args, **kwargs)
            if inspect.isawaitable(result):
                result = await result
            return result
        except Exception as exc:
            failure = exc
        finally:
            self._runner.steps_running(-1)
        await self._runner.record(attempt_key, attempt_entry(name, failure))
        return _Failure(failure)

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``; a resumed session waits only for what is left of it."""
        key = self._next_key("sleep")
        self._runner.caught_up()  # a wait: a cancel held for one applies here
        until = self._runner.replay.sleep_until(key)
        if until is None:
            until = time.time() + seconds
            await self._runner.record(key, sleep_entry(until))
        await asyncio.sleep(max(0.0, until - time.time()))

    @overload
    async def map(
        self, fn: Callable[..., Awaitable[R]], items: Iterable[T], *, concurrency: int = 8,
        progress: str | None = None, executor: str | None = None,
        ray_options: Mapping[str, Any] | None = None,
    ) -> list[R]: ...

    @overload
    async def map(
        self, fn: Callable[[T], R], items: Iterable[T], *, concurrency: int = 8,
        progress: str | None = None, executor: str,
        ray_options: Mapping[str, Any] | None = None,
    ) -> list[R]: ...

    async def map(
        self,
        fn: Callable[..., Any],
        items: Iterable[T],
        *,
        concurrency: int = 8,
        progress: str | None = None,
        executor: str | None = None,
        ray_options: Mapping[str, Any] | None = None,
    ) -> list[Any]:
        """Run ``fn`` over ``items`` in parallel, at most ``concurrency`` at a time.

        ``fn`` is ``async def fn(ctx, item)`` (it gets a context of its own, so it can
        stream, ask and step) or ``async def fn(item)``. Results come back in the order of
        ``items`` (rebuilt as ``fn``'s return annotation says for items that finished in
        an earlier run). If an item fails, the others are cancelled and the error
        propagates. With ``progress``, a progress event with that label follows each
        finished item. Inside an item, use the item's context (calls on an enclosing one
        are counted as the item's anyway, so that a resumed session replays them exactly).

        With ``executor="ray"`` each item runs as a Ray task, ``fn(item)`` (sync or
        async, module-level, no context; ``ray_options`` as for :meth:`step`), at most
        ``concurrency`` of this map's at a time across the cluster.

        Raises:
            ExecutorUnavailable, NotImportable: as for :meth:`step`.
            TypeError: on an executor, ``fn`` does not take the item as its one argument.
        """
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        offload = self._offload(fn, executor, ray_options, arity=1)
        key = self._next_key("m")
        values = list(items)
        replay = self._runner.replay
        if not replay.map_started(key, len(values)):
            await self._runner.record(key, map_entry(len(values)))
        wants_ctx = offload is None and len(inspect.signature(fn).parameters) >= 2
        gate = asyncio.Semaphore(concurrency)
        finished = [replay.map_item(item_key(key, i), fn) for i in range(len(values))]
        if any(entry is None for entry in finished):
            self._runner.caught_up()  # items left to run: new work
        done_count = sum(entry is not None for entry in finished)

        tracing = self._runner.tracing

        async def run(index: int, item: T) -> Any:
            nonlocal done_count
            done = finished[index]
            if done is not None:  # finished in an earlier run of this session
                return done.value
            async with gate:
                child = Context(self._runner, item_scope(key, index))
                _ACTIVE.set(child)  # this item's task only: see _here
                if offload is not None:
                    reports = self._reports_to(item_key(key, index))
                    work = offload.call((item,), {}, reports)
                else:
                    work = fn(child, item) if wants_ctx else fn(item)
                result = await tracing.map_item(key, index, work)  # runs it in its span
                await self._runner.record(item_key(key, index), map_item_entry(result))
                done_count += 1
                if progress is not None:  # counts items finished in earlier runs too
                    await child.progress(done_count, len(values), label=progress)
                return result

        # The items' tasks start inside the map's span, so their spans are its children.
        with tracing.map(key, len(values), concurrency=concurrency, replayed=done_count):
            tasks = [asyncio.ensure_future(run(i, item)) for i, item in enumerate(values)]
            try:
                return list(await asyncio.gather(*tasks))
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    # --- executors (see tether.executors) ---------------------------------------------

    def _offload(
        self, fn: Callable[..., Any], executor: str | None,
        options: Mapping[str, Any] | None, *, arity: int | None = None,
    ) -> Offload | None:
        """Where ``fn`` runs: None for the hub itself, else the checked offload. Checked
        before anything is journaled, so a mistake fails at the call, every time."""
        if executor is None:
            if options is not None:
                raise ValueError("ray_options need executor='ray'")
            return None
        return Offload.of(self._runner.executors, executor, fn, options, arity=arity)

    def _reports_to(self, call_key: str) -> Callable[[EventBase], Awaitable[None]]:
        """Where the reports of the offloaded call journaled at ``call_key`` go: the
        session's events, in a scope of their own (see ``relay.worker_scope``)."""
        scope = worker_scope(call_key)

        async def report(event: EventBase) -> None:
            await self._runner.emit(event, scope)

        return report

    def cancel(self, reason: str = "cancelled") -> NoReturn:
        """End the session as ``cancelled`` with ``reason`` (e.g. a declined confirmation)."""
        raise CancelSession(reason)


@dataclass(frozen=True, slots=True)
class _Failure:
    exc: Exception
