"""What a task may name as assignees (tether.assignees); who may then answer and see is
tested with the rest of the access rules (test_access.py)."""

from __future__ import annotations

import pytest

from tether import Retry
from tether.assignees import parse_assignees


def test_valid_assignees_are_kept_in_order_without_repeats() -> None:
    assert parse_assignees(["user:bob", "group:finance", "user:bob"]) == (
        "user:bob", "group:finance"
    )
    assert parse_assignees(None) == () and parse_assignees([]) == ()
    # E-mail-like names, as a single sign-on proxy sends them, can be assigned.
    assert parse_assignees(["user:bob+ops@corp.example"]) == ("user:bob+ops@corp.example",)


@pytest.mark.parametrize("bad", ["bob", "user:", "user:Bob", "group:fin ance", "team:x",
                                 "user:-x", "group:" + "a" * 65])
def test_a_bad_assignee_is_a_value_error_naming_it(bad: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_assignees([bad])
    assert repr(bad) in str(info.value)


def test_a_single_string_or_a_non_string_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="not one string"):
        parse_assignees("user:bob")
    with pytest.raises(TypeError):
        parse_assignees([42])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="at most 32"):
        parse_assignees([f"user:u{n}" for n in range(33)])


def test_retry_checks_its_assignees_where_it_is_written() -> None:
    assert Retry(ask=True, assignees=["user:ops"]).assignees == ("user:ops",)
    with pytest.raises(ValueError):
        Retry(ask=True, assignees=["ops"])
