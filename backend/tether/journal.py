"""``Journal``: what a session already did, so a resumed run does not do it again.

Every call a task makes through its context has a key: its scope (``""`` for the task,
``"m1[3]/"`` for item 3 of the first ``ctx.map``) and a per-scope counter. The keys are
the same on every run of the same code, however concurrently map items interleave.
While a session runs, the runner records under these keys, before the task sees them:

=============  ===============================================  ======================
kind           recorded                                         replayed as
=============  ===============================================  ======================
``step``       ``{"name", "result"}`` once it succeeded         the result, no call
``attempt``    ``{"name", "error"}`` for a failed attempt       skipped (not re-run)
``input`` …    ``{"request_id"}`` when a request opened         same id; its answer
``map``        ``{"count"}`` when a fan-out started             checked for divergence
``map_item``   ``{"result"}`` when an item finished             the result, no call
``sleep``      ``{"until"}`` the deadline of ``ctx.sleep``      the rest of the wait
=============  ===============================================  ======================

Answers live beside the journal (``request_id -> {"value", "by", "at"}`` or
``{"expired": true}``), written by whichever hub received them. Emitted events are
counted per scope; a resumed run skips the first *n* emits of a scope that are already in
the log, so clients never see an event twice.

A recorded key whose kind or name differs from the call now made at that place means the
code changed under a paused session: :class:`~tether.errors.Nondeterminism`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tether.errors import Nondeterminism
from tether.store.base import Store


@dataclass(frozen=True, slots=True)
class RecordedAnswer:
    """A closed request: answered with ``value``, or expired."""

    expired: bool
    value: Any = None
    by: str = ""


@dataclass(slots=True)
class Journal:
    """A session's recorded calls, answers and emit counts. Empty for a new session."""

    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    answers: dict[str, RecordedAnswer] = field(default_factory=dict)
    emitted: dict[str, int] = field(default_factory=dict)

    @classmethod
    async def load(cls, store: Store, session_id: str) -> Journal:
        entries = {k: json.loads(v) for k, v in (await store.journal(session_id)).items()}
        answers: dict[str, RecordedAnswer] = {}
        for request_id, raw in (await store.answers(session_id)).items():
            recorded = json.loads(raw)
            answers[request_id] = RecordedAnswer(
                expired=bool(recorded.get("expired")),
                value=recorded.get("value"),
                by=str(recorded.get("by", "")),
            )
        return cls(entries, answers, await store.emit_counts(session_id))

    def lookup(self, key: str, kind: str, name: str | None = None) -> dict[str, Any] | None:
        """The entry recorded at ``key``, checked against the call made now.

        Raises:
            Nondeterminism: the entry is of another kind or names another step.
        """
        entry = self.entries.get(key)
        if entry is None:
            return None
        if entry.get("kind") != kind or entry.get("name", name) != name:
            raise Nondeterminism(key, _describe(entry), _describe({"kind": kind, "name": name}))
        return entry

    def answer(self, request_id: str) -> RecordedAnswer | None:
        return self.answers.get(request_id)


def _describe(entry: dict[str, Any]) -> str:
    name = entry.get("name")
    return f"{entry.get('kind')} {name!r}" if name else str(entry.get("kind"))
