"""Clients that outlive hub processes: a person whose cookie works on every hub, and a
``Follower`` that watches one session across crashes, restarts and failovers the way a
browser does (reconnect with ``after=`` and capped, jittered backoff), checking every
frame it reads with :class:`~tests.support.tabs.Tab`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, overload

import httpx
import redis.asyncio as aioredis
import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from tests.support.tabs import TERMINAL, Tab
from tests.support.timing import MS, eventually
from tether.store.connect import close_client, redis_client
from tether.store.keys import layout_for

Frame = dict[str, Any]


class Reachable(Protocol):
    """Where a person sends HTTP requests: a hub process, or a proxy in front of hubs."""

    @property
    def base_url(self) -> str: ...

@dataclass
class Person:
    """One browser identity. Every hub process of a test shares TETHER_SECRET, so the
    cookie the first hub issued is honoured by all of them."""

    cookies: dict[str, str]

    @classmethod
    async def sign_in(cls, hub: Reachable) -> Person:
        async with httpx.AsyncClient(base_url=hub.base_url, timeout=10) as http:
            response = await http.get("/api/tasks")
            assert response.status_code == 200, response.text
            return cls(dict(http.cookies.items()))

    @property
    def cookie_header(self) -> dict[str, str]:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}

    def http(self, hub: Reachable) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=hub.base_url, headers=self.cookie_header, timeout=10)

    async def start(self, hub: Reachable, task: str, inputs: dict[str, Any]) -> str:
        async with self.http(hub) as http:
            response = await http.post("/api/sessions", json={"task": task, "inputs": inputs})
        assert response.status_code == 201, response.text
        session_id: str = response.json()["id"]
        return session_id

    @overload
    async def session(self, hub: Reachable, session_id: str) -> Frame: ...

    @overload
    async def session(
        self, hub: Reachable, session_id: str, *, unavailable_ok: bool
    ) -> Frame | None: ...

    async def session(
        self, hub: Reachable, session_id: str, *, unavailable_ok: bool = False
    ) -> Frame | None:
        """``GET /api/sessions/{id}``; with ``unavailable_ok`` a 503 (the store is away,
        for a poll to try again) is None."""
        async with self.http(hub) as http:
            response = await http.get(f"/api/sessions/{session_id}")
        if unavailable_ok and response.status_code == 503:
            return None
        assert response.status_code == 200, response.text
        session: Frame = response.json()
        return session

    async def events(self, hub: Reachable, session_id: str) -> list[Frame]:
        """The whole stored log, through ``GET .../events`` (paged)."""
        out: list[Frame] = []
        async with self.http(hub) as http:
            while True:
                after = out[-1]["seq"] if out else 0
                response = await http.get(
                    f"/api/sessions/{session_id}/events", params={"after": after}
                )
                assert response.status_code == 200, response.text
                page = response.json()
                out.extend(page["events"])
                if not page["events"] or out[-1]["seq"] >= page["last_seq"]:
                    return out

    async def answer(
        self, hub: Reachable, session_id: str, request_id: str, value: Any
    ) -> httpx.Response:
        async with self.http(hub) as http:
            return await http.post(
                f"/api/sessions/{session_id}/requests/{request_id}", json={"value": value}
            )

    async def pending(
        self, hub: Reachable, session_id: str, kind: str, *, timeout_ms: float = 10_000
    ) -> Frame:
        """Wait until exactly one request of ``kind`` is open; return it."""
        found: list[Frame] = []

        async def check() -> bool:
            nonlocal found
            session = await self.session(hub, session_id, unavailable_ok=True)
            if session is None:
                return False
            assert session["status"] not in TERMINAL, f"session ended early: {session}"
            found = [r for r in session["pending"] if r["kind"] == kind]
            return len(found) == 1

        await eventually(check, timeout_ms=timeout_ms, what=f"an open {kind} request")
        return found[0]

    async def finished(
        self, hub: Reachable, session_id: str, *, timeout_ms: float = 20_000
    ) -> Frame:
        latest: Frame = {}

        async def check() -> bool:
            nonlocal latest
            session = await self.session(hub, session_id, unavailable_ok=True)
            latest = session or latest
            return session is not None and session["status"] in TERMINAL

        await eventually(check, timeout_ms=timeout_ms, what="a finished session")
        return latest


@dataclass
class Follower:
    """Watches one session until it finishes, reconnecting whenever the socket drops.

    ``url`` is asked for the hub's WebSocket base on every attempt, so a follower finds a
    hub restarted on a new port. Each connection is a fresh :class:`Tab` (``after`` = the
    last seq this follower has), so framing, replay and consecutive seqs are checked on
    every connection, and ``events`` across all of them must be exactly 1..L.
    """

    url: Callable[[], str]
    session_id: str
    person: Person
    # What it shows: every event since the last reset, in order.
    events: list[Frame] = field(default_factory=list)
    epoch: str | None = None  # the log's epoch, as the hub last named it
    # What each reset voided (the store lost some of it): one list per reset.
    voided: list[list[Frame]] = field(default_factory=list)
    # One entry per connection that ended before the session did: the hub's close code,
    # or None when the TCP connection dropped without a close frame (websockets' 1006).
    close_codes: list[int | None] = field(default_factory=list)
    connections: int = 0
    failed_connects: int = 0
    kicks: int = 0
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    _ws: Any = None
    _kicked: bool = False
    _task: asyncio.Task[None] | None = None

    @property
    def last_seq(self) -> int:
        return int(self.events[-1]["seq"]) if self.events else 0

    def start(self) -> Follower:
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        backoff = 0.02
        while not self.finished.is_set():
            after = self.last_seq
            epoch = "" if self.epoch is None else f"&epoch={self.epoch}"
            try:
                ws = await websockets.connect(
                    f"{self.url()}/ws/sessions/{self.session_id}?after={after}{epoch}",
                    additional_headers=self.person.cookie_header,
                    max_queue=None, open_timeout=5000 * MS, close_timeout=1000 * MS,
                )
            except (OSError, InvalidHandshake, TimeoutError):
                self.failed_connects += 1
                await asyncio.sleep(backoff * (1 + random.random()))
                backoff = min(backoff * 2, 0.5)
                continue
            self._ws = ws
            self._kicked = False
            self.connections += 1
            tab = Tab(ws, after)
            try:
                await self._read(tab)
                if self._kicked:
                    # The kick landed after the terminal frame had already arrived: the
                    # buffered frames were still read and the connection ended normally,
                    # so this kick dropped nothing and expects no close code.
                    self.kicks -= 1
            except ConnectionClosed as exc:
                self.close_codes.append(exc.rcvd.code if exc.rcvd is not None else None)
            except TimeoutError:  # a silent hub: drop the socket and come back
                self.close_codes.append(None)
            finally:
                self._ws = None
                with contextlib.suppress(Exception):
                    await ws.close()
            if tab.events:  # the connection was worth it: come back at once
                backoff = 0.02
            elif not self.finished.is_set():  # e.g. 1013 while the store is down
                await asyncio.sleep(backoff * (1 + random.random()))
                backoff = min(backoff * 2, 0.5)

    async def _read(self, tab: Tab) -> None:
        while True:
            frame = await tab.read(timeout=30.0)
            if frame.get("type") == "replay_start":
                self.epoch = tab.epoch
                if tab.reset:  # as the app does: drop the view, take the log again
                    self.voided.append(self.events)
                    self.events = []
            if "seq" not in frame:
                continue
            self.events.append(frame)
            if frame["type"] == "status" and frame["status"] in TERMINAL:
                self.finished.set()
                return

    def kick(self) -> bool:
        """Drop the connection without a close handshake, like a network failure."""
        ws = self._ws
        # A kicked connection still hands out the frames it had buffered before its reader
        # sees the drop; kicking it again would count a second drop that never happens.
        if ws is None or self._kicked:
            return False
        ws.transport.abort()
        self.kicks += 1
        self._kicked = True
        return True

    def saw(self, type_: str, **match: Any) -> bool:
        return any(
            e["type"] == type_ and all(e.get(k) == v for k, v in match.items())
            for e in self.events
        )

    async def wait_for(self, type_: str, *, timeout_ms: float = 10_000, **match: Any) -> None:
        await eventually(
            lambda: self.saw(type_, **match), timeout_ms=timeout_ms,
            what=f"{type_} {match} on the follower",
        )

    async def wait_finished(self, timeout_ms: float = 20_000) -> None:
        await asyncio.wait_for(self.finished.wait(), timeout_ms * MS)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def assert_exactly_once(seen: list[Frame], stored: list[Frame], who: str = "client") -> None:
    """``seen`` is the whole stored log, 1..L: no gap, no duplicate, nothing reordered,
    and every event is the stored one."""
    seqs = [e["seq"] for e in seen]
    expected = list(range(1, len(stored) + 1))
    assert [e["seq"] for e in stored] == expected, "the stored log itself has a gap"
    assert seqs == expected, f"{who} saw {_describe_gaps(seqs, len(stored))}"
    assert seen == stored, f"{who} saw events that differ from the stored ones"


def _describe_gaps(seqs: list[int], last: int) -> str:
    dups = sorted({s for s in seqs if seqs.count(s) > 1})
    missing = sorted(set(range(1, last + 1)) - set(seqs))
    return f"{len(seqs)} events for 1..{last}; duplicated {dups[:10]}, missing {missing[:10]}"


async def step_calls(redis_url: str, session_id: str) -> dict[str, int]:
    """How often each step body of ``durable_tasks.durable`` ran, by name."""
    return await counters(redis_url, f"calls:{session_id}:")


def _client(redis_url: str) -> aioredis.Redis:
    """A client of ``redis_url`` as a hub makes it: one Redis, Sentinel or a cluster."""
    return redis_client(redis_url, client_name="tether-test", max_connections=4)


async def counters(redis_url: str, prefix: str) -> dict[str, int]:
    """The counters a task of ``durable_tasks`` keeps in Redis under ``prefix``, by the
    rest of their key (on a cluster, from every node)."""
    client = _client(redis_url)
    try:
        keys = [str(k) async for k in client.scan_iter(match=f"{prefix}*")]
        values = [await client.get(k) for k in keys]
        return {
            k.removeprefix(prefix): int(str(v)) for k, v in zip(keys, values, strict=True)
        }
    finally:
        await close_client(client)


async def stored_log(redis_url: str, session_id: str) -> list[Frame]:
    """The session's event log as Redis holds it, read without any hub (one may be dead)."""
    client = _client(redis_url)
    try:
        key = layout_for(redis_url).session(session_id).events
        entries = await client.xrange(key) or []
        return [json.loads(str(fields["f"])) for _, fields in entries if fields]
    finally:
        await close_client(client)


async def journal_keys(redis_url: str, session_id: str) -> set[str]:
    """The keys of the session's journal as Redis holds it (``m1[0]``: item 0 of the
    first map is recorded)."""
    client = _client(redis_url)
    try:
        key = layout_for(redis_url).session(session_id).journal
        return {str(k) for k in await client.hkeys(key)}
    finally:
        await close_client(client)


async def runner_of(redis_url: str, session_id: str) -> str | None:
    """The hub the store names as the session's runner (the lease holder)."""
    client = _client(redis_url)
    try:
        runner = await client.hget(layout_for(redis_url).session(session_id).rec, "runner")
        return None if runner is None else str(runner)
    finally:
        await close_client(client)


def durable_calls(steps: int = 3, items: int = 6) -> dict[str, int]:
    """What ``step_calls`` must read after a ``durable`` run: every body once, except
    ``flaky``, whose first attempt fails by design."""
    calls = {f"prepare{i}": 1 for i in range(steps)}
    calls.update({f"item{i}": 1 for i in range(items)})
    calls["flaky"] = 2
    return calls


def assert_asked_once(log: list[Frame]) -> None:
    """No question was asked twice: one request event per request id, each answered once."""
    asked = [
        e["request_id"] for e in log
        if e["type"] in ("request_user_input", "request_confirmation")
        or (e["type"] == "task_failed" and e["can_retry"])
    ]
    answered = [e["request_id"] for e in log if e["type"] == "request_answered"]
    assert len(asked) == len(set(asked)), f"a request was opened twice: {asked}"
    assert sorted(answered) == sorted(asked), f"asked {asked}, answered {answered}"


def elapsed_since(start: float) -> float:
    return round(time.monotonic() - start, 3)
