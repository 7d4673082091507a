"""Assigned requests: whom a question is addressed to.

A task names the people a request waits for with ``assignees=["user:bob",
"group:finance"]`` on ``ctx.ask``, ``ctx.confirm`` or ``Retry(ask=True)``. Each string
is ``user:<name>`` (the principal whose id it is) or ``group:<name>`` (every principal
in that group), names as :func:`tether.users.valid_name` allows. No assignees means the
request is the session's own: its owner answers it, as always.

The parser here turns what a task author wrote into a tuple, or says clearly what is
wrong with it. Who may then answer (an assignee or an admin) and see the session (any
assignee, as a viewer) is decided with everything else in :mod:`tether.access`.
"""

from __future__ import annotations

from collections.abc import Iterable

from tether.principal import USER_PREFIX
from tether.users import NAME_RULE, valid_name

GROUP_PREFIX = "group:"
MAX_ASSIGNEES = 32

__all__ = ["GROUP_PREFIX", "parse_assignees"]


def parse_assignees(value: Iterable[str] | None) -> tuple[str, ...]:
    """``value`` checked and without repeats (first occurrence kept), as a tuple.

    Raises:
        TypeError: ``value`` is a single string, or holds something that is not one.
        ValueError: an entry is not ``user:<name>`` / ``group:<name>``, or there are
            more than :data:`MAX_ASSIGNEES`.
    """
    if value is None:
        return ()
    if isinstance(value, str):  # iterating it would assign its letters
        raise TypeError(f"assignees is a list of strings, e.g. [{value!r}], not one string")
    out: list[str] = []
    for item in value:
        if not isinstance(item, str):
            raise TypeError(f"an assignee is a string like 'user:bob', not {item!r}")
        problem = assignee_problem(item)
        if problem is not None:
            raise ValueError(problem)
        if item not in out:
            out.append(item)
    if len(out) > MAX_ASSIGNEES:
        raise ValueError(f"a request has at most {MAX_ASSIGNEES} assignees, not {len(out)}")
    return tuple(out)


def assignee_problem(item: str) -> str | None:
    """Why ``item`` is not a valid assignee, or None."""
    for prefix, what in ((USER_PREFIX, "user"), (GROUP_PREFIX, "group")):
        if item.startswith(prefix):
            name = item[len(prefix):]
            if valid_name(name):
                return None
            return f"assignee {item!r}: a {what} name has {NAME_RULE}"
    return f"assignee {item!r} must be 'user:<name>' or 'group:<name>'"
