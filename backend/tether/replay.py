"""The replay core: how each call a task makes is answered from what earlier runs did.

No I/O happens here. A :class:`Replay` holds a session's journal, its recorded answers and
how many events each scope already emitted; the runtime asks it, for every call the task
makes, one question with three possible answers:

* **replay** — the call was made before: here is its recorded outcome (a step's result
  rebuilt as the type the function returns, a failure rebuilt as the class it was raised
  as, a request's id, a sleep's deadline), and the call is not made again;
* **execute** — the call is new: make it, then record it (the ``*_entry`` encoders give
  the JSON to write);
* **diverged** — the journal holds another call at this place: the code changed under a
  paused session. :class:`~tether.errors.Nondeterminism` is raised and remembered, so the
  session fails even if the task catches it.

Keys. Every call has a key: its context's *scope* (``""`` for the task, ``"m1[3]/"`` for
item 3 of the first ``ctx.map``) and a per-scope counter (``step2``, ``ask1``). The keys
are the same on every run of the same code however concurrently map items interleave,
which is what lets a resumed run find its calls. :class:`ScopeKeys` makes them.

The journal's kinds, as stored (JSON objects under their key):

=============  ====================================================  ======================
kind           recorded                                              replayed as
=============  ====================================================  ======================
``step``       ``{"name", "result", "type"?}`` once it succeeded     the result, rebuilt
``attempt``    ``{"name", "error", "exc"?}`` for a failed attempt    the exception, rebuilt
``input`` …    ``{"request_id"}`` when a request opened              same id; its answer
``map``        ``{"count"}`` when a fan-out started                  checked for divergence
``map_item``   ``{"result", "type"?}`` when an item finished         the result, rebuilt
``sleep``      ``{"until"}`` the deadline of ``ctx.sleep``           the rest of the wait
=============  ====================================================  ======================

Results are rebuilt with a pydantic ``TypeAdapter`` of the function's return annotation
(or, unannotated, of the recorded class of a model or dataclass result), so ``result.x``
works the same live and after a resume. A failure is rebuilt from its recorded class,
``args`` and attributes; :class:`StepFailed` stands in, naming the class, only when that
is impossible (a class defined inside a function, arguments JSON cannot hold).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import PydanticSerializationError, to_jsonable_python

from tether.errors import Nondeterminism
from tether.messages import dump_json
from tether.records import RecordedAnswer

T = TypeVar("T")

REQUEST_KINDS = frozenset({"input", "confirm", "retry"})

__all__ = ["RecordedAnswer", "Replay", "Replayed", "ScopeKeys", "StepFailed"]


# --- keys ------------------------------------------------------------------------------


@dataclass(slots=True)
class ScopeKeys:
    """The keys of one context's calls: ``{scope}{kind}{n}``, counted per scope."""

    scope: str = ""
    counter: int = 0

    def next(self, kind: str) -> str:
        self.counter += 1
        return f"{self.scope}{kind}{self.counter}"


def item_scope(map_key: str, index: int) -> str:
    """The scope of item ``index`` of the map recorded at ``map_key``."""
    return f"{map_key}[{index}]/"


def item_key(map_key: str, index: int) -> str:
    return f"{map_key}[{index}]"


# --- what was recorded -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Replayed(Generic[T]):
    """A call's recorded outcome (a wrapper, because ``None`` is a fine result)."""

    value: T


# --- the core ----------------------------------------------------------------------------


@dataclass(slots=True)
class Replay:
    """A session's past as the running task meets it. See the module docstring.

    Args:
        entries: journal key -> recorded entry (decoded JSON objects).
        answers: request id -> its recorded answer.
        logged: scope -> how many events of that scope the log already holds.
        versions: (the task version the session started with, the one running now),
            named in a divergence so an operator sees a deploy changed the code.
    """

    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    answers: dict[str, RecordedAnswer] = field(default_factory=dict)
    logged: dict[str, int] = field(default_factory=dict)
    versions: tuple[str, str] = ("", "")
    emitted: dict[str, int] = field(default_factory=dict)
    diverged: Nondeterminism | None = None

    # --- emits ---

    def emit(self, scope: str) -> bool:
        """Count one emit of ``scope``; True when the log already holds it (skip it)."""
        index = self.emitted.get(scope, 0) + 1
        self.emitted[scope] = index
        return index <= self.logged.get(scope, 0)

    # --- lookups, each of which may diverge ---

    def lookup(self, key: str, kind: str, name: str | None = None) -> dict[str, Any] | None:
        """The entry recorded at ``key`` (None: execute), checked against the call now.

        Raises:
            Nondeterminism: the entry is of another kind or names another step.
        """
        entry = self.entries.get(key)
        if entry is None:
            return None
        if entry.get("kind") != kind or entry.get("name", name) != name:
            self.diverge(key, _describe(entry), _describe({"kind": kind, "name": name}))
        return entry

    def diverge(self, key: str, expected: str, got: str) -> typing.NoReturn:
        """Fail the session: its code no longer matches its journal at ``key``."""
        started, now = self.versions
        versions = (
            f" The session started with task version {started!r}; this hub runs {now!r}."
            if started != now else ""
        )
        self.diverged = Nondeterminism(key, expected, got, versions)
        raise self.diverged

    def step(self, key: str, name: str, fn: Callable[..., Any]) -> Replayed[Any] | None:
        """A finished step's result, rebuilt as ``fn`` returns it; None: run it."""
        entry = self.lookup(key, "step", name)
        return None if entry is None else Replayed(self._rebuild(key, entry, fn))

    def failed_attempt(self, key: str, name: str) -> Exception | None:
        """The failure of an attempt that failed in an earlier run (not run again)."""
        entry = self.lookup(key, "attempt", name)
        return None if entry is None else rebuild_failure(name, entry)

    def map_started(self, key: str, count: int) -> bool:
        """True when this fan-out was started before (then over the same count)."""
        entry = self.lookup(key, "map")
        if entry is not None and entry.get("count") != count:
            self.diverge(key, f"map over {entry.get('count')} items", f"map over {count} items")
        return entry is not None

    def map_item(self, key: str, fn: Callable[..., Any]) -> Replayed[Any] | None:
        """A finished map item's result, rebuilt as ``fn`` returns it; None: run it."""
        entry = self.lookup(key, "map_item")
        return None if entry is None else Replayed(self._rebuild(key, entry, fn))

    def sleep_until(self, key: str) -> float | None:
        """The recorded deadline (epoch seconds) of a ``ctx.sleep``; None: a new one."""
        entry = self.lookup(key, "sleep")
        return None if entry is None else float(entry["until"])

    def request_id(self, key: str, kind: str) -> str | None:
        """The id of the request opened at ``key`` in an earlier run, if any."""
        entry = self.lookup(key, kind)
        return None if entry is None else str(entry["request_id"])

    def answer(self, request_id: str) -> RecordedAnswer | None:
        return self.answers.get(request_id)

    def remember(self, key: str, entry_json: str) -> None:
        """What this run just recorded (a later lookup in this run finds it too)."""
        self.entries[key] = json.loads(entry_json)

    def _rebuild(self, key: str, entry: dict[str, Any], fn: Callable[..., Any]) -> Any:
        target = return_type(fn) or _resolve(entry.get("type"))
        if target is None:
            return entry.get("result")
        try:
            return _adapter(target).validate_python(entry.get("result"))
        except ValidationError as exc:
            self.diverge(key, "a result that no longer fits the function's return type",
                         f"{_type_name(target)} ({exc.error_count()} errors)")


# --- encoders for what gets recorded ----------------------------------------------------


def step_entry(name: str, result: Any) -> str:
    """The journal JSON of a finished step.

    Raises:
        TypeError: the result cannot be stored as JSON.
    """
    return dump_json({"kind": "step", "name": name, **_result_fields(result)})


def map_item_entry(result: Any) -> str:
    """The journal JSON of a finished map item (raises TypeError like ``step_entry``)."""
    return dump_json({"kind": "map_item", **_result_fields(result)})


def attempt_entry(name: str, exc: BaseException) -> str:
    """The journal JSON of a failed attempt: its message, and what rebuilds it."""
    entry: dict[str, Any] = {"kind": "attempt", "name": name, "error": failure_message(exc)}
    rebuilt = _failure_fields(exc)
    if rebuilt is not None:
        entry["exc"] = rebuilt
    return dump_json(entry)


def map_entry(count: int) -> str:
    return dump_json({"kind": "map", "count": count})


def sleep_entry(until: float) -> str:
    return dump_json({"kind": "sleep", "until": until})


def request_entry(kind: str, request_id: str) -> str:
    return dump_json({"kind": kind, "request_id": request_id})


def failure_message(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


# --- result conversion -------------------------------------------------------------------


def return_type(fn: Callable[..., Any]) -> Any | None:
    """The return annotation of ``fn`` (resolved), or None when it has none or ``Any``."""
    target: Any = fn
    while hasattr(target, "func"):  # functools.partial
        target = target.func
    if not (callable(target) and hasattr(target, "__annotations__")):
        target = getattr(target, "__call__", None)  # noqa: B004 - a callable object
    try:
        hints = typing.get_type_hints(target)
    except Exception:  # an annotation that cannot be resolved: as if there were none
        return None
    hint = hints.get("return")
    return None if hint is None or hint is Any else hint


def _result_fields(result: Any) -> dict[str, Any]:
    try:
        fields: dict[str, Any] = {"result": to_jsonable_python(result, by_alias=True)}
    except PydanticSerializationError as exc:
        raise TypeError(
            f"A recorded result is not storable as JSON: {type(result).__name__}"
        ) from exc
    if isinstance(result, BaseModel) or (
        dataclasses.is_dataclass(result) and not isinstance(result, type)
    ):
        fields["type"] = _class_ref(type(result))
    return fields


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def _adapter(target: Any) -> TypeAdapter[Any]:
    try:
        adapter = _ADAPTERS.get(target)
    except TypeError:  # an unhashable annotation: build one each time
        return TypeAdapter(target)
    if adapter is None:
        adapter = _ADAPTERS[target] = TypeAdapter(target)
    return adapter


def _type_name(target: Any) -> str:
    return getattr(target, "__name__", None) or str(target)


# --- failures ----------------------------------------------------------------------------


class StepFailed(Exception):
    """A recorded step failure whose exception class could not be rebuilt on resume.

    Attributes:
        step: the step's name.
        error_type: the ``module:Class`` of the exception that was raised.
    """

    def __init__(self, step: str, message: str, error_type: str = "") -> None:
        super().__init__(message)
        self.step = step
        self.error_type = error_type


def _failure_fields(exc: BaseException) -> dict[str, Any] | None:
    """``{"type", "args", "state"}`` for an exception JSON can hold, else just the type."""
    fields: dict[str, Any] = {"type": _class_ref(type(exc))}
    try:
        args = json.loads(dump_json(list(exc.args)))
        state = json.loads(dump_json(dict(vars(exc))))
    except TypeError:
        return fields
    fields["args"] = args
    if state:
        fields["state"] = state
    return fields


def rebuild_failure(step: str, entry: Mapping[str, Any]) -> Exception:
    """The exception a recorded attempt failed with, as the class it was raised as."""
    message = str(entry.get("error", ""))
    recorded = entry.get("exc") or {}
    ref = str(recorded.get("type", ""))
    cls = _resolve(ref)
    args = recorded.get("args")
    if (
        isinstance(cls, type) and issubclass(cls, Exception) and isinstance(args, list)
    ):
        exc = _construct(cls, args)
        if exc is not None:
            for name, value in (recorded.get("state") or {}).items():
                setattr(exc, name, value)
            return exc
    name = ref.rpartition(":")[2].rpartition(".")[2] or "Error"
    return StepFailed(step, f"{name}: {message}", ref)


def _construct(cls: type[Exception], args: list[Any]) -> Exception | None:
    try:
        exc = cls(*args)
    except Exception:  # an __init__ that takes other arguments than it passes on
        try:
            exc = cls.__new__(cls, *args)
        except Exception:
            return None
    exc.args = tuple(args)  # what the original carried, whatever __init__ made of them
    return exc


# --- classes by reference ---------------------------------------------------------------


def _class_ref(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _resolve(ref: object) -> type | None:
    """The class named ``module:Qualname``, looked up among imported modules only (a
    journal never makes the hub import anything), or None."""
    if not isinstance(ref, str) or ":" not in ref or "<locals>" in ref:
        return None
    module_name, _, qualname = ref.partition(":")
    target: Any = sys.modules.get(module_name)
    for part in qualname.split("."):
        target = getattr(target, part, None)
    return target if isinstance(target, type) else None


def _describe(entry: Mapping[str, Any]) -> str:
    name = entry.get("name")
    return f"{entry.get('kind')} {name!r}" if name else str(entry.get("kind"))


# --- requests ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestTimes:
    """The identity of a request: its id, when it opened, when it expires."""

    request_id: str
    created_at: str
    expires_at: str | None


def request_times(
    *,
    recorded_id: str | None,
    stored: RequestTimes | None,
    timeout: float | None,
    now: datetime,
    new_id: Callable[[], str],
) -> RequestTimes:
    """The identity of the request made at a key: on a resumed run the recorded id and,
    while it is still open, its stored times (the deadline does not move); else new."""
    if recorded_id is not None and stored is not None:
        return stored
    created = iso(now)
    expires = None if timeout is None else iso(now + timedelta(seconds=timeout))
    return RequestTimes(recorded_id or new_id(), created, expires)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def seconds_until(stamp: str, now: datetime) -> float:
    return (datetime.fromisoformat(stamp.replace("Z", "+00:00")) - now).total_seconds()
