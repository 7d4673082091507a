"""Functions for tests/unit/test_executors.py: module-level ones an executor accepts."""

from __future__ import annotations


def double(value: int) -> int:
    return value * 2


async def adouble(value: int) -> int:
    return value * 2


def pair(left: int, right: int) -> int:
    return left + right


class Holder:
    def method(self) -> int:
        return 1


def make_closure() -> object:
    def inner() -> int:
        return 1

    return inner


renamed = double  # another name for the same function: it still resolves by its own


def _shadowed() -> int:
    return 1


shadowed = _shadowed
_shadowed = double  # type: ignore[assignment]  # the name now means something else
