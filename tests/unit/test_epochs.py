"""Log epochs, with no I/O: when a client's position still holds, when its view is void,
and when the log lost what it was shown (the hub then renews the epoch)."""

from __future__ import annotations

from tether.epochs import ReplayPlan, new_epoch, plan_replay, tail_lost, valid_epoch


def test_a_client_in_the_current_epoch_resumes_where_it_was() -> None:
    assert plan_replay(after=7, epoch="E", log_last=9, log_epoch="E") == ReplayPlan(after=7)
    assert plan_replay(after=9, epoch="E", log_last=9, log_epoch="E") == ReplayPlan(after=9)


def test_another_epoch_resets_without_renewing() -> None:
    """The epoch moved on already (someone saw the loss first): replay from the start."""
    plan = plan_replay(after=3, epoch="OLD", log_last=9, log_epoch="NEW")
    assert plan == ReplayPlan(after=0, reset=True, lost=False)


def test_a_cursor_past_the_log_end_means_lost_history() -> None:
    """The client saw seq 80, the log ends at 50: the tail it saw is gone."""
    plan = plan_replay(after=80, epoch="E", log_last=50, log_epoch="E")
    assert plan == ReplayPlan(after=0, reset=True, lost=True)


def test_an_older_client_is_judged_by_its_cursor_alone() -> None:
    assert plan_replay(after=5, epoch=None, log_last=9, log_epoch="E") == ReplayPlan(after=5)
    assert plan_replay(after=12, epoch=None, log_last=9, log_epoch="E").lost


def test_a_log_written_before_epochs_keeps_working() -> None:
    assert plan_replay(after=5, epoch="E", log_last=9, log_epoch=None) == ReplayPlan(after=5)
    assert plan_replay(after=12, epoch="E", log_last=9, log_epoch=None).lost


def test_a_fresh_client_of_a_reused_log_is_not_reset() -> None:
    """after=0 with no epoch: nothing was shown, nothing can be void."""
    assert plan_replay(after=0, epoch=None, log_last=0, log_epoch="E") == ReplayPlan(after=0)


def test_a_writer_finds_the_tail_lost_only_below_its_floor() -> None:
    assert tail_lost(floor=80, log_last=50)
    assert not tail_lost(floor=80, log_last=80)
    assert not tail_lost(floor=80, log_last=95)  # others wrote meanwhile
    assert not tail_lost(floor=0, log_last=0)


def test_epochs_are_fresh_and_of_the_shape_clients_may_send() -> None:
    epochs = {new_epoch() for _ in range(200)}
    assert len(epochs) == 200
    assert all(valid_epoch(e) for e in epochs)
    assert not valid_epoch("") and not valid_epoch("a b") and not valid_epoch("x" * 65)
