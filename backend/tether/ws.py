"""The WebSocket endpoint ``/ws/sessions/{id}?after=N``: translation only.

Reads client frames, turns them into :class:`~tether.sessions.SessionManager` calls, and
answers with ``ack`` or ``error`` frames through the connection's
:class:`~tether.fanout.Outbox`, the single writer of the socket. Every bad frame gets its
documented error frame or close code, and the connection (and the hub) keep going.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass

from pydantic import ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect

from tether.errors import (
    AlreadyFinished,
    InvalidMessage,
    SessionFinished,
    StoreUnavailable,
    TetherError,
    UnknownSession,
)
from tether.fanout import Fanout, Outbox
from tether.forms import field_errors
from tether.messages import (
    CLIENT_ADAPTER,
    CLIENT_FRAME_TYPES,
    Ack,
    CancelFrame,
    ClientMessage,
    ConfirmFrame,
    ErrorFrame,
    PingFrame,
    Pong,
    RequestKind,
    RetryFrame,
    Session,
    UserInputFrame,
)
from tether.sessions import SessionManager

log = logging.getLogger(__name__)

CLOSE_UNSUPPORTED = 1003
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_NO_SESSION = 4404
CLOSE_TRY_AGAIN = 1013


@dataclass(frozen=True, slots=True)
class SocketLimits:
    send_queue: int
    max_frame_bytes: int
    rate_per_second: float
    rate_burst: int
    allowed_origins: tuple[str, ...]


class TokenBucket:
    """Allows ``burst`` messages at once and ``rate`` per second after that."""

    def __init__(self, rate: float, burst: int) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


def origin_allowed(websocket: WebSocket, allowed: tuple[str, ...]) -> bool:
    """Browsers always send Origin: it must be this host or a configured origin."""
    origin = websocket.headers.get("origin")
    if origin is None or origin in allowed or "*" in allowed:
        return True
    host = websocket.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


async def session_socket(
    websocket: WebSocket, *, manager: SessionManager, fanout: Fanout, limits: SocketLimits
) -> None:
    """Serve one WebSocket connection for the whole of its life."""
    await websocket.accept()
    user: str | None = websocket.scope.get("state", {}).get("user")
    if user is None:
        await websocket.close(CLOSE_NOT_AUTHENTICATED, "Not authenticated.")
        return
    if not origin_allowed(websocket, limits.allowed_origins):
        await websocket.close(CLOSE_POLICY, "Origin not allowed.")
        return
    session_id: str = websocket.path_params["session_id"]
    raw_after = websocket.query_params.get("after", "0")
    if not raw_after.isdigit():
        await websocket.close(CLOSE_POLICY, "'after' must be a non-negative integer.")
        return
    try:
        await manager.get(session_id, user=user)
    except UnknownSession:
        await websocket.close(CLOSE_NO_SESSION, "No such session.")
        return
    except StoreUnavailable:
        await websocket.close(CLOSE_TRY_AGAIN, "The store is unavailable; try again.")
        return
    await _Connection(websocket, manager, fanout, limits, session_id, user).serve(int(raw_after))


class _Connection:
    def __init__(
        self,
        websocket: WebSocket,
        manager: SessionManager,
        fanout: Fanout,
        limits: SocketLimits,
        session_id: str,
        user: str,
    ) -> None:
        self._ws = websocket
        self._manager = manager
        self._fanout = fanout
        self._limits = limits
        self._session_id = session_id
        self._user = user
        self._bucket = TokenBucket(limits.rate_per_second, limits.rate_burst)
        self._closing: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None

    async def serve(self, after: int) -> None:
        outbox = Outbox(
            store=self._manager.store,
            session_id=self._session_id,
            after=after,
            send=self._ws.send_text,
            snapshot=self._snapshot,
            close=self._close_soon,
            limit=self._limits.send_queue,
        )
        self._outbox = outbox
        try:
            await self._fanout.attach(outbox)
        except StoreUnavailable:
            await self._fanout.detach(outbox)
            await self._close(CLOSE_TRY_AGAIN, "The store is unavailable; try again.")
            return
        writer = asyncio.create_task(outbox.run(), name=f"ws-writer-{self._session_id}")
        writer.add_done_callback(self._writer_done)
        self._writer = writer
        try:
            await self._read_loop()
        except WebSocketDisconnect:
            pass
        finally:
            await self._fanout.detach(outbox)
            writer.cancel()
            with contextlib.suppress(BaseException):
                await writer
            if self._closing is not None:
                with contextlib.suppress(BaseException):
                    await self._closing

    async def _snapshot(self) -> Session:
        return (await self._manager.get(self._session_id, user=self._user)).session

    def _writer_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if isinstance(exc, StoreUnavailable):
            self._close_soon(CLOSE_TRY_AGAIN, "The store is unavailable; reconnect with after=.")
        elif exc is not None and not isinstance(exc, (WebSocketDisconnect, OSError, RuntimeError)):
            log.error("WebSocket writer of %s failed", self._session_id, exc_info=exc)
            self._close_soon(1011, "Internal error.")

    def _close_soon(self, code: int, reason: str) -> None:
        """Close from outside the reader (overflow: 4008, store outage: 1012). The writer
        stops at once: nobody waits for a client that will not read."""
        if self._closing is None:
            if self._writer is not None:
                self._writer.cancel()
            self._closing = asyncio.create_task(self._close(code, reason))

    async def _close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await self._ws.close(code, reason)

    async def _read_loop(self) -> None:
        while True:
            message = await self._ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                await self._close(CLOSE_UNSUPPORTED, "Send JSON text frames.")
                return
            if len(text) > self._limits.max_frame_bytes:
                await self._close(CLOSE_TOO_BIG, "Frame too big.")
                return
            if not self._bucket.take():
                await self._close(CLOSE_POLICY, "Too many messages.")
                return
            await self._handle(text)

    async def _handle(self, text: str) -> None:
        ref: str | None = None
        try:
            data = json.loads(text)
        except ValueError as exc:
            self._error("invalid_json", f"Not JSON: {exc}")
            return
        if isinstance(data, dict) and isinstance(data.get("ref"), str):
            ref = data["ref"][:128]
        if not isinstance(data, dict):
            self._error("invalid_message", "A frame is a JSON object.", ref)
            return
        if data.get("type") not in CLIENT_FRAME_TYPES:
            self._error("unknown_type", f"Unknown frame type {data.get('type')!r}.", ref)
            return
        try:
            frame = CLIENT_ADAPTER.validate_python(data)
        except ValidationError as exc:
            # The discriminated union puts the frame type in front of every error path
            # ("confirm.value"); the client named its fields without it ("value").
            tag = f"{data['type']}."
            errors = {k.removeprefix(tag): v for k, v in field_errors(exc).items()}
            self._error("invalid_message", "The frame does not fit its type.", ref, errors)
            return
        try:
            await self._dispatch(frame)
        except TetherError as exc:
            self._error(exc.code, exc.message, ref, exc.fields)
            return
        if not isinstance(frame, PingFrame):
            self._outbox.control(Ack(ref=frame.ref).model_dump_json())

    async def _dispatch(self, frame: ClientMessage) -> None:
        if isinstance(frame, PingFrame):
            self._outbox.control(Pong().model_dump_json())
        elif isinstance(frame, CancelFrame):
            try:
                await self._manager.cancel(self._session_id, user=self._user)
            except AlreadyFinished as exc:
                raise SessionFinished(self._session_id) from exc
        elif isinstance(frame, UserInputFrame):
            await self._answer(frame.request_id, "input", frame.values)
        elif isinstance(frame, (ConfirmFrame, RetryFrame)):
            await self._answer(frame.request_id, frame.type, frame.value)
        else:  # pragma: no cover - the union is exhaustive
            raise InvalidMessage(f"Unhandled frame {frame!r}")

    async def _answer(self, request_id: str | None, kind: RequestKind, value: object) -> None:
        await self._manager.answer(
            self._session_id, user=self._user, value=value, request_id=request_id, kind=kind
        )

    def _error(
        self, code: str, message: str, ref: str | None = None,
        fields: dict[str, str] | None = None,
    ) -> None:
        self._outbox.control(
            ErrorFrame(code=code, message=message, ref=ref, fields=fields).model_dump_json()
        )
