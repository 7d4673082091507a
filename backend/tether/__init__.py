"""Tether: a hub for long-running tasks that need people in the loop.

Write a task with :class:`Hub` and :class:`Context`; serve it with ``tether serve``.
"""

from tether.context import MISSING, Context, Retry
from tether.errors import Nondeterminism, RequestTimedOut, TetherError
from tether.hub import Hub, TaskDef

__all__ = [
    "MISSING",
    "Context",
    "Hub",
    "Nondeterminism",
    "RequestTimedOut",
    "Retry",
    "TaskDef",
    "TetherError",
]
