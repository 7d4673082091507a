"""The primary a majority of the sentinels name (tether.store.sentinels)."""

from __future__ import annotations

import pytest
from redis.asyncio.sentinel import MasterNotFoundError

from tether.store.sentinels import QuorumSentinel, primary_by_majority

A = ("10.0.0.1", 6379)
B = ("10.0.0.2", 6379)


def test_the_address_most_sentinels_name_wins_when_they_are_a_majority() -> None:
    assert primary_by_majority("s", [B, A, A], 3, []) == A
    assert primary_by_majority("s", [A], 1, []) == A


def test_two_of_three_is_enough_when_one_sentinel_is_away() -> None:
    assert primary_by_majority("s", [A, A], 3, ["10.0.0.9:26379 - timeout"]) == A


@pytest.mark.parametrize(
    ("named", "sentinels"),
    [
        ([A, B], 2),  # a tie
        ([A, B, None], 3),  # one names none: no two agree
        ([A], 3),  # two away: one is no majority of three
        ([A, A, B, B], 4),
        ([], 3),
    ],
)
def test_no_majority_is_no_primary(named: list[tuple[str, int] | None], sentinels: int) -> None:
    with pytest.raises(MasterNotFoundError, match=f"of {sentinels} sentinels agree"):
        primary_by_majority("s", named, sentinels, [])


def test_the_error_says_what_each_address_got_and_who_was_unreachable() -> None:
    with pytest.raises(MasterNotFoundError) as caught:
        primary_by_majority("svc", [A, B], 3, ["10.0.0.9:26379 - refused"])
    text = str(caught.value)
    assert "'svc'" in text and "10.0.0.1:6379 by 1" in text and "10.0.0.2:6379 by 1" in text
    assert "unreachable: 10.0.0.9:26379 - refused" in text


def test_a_sentinel_named_twice_is_asked_and_counted_once() -> None:
    sentinel = QuorumSentinel([("10.0.0.1", 26379), ("10.0.0.1", 26379), ("10.0.0.2", 26379)])
    assert len(sentinel.sentinels) == 2
