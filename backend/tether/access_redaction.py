"""Keeps secrets out of uvicorn's access log (``TETHER_ACCESS_LOG=1``).

Some URLs carry a credential: a share link (``?link=``), a one-time login link
(``/login?token=``) and an answer link (``/answer/{token}``, ``/api/answer/{token}``).
An access log line with one would hand that power to whoever reads the logs, so the
filter here rewrites each record's path with those values as ``[redacted]``.
"""

from __future__ import annotations

import logging
import re

REDACTED = "[redacted]"
ACCESS_LOGGER = "uvicorn.access"

_SECRET_QUERY = re.compile(r"(?i)([?&](?:link|token)=)[^&#\s]*")
_ANSWER_PATH = re.compile(r"(/(?:api/)?answer/)[^/?#\s]+")


def redact_path(path: str) -> str:
    """``path`` (with its query) with every credential it carries replaced."""
    return _SECRET_QUERY.sub(rf"\1{REDACTED}", _ANSWER_PATH.sub(rf"\1{REDACTED}", path))


class AccessLogRedaction(logging.Filter):
    """Rewrites the path argument of uvicorn's access records (client, method, path,
    version, status); keeps every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_path(args[2]), *args[3:])
        return True


def install() -> None:
    """Put the filter on uvicorn's access logger, once however often it is called."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, AccessLogRedaction) for f in logger.filters):
        logger.addFilter(AccessLogRedaction())
