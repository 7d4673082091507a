"""logs.py: one JSON object per line, naming the hub and, from context, the session and
the user; text lines name the session."""

from __future__ import annotations

import json
import logging

from tether.logs import JsonFormatter, TextFormatter, current_session, current_user


def record(message: str, *args: object, exc: bool = False) -> logging.LogRecord:
    info = None
    if exc:
        try:
            raise KeyError("x")
        except KeyError:
            import sys

            info = sys.exc_info()
    return logging.LogRecord("tether.runner", logging.WARNING, __file__, 1, message, args, info)


def test_a_json_line_names_the_hub_session_and_user_and_stays_one_line() -> None:
    session, user = current_session.set("s1"), current_user.set("user:bob")
    try:
        line = JsonFormatter("hub-a").format(record("two\nlines %s", "here", exc=True))
    finally:
        current_session.reset(session)
        current_user.reset(user)
    assert "\n" not in line
    data = json.loads(line)
    assert data["message"] == "two\nlines here" and data["level"] == "warning"
    assert (data["hub"], data["session"], data["user"]) == ("hub-a", "s1", "user:bob")
    assert data["logger"] == "tether.runner" and "KeyError" in data["exc"]
    assert data["time"].endswith("Z")


def test_without_context_there_is_no_session_or_user() -> None:
    data = json.loads(JsonFormatter("hub-a").format(record("plain")))
    assert "session" not in data and "user" not in data
    assert TextFormatter().format(record("plain")) == "WARNING tether.runner: plain"
    token = current_session.set("s9")
    try:
        assert TextFormatter().format(record("x")).endswith("[session s9]")
    finally:
        current_session.reset(token)


def test_a_workers_text_lines_name_its_hub_first() -> None:
    """With ``--workers N`` the workers share one terminal: each text line says whose it is."""
    assert TextFormatter("hub-a-2").format(record("plain")) == (
        "[hub-a-2] WARNING tether.runner: plain"
    )
