"""``tether.worker``: what code running on an executor (a Ray task) uses to report back.

A function that ``ctx.step(..., executor="ray")`` or ``ctx.map(..., executor="ray")``
sends to the cluster runs in a Ray worker process, far from the session's context. It can
still show its progress::

    from tether import worker

    def crunch(chunk: list[int]) -> int:
        total = 0
        for i, value in enumerate(chunk):
            total += heavy(value)
            worker.progress(i + 1, len(chunk), label="crunching")
        worker.markdown(f"have results `{total}`")
        return total

Each report travels to the hub that runs the session and becomes the session's ordinary
``progress``, ``stream`` or ``markdown`` event, in the order this call made them (reports
of different calls interleave as they land). They are sent without waiting; the call's
result reaches the session only after every report it made before returning.

Outside a call sent by an executor these functions do nothing and return False, so the same
function can also run in the hub (``executor=None``), silently. Inside one they return True.

A Ray worker runs one task at a time, so the reporter is kept per process: threads the
function starts may report too.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["Reporter", "markdown", "progress", "reporting", "stream"]

# A report as it travels: a JSON-like dict with a "kind" ("progress", "stream",
# "markdown", or "end" after the last one) and that kind's fields.
Message = dict[str, Any]
Send = Callable[[int, Message], None]


class Reporter:
    """Numbers one call's reports and hands each to ``send(seq, message)``.

    ``seq`` counts from 0 per call, so the hub can put reports back in order whatever
    order they arrive in; :meth:`close` sends the ``end`` marker after the last one.
    """

    def __init__(self, send: Send) -> None:
        self._send = send
        self._lock = threading.Lock()
        self._seq = 0
        self._closed = False

    def report(self, message: Message) -> bool:
        with self._lock:  # numbering and sending in one step: seq order = send order
            if self._closed:
                return False
            self._send(self._seq, message)
            self._seq += 1
            return True

    def close(self) -> int:
        """Send the end marker; returns how many reports came before it."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._send(self._seq, {"kind": "end", "count": self._seq})
            return self._seq


class _Slot:
    """The reporter of the call this worker process is running, if any."""

    def __init__(self) -> None:
        self.reporter: Reporter | None = None


_current = _Slot()


@contextmanager
def reporting(reporter: Reporter) -> Iterator[Reporter]:
    """Make ``reporter`` the one :func:`progress` and friends use while the call runs;
    its end marker is sent on the way out, whether the call returned or raised."""
    previous, _current.reporter = _current.reporter, reporter
    try:
        yield reporter
    finally:
        _current.reporter = previous
        reporter.close()


def _report(message: Message) -> bool:
    reporter = _current.reporter
    return False if reporter is None else reporter.report(message)


def progress(done: float, total: float, *, label: str | None = None) -> bool:
    """Report ``done`` out of ``total`` (a progress bar; one per ``label``).

    Raises:
        TypeError: ``done`` or ``total`` is not a number, ``label`` not a string.
        ValueError: ``done`` or ``total`` is not finite.
    """
    values = []
    for name, value in (("done", done), ("total", total)):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"{name} must be a number, not {type(value).__name__}")
        if not math.isfinite(value):
            raise ValueError(f"{name} must be finite, not {value}")
        values.append(float(value))
    if label is not None and not isinstance(label, str):
        raise TypeError(f"label must be a string, not {type(label).__name__}")
    return _report({"kind": "progress", "done": values[0], "total": values[1], "label": label})


def stream(text: str) -> bool:
    """Append a line to the session's log."""
    return _report({"kind": "stream", "content": str(text)})


def markdown(text: str) -> bool:
    """Show a block of markdown in the session."""
    return _report({"kind": "markdown", "content": str(text)})
