"""``Hub``: the catalogue of tasks a Tether process serves.

A task is an ``async def task(ctx, inputs)`` whose second parameter is annotated with a
pydantic model; that model validates the inputs of ``POST /api/sessions`` and its JSON
Schema is the start form the browser renders.
"""

from __future__ import annotations

import importlib
import inspect
import re
import typing
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

# ``async def task(ctx, inputs)`` or ``async def task(ctx)``
TaskFn = Callable[..., Awaitable[Any]]
F = TypeVar("F", bound=TaskFn)

# A view name travels in the catalogue and keys the app's view registry: keep it a plain
# identifier, so a typo fails at registration rather than as a silently generic page.
VIEW_NAME = re.compile(r"[a-z][a-z0-9_-]{0,63}")


class _NoInputs(BaseModel):
    """Inputs of a task that takes none."""


@dataclass(frozen=True, slots=True)
class TaskDef:
    """A registered task."""

    name: str
    title: str
    description: str
    fn: TaskFn
    input_model: type[BaseModel]
    version: str
    takes_inputs: bool
    view: str | None = None

    def input_schema(self) -> dict[str, Any]:
        return self.input_model.model_json_schema()


class Hub:
    """A named collection of tasks: ``@hub.task(title=...)`` registers one.

    Example::

        hub = Hub()

        @hub.task(title="Send an email")
        async def send_email(ctx: Context, inputs: Email) -> dict: ...

        @hub.task(title="Draft a reply", view="email_assistant")  # the app's own view
        async def draft_reply(ctx: Context, inputs: Reply) -> str: ...
    """

    def __init__(self) -> None:
        self._tasks: dict[str, TaskDef] = {}

    def task(
        self,
        *,
        name: str | None = None,
        title: str | None = None,
        description: str = "",
        version: str = "1",
        view: str | None = None,
    ) -> Callable[[F], F]:
        """Register an async task function.

        Args:
            name: the id used in the API; defaults to the function's name.
            title: shown in the catalogue; defaults to the name, humanised.
            description: markdown shown above the start form.
            version: recorded per session, so a resumed session can tell that the code
                it was started with has changed.
            view: the name of the browser app's view that renders this task's sessions
                (see docs/VIEWS.md); None, or a name the app does not know, gets the
                generic session view. Lowercase letters, digits, ``_`` and ``-``.

        Raises:
            TypeError: if the function is not ``async`` or its inputs are not a model.
            ValueError: if the name is already taken in this hub, or ``view`` is not a
                valid view name.
        """
        if view is not None and not VIEW_NAME.fullmatch(view):
            raise ValueError(
                f"View name {view!r} is not valid: use 1 to 64 lowercase letters, digits, "
                "'_' or '-', starting with a letter."
            )

        def register(fn: F) -> F:
            candidate: Any = fn
            if not inspect.iscoroutinefunction(candidate):
                raise TypeError(f"Task {fn.__name__!r} must be an async function.")
            task_name = name or fn.__name__
            if task_name in self._tasks:
                raise ValueError(f"A task named {task_name!r} is already registered.")
            self._tasks[task_name] = TaskDef(
                name=task_name,
                title=title or task_name.replace("_", " ").capitalize(),
                description=inspect.cleandoc(description),
                fn=fn,
                input_model=_input_model(fn),
                version=version,
                takes_inputs=len(inspect.signature(fn).parameters) >= 2,
                view=view,
            )
            return fn

        return register

    @property
    def tasks(self) -> Mapping[str, TaskDef]:
        return self._tasks

    def __iter__(self) -> Iterator[TaskDef]:
        return iter(self._tasks.values())

    @classmethod
    def combine(cls, hubs: list[Hub]) -> Hub:
        """One hub with every task of ``hubs``; a name used twice is an error."""
        combined = cls()
        for hub in hubs:
            for task in hub:
                if task.name in combined._tasks:
                    raise ValueError(f"Two hubs both define a task named {task.name!r}.")
                combined._tasks[task.name] = task
        return combined


def load_hub(specs: Sequence[str]) -> Hub:
    """Import ``module:attr`` for each spec and combine the hubs (``tether serve``'s
    arguments; each worker process loads them again).

    Raises:
        ValueError: with one line to show, if a spec is not ``MODULE:ATTR``, its module
            does not import, its attribute is not a ``Hub``, or two hubs share a task name.
    """
    hubs: list[Hub] = []
    for spec in specs:
        module_name, sep, attr = spec.partition(":")
        if not sep or not module_name or not attr:
            raise ValueError(f"{spec!r} is not MODULE:ATTR (for example myapp.tasks:hub)")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ValueError(f"cannot import module {module_name!r}: {exc}") from exc
        hub = getattr(module, attr, None)
        if not isinstance(hub, Hub):
            raise ValueError(f"{spec!r} is not a tether.Hub (found {type(hub).__name__})")
        hubs.append(hub)
    return Hub.combine(hubs)


def _input_model(fn: TaskFn) -> type[BaseModel]:
    params = list(inspect.signature(fn).parameters.values())
    if len(params) < 2:
        return _NoInputs
    hints = typing.get_type_hints(fn)
    model = hints.get(params[1].name)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise TypeError(
            f"Task {fn.__name__!r}: annotate its inputs parameter with a pydantic model."
        )
    return model
