"""The append batcher (store/appends.py): what one loop turn submits goes out as one write,
each caller gets its own outcome, and a failed write fails only its own appends."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from tether.errors import LeaseLost, StoreUnavailable
from tether.store.appends import Append, AppendBatcher, Outcome
from tether.store.base import Entry


class Recorder:
    """A batch write that records what it was given and answers with the next seq of
    each session (or what ``refuse`` names), after ``gate`` opens when one is set."""

    def __init__(self) -> None:
        self.writes: list[list[str]] = []
        self.seqs: dict[str, int] = {}
        self.refuse: dict[str, BaseException] = {}
        self.fail_next: BaseException | None = None
        self.gate: asyncio.Event | None = None
        self.in_flight = 0
        self.most_in_flight = 0

    async def __call__(self, appends: Sequence[Append]) -> list[Outcome]:
        self.writes.append([a.session_id for a in appends])
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.gate is not None:
                await self.gate.wait()
            else:
                await asyncio.sleep(0)
            if self.fail_next is not None:
                exc, self.fail_next = self.fail_next, None
                raise exc
            out: list[Outcome] = []
            for a in appends:
                if a.session_id in self.refuse:
                    out.append(self.refuse[a.session_id])
                    continue
                self.seqs[a.session_id] = self.seqs.get(a.session_id, 0) + len(a.entries)
                out.append(self.seqs[a.session_id])
            return out
        finally:
            self.in_flight -= 1


def one(session_id: str, events: int = 1) -> Append:
    return Append(session_id, [Entry(body='{"ts":"t"}') for _ in range(events)])


async def test_appends_of_one_turn_are_one_write_and_each_gets_its_own_seq() -> None:
    write = Recorder()
    batcher = AppendBatcher(write)
    futures = [batcher.submit(one(f"s{i}", events=i + 1)) for i in range(5)]
    assert await asyncio.gather(*futures) == [1, 2, 3, 4, 5]
    assert write.writes == [["s0", "s1", "s2", "s3", "s4"]]


async def test_what_comes_while_a_write_is_under_way_goes_together_in_the_next() -> None:
    write = Recorder()
    write.gate = asyncio.Event()
    batcher = AppendBatcher(write, max_in_flight=1)
    first = batcher.submit(one("a"))
    await asyncio.sleep(0)  # the turn ends: the first write starts and waits at the gate
    await asyncio.sleep(0)
    later = [batcher.submit(one(s)) for s in ("b", "c", "a")]
    await asyncio.sleep(0)
    assert write.writes == [["a"]] and batcher.queued == 3
    write.gate.set()
    assert await first == 1
    assert await asyncio.gather(*later) == [1, 1, 2]
    assert write.writes == [["a"], ["b", "c", "a"]]


async def test_a_refused_append_fails_alone() -> None:
    write = Recorder()
    write.refuse["b"] = LeaseLost("b")
    batcher = AppendBatcher(write)
    a, b, c = (batcher.submit(one(s)) for s in "abc")
    assert await a == 1 and await c == 1
    with pytest.raises(LeaseLost):
        await b


async def test_a_failed_write_fails_its_appends_and_the_next_write_goes_on() -> None:
    write = Recorder()
    write.fail_next = StoreUnavailable("Redis is away")
    batcher = AppendBatcher(write)
    failed = [batcher.submit(one(s)) for s in "ab"]
    results = await asyncio.gather(*failed, return_exceptions=True)
    assert all(isinstance(r, StoreUnavailable) for r in results)
    assert await batcher.submit(one("a")) == 1


async def test_batches_are_capped_and_at_most_max_in_flight_run_at_once() -> None:
    write = Recorder()
    write.gate = asyncio.Event()
    batcher = AppendBatcher(write, max_batch=3, max_in_flight=2)
    futures = [batcher.submit(one(f"s{i}")) for i in range(10)]
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert [len(w) for w in write.writes] == [3, 3] and batcher.queued == 4
    write.gate.set()
    assert await asyncio.gather(*futures) == [1] * 10
    assert [len(w) for w in write.writes] == [3, 3, 3, 1]
    assert write.most_in_flight == 2


async def test_a_caller_that_gives_up_does_not_stop_the_write() -> None:
    write = Recorder()
    batcher = AppendBatcher(write)
    gone = batcher.submit(one("a"))
    kept = batcher.submit(one("b"))
    gone.cancel()
    assert await kept == 1
    assert write.writes == [["a", "b"]] and write.seqs == {"a": 1, "b": 1}


async def test_a_short_answer_from_the_write_fails_every_append_of_it() -> None:
    async def short(appends: Sequence[Append]) -> list[Outcome]:
        return [1]

    batcher = AppendBatcher(short)
    futures = [batcher.submit(one(s)) for s in "ab"]
    results = await asyncio.gather(*futures, return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)


async def test_close_cancels_what_is_queued_and_under_way() -> None:
    write = Recorder()
    write.gate = asyncio.Event()
    batcher = AppendBatcher(write, max_in_flight=1)
    running = batcher.submit(one("a"))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    queued = batcher.submit(one("b"))
    await batcher.close()
    assert running.cancelled() and queued.cancelled()


async def test_an_idle_batcher_holds_no_task() -> None:
    batcher = AppendBatcher(Recorder())
    await batcher.submit(one("a"))
    await asyncio.sleep(0)
    assert batcher.writing == 0


def test_sizes_must_be_positive() -> None:
    with pytest.raises(ValueError):
        AppendBatcher(Recorder(), max_batch=0)
    with pytest.raises(ValueError):
        AppendBatcher(Recorder(), max_in_flight=0)
