"""Notifications: what the hub tells the world outside its tabs (webhooks, email).

A :class:`Notification` is made in the same atomic store step as the event that causes
it (a request opened, answered or expired; a session finished): the runner or manager
builds it here, in Python, and hands it to the store with the event; the store splices
the event's ``seq`` in front of its JSON, exactly as it numbers frames
(:func:`outbox_body`), and keeps it in the outbox. The dispatcher (``dispatch.py``) then
hands it to every :class:`Channel` that wants it. Its JSON is the body a webhook receives;
its ``id`` is the ``webhook-id`` header, the same on every retry, so a receiver can drop
repeats (delivery is at least once).

This module imports nothing of the store or of Starlette: channels built elsewhere (the
email channel) depend on it alone.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Literal, Protocol, get_args

from pydantic import BaseModel, ConfigDict

from tether.messages import Request, Session, now_iso

NotificationType = Literal[
    "request.created", "request.answered", "request.expired",
    "request.reminder", "request.escalated",
    "session.completed", "session.failed", "session.cancelled",
]
NOTIFICATION_TYPES: tuple[str, ...] = get_args(NotificationType)


class Notification(BaseModel):
    """One thing that happened, as a webhook's body carries it (PROTOCOL.md, Webhooks)."""

    model_config = ConfigDict(frozen=True)

    id: str  # "ntf_<hex>": unique, the webhook-id header
    type: NotificationType
    at: str  # ISO-8601 UTC: when the causing event happened
    session_id: str
    task: str
    owner: str  # principal id of the session's owner
    seq: int  # the seq of the causing event: the order within a session
    request: Request | None = None
    answered_by: str | None = None  # request.answered
    # request.escalated: whom the escalation added (``request.assignees`` has everyone);
    # the email channel mails them alone, as the others were mailed when the request opened.
    added: list[str] | None = None
    answer_url: str | None = None  # filled per recipient by each channel


class Channel(Protocol):
    """Where notifications go: ``webhook:<id>``, ``email``. The dispatcher calls
    :meth:`deliver` for each notification the channel wants, in order per session, and
    calls again later (capped backoff, for a day) when it raises."""

    name: str

    async def deliver(self, notification: Notification) -> None: ...


def new_notification_id() -> str:
    return f"ntf_{secrets.token_hex(12)}"


def outbox_body(notification: Notification) -> str:
    """The JSON the store keeps, without ``seq``: the store puts ``"seq":N,`` in front
    (as ``messages.frame_with_seq`` does for events)."""
    return notification.model_dump_json(exclude={"seq"})


def with_seq(body: str, seq: int) -> str:
    """What the Redis store's scripts make of :func:`outbox_body`."""
    return f'{{"seq":{seq},{body[1:]}'


_FINISHED: dict[str, NotificationType] = {
    "completed": "session.completed", "failed": "session.failed",
    "cancelled": "session.cancelled",
}


class Audience:
    """Whether a notification could reach anyone now: what a store asks before it queues
    one in the outbox (queueing costs the store's writes and a dispatcher's round trips
    for each, which a hub with no webhook and no mail spends for nothing).

    Listening unless this hub knows better: while it has a channel of its own (mail), while
    the store's webhook list it last read was not empty, and whenever it is not sure of
    that list (before the first read, while its feed is away, from hearing that a hub
    changed the list until it has read it again). ``dispatch.py`` keeps it.
    """

    __slots__ = ("certain", "channels", "webhooks")

    def __init__(self) -> None:
        self.channels = 0  # this hub's own channels (mail)
        self.webhooks = 0  # webhooks in the store, as last read
        self.certain = False  # that read is current

    @property
    def listening(self) -> bool:
        return self.channels > 0 or self.webhooks > 0 or not self.certain


@dataclass(frozen=True, slots=True)
class SessionNotices:
    """Makes one session's notifications (its id, task and owner are in each). ``seq``
    is 0 until the store numbers the event that carries it."""

    session_id: str
    task: str
    owner: str

    @classmethod
    def of(cls, session: Session) -> SessionNotices:
        return cls(session.id, session.task, session.owner)

    def make(
        self, type_: NotificationType, *, at: str | None = None, request: Request | None = None,
        answered_by: str | None = None, added: list[str] | None = None,
    ) -> Notification:
        return Notification(
            id=new_notification_id(), type=type_, at=at or now_iso(),
            session_id=self.session_id, task=self.task, owner=self.owner, seq=0,
            request=request, answered_by=answered_by, added=added,
        )

    def request_created(self, request: Request) -> Notification:
        return self.make("request.created", at=request.created_at, request=request)

    def request_answered(self, request: Request, *, by: str, at: str) -> Notification:
        return self.make("request.answered", at=at, request=request, answered_by=by)

    def request_expired(self, request: Request, *, at: str) -> Notification:
        return self.make("request.expired", at=at, request=request)

    def finished(self, status: str, *, at: str) -> Notification:
        """``session.completed``/``failed``/``cancelled`` for a terminal ``status``."""
        return self.make(_FINISHED[status], at=at)
