"""The client's cursor, with no I/O: every seq after the start handed out once, in order;
replay overlaps dropped; a hole asks for a reconnect; a snapshot moves the cursor; a
replay_start with reset starts it again from the log's beginning, in the new epoch."""

from __future__ import annotations

from tether.client import Cursor, Take
from tether.messages import ReplayStart, Session, SnapshotEvent, StatusEvent, StreamEvent

TS = "2026-12-01T00:00:00.000Z"


def line(seq: int) -> StreamEvent:
    return StreamEvent(seq=seq, ts=TS, content=f"line {seq}")


def snapshot(seq: int) -> SnapshotEvent:
    session = Session(
        id="s", task="t", status="running", owner="u", created_at=TS, updated_at=TS,
        inputs={}, state={}, pending=[], result=None, error=None, last_seq=seq + 5,
    )
    return SnapshotEvent(seq=seq, ts=TS, session=session)


def test_consecutive_events_are_handed_out_and_repeats_dropped() -> None:
    cursor = Cursor(0)
    assert [cursor.take(line(s)) for s in (1, 2, 3)] == [Take.YIELD] * 3
    assert cursor.take(line(2)) is Take.SKIP and cursor.take(line(3)) is Take.SKIP
    assert cursor.seq == 3 and not cursor.finished


def test_a_hole_is_not_handed_out_and_does_not_move_the_cursor() -> None:
    cursor = Cursor(4)
    assert cursor.take(line(6)) is Take.GAP
    assert cursor.seq == 4
    assert cursor.take(line(5)) is Take.YIELD and cursor.take(line(6)) is Take.YIELD


def test_a_snapshot_jumps_ahead_once_and_the_kept_events_follow() -> None:
    cursor = Cursor(3)
    assert cursor.take(snapshot(40)) is Take.YIELD
    assert cursor.seq == 40
    assert cursor.take(snapshot(40)) is Take.SKIP
    assert cursor.take(line(40)) is Take.SKIP
    assert cursor.take(line(41)) is Take.YIELD


def test_the_terminal_status_ends_it_and_other_statuses_do_not() -> None:
    cursor = Cursor(0)
    cursor.take(StatusEvent(seq=1, ts=TS, status="waiting"))
    assert not cursor.finished
    cursor.take(StatusEvent(seq=2, ts=TS, status="cancelled"))
    assert cursor.finished and cursor.seq == 2


def test_replay_start_names_the_epoch_the_cursor_counts_in() -> None:
    cursor = Cursor(0)
    assert cursor.start(ReplayStart(after=0, last_seq=3, epoch="E1")) is False
    assert cursor.epoch == "E1"
    cursor.take(line(1))
    # A hub that names no epoch (an older one) leaves the known one alone.
    assert cursor.start(ReplayStart(after=1, last_seq=3)) is False
    assert cursor.epoch == "E1" and cursor.seq == 1 and cursor.resets == 0


def test_a_reset_hands_the_log_out_again_from_its_start() -> None:
    cursor = Cursor(0, "E1")
    for s in (1, 2, 3):
        cursor.take(line(s))
    cursor.take(StatusEvent(seq=4, ts=TS, status="completed"))
    assert cursor.finished
    assert cursor.start(ReplayStart(after=0, last_seq=2, epoch="E2", reset=True)) is True
    assert (cursor.seq, cursor.epoch, cursor.resets, cursor.finished) == (0, "E2", 1, False)
    assert [cursor.take(line(s)) for s in (1, 2)] == [Take.YIELD, Take.YIELD]
