"""Watching sessions the way a browser does: WebSocket tabs that check every frame they
read, and HTTP helpers that poll a session until a condition holds (never a fixed sleep).
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from tests.support.server import User
from tests.support.timing import MS, eventually

Frame = dict[str, Any]
TERMINAL = ("completed", "failed", "cancelled")


class Tab:
    """One WebSocket on a session. Every frame read is checked against the protocol:
    ``replay_start`` first, numbered events consecutive, ``replay_complete`` before any
    live event. A ``snapshot`` stands in for trimmed events: it jumps ahead (its seq is
    the one just before the oldest kept event), and the next event is its seq + 1. A
    ``replay_start`` with ``reset`` (the store lost what this tab's cursor counts) starts
    the numbering again from its ``after``, 0.
    """

    def __init__(self, ws: ClientConnection, after: int) -> None:
        self.ws = ws
        self.after = after
        self.events: list[Frame] = []  # numbered events, in the order read
        self.controls: list[Frame] = []  # control frames, in the order read
        self.last_seq = after
        self.replay_last: int | None = None  # from replay_start
        self.replay_done = False
        self.started = False
        self.reset = False  # the hub said the cursor this tab came with is void
        self.epoch: str | None = None  # the log's epoch, from replay_start

    @classmethod
    async def open(cls, user: User, session_id: str, *, after: int = 0, **kwargs: Any) -> Tab:
        """Connect a tab. By default its incoming queue is unbounded: with a bounded one,
        a tab that stops reading pauses the TCP reads, and closing it then waits the
        whole close timeout for a close frame stuck behind unread data."""
        kwargs.setdefault("max_queue", None)
        return cls(await user.connect(session_id, after=after, **kwargs), after)

    async def read(self, timeout: float = 5.0) -> Frame:
        raw = await asyncio.wait_for(self.ws.recv(), timeout * 1000 * MS)
        assert isinstance(raw, str), "the hub sends text frames only"
        frame: Frame = json.loads(raw)
        self._check(frame)
        return frame

    def _check(self, frame: Frame) -> None:
        kind = frame.get("type")
        if not self.started:
            assert kind == "replay_start", f"first frame must be replay_start, got {frame}"
            self.epoch = frame.get("epoch")
            if frame.get("reset"):
                assert frame["after"] == 0, frame
                self.reset, self.after, self.last_seq = True, 0, 0
            assert frame["after"] == self.after
            self.replay_last = frame["last_seq"]
            self.started = True
            self.controls.append(frame)
            return
        if "seq" not in frame:
            if kind == "replay_complete":
                assert not self.replay_done
                assert frame["last_seq"] >= (self.replay_last or 0)
                assert self.last_seq == frame["last_seq"], (self.last_seq, frame)
                self.replay_done = True
            self.controls.append(frame)
            return
        seq = frame["seq"]
        if kind == "snapshot":
            assert seq > self.last_seq, f"snapshot {seq} does not skip past {self.last_seq}"
        else:
            assert seq == self.last_seq + 1, f"seq {seq} after {self.last_seq}: gap or dup"
            # Stored events up to replay_start's last_seq come before replay_complete,
            # everything later (live) after it.
            assert self.replay_done == (seq > (self.replay_last or 0)), (
                f"event {seq} on the wrong side of replay_complete "
                f"(replay to {self.replay_last}, complete={self.replay_done})"
            )
        self.last_seq = seq
        self.events.append(frame)

    async def until(
        self, type_: str, *, timeout: float = 5.0, where: Callable[[Frame], bool] | None = None,
        **match: Any,
    ) -> Frame:
        """Read until a frame of ``type_`` matching ``match`` (and ``where``) arrives."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout * 1000 * MS
        while True:
            frame = await self.read(max(0.01, (deadline - loop.time()) / (1000 * MS)))
            if frame.get("type") == type_ and all(frame.get(k) == v for k, v in match.items()):
                if where is None or where(frame):
                    return frame

    async def seen_or_until(
        self, type_: str, *, timeout: float = 5.0, where: Callable[[Frame], bool] | None = None,
        **match: Any,
    ) -> Frame:
        """Like :meth:`until`, but an event already read counts too."""
        for frame in self.events:
            if frame["type"] == type_ and all(frame.get(k) == v for k, v in match.items()):
                if where is None or where(frame):
                    return frame
        return await self.until(type_, timeout=timeout, where=where, **match)

    async def send(self, **frame: Any) -> None:
        await self.ws.send(json.dumps(frame))

    async def ping_pong(self) -> None:
        """The connection still answers: a ping gets a pong."""
        await self.send(type="ping")
        await self.until("pong")

    async def closed_with(self, timeout: float = 5.0) -> int | None:
        """Read (and check) whatever is left until the hub closes; return the close code."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout * 1000 * MS
        try:
            while True:
                await self.read(max(0.01, (deadline - loop.time()) / (1000 * MS)))
        except ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd is not None else None

    def of_type(self, type_: str) -> list[Frame]:
        return [e for e in self.events if e["type"] == type_]


async def close_code(ws: ClientConnection, timeout: float = 5.0) -> int | None:
    """Read until the hub closes ``ws``; return the code it closed with."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), timeout * 1000 * MS)
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd is not None else None


async def connect_raw(user: User, session_id: str, query: str, **kwargs: Any) -> ClientConnection:
    """A WebSocket with ``user``'s cookie and an arbitrary query string."""
    ws = await websockets.connect(
        f"{user.hub.ws_url}/ws/sessions/{session_id}{query}",
        additional_headers=user.cookie_header, **kwargs,
    )
    user.sockets.append(ws)
    return ws


def small_buffer_socket(base_url: str, rcvbuf: int = 4096) -> socket.socket:
    """A connected TCP socket whose receive buffer is tiny, so the hub's sends back up."""
    host, port = base_url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect((host, int(port)))
    return sock


async def get_session(user: User, session_id: str) -> Frame:
    response = await user.http.get(f"/api/sessions/{session_id}")
    assert response.status_code == 200, response.text
    session: Frame = response.json()
    return session


async def wait_pending(
    user: User, session_id: str, kind: str, *, count: int = 1, timeout_ms: float = 5000
) -> list[Frame]:
    """Poll ``GET /api/sessions/{id}`` until ``count`` requests of ``kind`` are open."""
    found: list[Frame] = []

    async def check() -> bool:
        nonlocal found
        session = await get_session(user, session_id)
        found = [r for r in session["pending"] if r["kind"] == kind]
        assert session["status"] not in TERMINAL, f"session ended early: {session}"
        return len(found) >= count

    await eventually(check, timeout_ms=timeout_ms, what=f"{count} open {kind} request(s)")
    return found


async def wait_status(
    user: User, session_id: str, statuses: tuple[str, ...] = TERMINAL,
    *, timeout_ms: float = 5000,
) -> Frame:
    """Poll until the session's status is one of ``statuses``; return the session."""
    latest: Frame = {}

    async def check() -> bool:
        nonlocal latest
        latest = await get_session(user, session_id)
        return latest["status"] in statuses

    await eventually(check, timeout_ms=timeout_ms, what=f"status in {statuses}")
    return latest


async def all_events(user: User, session_id: str, after: int = 0) -> list[Frame]:
    """Every event after ``after`` through ``GET .../events``, paging until the end."""
    out: list[Frame] = []
    while True:
        response = await user.http.get(
            f"/api/sessions/{session_id}/events", params={"after": after}
        )
        assert response.status_code == 200, response.text
        page = response.json()
        out.extend(page["events"])
        if not page["events"] or page["events"][-1]["seq"] >= page["last_seq"]:
            return out
        after = page["events"][-1]["seq"]


async def answer(user: User, session_id: str, request_id: str, value: Any) -> Any:
    """POST an answer; return the httpx response."""
    return await user.http.post(
        f"/api/sessions/{session_id}/requests/{request_id}", json={"value": value}
    )


async def slow_tab_closed_4008(user: User, sid: str) -> Tab:
    """A tab that reads nothing (a tiny TCP receive buffer and a one-message incoming
    queue) while the task streams, once its "Go?" confirmation is answered; read it at the end,
    up to its 4008 close."""
    slow_ws = await websockets.connect(
        f"{user.hub.ws_url}/ws/sessions/{sid}?after=0",
        sock=small_buffer_socket(user.hub.base_url), max_queue=1,
        additional_headers=user.cookie_header, max_size=None,
    )
    user.sockets.append(slow_ws)
    slow = Tab(slow_ws, 0)
    go = await slow.seen_or_until("request_confirmation")
    if not slow.replay_done:
        await slow.until("replay_complete")
    assert (await answer(user, sid, go["request_id"], True)).status_code == 200
    return slow
