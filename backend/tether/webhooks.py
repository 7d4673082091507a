"""Webhooks: the endpoints admins register, and every channel's delivery log.

A **webhook** is a URL that receives the notifications (``notifications.py``) of the
types it names, optionally only for some tasks, from the moment it is created. Its
secret (Standard Webhooks: ``whsec_`` + base64 of 24 random bytes) is shown once, when
it is made; the hub must keep it to sign, so the store holds it sealed with the hub
secret (``sealing.py``), never in clear.

The **delivery log** is kept per channel (``webhook:<id>``, ``email``): one record per
attempt, newest first, capped at :data:`LOG_MAX` per channel. A record that ends a
notification's delivery (delivered, or given up) also keeps the body, so an admin can
send it again (``POST .../redeliver``).

``MemoryWebhooks`` serves hubs on the memory store; ``RedisWebhooks``
(``store/redis_webhooks.py``) serves hubs that share a Redis.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections import deque
from typing import Literal, Protocol
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tether.notifications import NOTIFICATION_TYPES, Notification, NotificationType

LOG_MAX = 1000  # delivery records kept per channel
MAX_URL = 2048
MAX_TASKS = 100
CURSOR = re.compile(r"[0-9]{1,20}-[0-9]{1,20}")
_TASK_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]{0,199}")


def new_webhook_id() -> str:
    return f"wh_{secrets.token_hex(8)}"


def new_secret() -> str:
    """A signing secret as Standard Webhooks spells it: ``whsec_`` + base64 (24 bytes)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


def check_url(url: str) -> str:
    """``url`` if the hub may POST to it: http or https, a host, no user or password
    (they would sit in the store and the delivery log). Raises ValueError."""
    if len(url) > MAX_URL:
        raise ValueError(f"at most {MAX_URL} characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError("must be an http:// or https:// URL")
    if not parts.hostname:
        raise ValueError("must name a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not hold a user name or password")
    if parts.fragment:
        raise ValueError("must not have a #fragment")
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when asked
    except ValueError as exc:
        raise ValueError("has an invalid port") from exc
    return url


class NewWebhook(BaseModel):
    """``POST /api/webhooks``'s body."""

    model_config = ConfigDict(extra="forbid")

    url: str
    events: list[NotificationType] = Field(min_length=1, max_length=len(NOTIFICATION_TYPES))
    tasks: list[str] = Field(default_factory=list, max_length=MAX_TASKS)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_url(value)

    @field_validator("events")
    @classmethod
    def _events(cls, value: list[NotificationType]) -> list[NotificationType]:
        return list(dict.fromkeys(value))  # repeats dropped, order kept

    @field_validator("tasks")
    @classmethod
    def _tasks(cls, value: list[str]) -> list[str]:
        for name in value:
            if not _TASK_NAME.fullmatch(name):
                raise ValueError(f"{name[:40]!r} is not a task name")
        return list(dict.fromkeys(value))


class WebhookInfo(BaseModel):
    """A webhook as the API shows it (never its secret)."""

    id: str
    url: str
    events: list[NotificationType]
    tasks: list[str]
    created_at: str
    created_by: str


class WebhookCreated(WebhookInfo):
    secret: str  # shown this once


class WebhookList(BaseModel):
    webhooks: list[WebhookInfo]


class Webhook(WebhookInfo):
    """A webhook as stored: with its secret sealed (``Sealer``)."""

    model_config = ConfigDict(frozen=True)

    sealed_secret: str

    @property
    def channel(self) -> str:
        return f"webhook:{self.id}"

    def info(self) -> WebhookInfo:
        return WebhookInfo.model_validate(self.model_dump(exclude={"sealed_secret"}))

    def wants(self, notification: Notification) -> bool:
        """Of the types it names, for its tasks (all when none), since it was made."""
        return (
            notification.type in self.events
            and (not self.tasks or notification.task in self.tasks)
            and notification.at >= self.created_at  # both ISO-8601 UTC, same format
        )


DeliveryOutcome = Literal["delivered", "retrying", "failed"]


class DeliveryInfo(BaseModel):
    """One attempt to deliver one notification to one channel."""

    id: str = ""  # the log's own (and the page cursor)
    notification_id: str
    type: NotificationType
    session_id: str
    seq: int
    attempt: int  # 1 for the first try; a redelivery counts on
    status: DeliveryOutcome  # retrying: it failed and will be tried again at next_attempt_at
    status_code: int | None = None  # the receiver's HTTP status, when it answered
    error: str | None = None  # why it failed, when it did
    at: str
    next_attempt_at: str | None = None


class DeliveryRecord(DeliveryInfo):
    """A log record as stored: one that ends a delivery keeps the body, to send again."""

    body: str | None = None

    def info(self) -> DeliveryInfo:
        return DeliveryInfo.model_validate(self.model_dump(exclude={"body"}))


class DeliveryPage(BaseModel):
    deliveries: list[DeliveryInfo]
    next: str | None  # the ``before`` of the next (older) page


class WebhookStore(Protocol):
    """Where webhooks and delivery logs live."""

    async def webhooks(self) -> list[Webhook]:
        """Every webhook, oldest first."""
        ...

    async def get(self, webhook_id: str) -> Webhook | None: ...

    async def put(self, webhook: Webhook) -> None: ...

    async def delete(self, webhook_id: str) -> bool:
        """Forget the webhook and its delivery log; False when there was none."""
        ...

    async def log(self, channel: str, record: DeliveryRecord) -> str:
        """Add ``record`` to ``channel``'s log; return the id assigned (increasing)."""
        ...

    async def deliveries(
        self, channel: str, *, limit: int, before: str | None
    ) -> tuple[list[DeliveryRecord], str | None]:
        """Up to ``limit`` records older than ``before``, newest first, and the next
        page's cursor (None on the last page)."""
        ...

    async def last_body(self, channel: str, notification_id: str) -> tuple[str, int] | None:
        """The body of the newest record of ``notification_id`` that keeps one, and that
        record's attempt number; None when the log has none."""
        ...

    async def close(self) -> None: ...


def cursor_key(cursor: str) -> tuple[int, int]:
    ms, _, n = cursor.partition("-")
    return int(ms), int(n or 0)


class MemoryWebhooks:
    """A :class:`WebhookStore` in this process's memory."""

    def __init__(self, *, log_max: int = LOG_MAX) -> None:
        self._webhooks: dict[str, Webhook] = {}
        self._logs: dict[str, deque[DeliveryRecord]] = {}
        self._log_max = log_max
        self._last = 0

    async def webhooks(self) -> list[Webhook]:
        return list(self._webhooks.values())

    async def get(self, webhook_id: str) -> Webhook | None:
        return self._webhooks.get(webhook_id)

    async def put(self, webhook: Webhook) -> None:
        self._webhooks[webhook.id] = webhook

    async def delete(self, webhook_id: str) -> bool:
        webhook = self._webhooks.pop(webhook_id, None)
        if webhook is None:
            return False
        self._logs.pop(webhook.channel, None)
        return True

    async def log(self, channel: str, record: DeliveryRecord) -> str:
        self._last += 1  # ids shaped like Redis stream ids, so one cursor syntax serves
        log = self._logs.setdefault(channel, deque(maxlen=self._log_max))
        log.append(record.model_copy(update={"id": f"{self._last}-0"}))
        return f"{self._last}-0"

    async def deliveries(
        self, channel: str, *, limit: int, before: str | None
    ) -> tuple[list[DeliveryRecord], str | None]:
        older = [
            r for r in reversed(self._logs.get(channel, ()))
            if before is None or cursor_key(r.id) < cursor_key(before)
        ]
        page = older[:limit]
        return page, (page[-1].id if len(older) > limit else None)

    async def last_body(self, channel: str, notification_id: str) -> tuple[str, int] | None:
        for record in reversed(self._logs.get(channel, ())):
            if record.notification_id == notification_id and record.body is not None:
                return record.body, record.attempt
        return None

    async def close(self) -> None:
        return None


def open_webhooks(redis_url: str | None) -> WebhookStore:
    """Redis's when the hub has one, else this process's memory."""
    if redis_url:
        from tether.store.redis_webhooks import RedisWebhooks

        return RedisWebhooks(redis_url)
    return MemoryWebhooks()
