"""The pure parts of ``tether serve --workers N``: each worker's hub id, when a dead
worker starts again, and how its end is told."""

from __future__ import annotations

import signal

import pytest

from tether.backoff import Backoff
from tether.config import Settings
from tether.workers import Restarts, describe_exit, worker_hub_id


def test_each_worker_has_its_own_hub_id_derived_from_the_hubs() -> None:
    assert [worker_hub_id("hub-a", i) for i in (1, 2, 3)] == ["hub-a-1", "hub-a-2", "hub-a-3"]


def test_a_worker_that_lived_long_starts_again_at_once() -> None:
    restarts = Restarts(stable_after=30.0)
    assert restarts.delay(lived=31.0) == 0.0
    assert restarts.delay(lived=3600.0) == 0.0


def test_a_worker_that_keeps_dying_young_waits_longer_each_time_up_to_a_cap() -> None:
    restarts = Restarts(stable_after=30.0, backoff=Backoff(first=0.5, cap=4.0, jitter=False))
    assert [restarts.delay(lived=1.0) for _ in range(5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    # A long life in between starts the schedule over.
    assert restarts.delay(lived=60.0) == 0.0
    assert restarts.delay(lived=1.0) == 0.5


def test_exits_are_described_by_signal_or_code() -> None:
    assert describe_exit(-signal.SIGKILL) == "killed by SIGKILL"
    assert describe_exit(3) == "exit code 3"
    assert describe_exit(None) == "still running"


def test_workers_are_read_from_the_environment_and_need_redis() -> None:
    settings = Settings.from_env({"TETHER_WORKERS": "4", "TETHER_REDIS_URL": "redis://r/0"})
    assert settings.workers == 4
    assert Settings.from_env({}).workers == 1
    with pytest.raises(ValueError, match="needs a Redis store"):
        Settings.from_env({"TETHER_WORKERS": "2"})
    with pytest.raises(ValueError, match="at least 1"):
        Settings(workers=0)


def test_the_worker_timeout_is_read_from_the_environment_and_may_be_off() -> None:
    assert Settings.from_env({}).worker_timeout == 60.0
    assert Settings.from_env({"TETHER_WORKER_TIMEOUT": "0"}).worker_timeout == 0.0
    assert Settings.from_env({"TETHER_WORKER_TIMEOUT": "2.5"}).worker_timeout == 2.5
    for bad in ("-1", "nan"):
        with pytest.raises(ValueError, match="TETHER_WORKER_TIMEOUT"):
            Settings.from_env({"TETHER_WORKER_TIMEOUT": bad})
