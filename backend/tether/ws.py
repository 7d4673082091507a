"""The WebSocket endpoint ``/ws/sessions/{id}?after=N``: translation only.

Reads client frames, turns them into :class:`~tether.sessions.SessionManager` calls, and
answers with ``ack`` or ``error`` frames through the connection's
:class:`~tether.fanout.Outbox`, the single writer of the socket. Every bad frame gets its
documented error frame or close code, and the connection (and the hub) keep going.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from urllib.parse import parse_qs

from pydantic import ValidationError
from starlette.types import Receive, Scope, Send

from tether import jsontext
from tether.auth import Authenticator
from tether.closecodes import CloseCode
from tether.envelope import close_message, error_frame
from tether.errors import (
    AlreadyFinished,
    InvalidMessage,
    LoneSurrogate,
    NotAuthenticated,
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
    PingFrame,
    Pong,
    RequestKind,
    RetryFrame,
    Session,
    UserInputFrame,
    seen_by,
)
from tether.sessions import SessionManager

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SocketLimits:
    send_queue: int
    max_frame_bytes: int
    rate_per_second: float
    rate_burst: int
    allowed_origins: tuple[str, ...]
    max_per_user: int = 64  # open session sockets of one user on this hub; 0: no limit


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


def origin_allowed(headers: dict[str, str], allowed: tuple[str, ...]) -> bool:
    """Browsers always send Origin: it must be this host or a configured origin."""
    origin = headers.get("origin")
    if origin is None or origin in allowed or "*" in allowed:
        return True
    return origin.split("://", 1)[-1] == headers.get("host", "")


PATH_PREFIX = "/ws/sessions/"


class SessionSocketApp:
    """The ASGI app for ``/ws/sessions/{id}``, mounted in front of the HTTP stack.

    A WebSocket may sit idle for days, and everything its handler keeps alive is paid
    per connection, so this path skips the HTTP middleware and routing: it reads the
    identity itself, talks ASGI directly, and keeps only the :class:`_Connection`.
    """

    def __init__(self, limits: SocketLimits) -> None:
        self.limits = limits
        self._per_user: dict[str, int] = {}  # open sockets of each user on this hub

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope["state"]
        manager: SessionManager = state["manager"]
        checked = await _admit(scope, state["auth"], manager, self.limits)
        message = await receive()  # websocket.connect
        if message["type"] != "websocket.connect":
            return
        await send({"type": "websocket.accept"})
        if isinstance(checked, Refusal):
            await send(close_message(checked.code, checked.reason))
            return
        session_id, user, after = checked
        open_now = self._per_user.get(user, 0)
        if 0 < self.limits.max_per_user <= open_now:
            await send(close_message(
                CloseCode.TRY_AGAIN_LATER,
                f"Too many open connections ({open_now}) for this user; close some tabs.",
            ))
            return
        self._per_user[user] = open_now + 1
        try:
            connection = _Connection(
                receive, send, manager, state["fanout"], self.limits, session_id, user
            )
            await connection.serve(after)
        finally:
            left = self._per_user.pop(user) - 1
            if left:
                self._per_user[user] = left


@dataclass(frozen=True, slots=True)
class Refusal:
    code: CloseCode
    reason: str

    @classmethod
    def of(cls, exc: TetherError) -> Refusal:
        """The close an error that ends a connection maps to (errors.py)."""
        return cls(exc.close_code, exc.message)


async def _admit(
    scope: Scope, auth: Authenticator, manager: SessionManager, limits: SocketLimits
) -> tuple[str, str, int] | Refusal:
    """``(session_id, user, after)``, or why the connection is refused.

    A function of its own so that the parsed headers are garbage once it returns.
    """
    try:
        principal = await auth.authenticate(scope)
    except StoreUnavailable:  # its message names Redis's own error: not for clients
        return Refusal(StoreUnavailable.close_code, "The store is unavailable; try again.")
    except TetherError as exc:
        return Refusal.of(exc)
    if principal is None:
        return Refusal.of(NotAuthenticated())
    scope["state"]["principal"] = principal
    user = principal.id
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
    if not origin_allowed(headers, limits.allowed_origins):
        return Refusal(CloseCode.POLICY_VIOLATION, "Origin not allowed.")
    session_id = scope["path"][len(PATH_PREFIX):]
    query = parse_qs(scope["query_string"].decode("latin-1"), keep_blank_values=True)
    raw_after = query.get("after", ["0"])[-1]
    if not (raw_after.isascii() and raw_after.isdigit() and len(raw_after) <= 18):
        return Refusal(CloseCode.POLICY_VIOLATION, "'after' must be a non-negative integer.")
    try:
        await manager.get(session_id, user=user)
    except UnknownSession as exc:
        return Refusal.of(exc)
    except StoreUnavailable:  # its message names Redis's own error: not for clients
        return Refusal(StoreUnavailable.close_code, "The store is unavailable; try again.")
    return session_id, user, int(raw_after)


class _Connection:
    __slots__ = (
        "_bucket", "_closing", "_fanout", "_limits", "_manager", "_outbox", "_receive",
        "_send", "_session_id", "_user",
    )

    def __init__(
        self,
        receive: Receive,
        send: Send,
        manager: SessionManager,
        fanout: Fanout,
        limits: SocketLimits,
        session_id: str,
        user: str,
    ) -> None:
        self._receive = receive
        self._send = send
        self._manager = manager
        self._fanout = fanout
        self._limits = limits
        self._session_id = session_id
        self._user = user
        self._bucket = TokenBucket(limits.rate_per_second, limits.rate_burst)
        self._closing: asyncio.Task[None] | None = None

    async def serve(self, after: int) -> None:
        outbox = Outbox(
            store=self._manager.store,
            session_id=self._session_id,
            after=after,
            send=self._send_text,
            snapshot=self._snapshot,
            close=self._close_soon,
            on_error=self._writer_failed,
            limit=self._limits.send_queue,
        )
        self._outbox = outbox
        try:
            await self._fanout.attach(outbox)
        except StoreUnavailable:
            await self._fanout.detach(outbox)
            await self._close(CloseCode.TRY_AGAIN_LATER, "The store is unavailable; try again.")
            return
        outbox.start()
        try:
            await self._read_loop()
        finally:
            await self._fanout.detach(outbox)
            await outbox.stop()
            if self._closing is not None:
                # The close is best effort (the peer may be gone): wait for it, note a
                # failure, and let a cancellation of this handler through.
                await asyncio.wait([self._closing])
                if not self._closing.cancelled() and self._closing.exception() is not None:
                    log.debug("Closing a session socket failed", exc_info=self._closing.exception())

    async def _send_text(self, text: str) -> None:
        await self._send({"type": "websocket.send", "text": text})

    async def _snapshot(self) -> Session:
        record = await self._manager.get(self._session_id, user=self._user)
        return seen_by(record.session, self._user)

    def _writer_failed(self, exc: BaseException) -> None:
        if isinstance(exc, StoreUnavailable):
            self._close_soon(
                CloseCode.TRY_AGAIN_LATER, "The store is unavailable; reconnect with after=."
            )
        elif not isinstance(exc, OSError):  # OSError: the client went away
            log.error("WebSocket writer of %s failed", self._session_id, exc_info=exc)
            self._close_soon(CloseCode.INTERNAL_ERROR, "Internal error.")

    def _close_soon(self, code: CloseCode, reason: str) -> None:
        """Close from outside the reader (overflow: 4008, store outage: 1012)."""
        if self._closing is None:
            self._closing = asyncio.create_task(self._close(code, reason))

    async def _close(self, code: CloseCode, reason: str) -> None:
        with contextlib.suppress(Exception):
            await self._send(close_message(code, reason))

    async def _read_loop(self) -> None:
        while True:
            message = await self._receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                await self._close(CloseCode.UNSUPPORTED_DATA, "Send JSON text frames.")
                return
            if len(text) > self._limits.max_frame_bytes:
                await self._close(CloseCode.MESSAGE_TOO_BIG, "Frame too big.")
                return
            if not self._bucket.take():
                await self._close(CloseCode.POLICY_VIOLATION, "Too many messages.")
                return
            await self._handle(text)

    async def _handle(self, text: str) -> None:
        ref: str | None = None
        try:
            data = jsontext.parse(text)
        except LoneSurrogate as exc:  # no ref echoed: the ref may be what holds it
            self._error(exc.code, exc.message)
            return
        except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
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
        self._outbox.control(error_frame(code, message, ref=ref, fields=fields))
