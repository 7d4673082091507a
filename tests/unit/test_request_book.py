"""The request book (requests.py) of one run, on the memory store: what it keeps of the
requests a task has gone past."""

from __future__ import annotations

import asyncio

from tether.messages import now_iso
from tether.notifications import SessionNotices
from tether.replay import Replay
from tether.requests import RequestBook
from tether.sealing import Sealer
from tether.store.base import NewSession
from tether.store.memory import MemoryStore
from tether.writer import SessionWriter

RUNNER = "hub-a"


async def book_on_memory() -> RequestBook:
    store = MemoryStore()
    new = NewSession(
        id="s1", task="t", owner="u", created_at=now_iso(), inputs_json="{}", version="1",
        runner=RUNNER, first_event='{"ts":"t","type":"status","status":"pending"}',
    )
    session_id, _, _ = await store.create_session(new)
    return RequestBook(
        store=store, writer=SessionWriter(store, session_id, runner=RUNNER),
        session_id=session_id, replay=Replay(), sealer=Sealer("k" * 32),
        pending={}, notices=SessionNotices(session_id, "t", "u"), runner_id=RUNNER,
    )


async def until_open(book: RequestBook) -> str:
    """The id of the one request stored open (its write landed)."""
    for _ in range(1000):
        if len(book.open_ids()) == 1:
            return book.open_ids()[0]
        await asyncio.sleep(0)
    raise AssertionError("no confirmation opened")


async def test_a_run_keeps_only_the_requests_still_open() -> None:
    """A task that asks one question after another holds the open one only: kept, every
    answered request stayed in memory for the rest of the run, and an answer that names
    no request looked through all of them."""
    book = await book_on_memory()

    async def task() -> list[bool]:
        return [
            await book.ask_confirm(key=f"c{i}", scope="", prompt=f"{i}?", details=None,
                                   timeout=None, default=None)
            for i in range(50)
        ]

    running = asyncio.create_task(task())
    for i in range(50):
        rid = await until_open(book)
        assert book.open_ids() == (rid,)
        book.answered(rid, i % 2 == 0)  # what the feed brings once the answer landed
        await asyncio.sleep(0)
    assert await running == [i % 2 == 0 for i in range(50)]
    assert book.open_ids() == ()
    assert not book._pending and not book._answered  # nothing of the 50 is held


async def test_an_answer_seen_again_after_the_task_went_on_opens_nothing() -> None:
    """The refill after a feed outage hands over every recorded answer, old ones too."""
    book = await book_on_memory()
    running = asyncio.create_task(book.ask_confirm(
        key="c0", scope="", prompt="?", details=None, timeout=None, default=None))
    rid = await until_open(book)
    book.answered(rid, True)
    assert await running is True
    book.answered(rid, True)
    assert book.open_request(None, "confirm") is None and book.open_ids() == ()


async def test_a_request_being_stored_is_found_for_an_answer() -> None:
    """A tab sees a request on the store's feed, so its answer can come before the asking
    task has resumed from the write: the run still knows which request it is for (else
    every such answer took the slow road of reading the session back)."""
    book = await book_on_memory()
    running = asyncio.create_task(book.ask_confirm(
        key="c0", scope="", prompt="?", details=None, timeout=None, default=None))
    await asyncio.sleep(0)  # the task ran up to its write, which has not landed yet
    assert not book._pending
    found = book.open_request(None, "confirm")
    assert found is not None and found.request.prompt == "?"
    assert book.open_request(found.request.request_id, "confirm") is found
    assert book.open_request(found.request.request_id, "input") is None
    rid = await until_open(book)
    assert rid == found.request.request_id and not book._opening
    book.answered(rid, True)
    assert await running is True
