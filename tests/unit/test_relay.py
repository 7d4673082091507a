"""Worker reports on both sides, without Ray: the worker numbers them and ends with a
marker; the hub puts them back in order and turns each into a session event."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tether import worker
from tether.messages import MarkdownEvent, ProgressEvent, StreamEvent
from tether.relay import MAX_HELD, CallReports, to_event, worker_scope


def sent_by(run: Any) -> list[tuple[int, dict[str, Any]]]:
    sent: list[tuple[int, dict[str, Any]]] = []
    with worker.reporting(worker.Reporter(lambda seq, message: sent.append((seq, message)))):
        run()
    return sent


def test_reports_are_numbered_and_end_with_a_marker() -> None:
    def work() -> None:
        assert worker.stream("one") is True
        assert worker.progress(1, 2, label="half") is True
        assert worker.markdown("**two**") is True

    assert sent_by(work) == [
        (0, {"kind": "stream", "content": "one"}),
        (1, {"kind": "progress", "done": 1.0, "total": 2.0, "label": "half"}),
        (2, {"kind": "markdown", "content": "**two**"}),
        (3, {"kind": "end", "count": 3}),
    ]


def test_outside_an_executor_call_reports_go_nowhere() -> None:
    assert worker.stream("nobody listens") is False
    assert worker.progress(1, 2) is False


def test_the_end_marker_is_sent_when_the_call_raises() -> None:
    sent: list[tuple[int, dict[str, Any]]] = []
    reporter = worker.Reporter(lambda seq, message: sent.append((seq, message)))
    with pytest.raises(RuntimeError), worker.reporting(reporter):
        worker.stream("before")
        raise RuntimeError("boom")
    assert sent[-1] == (1, {"kind": "end", "count": 1})
    assert worker.stream("after") is False  # the slot is empty again


def test_threads_of_the_call_report_into_it() -> None:
    def work() -> None:
        threads = [threading.Thread(target=worker.stream, args=(f"t{i}",)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    sent = sent_by(work)
    assert [seq for seq, _ in sent] == [0, 1, 2, 3, 4]
    assert sorted(m["content"] for _, m in sent[:4]) == ["t0", "t1", "t2", "t3"]


@pytest.mark.parametrize(
    ("done", "total", "error"),
    [("1", 2, TypeError), (1, None, TypeError), (True, 2, TypeError),
     (float("nan"), 2, ValueError), (1, float("inf"), ValueError)],
)
def test_progress_refuses_what_is_not_a_finite_number(done: Any, total: Any, error: type) -> None:
    with pytest.raises(error):
        worker.progress(done, total)


def test_reports_are_released_in_the_order_made_whatever_order_they_arrive() -> None:
    reports = CallReports()
    assert reports.add(2, {"kind": "stream", "content": "c"}) == []
    first = {"kind": "stream", "content": "a"}
    assert reports.add(0, first) == [first]
    assert reports.add(3, {"kind": "end", "count": 3}) == []
    assert not reports.ended
    assert [r["content"] for r in reports.add(1, {"kind": "stream", "content": "b"})] == ["b", "c"]
    assert reports.ended
    # Late or repeated reports after the end are dropped.
    assert reports.add(1, {"kind": "stream", "content": "b"}) == []
    assert reports.add(4, {"kind": "stream", "content": "d"}) == []


def test_a_repeated_report_is_released_once() -> None:
    reports = CallReports()
    assert len(reports.add(0, {"kind": "stream", "content": "a"})) == 1
    assert reports.add(0, {"kind": "stream", "content": "a"}) == []
    assert reports.add(2, {"kind": "stream", "content": "c"}) == []
    assert reports.add(2, {"kind": "stream", "content": "c"}) == []
    assert len(reports.add(1, {"kind": "stream", "content": "b"})) == 2


def test_a_worker_that_skips_numbers_cannot_fill_the_hub() -> None:
    reports = CallReports()
    for seq in range(1, MAX_HELD + 2):
        reports.add(seq, {"kind": "stream", "content": "x"})
    assert reports.overflowed
    assert reports.add(0, {"kind": "stream", "content": "x"}) == []


def test_reports_become_the_session_events_they_stand_for() -> None:
    stream = to_event({"kind": "stream", "content": "line"})
    assert isinstance(stream, StreamEvent) and stream.content == "line"
    bar = to_event({"kind": "progress", "done": 2, "total": 4, "label": "files"})
    assert isinstance(bar, ProgressEvent) and (bar.done, bar.total, bar.label) == (2, 4, "files")
    block = to_event({"kind": "markdown", "content": "*x*"})
    assert isinstance(block, MarkdownEvent)


@pytest.mark.parametrize(
    "report",
    [{"kind": "state", "state": {}}, {"kind": "stream"}, {"kind": "progress", "done": "x"},
     {"content": "no kind"}, {"kind": "end", "count": 1}],
)
def test_a_report_that_is_not_one_becomes_nothing(report: dict[str, Any]) -> None:
    assert to_event(report) is None


def test_each_call_reports_in_a_scope_of_its_own() -> None:
    scopes = {worker_scope(key) for key in ("step1.attempt1", "step1.attempt2", "m1[0]", "m1[1]")}
    assert len(scopes) == 4
    # None of them is a context's scope ("", "m1[0]/"), whose emits are counted apart.
    assert not scopes & {"", "m1[0]/", "m1[1]/"}
