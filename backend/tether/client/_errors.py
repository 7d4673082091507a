"""What a :class:`~tether.client.Client` raises, mapped from what the hub answered.

The tree (the hub's error ``code`` → class; PROTOCOL.md §3 and §4)::

    TetherClientError                 any refusal; ``code``, ``message``, ``fields``, ``status``
    ├── NotAuthenticated              not_authenticated (401, close 4401)
    ├── Forbidden                     forbidden, cross_site_request (403)
    ├── UnknownSession                unknown_session (404, close 4404)
    ├── UnknownTask                   unknown_task (404)
    ├── UnknownRequest                unknown_request (404)
    ├── InvalidInputs                 invalid_inputs (422, ``fields``)
    ├── InvalidValue                  invalid_value (422, ``fields``)
    ├── AlreadyAnswered               already_answered (409)
    ├── AlreadyFinished               already_finished (409)
    ├── SessionFinished               session_finished (409: an answer to an ended session)
    ├── TooManyRequests               too_many_starts, too_many_open_sessions (429, ``retry_after``)
    ├── StoreUnavailable              store_unavailable (503)
    ├── SocketClosed                  a session socket closed with a code reconnecting cannot
    │                                 help (1003, 1008, 1009), or refused at the upgrade
    ├── HubUnreachable                no answer at all: connection refused, timed out, dropped
    └── ProtocolError                 the hub sent something protocol v1 does not allow

A code this version does not know becomes a plain :class:`TetherClientError` with that
code, so a newer hub's refusals still arrive with everything they carried.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import ValidationError

from tether.closecodes import CloseCode
from tether.messages import ErrorBody


class TetherClientError(Exception):
    """A refusal from the hub, or no answer from it.

    Attributes:
        code: the hub's error code (``unknown_session``), or the client's own for what
            the hub did not say (``hub_unreachable``, ``socket_closed``, ``protocol_error``).
        message: text for people, as the hub wrote it (or a close frame's reason).
        fields: field errors (``{"to_address": "value is not a valid email address"}``)
            for ``invalid_inputs``/``invalid_value``; else None.
        status: the HTTP status; None when the error came from a WebSocket or no answer.
        close_code: the WebSocket close code that ended a stream; else None.
    """

    codes: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self, code: str, message: str, *, fields: dict[str, str] | None = None,
        status: int | None = None, close_code: int | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.fields = fields
        self.status = status
        self.close_code = close_code


class NotAuthenticated(TetherClientError):
    """The hub knows nobody by these credentials (a missing, wrong or removed token)."""

    codes = frozenset({"not_authenticated"})


class Forbidden(TetherClientError):
    """The caller may see the session but not do this (a viewer answering, ...)."""

    codes = frozenset({"forbidden", "cross_site_request"})


class UnknownSession(TetherClientError):
    """No such session, or one this caller may not see (the hub does not tell them apart)."""

    codes = frozenset({"unknown_session"})


class UnknownTask(TetherClientError):
    codes = frozenset({"unknown_task"})


class UnknownRequest(TetherClientError):
    codes = frozenset({"unknown_request"})


class InvalidInputs(TetherClientError):
    """A start's inputs failed the task's model; ``fields`` says which and why."""

    codes = frozenset({"invalid_inputs"})


class InvalidValue(TetherClientError):
    """An answer failed the request's model; ``fields`` says which and why. The request
    stays open: answer it again."""

    codes = frozenset({"invalid_value"})


class AlreadyAnswered(TetherClientError):
    """Someone answered this request first (the first valid answer wins)."""

    codes = frozenset({"already_answered"})


class AlreadyFinished(TetherClientError):
    codes = frozenset({"already_finished"})


class SessionFinished(TetherClientError):
    """The session has ended: it takes no more answers."""

    codes = frozenset({"session_finished"})


class TooManyRequests(TetherClientError):
    """A start over the hub's limits; ``retry_after`` (seconds) when the hub said."""

    codes = frozenset({"too_many_starts", "too_many_open_sessions"})

    def __init__(
        self, code: str, message: str, *, fields: dict[str, str] | None = None,
        status: int | None = None, close_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(code, message, fields=fields, status=status, close_code=close_code)
        self.retry_after = retry_after


class StoreUnavailable(TetherClientError):
    """The hub is up but its store does not answer; try again later."""

    codes = frozenset({"store_unavailable"})


class SocketClosed(TetherClientError):
    """A session socket ended in a way that reconnecting cannot change."""

    codes = frozenset({"socket_closed"})


class HubUnreachable(TetherClientError):
    """The hub did not answer (refused, timed out, or the connection dropped)."""

    codes = frozenset({"hub_unreachable"})


class ProtocolError(TetherClientError):
    """The hub sent what protocol v1 does not allow (say, an event type it does not name)."""

    codes = frozenset({"protocol_error"})


_BY_CODE: dict[str, type[TetherClientError]] = {
    code: cls
    for cls in (
        NotAuthenticated, Forbidden, UnknownSession, UnknownTask, UnknownRequest,
        InvalidInputs, InvalidValue, AlreadyAnswered, AlreadyFinished, SessionFinished,
        StoreUnavailable,
    )
    for code in cls.codes
}


def error_from_response(status: int, body: bytes, headers: dict[str, str]) -> TetherClientError:
    """The error for an HTTP answer of ``status`` >= 400, from the hub's envelope
    ``{"error": {"code", "message", "fields"?}}``; a body without one (a proxy's page)
    gets the code ``http_<status>``."""
    try:
        detail = ErrorBody.model_validate_json(body).error
    except ValidationError:
        text = body.decode("utf-8", "replace").strip()[:200] or f"HTTP {status}"
        return TetherClientError(f"http_{status}", text, status=status)
    if detail.code in TooManyRequests.codes:
        return TooManyRequests(
            detail.code, detail.message, fields=detail.fields, status=status,
            retry_after=_seconds(headers.get("retry-after")),
        )
    cls = _BY_CODE.get(detail.code, TetherClientError)
    return cls(detail.code, detail.message, fields=detail.fields, status=status)


def _seconds(value: str | None) -> float | None:
    try:
        return None if value is None else float(value)
    except ValueError:
        return None


# Closes a session stream does not come back from (PROTOCOL.md §4): 4401 and 4404 say
# so; 1003, 1008 and 1009 are about what this client sent or how it connected (a binary
# frame, a bad ``after``, an origin, a header), which a reconnect would repeat as is.
FINAL_CLOSES: frozenset[int] = frozenset({
    CloseCode.NOT_AUTHENTICATED, CloseCode.UNKNOWN_SESSION, CloseCode.UNSUPPORTED_DATA,
    CloseCode.POLICY_VIOLATION, CloseCode.MESSAGE_TOO_BIG,
})


def error_from_close(code: int, reason: str) -> TetherClientError:
    """The error for a close in :data:`FINAL_CLOSES`."""
    if code == CloseCode.NOT_AUTHENTICATED:
        return NotAuthenticated(
            "not_authenticated", reason or "Not authenticated.", close_code=code
        )
    if code == CloseCode.UNKNOWN_SESSION:
        return UnknownSession("unknown_session", reason or "No such session.", close_code=code)
    return SocketClosed("socket_closed", reason or f"closed with {code}", close_code=code)
