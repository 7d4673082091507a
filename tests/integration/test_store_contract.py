"""The store contract: every test runs against ``MemoryStore`` and ``RedisStore`` alike.

``tether.store.base`` names the guarantees; this suite pins them down. The Redis store runs
against a real ``redis-server`` (the ``redis_url`` fixture), never a fake. Bodies are built
with the real message models, the way the session manager and runner build them.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
import redis.asyncio as redis

from tests.support.timing import MS, eventually
from tether.audit import AuditEntry, AuditQuery
from tether.errors import LeaseLost, TooManyOpenSessions, TooManyStarts, UnknownSession
from tether.messages import (
    ForkOrigin,
    ProgressEvent,
    ProgressInfo,
    Request,
    RequestAnsweredEvent,
    RequestConfirmationEvent,
    StateEvent,
    StatusEvent,
    StreamEvent,
    TaskCancelledEvent,
    TaskCompletedEvent,
    event_body,
    frame_with_seq,
    now_iso,
    seq_of,
)
from tether.notifications import SessionNotices
from tether.replay import iso
from tether.requests import PendingRequest
from tether.sessions import new_session_id
from tether.store.base import (
    OUTBOX,
    OUTBOX_COMMAND,
    DeliveryState,
    Entry,
    InboxEntry,
    NewSession,
    OutboxItem,
    RecordedAnswer,
    Seed,
    StartQuota,
    Store,
    owner_inbox,
    starts_key,
)
from tether.store.codec import cancelled_fields
from tether.store.keys import Layout
from tether.store.memory import MemoryStore
from tether.store.redis import RedisStore

MakeStore = Callable[..., Awaitable[Store]]

# Big enough that no test but the trimming ones ever loses history.
ROOMY_CAP = 5_000
# Unicode that has broken codecs before: emoji with modifiers and ZWJ, CJK, RTL, combining
# marks, newlines and other JSON escapes, the JS line separators, quotes and backslashes.
UNICODE_TEXT = (
    'héllo wörld 👋🏽 👩‍👩‍👧 日本語 עברית e\u0301 \n second line\r\n'
    'tab\tnul\x00 bell\x07 \u2028 \u2029 "quoted" back\\slash {"not":"json"} \U0001f680'
)


# --- fixtures --------------------------------------------------------------------------


async def _open(
    url: str | None, history_cap: int, finished_ttl: int, lease_seconds: float, audit_max: int
) -> Store:
    store: Store
    if url is None:
        store = MemoryStore(
            history_cap=history_cap, finished_ttl=finished_ttl, lease_seconds=lease_seconds,
            audit_max=audit_max,
        )
    else:
        store = RedisStore(
            url, history_cap=history_cap, finished_ttl=finished_ttl, lease_seconds=lease_seconds,
            audit_max=audit_max,
        )
    await store.start()
    return store


@pytest.fixture(params=["memory", "redis", "cluster"])
def store_url(request: pytest.FixtureRequest) -> str | None:
    """None for the memory store; a flushed real Redis, or a real Redis Cluster of three
    primaries with a replica each, whole and flushed, for the Redis store."""
    if request.param == "memory":
        return None
    fixture = "redis_url" if request.param == "redis" else "redis_cluster_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
async def make_store(store_url: str | None) -> AsyncIterator[MakeStore]:
    """Open stores of the parametrised kind (sharing one Redis); close them after the test."""
    opened: list[Store] = []

    async def make(
        *, history_cap: int = ROOMY_CAP, finished_ttl: int = 3600, lease_seconds: float = 10.0,
        audit_max: int = 100_000,
    ) -> Store:
        store = await _open(store_url, history_cap, finished_ttl, lease_seconds, audit_max)
        opened.append(store)
        return store

    yield make
    for store in opened:
        await store.close()


@pytest.fixture
async def store(make_store: MakeStore) -> Store:
    return await make_store()


class Recorder:
    """A SessionListener that keeps everything it is told."""

    def __init__(self) -> None:
        self.frames: list[str] = []
        self.commands: list[str] = []
        self.resyncs = 0

    def on_frames(self, session_id: str, frames: Sequence[str]) -> None:
        self.frames.extend(frames)

    def on_command(self, session_id: str, command: str) -> None:
        self.commands.append(command)

    def on_resync(self) -> None:
        self.resyncs += 1


# --- helpers: bodies and entries built as the runner builds them ----------------------


def new_session(
    *, owner: str = "alice", session_id: str | None = None, inputs: dict[str, Any] | None = None,
    runner: str = "hub-1", forked_from: ForkOrigin | None = None,
) -> NewSession:
    created_at = now_iso()
    return NewSession(
        id=session_id or new_session_id(),
        task="demo",
        owner=owner,
        created_at=created_at,
        inputs_json=json.dumps(inputs or {"n": 1}, ensure_ascii=False),
        version="v1",
        runner=runner,
        first_event=event_body(StatusEvent(seq=0, ts=created_at, status="pending")),
        forked_from=forked_from,
    )


async def create(store: Store, **kwargs: Any) -> str:
    session_id, created, _ = await store.create_session(new_session(**kwargs))
    assert created
    return session_id


async def create_running(store: Store, **kwargs: Any) -> str:
    """A session whose runner has started it (seq 2 is ``status: running``)."""
    session_id = await create(store, **kwargs)
    await store.append(session_id, [Entry(set={"status": "running"})])
    return session_id


def stream(content: str) -> str:
    return event_body(StreamEvent(seq=0, ts=now_iso(), content=content))


def open_confirm(
    request_id: str, prompt: str = "Go on?", scope: str = "main", *,
    assignees: Sequence[str] = (), created: str | None = None,
) -> Entry:
    created = created or now_iso()
    pending = PendingRequest(
        request=Request(request_id=request_id, kind="confirm", prompt=prompt, created_at=created,
                        assignees=list(assignees))
    )
    event = RequestConfirmationEvent(seq=0, ts=created, request_id=request_id, prompt=prompt,
                                     assignees=list(assignees))
    return Entry(
        body=event_body(event),
        pending_add={request_id: pending},
        journal={f"ask:{request_id}": json.dumps({"kind": "confirm"})},
        emit_scope=scope,
    )


def answer(request_id: str, value: Any, by: str = "alice") -> tuple[RecordedAnswer, str]:
    """``(answer, body)`` for resolve_request, as SessionManager.answer makes them."""
    ts = now_iso()
    body = event_body(
        RequestAnsweredEvent(seq=0, ts=ts, request_id=request_id, kind="confirm", value=value,
                             by=by)
    )
    return RecordedAnswer(expired=False, value=value, by=by, at=ts), body


def progress(done: float, total: float, label: str | None = None) -> Entry:
    """A progress event with the per-label record the runner keeps beside it."""
    event = ProgressEvent(seq=0, ts=now_iso(), done=done, total=total, label=label)
    info = ProgressInfo(done=done, total=total)
    return Entry(body=event_body(event), progress={label or "": info})


def completed(result: Any) -> Entry:
    event = TaskCompletedEvent(seq=0, ts=now_iso(), result=result)
    return Entry(body=event_body(event), set={"status": "completed", "result": json.dumps(result)})


async def all_frames(store: Store, session_id: str) -> list[str]:
    return (await store.read_events(session_id, after=0, limit=100_000)).frames


def parsed(frames: Sequence[str]) -> list[dict[str, Any]]:
    return [json.loads(f) for f in frames]


def statuses(frames: Sequence[str]) -> list[str]:
    return [e["status"] for e in parsed(frames) if e["type"] == "status"]


def sid(n: int, suffix: str = "0" * 16) -> str:
    """A session id in the manager's format: 12 hex digits of time, then randomness."""
    return f"{0x19000000000 + n:012x}{suffix}"


# --- create_session and get_session ---------------------------------------------------


async def test_create_session_writes_pending_record_and_first_event(store: Store) -> None:
    new = new_session(inputs={"subject": "hi"})
    session_id, created, fingerprint = await store.create_session(new, fingerprint="fp-1")
    assert (session_id, created, fingerprint) == (new.id, True, "fp-1")
    record = await store.get_session(session_id)
    assert record is not None
    s = record.session
    assert (s.id, s.task, s.owner, s.status) == (new.id, "demo", "alice", "pending")
    assert (s.created_at, s.updated_at) == (new.created_at, new.created_at)
    assert (s.inputs, s.state, s.pending, s.result, s.error, s.last_seq) == (
        {"subject": "hi"}, {}, [], None, None, 1
    )
    assert (record.version, record.runner, record.cancel_requested) == ("v1", "hub-1", False)
    events = await store.read_events(session_id, after=0, limit=10)
    assert events.frames == [frame_with_seq(1, new.first_event)]
    assert (events.last_seq, events.trimmed) == (1, False)


def keyed_session(store: Store, key: str, *, owner: str = "alice") -> NewSession:
    """A new session with the id the store gives a start with ``key`` (SessionManager)."""
    session_id = store.session_id_for(new_session_id(), owner=owner, idempotency_key=key)
    return new_session(owner=owner, session_id=session_id)


async def test_idempotency_key_returns_the_original_session_and_fingerprint(store: Store) -> None:
    first = keyed_session(store, "k1")
    assert await store.create_session(first, idempotency_key="k1", fingerprint="fp-a") == (
        first.id, True, "fp-a"
    )
    again = keyed_session(store, "k1")
    assert await store.create_session(again, idempotency_key="k1", fingerprint="fp-b") == (
        first.id, False, "fp-a"
    )
    assert await store.get_session(again.id) is None
    sessions, _ = await store.list_sessions("alice", status=None, limit=10, before=None)
    assert [s.id for s in sessions] == [first.id]


async def test_idempotency_keys_belong_to_one_owner(store: Store) -> None:
    alice = keyed_session(store, "same", owner="alice")
    bob = keyed_session(store, "same", owner="bob")
    await store.create_session(alice, idempotency_key="same", fingerprint="fp")
    assert await store.create_session(bob, idempotency_key="same", fingerprint="fp") == (
        bob.id, True, "fp"
    )


async def test_get_session_of_an_unknown_id_is_none(store: Store) -> None:
    assert await store.get_session("no-such-session") is None


async def test_a_session_keeps_its_trace_context_and_its_requests_theirs(store: Store) -> None:
    """The W3C traceparent a session is created with, and the one an open request is
    stored with, come back as they went in; a session created without one has none."""
    traced = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    asking = "00-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-01"
    session_id, _, _ = await store.create_session(replace(new_session(), trace=traced))
    record = await store.get_session(session_id)
    assert record is not None and record.trace == traced
    plain = await store.get_session(await create(store))
    assert plain is not None and plain.trace is None
    entry = open_confirm("r1")
    pending = entry.pending_add["r1"].model_copy(update={"trace": asking})
    await store.append(session_id, [replace(entry, pending_add={"r1": pending})])
    record = await store.get_session(session_id)
    assert record is not None and record.requests["r1"].trace == asking


# --- list_sessions --------------------------------------------------------------------


async def test_list_sessions_shows_only_the_owners_sessions(store: Store) -> None:
    a1 = await create(store, owner="alice")
    a2 = await create(store, owner="alice")
    b1 = await create(store, owner="bob")
    alice, _ = await store.list_sessions("alice", status=None, limit=10, before=None)
    bob, _ = await store.list_sessions("bob", status=None, limit=10, before=None)
    nobody, cursor = await store.list_sessions("carol", status=None, limit=10, before=None)
    assert {s.id for s in alice} == {a1, a2}
    assert [s.id for s in bob] == [b1]
    assert (nobody, cursor) == ([], None)


async def test_list_sessions_is_newest_first_by_id(store: Store) -> None:
    ids = [sid(n) for n in range(5)]
    for session_id in ids:
        await create(store, session_id=session_id)
    sessions, cursor = await store.list_sessions("alice", status=None, limit=10, before=None)
    assert [s.id for s in sessions] == ids[::-1]
    assert cursor is None


async def test_list_sessions_limit_and_cursor(store: Store) -> None:
    ids = [sid(n) for n in range(3)]
    for session_id in ids:
        await create(store, session_id=session_id)
    page, cursor = await store.list_sessions("alice", status=None, limit=2, before=None)
    assert [s.id for s in page] == [ids[2], ids[1]]
    assert cursor == ids[1]
    page, cursor = await store.list_sessions("alice", status=None, limit=3, before=None)
    assert len(page) == 3 and cursor is None  # exactly `limit` left: no further page
    page, cursor = await store.list_sessions("alice", status=None, limit=10, before=ids[1])
    assert [s.id for s in page] == [ids[0]] and cursor is None


async def test_list_sessions_status_filter(store: Store) -> None:
    pending = await create(store)
    running = await create_running(store)
    done = await create_running(store)
    await store.append(done, [completed(1)])
    for status, expected in (("pending", pending), ("running", running), ("completed", done)):
        page, _ = await store.list_sessions("alice", status=status, limit=10, before=None)
        assert [s.id for s in page] == [expected], status
    page, _ = await store.list_sessions("alice", status="failed", limit=10, before=None)
    assert page == []


async def test_count_open_counts_the_owners_unfinished_sessions(store: Store) -> None:
    await create(store)
    await create_running(store)
    done = await create_running(store)
    await store.append(done, [completed(1)])
    await create(store, owner="bob")
    assert await store.count_open("alice") == 2
    assert await store.count_open("bob") == 1
    assert await store.count_open("nobody") == 0


async def test_a_start_over_its_quota_of_starts_makes_nothing(store: Store) -> None:
    quota = StartQuota(starts_per_window=2, window=60)
    for _ in range(2):
        assert (await store.create_session(new_session(), quota=quota))[1]
    refused = new_session()
    with pytest.raises(TooManyStarts) as caught:
        await store.create_session(refused, quota=quota)
    assert 0 < caught.value.retry_after <= 60 and caught.value.limit == 2
    assert await store.get_session(refused.id) is None
    assert await store.count_open("alice") == 2
    # Counted where Store.hit counts, per owner: bob starts; alice's count went on.
    assert (await store.create_session(new_session(owner="bob"), quota=quota))[1]
    assert (await store.hit(starts_key("alice"), window=60))[0] == 4


async def test_a_start_at_the_cap_of_open_sessions_waits_for_one_to_finish(
    store: Store,
) -> None:
    quota = StartQuota(max_open=2)
    first = await create_running(store)
    await store.create_session(new_session(), quota=quota)
    refused = new_session()
    with pytest.raises(TooManyOpenSessions):
        await store.create_session(refused, quota=quota)
    assert await store.get_session(refused.id) is None
    assert (await store.create_session(new_session(owner="bob"), quota=quota))[1]
    await store.append(first, [completed(1)])
    assert await store.count_open("alice") == 1
    assert (await store.create_session(new_session(), quota=quota))[1]
    assert await store.count_open("alice") == 2


async def test_a_repeated_idempotency_key_is_not_a_new_start(store: Store) -> None:
    quota = StartQuota(starts_per_window=1, max_open=1)
    made, created, _ = await store.create_session(
        new_session(), idempotency_key="k", fingerprint="f", quota=quota
    )
    assert created
    again, created, original = await store.create_session(
        new_session(), idempotency_key="k", fingerprint="f", quota=quota
    )
    assert (again, created, original) == (made, False, "f")
    with pytest.raises(TooManyStarts):  # a new key is a new start
        await store.create_session(new_session(), idempotency_key="k2", quota=quota)


async def test_hit_counts_per_key_within_a_window(store: Store) -> None:
    counts = [await store.hit("starts:alice", window=60) for _ in range(3)]
    assert [count for count, _ in counts] == [1, 2, 3]
    assert all(0 < left <= 60 for _, left in counts)
    assert (await store.hit("starts:bob", window=60))[0] == 1
    # A window that ended starts again from 1.
    await store.hit("short", window=1)
    _, left = await store.hit("short", window=1)
    await asyncio.sleep(left + 0.05)  # the window's own remaining time, not a guess
    assert (await store.hit("short", window=1))[0] == 1


async def test_paging_visits_every_session_once_even_within_one_millisecond(
    store: Store,
) -> None:
    """Ids sharing a millisecond sort by their random part, whatever the creation order."""
    suffixes = ["9" * 16, "1" * 16, "f" * 16, "0" * 16, "a" * 16, "5" * 16, "c" * 16]
    ids = [sid(7, s) for s in suffixes] + [sid(3), sid(9)]
    for session_id in ids:
        await create(store, session_id=session_id)
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(len(ids) + 2):
        page, cursor = await store.list_sessions("alice", status=None, limit=2, before=cursor)
        assert len(page) <= 2
        seen.extend(s.id for s in page)
        if cursor is None:
            break
    assert seen == sorted(ids, reverse=True)


async def test_paging_with_a_status_filter_visits_every_match_once(store: Store) -> None:
    ids = [sid(n) for n in range(12)]
    for n, session_id in enumerate(ids):
        await create(store, session_id=session_id)
        if n % 3 == 0:
            await store.append(session_id, [Entry(set={"status": "running"})])
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(10):
        page, cursor = await store.list_sessions(
            "alice", status="running", limit=1, before=cursor
        )
        seen.extend(s.id for s in page)
        if cursor is None:
            break
    assert seen == [ids[n] for n in (9, 6, 3, 0)]


# --- append ---------------------------------------------------------------------------


async def test_append_numbers_events_from_1_without_gaps(store: Store) -> None:
    session_id = await create(store)
    bodies = [stream(f"line {n}") for n in range(20)]
    last = 1
    for body in bodies:
        last = await store.append(session_id, [Entry(body=body)])
    frames = await all_frames(store, session_id)
    assert [seq_of(f) for f in frames] == list(range(1, 22))
    assert last == 21
    # frames are exactly the body with the seq spliced in front, byte for byte
    assert frames[1:] == [f'{{"seq":{n + 2},' + body[1:] for n, body in enumerate(bodies)]
    record = await store.get_session(session_id)
    assert record is not None and record.session.last_seq == 21


async def test_a_log_has_an_epoch_from_its_creation(store: Store) -> None:
    """Every log gets an epoch when created; appends keep it; another session has its own."""
    first, second = await create_running(store), await create_running(store)
    epoch = (await store.read_events(first, after=0, limit=10)).epoch
    assert epoch
    await store.append(first, [Entry(body=stream("x"))], floor=2)
    assert (await store.read_events(first, after=0, limit=10)).epoch == epoch
    assert (await store.read_events(second, after=0, limit=10)).epoch not in (None, epoch)


async def test_renew_epoch_replaces_only_the_epoch_it_names(store: Store) -> None:
    """Compare and set: the first of two renewals of one epoch wins, the second gets the
    epoch the first made; None never replaces an epoch."""
    session_id = await create(store)
    epoch = (await store.read_events(session_id, after=0, limit=1)).epoch
    assert await store.renew_epoch(session_id, replacing=None) == epoch
    renewed = await store.renew_epoch(session_id, replacing=epoch)
    assert renewed not in (None, epoch)
    assert await store.renew_epoch(session_id, replacing=epoch) == renewed
    assert (await store.read_events(session_id, after=0, limit=1)).epoch == renewed
    with pytest.raises(UnknownSession):
        await store.renew_epoch("0" * 28, replacing=None)


async def test_an_append_below_its_floor_renews_the_epoch_in_the_same_step(
    store: Store,
) -> None:
    """A writer that saw the log reach seq 9 finds it ending at 3 (its tail was lost): the
    append renews the epoch and numbers on from 3, so every reused seq is read under the
    new epoch. An append at or above its floor keeps the epoch."""
    session_id = await create_running(store)
    await store.append(session_id, [Entry(body=stream("a"))], floor=2)
    epoch = (await store.read_events(session_id, after=0, limit=1)).epoch
    last = await store.append(session_id, [Entry(body=stream("b"))], floor=9)
    assert last == 4
    after = await store.read_events(session_id, after=3, limit=10)
    assert after.epoch not in (None, epoch) and [seq_of(f) for f in after.frames] == [4]
    again = await store.append(session_id, [Entry(body=stream("c"))], floor=4)
    assert again == 5
    assert (await store.read_events(session_id, after=0, limit=1)).epoch == after.epoch


async def test_append_a_batch_numbers_every_entry_in_order(store: Store) -> None:
    session_id = await create_running(store)
    listener = Recorder()
    await store.subscribe(session_id, listener)
    bodies = [stream(f"batch {n}") for n in range(5)]
    last = await store.append(session_id, [Entry(body=b) for b in bodies])
    assert last == 7
    frames = (await store.read_events(session_id, after=2, limit=100)).frames
    assert frames == [frame_with_seq(n + 3, b) for n, b in enumerate(bodies)]
    await eventually(lambda: len(listener.frames) == 5, what="the batch on the feed")
    assert listener.frames == frames


async def test_append_without_a_body_changes_the_record_but_adds_no_event(store: Store) -> None:
    session_id = await create_running(store)
    last = await store.append(session_id, [Entry(set={"state": json.dumps({"k": [1, 2]})})])
    assert last == 2
    record = await store.get_session(session_id)
    assert record is not None
    assert record.session.state == {"k": [1, 2]} and record.session.last_seq == 2


async def test_set_state_with_its_event(store: Store) -> None:
    session_id = await create_running(store)
    state = {"drafts": ["a", "b"]}
    body = event_body(StateEvent(seq=0, ts=now_iso(), state=state))
    await store.append(session_id, [Entry(body=body, set={"state": json.dumps(state)})])
    record = await store.get_session(session_id)
    assert record is not None and record.session.state == state
    assert json.loads((await all_frames(store, session_id))[-1])["state"] == state


async def test_explicit_status_in_set_emits_a_status_event_once(store: Store) -> None:
    session_id = await create(store)
    await store.append(session_id, [Entry(set={"status": "running"})])
    await store.append(session_id, [Entry(set={"status": "running"})])  # no change: no event
    frames = await all_frames(store, session_id)
    assert statuses(frames) == ["pending", "running"]
    assert len(frames) == 2
    record = await store.get_session(session_id)
    assert record is not None and record.session.status == "running"


async def test_open_requests_switch_status_between_running_and_waiting(store: Store) -> None:
    session_id = await create_running(store)
    listener = Recorder()
    await store.subscribe(session_id, listener)
    await store.append(session_id, [open_confirm("r1")])
    record = await store.get_session(session_id)
    assert record is not None and record.session.status == "waiting"
    assert [r.request_id for r in record.session.pending] == ["r1"]
    await store.append(session_id, [open_confirm("r2")])  # still waiting: no status event
    await store.append(session_id, [Entry(pending_del=("r1",))])
    record = await store.get_session(session_id)
    assert record is not None and record.session.status == "waiting"
    await store.append(session_id, [Entry(pending_del=("r2",))])
    record = await store.get_session(session_id)
    assert record is not None and record.session.status == "running"
    assert record.session.pending == [] and record.requests == {}
    frames = await all_frames(store, session_id)
    kinds = [(e["type"], e.get("status")) for e in parsed(frames)]
    assert kinds == [
        ("status", "pending"), ("status", "running"),
        ("request_confirmation", None), ("status", "waiting"),
        ("request_confirmation", None), ("status", "running"),
    ]
    await eventually(lambda: len(listener.frames) == 4, what="feed to catch up")
    assert listener.frames == frames[2:]


async def test_status_events_are_what_event_body_makes(store: Store) -> None:
    session_id = await create_running(store)
    await store.append(session_id, [open_confirm("r1")])
    frame = (await all_frames(store, session_id))[-1]
    event = json.loads(frame)
    expected = frame_with_seq(
        event["seq"], event_body(StatusEvent(seq=0, ts=event["ts"], status="waiting"))
    )
    assert frame == expected


async def test_a_terminal_status_stops_further_entries_and_clears_pending(store: Store) -> None:
    session_id = await create_running(store)
    await store.append(session_id, [open_confirm("r1")])
    last = await store.append(session_id, [completed({"ok": True}), Entry(body=stream("lost"))])
    frames = await all_frames(store, session_id)
    assert [e["type"] for e in parsed(frames)[-2:]] == ["task_completed", "status"]
    assert statuses(frames)[-1] == "completed"
    assert last == seq_of(frames[-1])
    # later writes are ignored, whatever they try
    again = await store.append(
        session_id, [Entry(body=stream("after the end"), set={"status": "running"})]
    )
    assert again == last
    assert await all_frames(store, session_id) == frames
    record = await store.get_session(session_id)
    assert record is not None
    s = record.session
    assert (s.status, s.result, s.pending, s.last_seq) == ("completed", {"ok": True}, [], last)
    assert record.requests == {}


async def test_cancelled_with_pending_requests_clears_them(store: Store) -> None:
    session_id = await create_running(store)
    await store.append(session_id, [open_confirm("r1"), open_confirm("r2")])
    body = event_body(TaskCancelledEvent(seq=0, ts=now_iso(), reason="cancelled"))
    await store.append(session_id, [Entry(body=body, set={"status": "cancelled"})])
    record = await store.get_session(session_id)
    assert record is not None
    assert (record.session.status, record.session.pending) == ("cancelled", [])
    assert statuses(await all_frames(store, session_id))[-1] == "cancelled"


async def test_append_with_another_runner_raises_lease_lost_and_writes_nothing(
    store: Store,
) -> None:
    session_id = await create(store, runner="hub-1")
    with pytest.raises(LeaseLost):
        await store.append(session_id, [Entry(body=stream("x"))], runner="hub-2")
    assert len(await all_frames(store, session_id)) == 1
    assert await store.append(session_id, [Entry(body=stream("x"))], runner="hub-1") == 2


async def test_a_new_runner_takes_the_lease_by_setting_runner(store: Store) -> None:
    session_id = await create(store, runner="hub-1")
    await store.append(session_id, [Entry(set={"runner": "hub-2"})], runner="hub-1")
    with pytest.raises(LeaseLost):
        await store.append(session_id, [Entry(body=stream("x"))], runner="hub-1")
    record = await store.get_session(session_id)
    assert record is not None and record.runner == "hub-2"


async def test_append_to_an_unknown_session_raises_unknown_session(store: Store) -> None:
    with pytest.raises(UnknownSession):
        await store.append("no-such-session", [Entry(body=stream("x"))])


async def test_journal_and_emit_counts(store: Store) -> None:
    session_id = await create_running(store)
    await store.append(session_id, [
        Entry(body=stream("a"), emit_scope="main"),
        Entry(body=stream("b"), emit_scope="main"),
        Entry(body=stream("c"), emit_scope="map:0"),
        Entry(journal={"step:send:0": json.dumps({"result": "✓ sent"}, ensure_ascii=False)}),
        Entry(set={"state": "{}"}, emit_scope="never-counted"),  # no body: nothing emitted
    ])
    await store.append(session_id, [Entry(body=stream("d"), emit_scope="main",
                                          journal={"step:b:0": "1"})])
    assert await store.emit_counts(session_id) == {"main": 3, "map:0": 1}
    assert await store.journal(session_id) == {
        "step:send:0": '{"result": "✓ sent"}', "step:b:0": "1"
    }
    assert await store.emit_counts("no-such-session") == {}
    assert await store.journal("no-such-session") == {}


async def test_finished_sessions_expire_after_finished_ttl(make_store: MakeStore) -> None:
    store = await make_store(finished_ttl=1)
    done = await create_running(store)
    alive = await create_running(store)
    await store.append(done, [open_confirm("r1")])
    await store.append(done, [completed(1)])

    async def expired() -> bool:
        return await store.get_session(done) is None

    await eventually(expired, timeout_ms=5000, what="the finished session to expire")
    with pytest.raises(UnknownSession):
        await store.read_events(done, after=0, limit=10)
    assert await store.journal(done) == {} and await store.emit_counts(done) == {}
    for _ in range(2):  # the second listing runs after the index dropped the expired id
        page, cursor = await store.list_sessions("alice", status=None, limit=1, before=None)
        assert ([s.id for s in page], cursor) == ([alive], None)
    assert await store.get_session(alive) is not None


# --- read_events ----------------------------------------------------------------------


async def test_read_events_after_and_limit(store: Store) -> None:
    session_id = await create(store)
    await store.append(session_id, [Entry(body=stream(str(n))) for n in range(9)])  # seq 2..10
    page = await store.read_events(session_id, after=3, limit=4)
    assert [seq_of(f) for f in page.frames] == [4, 5, 6, 7]
    assert (page.last_seq, page.trimmed) == (10, False)
    page = await store.read_events(session_id, after=7, limit=100)
    assert [seq_of(f) for f in page.frames] == [8, 9, 10]
    page = await store.read_events(session_id, after=10, limit=100)
    assert (page.frames, page.last_seq, page.trimmed) == ([], 10, False)
    page = await store.read_events(session_id, after=50, limit=100)
    assert (page.frames, page.trimmed) == ([], False)


async def test_read_events_of_an_unknown_session_raises(store: Store) -> None:
    with pytest.raises(UnknownSession):
        await store.read_events("no-such-session", after=0, limit=10)


async def test_read_events_says_trimmed_once_history_exceeds_the_cap(
    make_store: MakeStore,
) -> None:
    """Redis trims with ``MAXLEN ~``, so only the trimmed flag is exact, not the count."""
    store = await make_store(history_cap=5)
    session_id = await create(store)
    for n in range(30):
        await store.append(session_id, [Entry(body=stream(f"{n:03} " + "x" * 40))] * 10)
    last_seq = 301
    page = await store.read_events(session_id, after=0, limit=1000)
    assert page.trimmed and page.last_seq == last_seq
    seqs = [seq_of(f) for f in page.frames]
    assert seqs[0] > 1 and seqs == list(range(seqs[0], last_seq + 1))  # a suffix, no holes
    recent = await store.read_events(session_id, after=last_seq - 3, limit=1000)
    assert not recent.trimmed
    assert [seq_of(f) for f in recent.frames] == [last_seq - 2, last_seq - 1, last_seq]
    # asking from just before the oldest retained event is not trimmed; one earlier is
    oldest = seqs[0]
    assert not (await store.read_events(session_id, after=oldest - 1, limit=5)).trimmed
    assert (await store.read_events(session_id, after=oldest - 2, limit=5)).trimmed


async def test_read_events_from_a_trimmed_point_returns_the_kept_tail(
    make_store: MakeStore,
) -> None:
    """From a trimmed point the kept events come back, oldest first, paged by ``limit``;
    ``gone_upto`` is the seq just before the oldest of them (where a snapshot goes), and
    at least ``history_cap`` events are kept."""
    store = await make_store(history_cap=150)
    session_id = await create(store)
    for n in range(10):
        await store.append(session_id, [Entry(body=stream(f"{n}:{i}")) for i in range(100)])
    last_seq = 1001
    whole = await store.read_events(session_id, after=0, limit=100_000)
    assert whole.trimmed and whole.last_seq == last_seq
    kept = [seq_of(f) for f in whole.frames]
    assert kept == list(range(whole.gone_upto + 1, last_seq + 1))
    assert len(kept) >= 150 and whole.gone_upto > 0
    # the same tail from any trimmed point, and exactly it from the snapshot's seq on
    for after in (0, 1, whole.gone_upto - 1):
        again = await store.read_events(session_id, after=after, limit=100_000)
        assert again.trimmed and again.frames == whole.frames
        assert again.gone_upto == whole.gone_upto
    tail = await store.read_events(session_id, after=whole.gone_upto, limit=100_000)
    assert not tail.trimmed and tail.frames == whole.frames
    # bounded pages: the first page from a trimmed point is the oldest kept events
    page = await store.read_events(session_id, after=0, limit=7)
    assert page.trimmed and page.frames == whole.frames[:7]
    assert page.gone_upto == whole.gone_upto
    untrimmed = await store.read_events(session_id, after=last_seq, limit=10)
    assert (untrimmed.frames, untrimmed.trimmed, untrimmed.gone_upto) == ([], False, last_seq)


async def test_progress_is_kept_per_label_past_the_history_cap(make_store: MakeStore) -> None:
    """The record holds the latest progress of every label ("" for none), written with
    its event, even once those events are trimmed and after the session ends."""
    store = await make_store(history_cap=20)
    session_id = await create_running(store)
    await store.append(session_id, [progress(1, 5, "files"), progress(1, 3)])
    await store.append(session_id, [progress(2, 5, "files"), Entry(body=stream("x"))])
    await store.append(session_id, [progress(4, 5, "files")])
    for _ in range(3):
        await store.append(session_id, [Entry(body=stream(str(i))) for i in range(100)])
    assert (await store.read_events(session_id, after=0, limit=10)).trimmed
    expected = {"": ProgressInfo(done=1, total=3), "files": ProgressInfo(done=4, total=5)}
    record = await store.get_session(session_id)
    assert record is not None and record.session.progress == expected
    listed, _ = await store.list_sessions("alice", status=None, limit=10, before=None)
    assert [s.progress for s in listed] == [expected]
    await store.append(session_id, [completed("ok"), progress(5, 5, "files")])
    record = await store.get_session(session_id)
    assert record is not None and record.session.progress == expected  # nothing after the end


async def test_a_session_starts_without_progress(store: Store) -> None:
    record = await store.get_session(await create_running(store))
    assert record is not None and record.session.progress == {}


async def test_request_cancel_records_who_asked_first(store: Store) -> None:
    """The first to ask is who cancelled: the record and every cancel command name them;
    the cancelled outcome then puts reason and person on the session."""
    session_id = await create_running(store)
    listener = Recorder()
    await store.subscribe(session_id, listener)
    assert await store.request_cancel(session_id, by="u_alice") == "ok"
    assert await store.request_cancel(session_id, by="u_bob") == "ok"
    await eventually(lambda: listener.commands == ["cancel:u_alice", "cancel:u_alice"],
                     what="two cancel commands naming the first to ask")
    record = await store.get_session(session_id)
    assert record is not None and record.cancel_requested and record.cancel_by == "u_alice"
    assert (record.session.cancel_reason, record.session.cancelled_by) == (None, None)
    event = TaskCancelledEvent(seq=0, ts=now_iso(), reason="cancelled", by="u_alice")
    await store.append(
        session_id, [Entry(body=event_body(event), set=cancelled_fields("cancelled", "u_alice"))]
    )
    record = await store.get_session(session_id)
    assert record is not None and record.session.status == "cancelled"
    assert (record.session.cancel_reason, record.session.cancelled_by) == (
        "cancelled", "u_alice")


async def test_a_self_cancelled_session_has_a_reason_and_nobody_who_cancelled(
    store: Store,
) -> None:
    session_id = await create_running(store)
    await store.append(session_id, [Entry(set=cancelled_fields("declined: «no»", None))])
    record = await store.get_session(session_id)
    assert record is not None and record.cancel_by is None
    assert (record.session.cancel_reason, record.session.cancelled_by) == ("declined: «no»", None)


async def test_a_forked_session_knows_its_origin(store: Store) -> None:
    origin = ForkOrigin(session_id=sid(1), at_seq=7)
    forked = await create(store, forked_from=origin)
    plain = await create(store)
    record = await store.get_session(forked)
    assert record is not None and record.session.forked_from == origin
    record = await store.get_session(plain)
    assert record is not None and record.session.forked_from is None


async def test_a_roomy_history_is_never_trimmed(store: Store) -> None:
    session_id = await create(store)
    await store.append(session_id, [Entry(body=stream(str(n))) for n in range(300)])
    page = await store.read_events(session_id, after=0, limit=1000)
    assert not page.trimmed and len(page.frames) == 301


# --- resolve_request ------------------------------------------------------------------


async def test_resolve_request_first_answer_wins(store: Store) -> None:
    session_id = await create_running(store)
    await store.append(session_id, [open_confirm("r1")])
    listener = Recorder()
    await store.subscribe(session_id, listener)
    recorded, body = answer("r1", True, by="alice")
    assert await store.resolve_request(session_id, "r1", answer=recorded,
                                       body=body) == "ok"
    later, later_body = answer("r1", False, by="bob")
    assert await store.resolve_request(session_id, "r1", answer=later,
                                       body=later_body) == "already_answered"
    assert await store.answers(session_id) == {"r1": recorded}
    frames = await all_frames(store, session_id)
    assert frames[-2] == frame_with_seq(seq_of(frames[-2]), body)
    assert parsed(frames[-1:])[0] | {"ts": ""} == {
        "seq": seq_of(frames[-2]) + 1, "ts": "", "type": "status", "status": "running"
    }
    record = await store.get_session(session_id)
    assert record is not None
    assert (record.session.status, record.session.pending) == ("running", [])
    assert record.session.last_seq == seq_of(frames[-1])
    await eventually(lambda: len(listener.frames) == 2, what="answer on the feed")
    assert listener.frames == frames[-2:]


async def test_resolving_one_of_two_requests_keeps_the_session_waiting(store: Store) -> None:
    session_id = await create_running(store)
    await store.append(session_id, [open_confirm("r1"), open_confirm("r2")])
    recorded, body = answer("r2", False)
    assert await store.resolve_request(session_id, "r2", answer=recorded,
                                       body=body) == "ok"
    record = await store.get_session(session_id)
    assert record is not None
    assert record.session.status == "waiting"
    assert [r.request_id for r in record.session.pending] == ["r1"]
    assert json.loads((await all_frames(store, session_id))[-1])["type"] == "request_answered"


async def test_resolve_request_unknown_request(store: Store) -> None:
    session_id = await create_running(store)
    recorded, body = answer("nope", True)
    assert await store.resolve_request(session_id, "nope", answer=recorded,
                                       body=body) == "unknown_request"
    assert await store.resolve_request("no-such-session", "nope", answer=recorded,
                                       body=body) == "unknown_request"
    assert len(await all_frames(store, session_id)) == 2
    assert await store.answers(session_id) == {}


async def test_resolve_request_after_the_session_finished(store: Store) -> None:
    session_id = await create_running(store)
    await store.append(session_id, [open_confirm("r1")])
    await store.append(session_id, [completed(None)])
    recorded, body = answer("r1", True)
    before = await all_frames(store, session_id)
    assert await store.resolve_request(session_id, "r1", answer=recorded,
                                       body=body) == "session_finished"
    assert await all_frames(store, session_id) == before


# --- inboxes: open requests by assignee and by owner ------------------------------------


def listed(entries: Sequence[InboxEntry]) -> list[tuple[str, str]]:
    return [(e.session_id, e.request_id) for e in entries]


async def test_an_assigned_request_is_in_each_assignees_inbox_until_answered(
    store: Store,
) -> None:
    session_id = await create_running(store, owner="user:alice")
    await store.append(session_id, [open_confirm("r1", assignees=["user:bob", "group:fin"])])
    for inbox in (["user:bob"], ["group:fin"], ["user:bob", "group:fin"]):
        assert listed(await store.open_requests(inbox, limit=10)) == [(session_id, "r1")]
    assert await store.open_requests([owner_inbox("user:alice"), "user:carol"], limit=10) == []
    recorded, body = answer("r1", True, by="user:bob")
    assert await store.resolve_request(session_id, "r1", answer=recorded, body=body) == "ok"
    assert await store.open_requests(["user:bob", "group:fin"], limit=10) == []


async def test_an_unassigned_request_is_in_its_owners_inbox_until_closed(store: Store) -> None:
    session_id = await create_running(store, owner="user:alice")
    await store.append(session_id, [open_confirm("r1"), open_confirm("r2")])
    mine = owner_inbox("user:alice")
    assert sorted(listed(await store.open_requests([mine], limit=10))) == [
        (session_id, "r1"), (session_id, "r2")
    ]
    assert await store.open_requests([owner_inbox("user:bob"), "user:alice"], limit=10) == []
    expired = RecordedAnswer(expired=True, at=now_iso())
    assert await store.resolve_request(session_id, "r2", answer=expired, body=stream("x")) == "ok"
    assert listed(await store.open_requests([mine], limit=10)) == [(session_id, "r1")]


async def test_an_open_request_is_updated_in_place_only_while_open(store: Store) -> None:
    """update_request (a reminder, an escalation): the request replaced, its event
    appended and the inboxes of its new assignees listing it; nothing once it closed;
    refused for a runner that does not hold the session."""
    session_id = await create_running(store, owner="user:alice")
    await store.append(session_id, [open_confirm("r1", assignees=["user:bob"])])
    record = await store.get_session(session_id)
    assert record is not None
    pending = record.requests["r1"]
    grown = pending.model_copy(update={"request": pending.request.model_copy(
        update={"assignees": ["user:bob", "group:fin"], "escalated_at": now_iso()}
    )})
    with pytest.raises(LeaseLost):
        await store.update_request(session_id, "r1", pending=grown, body=stream("x"),
                                   runner="another-hub")
    outcome = await store.update_request(session_id, "r1", pending=grown, body=stream("up"),
                                         runner="hub-1")
    assert outcome == "ok"
    record = await store.get_session(session_id)
    assert record is not None and record.requests["r1"] == grown
    assert "group:fin" in record.assignees
    assert listed(await store.open_requests(["group:fin"], limit=10)) == [(session_id, "r1")]
    assert listed(await store.open_requests(["user:bob"], limit=10)) == [(session_id, "r1")]
    events = await store.read_events(session_id, after=0, limit=100)
    assert parsed(events.frames)[-1]["content"] == "up"
    recorded, body = answer("r1", True, by="user:bob")
    assert await store.resolve_request(session_id, "r1", answer=recorded, body=body) == "ok"
    last = (await store.read_events(session_id, after=0, limit=100)).last_seq
    outcome = await store.update_request(session_id, "r1", pending=grown, body=stream("late"),
                                         runner="hub-1")
    assert outcome == "closed"
    assert (await store.read_events(session_id, after=0, limit=100)).last_seq == last
    record = await store.get_session(session_id)
    assert record is not None and "r1" not in record.requests
    assert await store.open_requests(["group:fin", "user:bob"], limit=10) == []


async def test_a_finished_session_leaves_every_inbox(store: Store) -> None:
    session_id = await create_running(store, owner="user:alice")
    await store.append(session_id, [open_confirm("r1", assignees=["user:bob"]), open_confirm("r2")])
    assert len(await store.open_requests(["user:bob", owner_inbox("user:alice")], limit=10)) == 2
    await store.append(session_id, [Entry(
        body=event_body(TaskCancelledEvent(seq=0, ts=now_iso(), reason="stop")),
        set=cancelled_fields("stop", None),
    )])
    assert await store.open_requests(["user:bob", owner_inbox("user:alice")], limit=10) == []


async def test_a_session_keeps_the_assignees_of_its_closed_requests(store: Store) -> None:
    session_id = await create_running(store, owner="user:alice")
    await store.append(session_id, [open_confirm("r1", assignees=["user:bob"])])
    recorded, body = answer("r1", True, by="user:bob")
    await store.resolve_request(session_id, "r1", answer=recorded, body=body)
    await store.append(session_id, [open_confirm("r2", assignees=["group:fin", "user:bob"])])
    record = await store.get_session(session_id)
    assert record is not None
    assert record.assignees == {"user:bob", "group:fin"}
    assert record.session.pending[0].assignees == ["group:fin", "user:bob"]
    await store.append(session_id, [completed(1)])
    record = await store.get_session(session_id)
    assert record is not None and record.assignees == {"user:bob", "group:fin"}


async def test_inboxes_page_newest_first_with_each_request_once(store: Store) -> None:
    """Ties within one millisecond and requests in both inboxes read: every request
    exactly once, in (opened, session, request) order, page after page."""
    base = 1_760_000_000_000
    opened: list[InboxEntry] = []
    for n in range(4):
        session_id = await create_running(store, owner="user:alice", session_id=sid(n))
        for k in range(3):
            ms = base + (n * 3 + k) // 2  # two requests in most milliseconds
            stamp = iso(datetime.fromtimestamp(ms / 1000, UTC))
            to = [["user:bob"], ["group:fin"], ["user:bob", "group:fin"]][k]
            await store.append(session_id, [open_confirm(f"r{k}", assignees=to, created=stamp)])
            opened.append(InboxEntry(ms, session_id, f"r{k}"))
    expected = sorted(opened, reverse=True)
    for limit in (1, 2, 5):
        seen: list[InboxEntry] = []
        before: InboxEntry | None = None
        while True:
            page = await store.open_requests(["group:fin", "user:bob"], limit=limit, before=before)
            seen += page
            if len(page) < limit:
                break
            before = page[-1]
        assert seen == expected, limit


# --- request_cancel -------------------------------------------------------------------


async def test_request_cancel_marks_the_session_and_tells_its_runner(store: Store) -> None:
    session_id = await create_running(store)
    listener = Recorder()
    await store.subscribe(session_id, listener)
    assert await store.request_cancel(session_id) == "ok"
    await eventually(lambda: listener.commands == ["cancel"], what="the cancel command")
    record = await store.get_session(session_id)
    assert record is not None and record.cancel_requested
    assert record.session.status == "running"  # the runner decides when it has stopped
    assert await store.request_cancel(session_id) == "ok"  # idempotent while it runs
    await eventually(lambda: listener.commands == ["cancel", "cancel"], what="second cancel")


async def test_request_cancel_of_a_finished_or_unknown_session(store: Store) -> None:
    session_id = await create_running(store)
    await store.append(session_id, [completed(1)])
    assert await store.request_cancel(session_id) == "already_finished"
    assert await store.request_cancel("no-such-session") == "unknown_session"
    record = await store.get_session(session_id)
    assert record is not None and not record.cancel_requested


# --- the audit log --------------------------------------------------------------------


def audit_entry(action: str = "login", **fields: Any) -> AuditEntry:
    return AuditEntry(at=now_iso(), action=action, **fields)


async def every_audit_entry(store: Store, query: AuditQuery | None = None) -> list[AuditEntry]:
    """Every entry matching ``query``, newest first, paged through with ``next``."""
    query = query or AuditQuery(limit=7)
    found: list[AuditEntry] = []
    before: str | None = None
    for _ in range(10_000):
        page = await store.read_audit(replace(query, before=before))
        found += page.entries
        if page.next is None:
            return found
        before = page.next
    raise AssertionError("the audit pages never end")


async def test_audit_entries_come_back_newest_first_with_increasing_ids(store: Store) -> None:
    first = audit_entry("login", user="user:alice", ip="127.0.0.1", agent=UNICODE_TEXT[:80],
                        via="password")
    await store.add_audit(first)
    for n in range(20):  # many within one millisecond: ids must still be distinct, ordered
        await store.add_audit(audit_entry("answer", user="user:bob", session=f"s{n}",
                                          request=f"r{n}", via="ws"))
    page = await store.read_audit(AuditQuery(limit=100))
    assert page.next is None and len(page.entries) == 21
    assert [e.session for e in page.entries[:20]] == [f"s{n}" for n in reversed(range(20))]
    ids = [e.id for e in page.entries]
    assert len(set(ids)) == 21
    assert sorted(ids, key=lambda i: tuple(map(int, i.split("-"))), reverse=True) == ids
    assert page.entries[-1] == first.model_copy(update={"id": ids[-1]})
    assert page.entries[0].ip is None and page.entries[0].outcome == "ok"


async def test_audit_pages_visit_every_entry_once(store: Store) -> None:
    for n in range(23):
        await store.add_audit(audit_entry(session=f"s{n}"))
    page = await store.read_audit(AuditQuery(limit=10))
    assert len(page.entries) == 10 and page.next == page.entries[-1].id
    seen = [e.session for e in await every_audit_entry(store)]
    assert seen == [f"s{n}" for n in reversed(range(23))]
    exact = await store.read_audit(AuditQuery(limit=23))
    assert len(exact.entries) == 23 and exact.next is None, "no next when nothing is left"


async def test_audit_filters_by_action_session_and_user(store: Store) -> None:
    await store.add_audit(audit_entry("login", user="user:alice"))
    await store.add_audit(audit_entry("answer", user="user:alice", session="s1", request="r1"))
    await store.add_audit(audit_entry("answer", user="user:bob", session="s1", request="r2"))
    await store.add_audit(audit_entry("cancel", user="user:bob", session="s2"))
    await store.add_audit(audit_entry("login_failed", user=None, outcome="invalid_link"))

    async def requests(**filters: Any) -> list[str | None]:
        page = await store.read_audit(AuditQuery(limit=50, **filters))
        return [f"{e.action}:{e.request or e.session or e.user}" for e in page.entries]

    assert await requests(action="answer") == ["answer:r2", "answer:r1"]
    assert await requests(session="s1") == ["answer:r2", "answer:r1"]
    assert await requests(user="user:alice") == ["answer:r1", "login:user:alice"]
    assert await requests(user="user:bob", session="s2") == ["cancel:s2"]
    assert await requests(action="logout") == []
    assert len(await requests()) == 5


async def test_an_audit_page_looks_at_a_bounded_number_of_entries(store: Store) -> None:
    """A filter that matches little cannot make one request read the whole log: the page
    stops after ``scan`` entries with ``next`` set, and paging on finds every match."""
    await store.add_audit(audit_entry("logout", session="old"))
    for n in range(30):
        await store.add_audit(audit_entry("login", session=f"s{n}"))
    query = AuditQuery(limit=5, action="logout", scan=10)
    page = await store.read_audit(query)
    assert page.entries == [] and page.next is not None
    found = await every_audit_entry(store, query)
    assert [e.session for e in found] == ["old"]


async def test_nothing_is_older_than_the_first_possible_audit_id(store: Store) -> None:
    await store.add_audit(audit_entry())
    page = await store.read_audit(AuditQuery(before="0-0"))
    assert page.entries == [] and page.next is None
    page = await store.read_audit(AuditQuery(before=f"{2**64 - 1}-{2**64 - 1}"))
    assert len(page.entries) == 1


async def test_the_audit_log_keeps_its_newest_entries_up_to_its_cap(
    make_store: MakeStore,
) -> None:
    """At least the newest ``audit_max`` are kept, and not many more (Redis trims whole
    stream nodes, ``MAXLEN ~``: up to one node, 100 entries, beyond the cap). One user's
    entries: a cluster caps each bucket's part of the log, and they are all in one."""
    store = await make_store(audit_max=10)
    for n in range(400):
        await store.add_audit(audit_entry(user="user:alice", request=f"r{n}"))
    kept = [e.request for e in await every_audit_entry(store, AuditQuery(limit=500))]
    assert 10 <= len(kept) <= 10 + 100
    assert kept == [f"r{n}" for n in reversed(range(400 - len(kept), 400))]


async def test_an_answer_and_its_audit_entry_are_written_together(store: Store) -> None:
    session_id = await create_running(store)
    await store.append(session_id, [open_confirm("r1")])
    entry = audit_entry("answer", user="alice", session=session_id, request="r1")
    recorded, body = answer("r1", True)
    assert await store.resolve_request(session_id, "r1", answer=recorded, body=body,
                                       audit=entry) == "ok"
    late, late_body = answer("r1", False, by="bob")
    assert await store.resolve_request(session_id, "r1", answer=late, body=late_body,
                                       audit=entry.model_copy(update={"user": "bob"})
                                       ) == "already_answered"
    assert await store.resolve_request(session_id, "r9", answer=late, body=late_body,
                                       audit=entry) == "unknown_request"
    page = await store.read_audit(AuditQuery())
    assert [(e.action, e.user, e.request) for e in page.entries] == [("answer", "alice", "r1")]
    expired, expired_body = answer("r2", None)
    await store.append(session_id, [open_confirm("r2")])
    assert await store.resolve_request(session_id, "r2", answer=expired,
                                       body=expired_body) == "ok"  # no entry: an expiry
    assert len((await store.read_audit(AuditQuery())).entries) == 1


async def test_a_cancel_and_its_audit_entry_are_written_together(store: Store) -> None:
    session_id = await create_running(store)
    entry = audit_entry("cancel", user="alice", session=session_id)
    assert await store.request_cancel(session_id, by="alice", audit=entry) == "ok"
    assert await store.request_cancel("no-such-session", audit=entry) == "unknown_session"
    done = await create_running(store)
    await store.append(done, [completed(1)])
    assert await store.request_cancel(done, audit=entry) == "already_finished"
    page = await store.read_audit(AuditQuery())
    assert [(e.action, e.session) for e in page.entries] == [("cancel", session_id)]


# --- subscribe and unsubscribe --------------------------------------------------------


async def test_a_listener_receives_every_later_append_in_order(store: Store) -> None:
    session_id = await create_running(store)
    listener = Recorder()
    await store.subscribe(session_id, listener)
    for n in range(40):
        if n % 10 == 0:
            await store.append(session_id, [Entry(body=stream(f"{n}.{k}")) for k in range(3)])
        else:
            await store.append(session_id, [Entry(body=stream(str(n)))])
    frames = (await store.read_events(session_id, after=2, limit=1000)).frames
    await eventually(lambda: len(listener.frames) >= len(frames), what="every frame")
    assert listener.frames == frames


async def test_nothing_arrives_after_unsubscribe(store: Store) -> None:
    session_id = await create_running(store)
    gone, staying = Recorder(), Recorder()
    await store.subscribe(session_id, gone)
    await store.subscribe(session_id, staying)
    await store.append(session_id, [Entry(body=stream("both"))])
    await eventually(lambda: len(gone.frames) == 1 and len(staying.frames) == 1, what="both")
    await store.unsubscribe(session_id, gone)
    await store.append(session_id, [Entry(body=stream("only one"))])
    await store.request_cancel(session_id)
    # `staying` seeing both messages means the feed delivered them; `gone` must not have
    await eventually(lambda: len(staying.frames) == 2 and staying.commands == ["cancel"],
                     what="the remaining listener")
    assert (len(gone.frames), gone.commands) == (1, [])


async def test_the_last_unsubscribe_stops_delivery_and_resubscribe_resumes(
    store: Store,
) -> None:
    session_id = await create_running(store)
    other = await create_running(store)
    listener, barrier = Recorder(), Recorder()
    await store.subscribe(session_id, listener)
    await store.unsubscribe(session_id, listener)
    await store.subscribe(other, barrier)
    await store.append(session_id, [Entry(body=stream("unheard"))])
    await store.append(other, [Entry(body=stream("barrier"))])
    await eventually(lambda: len(barrier.frames) == 1, what="the barrier frame")
    assert listener.frames == []
    await store.subscribe(session_id, listener)
    await store.append(session_id, [Entry(body=stream("heard"))])
    await eventually(lambda: len(listener.frames) == 1, what="after resubscribing")
    assert json.loads(listener.frames[0])["content"] == "heard"


async def test_listeners_only_hear_their_own_sessions(store: Store) -> None:
    first, second = await create_running(store), await create_running(store)
    hears_first, hears_second = Recorder(), Recorder()
    await store.subscribe(first, hears_first)
    await store.subscribe(second, hears_second)
    await store.append(first, [Entry(body=stream("to first"))])
    await store.append(second, [Entry(body=stream("to second"))])
    await store.request_cancel(second)
    await eventually(lambda: len(hears_first.frames) == 1 and hears_second.commands == ["cancel"],
                     what="both feeds")
    assert [json.loads(f)["content"] for f in hears_first.frames] == ["to first"]
    assert [json.loads(f)["content"] for f in hears_second.frames] == ["to second"]
    assert hears_first.commands == []


async def test_a_listener_on_another_store_instance_hears_appends(
    make_store: MakeStore, store_url: str | None
) -> None:
    """On Redis, a second hub's store sees the first one's writes (memory: same instance)."""
    writer = await make_store()
    reader = writer if store_url is None else await make_store()
    session_id = await create_running(writer)
    listener = Recorder()
    await reader.subscribe(session_id, listener)
    await writer.append(session_id, [Entry(body=stream("across hubs"))])
    await eventually(lambda: len(listener.frames) == 1, what="the frame on the other store")
    assert listener.frames == (await all_frames(reader, session_id))[-1:]


# --- shared_secret and ping -----------------------------------------------------------


async def test_shared_secret_first_candidate_wins(store: Store) -> None:
    assert await store.shared_secret("first") == "first"
    assert await store.shared_secret("second") == "first"


async def test_shared_secret_is_shared_by_every_redis_store(redis_url: str) -> None:
    one, two = RedisStore(redis_url), RedisStore(redis_url)
    try:
        assert await one.shared_secret("from-hub-1") == "from-hub-1"
        assert await two.shared_secret("from-hub-2") == "from-hub-1"
    finally:
        await one.close()
        await two.close()


async def test_redis_counts_open_sessions_made_before_it_kept_them(redis_url: str) -> None:
    """Sessions from before the open-sessions hash existed (a Redis a hub upgraded onto)
    count: the first start checked against the cap fills the hash from the owner's index."""
    store = RedisStore(redis_url)
    await store.start()
    try:
        done = await create_running(store)
        await create_running(store)
        await create(store)
        await store.append(done, [completed(1)])
        client = redis.Redis.from_url(redis_url)
        await client.delete(Layout.single().open_sessions("alice"))
        await client.aclose()
        assert await store.count_open("alice") == 2  # read from the sessions themselves
        with pytest.raises(TooManyOpenSessions):
            await store.create_session(new_session(), quota=StartQuota(max_open=2))
        assert await store.count_open("alice") == 2  # from the hash, filled now
        assert (await store.create_session(new_session(), quota=StartQuota(max_open=3)))[1]
        assert await store.count_open("alice") == 3
    finally:
        await store.close()


async def test_ping_answers(store: Store) -> None:
    assert await store.ping() is True


# --- unicode --------------------------------------------------------------------------


async def test_unicode_survives_byte_exact_through_log_feed_and_record(store: Store) -> None:
    session_id = await create_running(store, inputs={"subject": UNICODE_TEXT})
    listener = Recorder()
    await store.subscribe(session_id, listener)
    bodies = [stream(UNICODE_TEXT), stream("plain"), stream(UNICODE_TEXT[::-1])]
    state = {"draft": UNICODE_TEXT, UNICODE_TEXT[:8]: "key"}
    await store.append(session_id, [
        *(Entry(body=b) for b in bodies),
        Entry(set={"state": json.dumps(state, ensure_ascii=False)},
              journal={"step:ü": json.dumps(UNICODE_TEXT, ensure_ascii=False)}),
        open_confirm("r-ü", prompt=UNICODE_TEXT, scope="scope 👋"),
    ])
    frames = await all_frames(store, session_id)
    assert frames[2:5] == [frame_with_seq(n + 3, b) for n, b in enumerate(bodies)]
    assert json.loads(frames[2])["content"] == UNICODE_TEXT
    assert all("\n" not in f and "\r" not in f for f in frames)  # the feed splits on "\n"
    await eventually(lambda: len(listener.frames) == len(frames) - 2, what="the feed")
    assert listener.frames == frames[2:]
    record = await store.get_session(session_id)
    assert record is not None
    assert record.session.inputs == {"subject": UNICODE_TEXT}
    assert record.session.state == state
    assert [(r.request_id, r.prompt) for r in record.session.pending] == [("r-ü", UNICODE_TEXT)]
    assert json.loads((await store.journal(session_id))["step:ü"]) == UNICODE_TEXT
    assert await store.emit_counts(session_id) == {"scope 👋": 1}
    recorded, body = answer("r-ü", True, by=UNICODE_TEXT)
    assert await store.resolve_request(session_id, "r-ü", answer=recorded,
                                       body=body) == "ok"
    assert (await store.answers(session_id))["r-ü"] == recorded
    frames = await all_frames(store, session_id)
    assert json.loads(frames[-2])["by"] == UNICODE_TEXT


# --- both stores agree ----------------------------------------------------------------


async def _script(store: Store, session: NewSession) -> None:
    """One session's life, written the same way to any store."""
    await store.create_session(session, idempotency_key="key", fingerprint="fp")
    await store.append(session.id, [Entry(set={"status": "running"})], runner="hub-1")
    await store.append(session.id, [Entry(body=stream(UNICODE_TEXT), emit_scope="main")])
    await store.append(session.id, [open_confirm("r1"), open_confirm("r2")])
    for request_id, value in (("r1", True), ("r1", False), ("r9", True), ("r2", False)):
        recorded, body = answer(request_id, value)
        await store.resolve_request(session.id, request_id, answer=recorded, body=body)
    await store.append(session.id, [Entry(set={"status": "waiting"}), Entry(body=stream("x"))])
    await store.request_cancel(session.id)
    await store.append(session.id, [completed({"ü": [1, 2.5, None]}), Entry(body=stream("no"))])


_TS = re.compile(r'"ts":"[^"]*"')


async def test_memory_and_redis_write_identical_frames(redis_url: str) -> None:
    memory = MemoryStore()
    redis_store = RedisStore(redis_url)
    await redis_store.start()
    try:
        session = new_session(inputs={"subject": UNICODE_TEXT})
        results = []
        for store in (memory, redis_store):
            await _script(store, session)
            record = await store.get_session(session.id)
            assert record is not None
            results.append((
                [_TS.sub('"ts":""', f) for f in await all_frames(store, session.id)],
                record.session.model_dump(exclude={"updated_at"}),
                (record.version, record.runner, record.cancel_requested, record.requests),
                await store.journal(session.id),
                await store.emit_counts(session.id),
                sorted(await store.answers(session.id)),
            ))
        assert results[0] == results[1]
        assert len(results[0][0]) > 8
    finally:
        await redis_store.close()


# --- leases ------------------------------------------------------------------------------


async def test_a_new_session_is_leased_to_its_creator(make_store: MakeStore) -> None:
    """The creating runner holds the lease: another runner cannot claim it, nor is it orphaned."""
    store = await make_store(lease_seconds=30)
    session_id = await create(store, runner="hub-1")
    assert await store.claim(session_id, "hub-2") == "held"
    assert session_id not in await store.orphans(100)
    assert await store.renew("hub-1", [session_id]) == []
    assert await store.renew("hub-2", [session_id]) == [session_id]


async def test_an_expired_lease_is_an_orphan_that_exactly_one_runner_claims(
    make_store: MakeStore,
) -> None:
    """After the lease runs out the session is listed as an orphan; the first claim wins,
    moves the record's runner and fences the old runner's writes."""
    # Long enough that the winner's fresh lease cannot run out before the second claim
    # on a loaded machine (at 50 ms it did, on the cluster, and the second claim won too).
    store = await make_store(lease_seconds=1.0)
    session_id = await create_running(store, runner="hub-1")
    await eventually(lambda: _contains(store.orphans(100), session_id), what="orphan")
    outcomes = [await store.claim(session_id, "hub-2"), await store.claim(session_id, "hub-3")]
    assert outcomes == ["ok", "held"]
    record = await store.get_session(session_id)
    assert record is not None and record.runner == "hub-2"
    with pytest.raises(LeaseLost):
        await store.append(session_id, [Entry(body=stream("late"))], runner="hub-1")
    await store.append(session_id, [Entry(body=stream("mine"))], runner="hub-2")
    assert await store.renew("hub-1", [session_id]) == [session_id]


async def test_a_renewed_lease_outlives_its_length(make_store: MakeStore) -> None:
    """A short lease renewed for several times its length is never an orphan and another
    runner's claim is ``held`` all along; once renewal stops it runs out as it should."""
    lease = 300 * MS
    store = await make_store(lease_seconds=lease)
    session_id = await create_running(store, runner="hub-1")
    started = time.monotonic()
    rounds = 0
    # Each check comes right after a renewal, so a slow machine cannot make the lease run
    # out between the two; but the loop outlasts the lease, so a renewal that does not
    # extend it is caught.
    while time.monotonic() - started < 3 * lease or rounds < 3:
        assert await store.renew("hub-1", [session_id]) == []
        assert session_id not in await store.orphans(100), f"orphaned after {rounds} renewals"
        assert await store.claim(session_id, "hub-2") == "held"
        rounds += 1
        await asyncio.sleep(lease / 4)
    record = await store.get_session(session_id)
    assert record is not None and record.runner == "hub-1"
    await eventually(lambda: _contains(store.orphans(100), session_id), what="orphan")
    assert await store.claim(session_id, "hub-2") == "ok"


async def test_release_lets_another_runner_claim_at_once(make_store: MakeStore) -> None:
    """A released lease (graceful shutdown) is claimable without waiting for the expiry."""
    store = await make_store(lease_seconds=30)
    session_id = await create_running(store, runner="hub-1")
    assert await store.release("hub-2", [session_id]) == 0  # not hub-2's to release
    assert await store.claim(session_id, "hub-2") == "held"
    assert await store.release("hub-1", [session_id]) == 1
    assert session_id in await store.orphans(100)
    assert await store.claim(session_id, "hub-2") == "ok"


async def test_a_finished_session_has_no_lease(make_store: MakeStore) -> None:
    """Reaching a terminal status drops the lease: nothing to adopt, nothing to claim."""
    store = await make_store(lease_seconds=0.01)
    session_id = await create_running(store, runner="hub-1")
    await store.append(session_id, [Entry(set={"status": "completed"})])
    assert session_id not in await store.orphans(100)
    assert await store.claim(session_id, "hub-2") == "finished"
    assert await store.claim("no-such-session", "hub-2") == "gone"


async def _contains(orphans: Any, session_id: str) -> bool:
    return session_id in await orphans


# --- forks -------------------------------------------------------------------------------


async def test_fork_seed_cuts_the_journal_and_answers_at_a_seq(store: Store) -> None:
    """fork_seed keeps exactly the journal entries and answers written at or before at_seq."""
    session_id = await create_running(store)
    await store.append(session_id, [Entry(journal={"step1": json.dumps({"kind": "step"})})])
    seq_after_step = (await store.read_events(session_id, after=0, limit=100)).last_seq
    await store.append(session_id, [open_confirm("r1")])
    request_seq = (await store.read_events(session_id, after=0, limit=100)).last_seq - 1
    answered = event_body(RequestAnsweredEvent(
        seq=0, ts=now_iso(), request_id="r1", kind="confirm", value=True, by="alice"))
    assert await store.resolve_request(
        session_id, "r1", answer=RecordedAnswer(expired=False, value=True), body=answered
    ) == "ok"
    at_step = await store.fork_seed(session_id, at_seq=seq_after_step)
    assert set(at_step.journal) == {"step1"} and at_step.answers == {}
    at_request = await store.fork_seed(session_id, at_seq=request_seq)
    assert set(at_request.journal) == {"step1", "ask:r1"} and at_request.answers == {}
    now = await store.fork_seed(session_id, at_seq=10**9)
    assert set(now.answers) == {"r1"}


async def test_a_seeded_session_starts_with_the_seed(store: Store) -> None:
    """create_session(seed=) pre-fills the new session's journal and answers."""
    seed = Seed(journal={"step1": '{"kind":"step"}'},
                answers={"r1": RecordedAnswer(expired=False, value=True, by="u", at="t")})
    session_id, created, _ = await store.create_session(new_session(), seed=seed)
    assert created
    assert await store.journal(session_id) == seed.journal
    assert await store.answers(session_id) == seed.answers


async def test_owned_by_lists_the_unfinished_sessions_a_runner_holds(make_store: MakeStore) -> None:
    """owned_by names the unfinished sessions recorded under a runner, live lease or not."""
    store = await make_store(lease_seconds=30)
    mine = await create_running(store, runner="hub-1")
    theirs = await create_running(store, runner="hub-2")
    done = await create_running(store, runner="hub-1")
    await store.append(done, [Entry(set={"status": "completed"})])
    assert await store.owned_by("hub-1") == [mine]
    assert await store.owned_by("hub-2") == [theirs]
    assert await store.owned_by("hub-3") == []


async def test_a_batch_appended_twice_lands_once(store: Store) -> None:
    """A retried batch (same token: its first reply was lost) is not applied again."""
    session_id = await create_running(store)
    first = await store.append(session_id, [Entry(body=stream("a")), Entry(body=stream("b"))],
                               batch="w1:1")
    again = await store.append(session_id, [Entry(body=stream("a")), Entry(body=stream("b"))],
                               batch="w1:1")
    assert again == first
    after = await store.append(session_id, [Entry(body=stream("c"))], batch="w1:2")
    assert after == first + 1
    events = (await store.read_events(session_id, after=0, limit=100)).frames
    assert [json.loads(f).get("content") for f in events if '"stream"' in f] == ["a", "b", "c"]


# --- the outbox: notifications queued with their events, claimed and released ----------


def notices(session_id: str) -> SessionNotices:
    return SessionNotices(session_id, "demo", "alice")


def confirm_request(request_id: str) -> Request:
    return Request(request_id=request_id, kind="confirm", prompt="Go on?", created_at=now_iso())


async def test_a_notification_is_queued_with_its_event_and_numbered_like_it(
    store: Store,
) -> None:
    session_id = await create_running(store)
    opened = open_confirm("r1")
    created = notices(session_id).request_created(confirm_request("r1"))
    await store.append(session_id, [replace(opened, notify=(created,))])
    recorded, body = answer("r1", True)
    answered = notices(session_id).request_answered(confirm_request("r1"), by="alice",
                                                    at=recorded.at)
    assert await store.resolve_request(
        session_id, "r1", answer=recorded, body=body, notify=answered
    ) == "ok"
    finished = notices(session_id).finished("completed", at=now_iso())
    await store.append(session_id, [replace(completed(1), notify=(finished,))])
    events = {e["type"]: e["seq"] for e in parsed(await all_frames(store, session_id))}
    queued = [item.notification for item in await store.read_outbox(session_id, limit=10)]
    assert [(n.id, n.type, n.seq) for n in queued] == [
        (created.id, "request.created", events["request_confirmation"]),
        (answered.id, "request.answered", events["request_answered"]),
        (finished.id, "session.completed", events["task_completed"]),
    ]
    assert queued[1].answered_by == "alice"
    assert queued[1].request is not None and queued[1].request.request_id == "r1"
    assert all(item.deliveries == {} for item in await store.read_outbox(session_id, limit=10))


async def test_nothing_is_queued_for_a_refused_answer_a_repeated_batch_or_a_finished_session(
    store: Store,
) -> None:
    session_id = await create_running(store)
    note = notices(session_id).make("session.completed")
    assert await store.append(session_id, [replace(completed(1), notify=(note,))],
                              batch="b1") == 4
    # a retried batch (its reply was lost) applies nothing, so queues nothing again
    await store.append(session_id, [replace(completed(1), notify=(note,))], batch="b1")
    # entries after the terminal one are skipped, their notifications too
    await store.append(session_id, [Entry(body=stream("late"), notify=(note,))])
    recorded, body = answer("nope", True)
    assert await store.resolve_request(
        session_id, "nope", answer=recorded, body=body, notify=note
    ) == "session_finished"
    assert [i.notification.id for i in await store.read_outbox(session_id, limit=10)] == [note.id]


async def test_one_dispatcher_at_a_time_holds_an_outbox_and_its_writes(store: Store) -> None:
    session_id = await create_running(store)
    note = notices(session_id).make("session.completed")
    await store.append(session_id, [replace(completed(1), notify=(note,))])
    assert await store.claim_outbox("d1", limit=10, lease_seconds=10) == [session_id]
    assert await store.claim_outbox("d2", limit=10, lease_seconds=10) == []
    state = DeliveryState("retrying", 1, time.time(), next_at=time.time() + 60)
    assert not await store.save_delivery(session_id, "d2", note.id, "webhook:a", state)
    assert await store.save_delivery(session_id, "d1", note.id, "webhook:a", state)
    [item] = await store.read_outbox(session_id, limit=10)
    assert item.deliveries == {"webhook:a": state}
    assert await store.renew_outbox("d2", [session_id], lease_seconds=10) == [session_id]
    assert await store.renew_outbox("d1", [session_id], lease_seconds=10) == []


async def test_an_expired_outbox_claim_is_due_for_another_dispatcher(store: Store) -> None:
    session_id = await create_running(store)
    await store.enqueue_notification(notices(session_id).make("request.reminder"))
    assert await store.claim_outbox("d1", limit=10, lease_seconds=0.05) == [session_id]

    async def claimed_by_d2() -> bool:
        return await store.claim_outbox("d2", limit=10, lease_seconds=10) == [session_id]

    await eventually(claimed_by_d2, what="the claim to run out")
    assert await store.renew_outbox("d1", [session_id], lease_seconds=10) == [session_id]


async def test_release_drops_the_finished_head_and_is_due_again_after_the_delay(
    store: Store,
) -> None:
    session_id = await create_running(store)
    first, second = (notices(session_id).make("request.reminder") for _ in range(2))
    await store.enqueue_notification(first)
    await store.enqueue_notification(second)
    assert await store.claim_outbox("d1", limit=10, lease_seconds=10) == [session_id]
    items = await store.read_outbox(session_id, limit=10)
    done = DeliveryState("delivered", 1, time.time())
    await store.save_delivery(session_id, "d1", first.id, "webhook:a", done)
    finished = [OutboxItem(first, {"webhook:a": done})]
    await store.release_outbox(session_id, "d1", finished=finished, seen=len(items),
                               delay=0.3)
    [left] = await store.read_outbox(session_id, limit=10)
    assert left.notification.id == second.id and left.deliveries == {}
    assert await store.claim_outbox("d2", limit=10, lease_seconds=10) == []  # not yet due

    async def due() -> bool:
        return await store.claim_outbox("d2", limit=10, lease_seconds=10) == [session_id]

    await eventually(due, what="the retry delay to pass")
    await store.release_outbox(session_id, "d2", finished=[left], seen=1, delay=None)
    assert await store.read_outbox(session_id, limit=10) == []
    assert await store.claim_outbox("d3", limit=10, lease_seconds=10) == []  # empty: not due


async def test_a_notification_queued_during_a_claim_is_due_at_once_after_release(
    store: Store,
) -> None:
    session_id = await create_running(store)
    first = notices(session_id).make("request.reminder")
    await store.enqueue_notification(first)
    assert await store.claim_outbox("d1", limit=10, lease_seconds=10) == [session_id]
    seen = await store.read_outbox(session_id, limit=10)
    later = notices(session_id).make("request.escalated")
    await store.enqueue_notification(later)
    assert await store.claim_outbox("d2", limit=10, lease_seconds=10) == []  # still held
    await store.release_outbox(session_id, "d1", finished=[], seen=len(seen), delay=3600)
    assert await store.claim_outbox("d2", limit=10, lease_seconds=10) == [session_id]
    assert [i.notification.id for i in await store.read_outbox(session_id, limit=10)] == [
        first.id, later.id]


async def test_a_release_by_a_dispatcher_that_lost_the_claim_changes_nothing(
    store: Store,
) -> None:
    session_id = await create_running(store)
    note = notices(session_id).make("request.reminder")
    await store.enqueue_notification(note)
    assert await store.claim_outbox("d1", limit=10, lease_seconds=10) == [session_id]
    await store.release_outbox(session_id, "d2", finished=[OutboxItem(note)], seen=1,
                               delay=None)
    assert [i.notification.id for i in await store.read_outbox(session_id, limit=10)] == [note.id]


async def test_queuing_a_notification_wakes_every_dispatcher(
    make_store: MakeStore, store_url: str | None
) -> None:
    """Every dispatcher of the store hears it (with Redis, through another connection)."""
    one = await make_store()
    two = await make_store() if store_url else one
    heard = Recorder()
    await two.subscribe(OUTBOX, heard)
    session_id = await create_running(one)
    await one.enqueue_notification(notices(session_id).make("request.reminder"))
    await eventually(lambda: OUTBOX_COMMAND in heard.commands, what="the outbox command")
