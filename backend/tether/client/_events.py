"""Following one session's events over its WebSocket, across every reconnect.

:class:`Cursor` is the part that must be exactly right, with no I/O: given the numbered
events a connection delivers, it decides which to hand out so that every seq after the
starting point is handed out once, in order, and none is skipped (a ``snapshot`` stands
for trimmed events and moves the cursor to its own seq, PROTOCOL.md §4 "History cap").
It also holds the log's epoch: a ``replay_start`` with ``reset`` (the store lost events
it had handed out, PROTOCOL.md §4 "Epochs") moves it back to the log's start.

:class:`EventStream` is the asyncio shell around it: it connects with ``after=`` the
cursor, reads frames, and when the socket drops or closes with a code that reconnecting
can help (everything but :data:`~tether.client._errors.FINAL_CLOSES`) connects again with
capped, jittered backoff, from where the cursor is.
"""

from __future__ import annotations

import contextlib
import json
import time
from enum import Enum
from types import TracebackType
from typing import Any, Protocol

import websockets
from pydantic import ValidationError
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from tether.backoff import Backoff
from tether.client._errors import (
    FINAL_CLOSES,
    HubUnreachable,
    ProtocolError,
    StoreUnavailable,
    error_from_close,
    error_from_response,
)
from tether.closecodes import CloseCode
from tether.messages import (
    EVENT_ADAPTER,
    TERMINAL_STATUSES,
    Event,
    ReplayStart,
    Session,
    SnapshotEvent,
    StatusEvent,
)

OPEN_TIMEOUT = 10.0  # seconds for the TCP connect and the upgrade
# A close waits this long for the hub's close frame, which may sit behind frames this
# client has not read yet (its incoming queue is bounded, so the hub is not).
CLOSE_TIMEOUT = 2.0
GAPS_BEFORE_GIVING_UP = 3  # reconnects that each found the same hole in the log


class Take(Enum):
    """What to do with one numbered event: hand it out, drop it (seen), or reconnect."""

    YIELD = "yield"
    SKIP = "skip"
    GAP = "gap"


class Cursor:
    """The last seq handed out, and whether the session has ended. No I/O.

    Invariants: ``seq`` only grows, except at a reset; an event is YIELD only when it is
    ``seq + 1`` or a snapshot beyond ``seq``; anything at or below ``seq`` is SKIP (replay
    and live may overlap); anything further ahead is GAP, and the caller reconnects from
    ``seq``. ``epoch`` is the epoch ``seq`` counts in (None until a hub named one).
    """

    def __init__(self, after: int, epoch: str | None = None) -> None:
        self.seq = after
        self.epoch = epoch
        self.finished = False
        self.resets = 0

    def start(self, frame: ReplayStart) -> bool:
        """A connection's ``replay_start``: note its epoch; with ``reset``, what was handed
        out is void and the log is handed out again from ``frame.after`` (its start).
        True when it reset."""
        if frame.epoch is not None:
            self.epoch = frame.epoch
        if not frame.reset:
            return False
        self.seq = frame.after
        self.finished = False
        self.resets += 1
        return True

    def take(self, event: Event) -> Take:
        if event.seq <= self.seq:
            return Take.SKIP
        if isinstance(event, SnapshotEvent):
            self.seq = event.seq
            return Take.YIELD
        if event.seq != self.seq + 1:
            return Take.GAP
        self.seq = event.seq
        if isinstance(event, StatusEvent) and event.status in TERMINAL_STATUSES:
            self.finished = True  # the store writes the terminal status last
        return Take.YIELD


class StreamHub(Protocol):
    """What an :class:`EventStream` needs from its client."""

    def socket_url(self, session_id: str, after: int, epoch: str | None = None) -> str: ...

    async def socket_headers(self) -> dict[str, str]: ...

    async def get(self, session_id: str) -> Session: ...


class EventStream:
    """The events of one session after ``after``, as typed models, until it ends.

    Iterate it with ``async for``; it stops after the session's terminal ``status``
    event, or when :meth:`aclose` is called (``async with`` calls it). Control frames
    are read and dropped. Raises what :mod:`tether.client` names: ``NotAuthenticated``
    (close 4401), ``UnknownSession`` (4404), ``SocketClosed`` (1003, 1008, 1009, or a
    4xx at the upgrade), ``HubUnreachable`` when ``give_up_after`` seconds passed without
    a connection, ``ProtocolError`` for frames protocol v1 does not allow.

    When the hub says the store lost events this stream handed out (``replay_start``
    with ``reset``: a failover lost the log's tail, or Redis came back from an older
    backup), the stream hands out the log again from its start: the next event's seq is
    not above the last one's, :attr:`resets` grows and :attr:`epoch` changes. A consumer
    that keeps what it was handed rebuilds it from there.

    Attributes:
        connections: how many times it connected (1 + reconnects).
        close_codes: the close code of every connection that ended before the stream
            did (1006 for a drop without a close frame).
    """

    def __init__(
        self, hub: StreamHub, session_id: str, *, after: int = 0, epoch: str | None = None,
        give_up_after: float | None = None,
    ) -> None:
        if after < 0:
            raise ValueError("after must be >= 0")
        self.session_id = session_id
        self.connections = 0
        self.close_codes: list[int] = []
        self._hub = hub
        self._cursor = Cursor(after, epoch)
        self._give_up_after = give_up_after
        self._backoff = Backoff(first=0.05, cap=2.0)
        self._ws: ClientConnection | None = None
        self._replayed = False  # this connection reached replay_complete
        self._gaps = 0
        self._closed = False

    @property
    def last_seq(self) -> int:
        """The seq of the last event handed out (or ``after``): where a reconnect resumes."""
        return self._cursor.seq

    @property
    def epoch(self) -> str | None:
        """The epoch :attr:`last_seq` counts in (``after=`` and ``epoch=`` resume here)."""
        return self._cursor.epoch

    @property
    def resets(self) -> int:
        """How often the hub said the events handed out so far were void (see above)."""
        return self._cursor.resets

    def __aiter__(self) -> EventStream:
        return self

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop: close the socket; the iteration ends."""
        self._closed = True
        await self._drop_socket()

    async def __anext__(self) -> Event:
        while True:
            if self._closed or self._cursor.finished:
                await self.aclose()
                raise StopAsyncIteration
            ws = self._ws or await self._connect()
            try:
                raw = await ws.recv()
            except ConnectionClosed as exc:
                await self._closed_by_peer(exc)
                continue
            event = await self._read(raw)
            if event is None:
                continue
            take = self._cursor.take(event)
            if take is Take.YIELD:
                self._gaps = 0
                if self._cursor.finished:
                    await self.aclose()
                return event
            if take is Take.GAP:
                await self._refill(event.seq)

    async def _read(self, raw: str | bytes) -> Event | None:
        """The numbered event in ``raw``; None for a control frame (handled here)."""
        if not isinstance(raw, str):
            raise ProtocolError("protocol_error", "The hub sent a binary frame.")
        try:
            frame: dict[str, Any] = json.loads(raw)
        except ValueError as exc:
            raise ProtocolError("protocol_error", "The hub sent a frame that is not JSON.") from exc
        if "seq" in frame:
            try:
                return EVENT_ADAPTER.validate_python(frame)
            except ValidationError as exc:
                raise ProtocolError(
                    "protocol_error",
                    f"Event {frame.get('seq')} of type {frame.get('type')!r} is not one "
                    "protocol v1 names.",
                ) from exc
        if frame.get("type") == "replay_start":
            try:
                self._cursor.start(ReplayStart.model_validate(frame))
            except ValidationError as exc:
                raise ProtocolError("protocol_error", "The hub sent a bad replay_start.") from exc
        elif frame.get("type") == "replay_complete":
            self._replayed = True
            self._backoff.reset()
            await self._check_finished(int(frame.get("last_seq", 0)))
        return None

    async def _check_finished(self, last_seq: int) -> None:
        """A cursor at the end of a finished session's log gets no more events and the
        hub keeps the socket open, so ask the session once when the replay brought nothing
        new: ended there, the stream ends."""
        if last_seq > self._cursor.seq or self._cursor.seq == 0:
            return
        try:
            session = await self._hub.get(self.session_id)
        except (HubUnreachable, StoreUnavailable):
            return  # the socket will tell: events come, or it closes and we reconnect
        if session.status in TERMINAL_STATUSES and session.last_seq <= self._cursor.seq:
            self._cursor.finished = True

    async def _connect(self) -> ClientConnection:
        """Connect from the cursor, retrying with backoff until the hub takes it."""
        started = time.monotonic()
        while True:
            failure: Exception
            try:
                url = self._hub.socket_url(self.session_id, self._cursor.seq, self._cursor.epoch)
                self._ws = await websockets.connect(
                    url, additional_headers=await self._hub.socket_headers(),
                    open_timeout=OPEN_TIMEOUT, close_timeout=CLOSE_TIMEOUT, max_size=None,
                )
            except InvalidStatus as exc:
                response = exc.response
                if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
                    raise error_from_response(
                        response.status_code, bytes(response.body or b""), dict(response.headers)
                    ) from exc
                failure = exc
            except (OSError, TimeoutError, InvalidHandshake) as exc:
                failure = exc
            else:
                self.connections += 1
                self._replayed = False
                return self._ws
            waited = time.monotonic() - started
            if self._give_up_after is not None and waited >= self._give_up_after:
                raise HubUnreachable(
                    "hub_unreachable",
                    f"No connection to the hub for {waited:.1f} s: {failure}",
                ) from failure
            await self._backoff.wait()

    async def _closed_by_peer(self, exc: ConnectionClosed) -> None:
        """The socket ended: raise for a final close, else get ready to reconnect."""
        code = exc.rcvd.code if exc.rcvd is not None else int(CloseCode.ABNORMAL_CLOSURE)
        self.close_codes.append(code)
        productive = self._replayed
        await self._drop_socket()
        if code in FINAL_CLOSES:
            reason = exc.rcvd.reason if exc.rcvd is not None else ""
            raise error_from_close(code, reason) from exc
        if not productive:  # e.g. 1013 at once: do not hammer a hub that says "later"
            await self._backoff.wait()

    async def _refill(self, seq: int) -> None:
        """An event beyond the next one came: reconnect from the cursor, so the hub
        replays what is missing (a v1 hub never sends this; a few in a row is a hole
        that replay cannot fill)."""
        self._gaps += 1
        if self._gaps > GAPS_BEFORE_GIVING_UP:
            raise ProtocolError(
                "protocol_error",
                f"The hub skips from event {self._cursor.seq} to {seq} on every replay.",
            )
        await self._drop_socket()
        await self._backoff.wait()

    async def _drop_socket(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()
