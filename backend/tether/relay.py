"""The hub's side of worker reports (``tether.worker``), without I/O.

Reports of one call carry ``seq`` 0, 1, 2 … and end with an ``end`` marker; they may
arrive in any order (Ray does not promise order between an async actor's calls).
:class:`CallReports` holds back whatever comes early and releases reports in the order the
worker made them; :func:`to_event` turns one into the session event it stands for. A report
that is not one of ours (wrong shape, wrong types) becomes nothing rather than an error: a
worker must not be able to break the session that receives its reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from tether.messages import EventBase, MarkdownEvent, ProgressEvent, StreamEvent, now_iso

__all__ = ["MAX_HELD", "CallReports", "to_event", "worker_scope"]

# Reports held back waiting for an earlier one; beyond this the call's reports are given
# up (a worker that skips numbers would otherwise fill the hub's memory).
MAX_HELD = 10_000


def worker_scope(call_key: str) -> str:
    """The emit scope of the reports of the call journaled at ``call_key`` (a step's
    attempt key, ``step2.attempt1``, or a map item's key, ``m1[3]``).

    A scope of their own, per attempt: a resumed session counts emits per scope to skip
    what its log already holds, and a finished call's reports are not made again on
    resume; counted with the context's own emits they would shift every later one.
    """
    return f"{call_key}/worker/"


class CallReports:
    """One call's reports, put back in order. See the module docstring."""

    def __init__(self) -> None:
        self._next = 0
        self._held: dict[int, Mapping[str, Any]] = {}
        self.ended = False
        self.overflowed = False

    def add(self, seq: int, message: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        """Take report ``seq``; returns the reports now due, in order (the end marker
        itself is not returned: :attr:`ended` turns True)."""
        if self.ended or self.overflowed or seq < self._next or seq in self._held:
            return []  # late, repeated or after the end: already dealt with
        if len(self._held) >= MAX_HELD:
            self.overflowed = True
            self._held.clear()
            return []
        self._held[seq] = message
        due: list[Mapping[str, Any]] = []
        while self._next in self._held:
            report = self._held.pop(self._next)
            self._next += 1
            if report.get("kind") == "end":
                self.ended = True
                self._held.clear()
                break
            due.append(report)
        return due


def to_event(report: Mapping[str, Any]) -> EventBase | None:
    """The session event a report stands for, or None for one that is not valid."""
    kind = report.get("kind")
    fields = {k: v for k, v in report.items() if k != "kind"}
    model: type[EventBase]
    if kind == "progress":
        model = ProgressEvent
    elif kind == "stream":
        model = StreamEvent
    elif kind == "markdown":
        model = MarkdownEvent
    else:
        return None
    try:
        return model.model_validate({**fields, "seq": 0, "ts": now_iso()})
    except ValidationError:
        return None
