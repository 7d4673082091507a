"""The replay core, without I/O: replay, divergence, scope counting, result conversion."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, Field

from tether.errors import Nondeterminism
from tether.replay import (
    RecordedAnswer,
    Replay,
    RequestTimes,
    ScopeKeys,
    StepFailed,
    attempt_entry,
    item_key,
    item_scope,
    map_entry,
    map_item_entry,
    rebuild_failure,
    request_entry,
    request_times,
    return_type,
    seconds_until,
    sleep_entry,
    step_entry,
)


class Point(BaseModel):
    x: int
    y: int


@dataclass
class Box:
    label: str
    size: float


class Refused(Exception):
    def __init__(self, who: str) -> None:
        super().__init__(f"{who} refused")
        self.who = who


def point() -> Point:
    return Point(x=1, y=2)


async def box() -> Box:
    return Box("b", 1.5)


def pair() -> tuple[int, str]:
    return (1, "a")


def untyped():  # type: ignore[no-untyped-def]  # on purpose: no annotation
    return Point(x=3, y=4)


def replay_of(**entries: str) -> Replay:
    return Replay(entries={key: json.loads(raw) for key, raw in entries.items()})


# --- keys and emits ----------------------------------------------------------------


def test_keys_count_per_scope() -> None:
    root, item = ScopeKeys(), ScopeKeys(item_scope("m1", 3))
    assert [root.next("step"), root.next("ask"), item.next("step"), root.next("step")] == [
        "step1", "ask2", "m1[3]/step1", "step3",
    ]
    assert item_key("m1", 3) == "m1[3]"


def test_emits_already_in_the_log_are_skipped_per_scope() -> None:
    replay = Replay(logged={"": 2, "m1[0]/": 1})
    assert [replay.emit("") for _ in range(3)] == [True, True, False]
    assert [replay.emit("m1[0]/"), replay.emit("m1[0]/"), replay.emit("m1[1]/")] == [
        True, False, False,
    ]


# --- lookups and divergence ----------------------------------------------------------


def test_a_new_call_executes() -> None:
    replay = Replay()
    assert replay.step("step1", "send", point) is None
    assert replay.failed_attempt("step1.attempt1", "send") is None
    assert replay.sleep_until("sleep1") is None
    assert replay.request_id("ask1", "input") is None
    assert replay.map_started("m1", 3) is False
    assert replay.diverged is None


def test_another_step_name_at_a_key_diverges_and_is_remembered() -> None:
    replay = replay_of(step1=step_entry("send", 1))
    replay.versions = ("1", "2")
    with pytest.raises(Nondeterminism) as caught:
        replay.step("step1", "deliver", point)
    assert "step1" in str(caught.value) and "'send'" in str(caught.value)
    assert "version '1'" in str(caught.value) and "'2'" in str(caught.value)
    assert replay.diverged is caught.value


def test_another_kind_at_a_key_diverges() -> None:
    replay = replay_of(ask1=request_entry("input", "r1"))
    with pytest.raises(Nondeterminism):
        replay.request_id("ask1", "confirm")


def test_a_map_over_another_count_diverges() -> None:
    replay = replay_of(m1=map_entry(3))
    assert replay.map_started("m1", 3) is True
    with pytest.raises(Nondeterminism, match="map over 3 items"):
        replay.map_started("m1", 4)


def test_sleeps_and_requests_replay_what_was_recorded() -> None:
    replay = replay_of(sleep1=sleep_entry(1234.5), ask2=request_entry("input", "r9"))
    assert replay.sleep_until("sleep1") == 1234.5
    assert replay.request_id("ask2", "input") == "r9"


def test_remember_makes_a_call_recorded_in_this_run_visible() -> None:
    replay = Replay()
    replay.remember("step1", step_entry("send", 5))
    assert replay.step("step1", "send", lambda: None) is not None


# --- result conversion ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("fn", "live"),
    [(point, Point(x=1, y=2)), (box, Box("b", 1.5)), (pair, (1, "a"))],
)
def test_results_are_rebuilt_as_the_function_returns_them(fn: Any, live: Any) -> None:
    replay = replay_of(step1=step_entry("s", live), **{"m1[0]": map_item_entry(live)})
    step = replay.step("step1", "s", fn)
    item = replay.map_item("m1[0]", fn)
    assert step is not None and item is not None
    assert step.value == live and type(step.value) is type(live)
    assert item.value == live and type(item.value) is type(live)


def test_an_unannotated_function_gets_the_recorded_model_class_back() -> None:
    assert return_type(untyped) is None
    replay = replay_of(step1=step_entry("s", untyped()))
    step = replay.step("step1", "s", untyped)
    assert step is not None and step.value == Point(x=3, y=4)


def test_plain_json_results_stay_as_recorded() -> None:
    replay = replay_of(step1=step_entry("s", {"a": [1, None]}))
    step = replay.step("step1", "s", lambda: None)
    assert step is not None and step.value == {"a": [1, None]}


def test_a_result_that_no_longer_fits_the_annotation_diverges() -> None:
    replay = replay_of(step1=step_entry("s", {"x": "not a number"}))
    with pytest.raises(Nondeterminism, match="return type"):
        replay.step("step1", "s", point)


def test_a_result_json_cannot_hold_is_refused_when_recorded() -> None:
    with pytest.raises(TypeError, match="not storable as JSON"):
        step_entry("s", object())


# --- failures ------------------------------------------------------------------------


def test_a_builtin_failure_is_rebuilt_as_its_class() -> None:
    replay = replay_of(**{"step1.attempt1": attempt_entry("s", KeyError("k"))})
    exc = replay.failed_attempt("step1.attempt1", "s")
    assert type(exc) is KeyError and exc.args == ("k",)


def test_a_custom_failure_keeps_its_args_and_attributes() -> None:
    exc = rebuild_failure("s", json.loads(attempt_entry("s", Refused("bob"))))
    assert isinstance(exc, Refused)
    assert exc.who == "bob" and str(exc) == "bob refused"


def test_a_failure_that_cannot_be_rebuilt_names_its_class() -> None:
    class Local(Exception):
        pass

    exc = rebuild_failure("send", json.loads(attempt_entry("send", Local("boom"))))
    assert type(exc) is StepFailed and exc.step == "send"
    assert "Local" in exc.error_type and str(exc) == "Local: boom"
    odd = rebuild_failure("send", json.loads(attempt_entry("send", ValueError(object()))))
    assert type(odd) is StepFailed and odd.error_type == "builtins:ValueError"


def test_an_old_journal_entry_without_a_class_still_replays() -> None:
    exc = rebuild_failure("send", {"kind": "attempt", "name": "send", "error": "boom"})
    assert type(exc) is StepFailed and "boom" in str(exc)


def test_a_class_name_never_imports_a_module() -> None:
    entry = {"error": "x", "exc": {"type": "antigravity:Fly", "args": []}}
    assert type(rebuild_failure("s", entry)) is StepFailed


# --- requests and answers --------------------------------------------------------------


def test_a_resumed_request_keeps_its_id_and_deadline() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    stored = RequestTimes("r1", "2025-12-31T00:00:00.000Z", "2026-01-02T00:00:00.000Z")
    kept = request_times(recorded_id="r1", stored=stored, timeout=5, now=now,
                         new_id=lambda: "new")
    assert kept == stored
    fresh = request_times(recorded_id=None, stored=None, timeout=60, now=now,
                          new_id=lambda: "new")
    assert fresh == RequestTimes("new", "2026-01-01T00:00:00.000Z", "2026-01-01T00:01:00.000Z")
    closed = request_times(recorded_id="r1", stored=None, timeout=None, now=now,
                           new_id=lambda: "new")
    assert closed.request_id == "r1" and closed.expires_at is None


def test_recorded_answers_round_trip() -> None:
    answered = RecordedAnswer(expired=False, value={"a": 1}, by="u1", at="t", sealed="s")
    assert RecordedAnswer.from_json(answered.to_json()) == answered
    expired = RecordedAnswer(expired=True, at="t")
    assert RecordedAnswer.from_json(expired.to_json()) == expired


# --- edges that mutation testing showed untested ----------------------------------------


def test_any_other_step_name_diverges_whatever_its_order() -> None:
    replay = replay_of(step1=step_entry("deliver", 1))
    with pytest.raises(Nondeterminism):
        replay.step("step1", "send", lambda: None)


def test_an_unchanged_version_is_not_mentioned() -> None:
    replay = replay_of(step1=step_entry("send", 1))
    replay.versions = ("3", "3")
    with pytest.raises(Nondeterminism) as caught:
        replay.step("step1", "deliver", lambda: None)
    assert "version" not in str(caught.value)


def test_a_map_over_fewer_items_diverges() -> None:
    with pytest.raises(Nondeterminism, match="map over 4 items"):
        replay_of(m1=map_entry(4)).map_started("m1", 3)


class Aliased(BaseModel):
    full_name: str = Field(alias="fullName")


def aliased() -> Aliased:
    return Aliased(fullName="Ada")


def test_a_model_with_aliases_round_trips() -> None:
    replay = replay_of(step1=step_entry("s", aliased()))
    step = replay.step("step1", "s", aliased)
    assert step is not None and step.value == aliased()


def unresolvable() -> NoSuchType:  # type: ignore[name-defined]  # noqa: F821 - on purpose
    raise AssertionError


def test_an_annotation_that_cannot_be_resolved_counts_as_none() -> None:
    assert return_type(unresolvable) is None
    replay = replay_of(step1=step_entry("s", {"a": 1}))
    step = replay.step("step1", "s", unresolvable)
    assert step is not None and step.value == {"a": 1}


def listed() -> list[dict[str, int]]:
    return [{"a": 1}]


def test_an_unhashable_annotation_still_rebuilds() -> None:
    unhashable: Any = Annotated[list[int], {"unhashable": []}]

    def fn() -> Any:
        return [1]

    fn.__annotations__["return"] = unhashable
    replay = replay_of(step1=step_entry("s", ["1", 2]))
    step = replay.step("step1", "s", fn)
    assert step is not None and step.value == [1, 2]


class TwoPart(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code


def test_a_failure_whose_init_takes_other_arguments_is_still_rebuilt() -> None:
    exc = rebuild_failure("s", json.loads(attempt_entry("s", TwoPart(7, "late"))))
    assert type(exc) is TwoPart and str(exc) == "7: late" and exc.code == 7


def test_seconds_until_a_deadline() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert seconds_until("2026-01-01T00:00:01.500Z", now) == 1.5
    assert seconds_until("2025-12-31T23:59:59.000Z", now) == -1.0


def test_another_kind_diverges_whatever_its_order() -> None:
    with pytest.raises(Nondeterminism):
        replay_of(ask1=request_entry("confirm", "r1")).request_id("ask1", "input")


def test_versions_read_back_from_the_store_compare_by_value() -> None:
    replay = replay_of(step1=step_entry("send", 1))
    replay.versions = ("".join(["v", "3"]), "v3")  # equal text, two objects
    with pytest.raises(Nondeterminism) as caught:
        replay.step("step1", "deliver", lambda: None)
    assert "version" not in str(caught.value)
    replay.versions = ("2", "1")
    with pytest.raises(Nondeterminism, match="version '2'"):
        replay.step("step1", "deliver", lambda: None)


def test_a_large_map_count_read_back_compares_by_value() -> None:
    assert replay_of(m1=map_entry(100_000)).map_started("m1", int("100000")) is True
