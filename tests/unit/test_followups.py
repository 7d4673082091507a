"""followups.py: what comes next for an open request, and what a reminder or an
escalation changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tether.followups import FollowUp, escalated, next_due, reminded
from tether.messages import Request
from tether.replay import iso

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def request(**fields: object) -> Request:
    return Request(request_id="r", kind="confirm", prompt="Go?", created_at=iso(T0),
                   **fields)  # type: ignore[arg-type]


def at(seconds: float) -> str:
    return iso(T0 + timedelta(seconds=seconds))


def test_a_follow_up_is_checked_where_it_is_written() -> None:
    assert FollowUp.of(None, None, None) is None
    assert FollowUp.of(60, None, None) == FollowUp(60, None, ())
    for bad in (0, -1, float("inf"), float("nan"), True, "60"):
        with pytest.raises(ValueError):
            FollowUp.of(bad, None, None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="go together"):
        FollowUp.of(None, 60, None)
    with pytest.raises(ValueError, match="go together"):
        FollowUp.of(None, None, ["user:bob"])
    with pytest.raises(ValueError):
        FollowUp.of(None, 60, ["bob"])
    with pytest.raises(TypeError):
        FollowUp.of(None, 60, "user:bob")


def test_the_schedule_counts_from_when_the_request_opened() -> None:
    fields = FollowUp(30, 90, ("group:finance",)).schedule(T0)
    assert fields == {"remind_at": at(30), "escalate_at": at(90),
                      "escalate_to": ["group:finance"]}


def test_whatever_is_due_first_comes_next_and_the_deadline_wins_a_tie() -> None:
    r = request(remind_at=at(30), escalate_at=at(90), escalate_to=["user:bob"],
                expires_at=at(600))
    assert next_due(r, T0) == ("remind", 30.0)
    assert next_due(reminded(r, T0), T0) == ("escalate", 90.0)
    done = escalated(reminded(r, T0), T0, "user:alice")[0]
    assert next_due(done, T0) == ("expire", 600.0)
    assert next_due(request(), T0) is None
    tie = request(remind_at=at(5), escalate_at=at(5), escalate_to=["user:bob"],
                  expires_at=at(5))
    assert next_due(tie, T0) == ("expire", 5.0)
    assert next_due(request(remind_at=at(5)), T0 + timedelta(seconds=9)) == ("remind", 0.0)


def test_escalation_grows_the_assignees_and_keeps_the_owner_of_an_unassigned_one() -> None:
    assigned = request(assignees=["user:bob"], escalate_at=at(1),
                       escalate_to=["user:bob", "group:finance"])
    grown, added = escalated(assigned, T0, "user:alice")
    assert grown.assignees == ["user:bob", "group:finance"] and added == ["group:finance"]
    assert grown.escalated_at == iso(T0)
    mine, added = escalated(request(escalate_at=at(1), escalate_to=["user:bob"]), T0,
                            "user:alice")
    assert mine.assignees == ["user:alice", "user:bob"] and added == ["user:bob"]
