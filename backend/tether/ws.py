"""The WebSocket endpoint ``/ws/sessions/{id}?after=N&epoch=E``: translation only.

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
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs

from pydantic import ValidationError
from starlette.types import Receive, Scope, Send

from tether import jsontext
from tether.access import seen_by
from tether.audit import Audit, AuditEntry, Where
from tether.auth import Authenticator
from tether.closecodes import CloseCode
from tether.envelope import close_message, error_frame
from tether.epochs import valid_epoch
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
)
from tether.metrics import HubMetrics
from tether.principal import Principal
from tether.sessions import SessionManager
from tether.socket_protocol import text_sender

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SocketLimits:
    send_queue: int
    max_frame_bytes: int
    rate_per_second: float
    rate_burst: int
    allowed_origins: tuple[str, ...]
    max_per_user: int = 64  # open session sockets of one user on this hub; 0: no limit
    # How often an idle socket re-checks its credential (a logout, a removed user, an
    # expired login or a replaced token closes it within this); write frames re-check
    # it each time as well.
    credential_recheck: float = 30.0


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
_rechecks: set[asyncio.Task[None]] = set()  # access re-checks under way, kept referenced


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
        metrics: HubMetrics = state["metrics"]
        checked = await _admit(scope, state["auth"], manager, self.limits)
        message = await receive()  # websocket.connect
        if message["type"] != "websocket.connect":
            return
        await send({"type": "websocket.accept"})
        if isinstance(checked, Refusal):
            metrics.closed(checked.code)
            await send(close_message(checked.code, checked.reason))
            return
        session_id, who, after, epoch = checked
        user = who.id
        open_now = self._per_user.get(user, 0)
        if 0 < self.limits.max_per_user <= open_now:
            metrics.closed(CloseCode.TRY_AGAIN_LATER)
            await send(close_message(
                CloseCode.TRY_AGAIN_LATER,
                f"Too many open connections ({open_now}) for this user; close some tabs.",
            ))
            return
        self._per_user[user] = open_now + 1
        metrics.websockets_open.inc()
        try:
            connection = _Connection(
                receive, send, manager, state["fanout"], self.limits, session_id, who,
                state["audit"], Where.of(scope), metrics,
                Credential(state["auth"], Authenticator.credential(scope)),
            )
            await connection.serve(after, epoch)
        finally:
            metrics.websockets_open.dec()
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
) -> tuple[str, Principal, int, str | None] | Refusal:
    """``(session_id, who, after, epoch)``, or why the connection is refused.

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
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
    if not origin_allowed(headers, limits.allowed_origins):
        return Refusal(CloseCode.POLICY_VIOLATION, "Origin not allowed.")
    session_id = scope["path"][len(PATH_PREFIX):]
    query = parse_qs(scope["query_string"].decode("latin-1"), keep_blank_values=True)
    raw_after = query.get("after", ["0"])[-1]
    if not (raw_after.isascii() and raw_after.isdigit() and len(raw_after) <= 18):
        return Refusal(CloseCode.POLICY_VIOLATION, "'after' must be a non-negative integer.")
    epoch = query.get("epoch", [""])[-1] or None  # epochs.py; absent: an older client
    if epoch is not None and not valid_epoch(epoch):
        return Refusal(CloseCode.POLICY_VIOLATION, "'epoch' must be the epoch a replay_start gave.")
    try:
        await manager.get(session_id, who=principal)
    except UnknownSession as exc:
        return Refusal.of(exc)
    except StoreUnavailable:  # its message names Redis's own error: not for clients
        return Refusal(StoreUnavailable.close_code, "The store is unavailable; try again.")
    return session_id, principal, int(raw_after), epoch


@dataclass(frozen=True, slots=True)
class Credential:
    """What proved a socket's caller at connect (its cookie, token, link or proxy header),
    kept to prove it again: a logout, a removed user, an expired login session or a
    replaced token must stop a socket that is already open."""

    auth: Authenticator
    scope: Scope  # Authenticator.credential: the few headers authenticate() reads

    async def check(self, who: Principal) -> Principal | CloseCode:
        """The caller as the store says now (current roles and groups), or the close
        code for a socket whose credential no longer proves ``who``.

        Raises:
            StoreUnavailable: the directory or the login store does not answer.
        """
        try:
            now = await self.auth.authenticate(self.scope)
        except StoreUnavailable:
            raise
        except UnknownSession:  # a share link gone: as its other re-checks say
            return CloseCode.UNKNOWN_SESSION
        except TetherError:
            return CloseCode.NOT_AUTHENTICATED
        if now is None or now.id != who.id:
            return CloseCode.NOT_AUTHENTICATED
        return now


class _Connection:
    __slots__ = (
        "_audit", "_bucket", "_closing", "_credential", "_credential_timer", "_fanout",
        "_limits", "_manager", "_metrics", "_outbox", "_receive", "_send", "_session_id",
        "_where", "_who",
    )

    def __init__(
        self,
        receive: Receive,
        send: Send,
        manager: SessionManager,
        fanout: Fanout,
        limits: SocketLimits,
        session_id: str,
        who: Principal,
        audit: Audit,
        where: Where,
        metrics: HubMetrics,
        credential: Credential,
    ) -> None:
        self._receive = receive
        self._credential = credential
        self._credential_timer: asyncio.TimerHandle | None = None
        self._metrics = metrics
        self._send = send
        self._manager = manager
        self._fanout = fanout
        self._limits = limits
        self._session_id = session_id
        self._who = who
        self._audit = audit
        self._where = where
        self._bucket = TokenBucket(limits.rate_per_second, limits.rate_burst)
        self._closing: asyncio.Task[None] | None = None

    async def serve(self, after: int, epoch: str | None = None) -> None:
        outbox = Outbox(
            store=self._manager.store,
            session_id=self._session_id,
            after=after,
            epoch=epoch,
            send=self._send_text,
            snapshot=self._snapshot,
            close=self._close_soon,
            on_error=self._writer_failed,
            limit=self._limits.send_queue,
            recheck=self._recheck_soon,
            send_now=self._text_sender_now(),
            replayed=self._metrics.replayed,
        )
        self._outbox = outbox
        try:
            await self._fanout.attach(outbox)
        except StoreUnavailable:
            await self._fanout.detach(outbox)
            await self._close(CloseCode.TRY_AGAIN_LATER, "The store is unavailable; try again.")
            return
        outbox.start()
        expiry = await self._expiry_timer()
        self._schedule_credential_check()
        try:
            await self._read_loop()
        finally:
            if expiry is not None:
                expiry.cancel()
            if self._credential_timer is not None:
                self._credential_timer.cancel()
            await self._fanout.detach(outbox)
            await outbox.stop()
            if self._closing is not None:
                # The close is best effort (the peer may be gone): wait for it, note a
                # failure, and let a cancellation of this handler through.
                await asyncio.wait([self._closing])
                if not self._closing.cancelled() and self._closing.exception() is not None:
                    log.debug("Closing a session socket failed", exc_info=self._closing.exception())

    def _text_sender_now(self) -> Callable[[str], bool] | None:
        """The connection's sender that needs no task (live frames), counting what it
        sent as _send_text does; None when the server gives no such sender."""
        send_now = text_sender(self._send)
        if send_now is None:
            return None
        metrics = self._metrics

        def counted(text: str) -> bool:
            if not send_now(text):
                return False
            if text[2] == "s":  # an event, as in _send_text
                metrics.events_delivered += 1
            return True

        return counted

    async def _send_text(self, text: str) -> None:
        await self._send({"type": "websocket.send", "text": text})
        if text[2] == "s":  # an event ({"seq":...), not a control frame ({"type":...)
            self._metrics.events_delivered += 1

    async def _snapshot(self) -> Session:
        grant = await self._manager.get(self._session_id, who=self._who)
        return seen_by(grant.record.session, grant.level)

    async def _expiry_timer(self) -> asyncio.TimerHandle | None:
        """For a share link's holder, a re-check when the link expires."""
        if self._who.session_scope is None:
            return None
        try:
            expires = await self._manager.link_expiry(self._who)
        except StoreUnavailable:
            expires = None
        if expires is None:  # gone since the connection was admitted: check at once
            self._recheck_soon()
            return None
        delay = max(0.0, expires - time.time()) + 0.05  # just past it, on the store's side
        return asyncio.get_running_loop().call_later(delay, self._recheck_soon)

    def _recheck_soon(self) -> None:
        """A share or link of the session went: close this socket if it rode on it."""
        task = asyncio.create_task(self._recheck())
        _rechecks.add(task)
        task.add_done_callback(_rechecks.discard)

    async def _recheck(self) -> None:
        try:
            await self._manager.get(self._session_id, who=self._who)
        except UnknownSession:
            self._close_soon(CloseCode.UNKNOWN_SESSION, "Your access to this session ended.")
        except StoreUnavailable:
            pass  # the store's outage closes every socket anyway (Fanout.on_outage)

    async def _credential_holds(self) -> bool:
        """Whether the socket's credential still proves its caller; the caller's current
        roles and groups from now on if so, the socket closing if not."""
        checked = await self._credential.check(self._who)
        if isinstance(checked, CloseCode):
            reason = ("Your access to this session ended."
                      if checked is CloseCode.UNKNOWN_SESSION else
                      "Your login ended: log in again.")
            self._close_soon(checked, reason)
            return False
        self._who = checked
        return True

    def _schedule_credential_check(self) -> None:
        interval = self._limits.credential_recheck
        if interval > 0 and self._closing is None:
            self._credential_timer = asyncio.get_running_loop().call_later(
                interval, self._credential_check_soon
            )

    def _credential_check_soon(self) -> None:
        task = asyncio.create_task(self._periodic_credential_check())
        _rechecks.add(task)
        task.add_done_callback(_rechecks.discard)

    async def _periodic_credential_check(self) -> None:
        with contextlib.suppress(StoreUnavailable):  # an outage closes sockets anyway
            await self._credential_holds()
        self._schedule_credential_check()

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
        self._metrics.closed(code)
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
            if self._closing is not None:  # e.g. the credential no longer holds
                return

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
            # A write acts for the caller as the store knows it now, not as at connect.
            if not isinstance(frame, PingFrame) and not await self._credential_holds():
                return
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
            entry = self._entry("cancel")
            try:
                await self._audit.attempt(entry, lambda audit: self._manager.cancel(
                    self._session_id, who=self._who, audit=audit
                ))
            except AlreadyFinished as exc:
                raise SessionFinished(self._session_id) from exc
        elif isinstance(frame, UserInputFrame):
            await self._answer(frame.request_id, "input", frame.values)
        elif isinstance(frame, (ConfirmFrame, RetryFrame)):
            await self._answer(frame.request_id, frame.type, frame.value)
        else:  # pragma: no cover - the union is exhaustive
            raise InvalidMessage(f"Unhandled frame {frame!r}")

    async def _answer(self, request_id: str | None, kind: RequestKind, value: object) -> None:
        await self._audit.attempt(self._entry("answer", request_id), lambda audit: (
            self._manager.answer(self._session_id, who=self._who, value=value,
                                 request_id=request_id, kind=kind, audit=audit)
        ))

    def _entry(self, action: str, request_id: str | None = None) -> AuditEntry:
        return Audit.entry(action, user=self._who.id, where=self._where,
                           session=self._session_id, request=request_id, via="ws")

    def _error(
        self, code: str, message: str, ref: str | None = None,
        fields: dict[str, str] | None = None,
    ) -> None:
        self._outbox.control(error_frame(code, message, ref=ref, fields=fields))
