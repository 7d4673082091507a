"""Executors: where ``ctx.step`` and ``ctx.map`` may send a function instead of running
it in the hub's own process.

``executor=None`` (the default) runs the function in the hub, as always. ``executor="ray"``
sends it to the Ray cluster named by ``TETHER_RAY_ADDRESS`` (:mod:`tether.ray_executor`).
Either way the context journals the result exactly as it does for a local call, so a
resumed session does not send a finished call again.

This module holds what needs no cluster: the :class:`Executor` protocol an executor
implements, the catalogue a hub builds from its settings (:class:`Executors`: a name is
offered, or unavailable with a reason the error names at the call), and the check that a
function can be imported by name on a worker (:func:`function_ref`).
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

from tether.errors import ExecutorUnavailable, NotImportable
from tether.messages import EventBase

__all__ = [
    "EXECUTOR_NAMES",
    "Executor",
    "Executors",
    "Offload",
    "RemoteCall",
    "Report",
    "function_ref",
]

EXECUTOR_NAMES = ("ray",)

# Where an executor hands the events a running call reports (tether.worker), in order.
Report = Callable[[EventBase], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RemoteCall:
    """One call for an executor: the function by reference (``module:qualname``, resolved
    where it runs), its arguments, and options for the executor (Ray's ``.options()``)."""

    function: str
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]
    options: Mapping[str, Any] = field(default_factory=dict)


class Executor(Protocol):
    """Something that runs a :class:`RemoteCall` elsewhere."""

    async def run(self, call: RemoteCall, report: Report) -> Any:
        """Run ``call``; return its result or raise what it raised.

        Reports the call makes reach ``report`` in order, all before this returns.
        Cancelling the awaiting task cancels the call where it runs.

        Raises:
            ExecutorUnavailable: the executor cannot be reached.
            WorkerDied: the call ended without a result or an exception of its own.
        """
        ...

    async def close(self) -> None: ...


class Executors:
    """The executors one hub offers, by name, and why the others are unavailable.

    Args:
        offered: name -> executor.
        unavailable: name -> the reason it is not offered (said at the call).
    """

    def __init__(
        self,
        offered: Mapping[str, Executor] | None = None,
        unavailable: Mapping[str, str] | None = None,
    ) -> None:
        self._offered = dict(offered or {})
        self._unavailable = dict(unavailable or {})

    @classmethod
    def for_hub(cls, *, ray_address: str | None) -> Executors:
        """What a hub process offers: Ray when ``ray_address`` is set and the ``ray``
        package is installed (it is imported only at the first call that uses it)."""
        if ray_address is None:
            return cls(unavailable={"ray": "TETHER_RAY_ADDRESS is not set on this hub."})
        if importlib.util.find_spec("ray") is None:
            return cls(unavailable={
                "ray": "the ray package is not installed (pip install 'tether[ray]')."
            })
        from tether.ray_executor import RayExecutor

        return cls({"ray": RayExecutor(ray_address)})

    @property
    def names(self) -> frozenset[str]:
        """The executors offered (``"ray" in ctx.executors``)."""
        return frozenset(self._offered)

    def get(self, name: str) -> Executor:
        """The executor called ``name``.

        Raises:
            ValueError: no executor has that name.
            ExecutorUnavailable: this hub does not offer it (the reason says why).
        """
        if name not in EXECUTOR_NAMES:
            known = ", ".join(repr(n) for n in EXECUTOR_NAMES)
            raise ValueError(f"executor must be None (the hub) or one of {known}, not {name!r}")
        executor = self._offered.get(name)
        if executor is None:
            raise ExecutorUnavailable(name, self._unavailable.get(name, "not configured."))
        return executor

    async def close(self) -> None:
        for executor in self._offered.values():
            await executor.close()


def function_ref(fn: Callable[..., Any]) -> str:
    """``module:qualname`` of ``fn``, which a worker imports to run it.

    Raises:
        NotImportable: ``fn`` is not a function defined at the top level of a module that
            can be imported by name (a lambda, a nested function, a method, a callable
            object, a function of ``__main__``, a name that now means something else).
    """
    name = getattr(fn, "__qualname__", None) or repr(fn)
    if not inspect.isfunction(fn):
        raise NotImportable(name, f"it is a {type(fn).__name__}, not a plain function")
    if fn.__name__ == "<lambda>":
        raise NotImportable(name, "it is a lambda")
    if "<locals>" in fn.__qualname__:
        raise NotImportable(name, "it is defined inside another function (a closure)")
    if "." in fn.__qualname__:
        raise NotImportable(name, "it is defined inside a class")
    module = fn.__module__
    if module == "__main__":
        raise NotImportable(name, "it is defined in __main__, which workers cannot import")
    if getattr(sys.modules.get(module), fn.__qualname__, None) is not fn:
        raise NotImportable(name, f"{module}.{fn.__qualname__} does not name it")
    return f"{module}:{fn.__qualname__}"


@dataclass(frozen=True, slots=True)
class Offload:
    """A function a context sends to an executor, checked at the call: ``executor``,
    ``fn`` by reference, and the options every call of it gets."""

    executor: Executor
    function: str
    options: Mapping[str, Any]

    @classmethod
    def of(
        cls, executors: Executors, name: str, fn: Callable[..., Any],
        options: Mapping[str, Any] | None, *, arity: int | None = None,
    ) -> Offload:
        """Check everything a call can be refused for before anything is journaled:
        mistakes in the code first (they fail whatever the hub offers), then the hub.

        Args:
            arity: how many positional arguments every call passes (``ctx.map``: 1).

        Raises:
            NotImportable: see :func:`function_ref`.
            TypeError: ``fn`` cannot take ``arity`` arguments; ``options`` is not a
                mapping with string keys.
            ValueError: an unknown executor name.
            ExecutorUnavailable: the hub does not offer it.
        """
        ref = function_ref(fn)
        if arity is not None:
            try:
                inspect.signature(fn).bind(*([None] * arity))
            except TypeError as exc:
                raise TypeError(
                    f"{fn.__qualname__} runs on an executor as fn(item), with no context: {exc}"
                ) from None
        if options is not None and (
            not isinstance(options, Mapping) or not all(isinstance(k, str) for k in options)
        ):
            raise TypeError("ray_options must be a dict of option names to values")
        return cls(executors.get(name), ref, MappingProxyType(dict(options or {})))

    async def call(
        self, args: tuple[Any, ...], kwargs: Mapping[str, Any], report: Report
    ) -> Any:
        return await self.executor.run(
            RemoteCall(self.function, args, kwargs, self.options), report
        )
