"""How a hub process logs: text for people, or one JSON object per line for machines.

``TETHER_LOG_FORMAT=json`` makes every record a line ``{"time", "level", "message",
"logger", "hub", "session"?, "user"?, "exc"?}``; text is the default. ``--log-level`` (or
``TETHER_LOG_LEVEL``) sets the level; uvicorn's access log is off unless
``TETHER_ACCESS_LOG=1``. The session and the user come from context variables the runner
and the identity middleware set, so every line written on their behalf names them
without each call passing them.

What never goes into a log line: passwords, tokens, cookies, link tokens and answer
values. No code logs them; Redis URLs are logged redacted (``config.redacted``).
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Literal

LogFormat = Literal["text", "json"]
LEVELS = ("debug", "info", "warning", "error")

# Who a line is about: set for a session's runner task and for each HTTP request.
current_session: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "tether_session", default=None
)
current_user: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "tether_user", default=None
)


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines in messages are escaped)."""

    def __init__(self, hub_id: str) -> None:
        super().__init__()
        self._hub_id = hub_id

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ).replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "message": record.getMessage(),
            "logger": record.name,
            "hub": self._hub_id,
        }
        session, user = current_session.get(), current_user.get()
        if session is not None:
            line["session"] = session
        if user is not None:
            line["user"] = user
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``LEVEL logger: message``, with ``[session]`` when a session is in context, and
    with ``[hub]`` first when given one (the workers of ``--workers N`` share a terminal)."""

    def __init__(self, hub_id: str = "") -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")
        self._prefix = f"[{hub_id}] " if hub_id else ""

    def format(self, record: logging.LogRecord) -> str:
        text = self._prefix + super().format(record)
        session = current_session.get()
        return text if session is None else f"{text} [session {session}]"


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record comes, not when it was made
    (a test harness swaps stderr between tests)."""

    @property
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        return None


def configure(
    *, level: str = "info", fmt: LogFormat = "text", hub_id: str = "", tag_text: bool = False
) -> None:
    """Send every logger's records (uvicorn's too) to stderr in ``fmt`` at ``level``.
    JSON lines always name ``hub_id``; text lines do with ``tag_text``."""
    handler = _Stderr()
    handler.setFormatter(
        JsonFormatter(hub_id) if fmt == "json" else TextFormatter(hub_id if tag_text else "")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
