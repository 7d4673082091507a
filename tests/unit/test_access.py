"""access.py: every caller's level on a session, and what each level may do."""

from __future__ import annotations

import json

import pytest

from tether.access import (
    Level,
    level_on,
    may_answer,
    may_cancel,
    may_fork,
    may_list_shares,
    may_manage_sharing,
    parse_target,
    seen_by,
)
from tether.messages import ErrorInfo, Session
from tether.principal import Principal, link_principal

OWNER = Principal.user("alice")
ADMIN = Principal.user("root", admin=True)
BOB = Principal.user("bob")
FINANCE = Principal.user("carol", groups=frozenset({"finance"}))
STRANGER = Principal.user("mallory")
SID = "0193a0b0c0d0e0f0a1b2c3d4e5f6a7b8"[:28]
LINK = link_principal("l1", SID)
SHARES = {"user:bob": "viewer", "group:finance": "answerer"}


def level(who: Principal, shares: dict[str, str] | None = None,
          assignees: tuple[str, ...] = ()) -> Level:
    return level_on(who, SID, OWNER.id, shares or {}, assignees)  # type: ignore[arg-type]


def test_owner_admin_and_strangers() -> None:
    assert level(OWNER) is Level.OWNER
    assert level(ADMIN) is Level.ADMIN
    assert level(STRANGER) is Level.NONE
    assert level(Principal.anonymous("u_0123456789abcdef")) is Level.NONE


def test_shares_name_users_and_groups_and_the_strongest_wins() -> None:
    assert level(BOB, SHARES) is Level.VIEWER
    assert level(FINANCE, SHARES) is Level.ANSWERER
    both = Principal.user("bob", groups=frozenset({"finance"}))
    assert level(both, SHARES) is Level.ANSWERER
    assert level(STRANGER, SHARES) is Level.NONE
    # A group share does not match a user who merely has the group's name.
    assert level(Principal.user("finance"), SHARES) is Level.NONE


def test_an_assignee_sees_the_session() -> None:
    assert level(BOB, assignees=("user:bob",)) is Level.VIEWER
    assert level(FINANCE, assignees=("group:finance",)) is Level.VIEWER
    assert level(STRANGER, assignees=("user:bob",)) is Level.NONE


def test_a_link_sees_its_one_session_read_only() -> None:
    assert level(LINK) is Level.VIEWER
    assert level_on(LINK, "another", OWNER.id, {}) is Level.NONE
    # Even a share naming the link's id gives it nothing more.
    assert level(LINK, {LINK.id: "answerer"}) is Level.VIEWER
    assert not may_answer(LINK, Level.VIEWER, ())
    assert not may_list_shares(LINK, Level.VIEWER)


def test_who_may_answer() -> None:
    assert may_answer(OWNER, Level.OWNER, ())
    assert may_answer(FINANCE, Level.ANSWERER, ())
    assert not may_answer(BOB, Level.VIEWER, ())
    # An assigned request waits for its assignees, not for the owner.
    assert not may_answer(OWNER, Level.OWNER, ("group:finance",))
    assert may_answer(FINANCE, Level.VIEWER, ("group:finance",))
    assert may_answer(BOB, Level.VIEWER, ("user:bob",))
    assert may_answer(ADMIN, Level.ADMIN, ("user:bob",))


@pytest.mark.parametrize(
    ("lvl", "cancel", "fork", "manage"),
    [
        (Level.VIEWER, False, False, False),
        (Level.ANSWERER, False, False, False),
        (Level.OWNER, True, True, True),
        (Level.ADMIN, True, True, True),
    ],
)
def test_what_each_level_may_do(lvl: Level, cancel: bool, fork: bool, manage: bool) -> None:
    assert (may_cancel(lvl), may_fork(lvl), may_manage_sharing(lvl)) == (cancel, fork, manage)


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("user:bob", "user:bob"),
        (" User:Bob ", "user:bob"),
        ("group:finance", "group:finance"),
        ("bob", None),
        ("team:x", None),
        ("user:", None),
        ("user:a b", None),
        ("link:abc", None),
        ("user:" + "x" * 200, None),
        ("user:Bob+Ops@Corp.Example", "user:bob+ops@corp.example"),
        ("group:team@corp", "group:team@corp"),
        ("user:@corp", None),
    ],
)
def test_share_targets(raw: str, parsed: str | None) -> None:
    assert parse_target(raw) == parsed


def test_only_owners_and_admins_see_a_failures_traceback() -> None:
    failed = Session(
        id="s", task="t", status="failed", owner="user:alice", created_at="c",
        updated_at="c", inputs={}, state={}, pending=[], result=None, last_seq=3,
        error=ErrorInfo(type="KeyError", message="'x'", traceback="Traceback ...\nKeyError"),
    )
    for lvl in (Level.OWNER, Level.ADMIN):
        shown = seen_by(failed, lvl)
        assert shown.error == failed.error and shown.access == lvl.wire_name
    other = seen_by(failed, Level.VIEWER)
    assert other.error is not None and other.error.traceback is None
    assert (other.error.type, other.error.message) == ("KeyError", "'x'")
    assert "traceback" not in json.loads(other.model_dump_json())["error"]
    assert other.access == "viewer"
    assert other.model_copy(update={"error": failed.error, "access": None}) == failed
