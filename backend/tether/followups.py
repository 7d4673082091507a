"""Reminders and escalation of open requests: the rules, without I/O.

``ctx.ask`` and ``ctx.confirm`` take ``remind_after``, ``escalate_after`` and
``escalate_to``. The request records when each is due (``remind_at``, ``escalate_at``)
when it opens, and when each happened (``reminded_at``, ``escalated_at``) once it did, in
the store with the request itself; so a resumed session (another hub, after a crash)
knows what is still to come and does nothing twice. Only the runner that holds the
session's lease acts, and the store refuses a change to a request that closed meanwhile
(``Store.update_request``).

What happens when: whatever is due first; at one instant, the deadline (``timeout``) wins
over escalation, and escalation over a reminder. Escalating adds ``escalate_to`` to the
assignees (an unassigned request, which waited for its owner, then waits for the owner
and them); a reminder changes nobody.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from tether.assignees import parse_assignees
from tether.messages import Request
from tether.replay import iso

Due = Literal["expire", "escalate", "remind"]
_ORDER: dict[Due, int] = {"expire": 0, "escalate": 1, "remind": 2}


@dataclass(frozen=True, slots=True)
class FollowUp:
    """What a task asked for: seconds until a reminder and an escalation, and whom."""

    remind_after: float | None = None
    escalate_after: float | None = None
    escalate_to: tuple[str, ...] = ()

    @classmethod
    def of(
        cls, remind_after: float | None, escalate_after: float | None,
        escalate_to: Sequence[str] | None,
    ) -> FollowUp | None:
        """Checked at the call, so a task author sees the mistake at once.

        Raises:
            ValueError: a time that is not a positive number, ``escalate_to`` without
                ``escalate_after`` or the other way round, or a bad assignee.
            TypeError: ``escalate_to`` is a string or holds non-strings.
        """
        for name, value in (("remind_after", remind_after), ("escalate_after", escalate_after)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
                or not math.isfinite(value) or value <= 0
            ):
                raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")
        to = parse_assignees(escalate_to)
        if (escalate_after is None) != (not to):
            raise ValueError("escalate_after and escalate_to go together: when, and to whom")
        if remind_after is None and escalate_after is None:
            return None
        return cls(remind_after, escalate_after, to)

    def schedule(self, created_at: datetime) -> dict[str, object]:
        """The request's fields for this follow-up, for a request opened at ``created_at``."""
        fields: dict[str, object] = {}
        if self.remind_after is not None:
            fields["remind_at"] = iso(created_at + timedelta(seconds=self.remind_after))
        if self.escalate_after is not None:
            fields["escalate_at"] = iso(created_at + timedelta(seconds=self.escalate_after))
            fields["escalate_to"] = list(self.escalate_to)
        return fields


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def next_due(request: Request, now: datetime) -> tuple[Due, float] | None:
    """What comes next for an open request and in how many seconds (0: now); None when
    nothing will (it just waits for its answer)."""
    candidates: list[tuple[datetime, int, Due]] = []
    if request.expires_at is not None:
        candidates.append((_parse(request.expires_at), _ORDER["expire"], "expire"))
    if request.escalate_at is not None and request.escalated_at is None:
        candidates.append((_parse(request.escalate_at), _ORDER["escalate"], "escalate"))
    if request.remind_at is not None and request.reminded_at is None:
        candidates.append((_parse(request.remind_at), _ORDER["remind"], "remind"))
    if not candidates:
        return None
    at, _, due = min(candidates)
    return due, max(0.0, (at - now).total_seconds())


def reminded(request: Request, now: datetime) -> Request:
    return request.model_copy(update={"reminded_at": iso(now)})


def escalated(request: Request, now: datetime, owner: str) -> tuple[Request, list[str]]:
    """The request after its escalation, and who was added."""
    current = list(request.assignees) or [owner]
    added = [who for who in request.escalate_to or () if who not in current]
    update = {"assignees": current + added, "escalated_at": iso(now)}
    return request.model_copy(update=update), added
