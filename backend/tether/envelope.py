"""An error as a client receives it, built here and nowhere else.

- Over HTTP: ``{"error": {"code", "message", "fields"?}}`` with the error's status
  (:class:`~tether.messages.ErrorBody`).
- On a session WebSocket, for a frame the hub refuses: an ``error`` frame
  ``{"type": "error", "code", "message", "ref"?, "fields"?}``
  (:class:`~tether.messages.ErrorFrame`); the connection stays open.
- For what ends a session WebSocket: a close with a :class:`~tether.closecodes.CloseCode`
  and a reason for people.

PROTOCOL.md §3 and §4 specify these shapes; ``api.py``, ``auth.py`` and ``ws.py`` call
these functions instead of writing the dicts themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from tether.closecodes import CloseCode
from tether.errors import FieldErrors, TetherError
from tether.messages import ErrorBody, ErrorDetail, ErrorFrame

# RFC 6455 §5.5: a control frame's payload is at most 125 bytes, two of them the code.
MAX_CLOSE_REASON_BYTES = 123


def error_response(
    code: str, message: str, *, status: int, fields: FieldErrors | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The HTTP answer for an error: the envelope as JSON, with ``status``."""
    body = ErrorBody(error=ErrorDetail(code=code, message=message, fields=fields or None))
    return Response(
        body.model_dump_json(), status_code=status, headers=headers,
        media_type="application/json",
    )


def tether_error_response(exc: TetherError) -> Response:
    """The HTTP answer for a :class:`TetherError`: its code, message, fields, status."""
    return error_response(
        exc.code, exc.message, status=exc.status, fields=exc.fields, headers=exc.headers()
    )


def error_frame(
    code: str, message: str, *, ref: str | None = None, fields: FieldErrors | None = None
) -> str:
    """The WebSocket ``error`` frame, encoded."""
    return ErrorFrame(code=code, message=message, ref=ref, fields=fields or None).model_dump_json()


def close_message(code: CloseCode, reason: str) -> dict[str, Any]:
    """The ASGI ``websocket.close`` message; ``reason`` cut to what a close frame holds."""
    return {"type": "websocket.close", "code": int(code), "reason": close_reason(reason)}


def close_reason(reason: str) -> str:
    """``reason`` in at most :data:`MAX_CLOSE_REASON_BYTES` of UTF-8, cut at a character."""
    encoded = reason.encode()
    if len(encoded) <= MAX_CLOSE_REASON_BYTES:
        return reason
    return encoded[: MAX_CLOSE_REASON_BYTES - 3].decode(errors="ignore") + "..."
