"""What the store keeps about requests and answers, as types both sides of it share.

The store boundary is typed: the hub hands the store a :class:`PendingRequest` when a
request opens and a :class:`RecordedAnswer` when one closes, and gets the same types
back; how they are laid out as strings (JSON in a Redis hash, a dict in memory) is the
store's own business (``tether.store.codec``). This module imports nothing of the store,
so the replay core can use these types without pulling any I/O in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from tether.messages import Request, dump_json


class PendingRequest(BaseModel):
    """An open request as stored, plus what any hub needs to validate its answer."""

    model_config = ConfigDict(frozen=True)

    request: Request
    model_ref: str | None = None
    journal_key: str | None = None
    secret: bool = False  # its answers have secret fields: the task reads them sealed
    # The W3C traceparent of the span that asked (tracing.py): its request span's parent.
    trace: str | None = None


@dataclass(frozen=True, slots=True)
class RecordedAnswer:
    """A closed request: answered with ``value`` by ``by`` at ``at``, or expired.

    ``sealed`` is the encrypted full value of an answer with secret fields (``value``
    then shows them masked); the runtime opens it before the task sees the answer.
    """

    expired: bool
    value: Any = None
    by: str = ""
    at: str = ""
    sealed: str | None = None

    @classmethod
    def from_json(cls, raw: str) -> RecordedAnswer:
        data = json.loads(raw)
        return cls(
            expired=bool(data.get("expired")), value=data.get("value"),
            by=str(data.get("by", "")), at=str(data.get("at", "")), sealed=data.get("sealed"),
        )

    def to_json(self) -> str:
        """Raises TypeError when the value cannot be stored as JSON."""
        if self.expired:
            return dump_json({"expired": True, "at": self.at})
        data: dict[str, Any] = {"value": self.value, "by": self.by, "at": self.at}
        if self.sealed is not None:
            data["sealed"] = self.sealed
        return dump_json(data)
