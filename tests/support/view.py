"""What a tab renders of a session, folded from the events it received.

Mirrors the app's session store (``frontend/src/session/store.ts``): a ``snapshot`` sets
the whole base view from its session, every later event changes it. Two tabs that end
with equal views show the same thing, however they got there, and a view folded from
events must equal the one the hub's Session describes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

Frame = dict[str, Any]
TERMINAL = ("completed", "failed", "cancelled")


@dataclass(frozen=True)
class View:
    status: str | None = None
    state: dict[str, Any] = field(default_factory=dict)
    progress: dict[str, tuple[float, float]] = field(default_factory=dict)
    pending: frozenset[str] = frozenset()  # open request ids
    result: Any = None
    error: tuple[str | None, str] | None = None  # (type, message)
    cancel_reason: str | None = None
    cancelled_by: str | None = None
    forked_from: dict[str, Any] | None = None


def of_session(session: Frame) -> View:
    """The view a Session (from ``GET`` or a snapshot) describes."""
    error = session["error"]
    return View(
        status=session["status"],
        state=session["state"],
        progress={k: (v["done"], v["total"]) for k, v in session.get("progress", {}).items()},
        pending=frozenset(r["request_id"] for r in session["pending"]),
        result=session["result"],
        error=(error["type"], error["message"]) if error else None,
        cancel_reason=session.get("cancel_reason"),
        cancelled_by=session.get("cancelled_by"),
        forked_from=session.get("forked_from"),
    )


def fold(events: Iterable[Frame], view: View | None = None) -> View:
    """Apply ``events`` in order, starting from ``view`` (default: nothing seen)."""
    out = view or View()
    for event in events:
        out = apply(out, event)
    return out


def apply(view: View, e: Frame) -> View:
    kind = e["type"]
    if kind == "snapshot":
        return of_session(e["session"])
    if kind == "status":
        pending = frozenset() if e["status"] in TERMINAL else view.pending
        return replace(view, status=e["status"], pending=pending)
    if kind == "state":
        return replace(view, state=e["state"])
    if kind == "progress":
        bar = {e.get("label") or "": (e["done"], e["total"])}
        return replace(view, progress={**view.progress, **bar})
    if kind in ("request_user_input", "request_confirmation") or (
        kind == "task_failed" and e.get("request_id")
    ):
        return replace(view, pending=view.pending | {e["request_id"]})
    if kind == "task_failed":
        return replace(view, error=(e.get("error_type"), e["error"]))
    if kind in ("request_answered", "request_expired"):
        return replace(view, pending=view.pending - {e["request_id"]})
    if kind == "task_completed":
        return replace(view, result=e["result"])
    if kind == "task_cancelled":
        return replace(
            view, cancel_reason=e["reason"], cancelled_by=e.get("by"), pending=frozenset()
        )
    return view  # stream, markdown: lines, not state
