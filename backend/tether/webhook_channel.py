"""``WebhookChannel``: POSTs notifications to one webhook, signed as Standard Webhooks
defines (https://www.standardwebhooks.com).

Every request carries ``webhook-id`` (the notification's id, the same on every retry),
``webhook-timestamp`` (seconds since the epoch, when this attempt was signed) and
``webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`` under the
webhook's secret. The signing is the ``standardwebhooks`` package's
(``Webhook(secret).sign``), the reference implementation of that spec, rather than a
copy of it here.

A 2xx answer is a delivery; anything else (another status, a redirect, which is never
followed, a timeout, a refused connection) raises :class:`DeliveryFailed`, and the
dispatcher tries again later.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from standardwebhooks.webhooks import Webhook as Signer

from tether.notifications import Notification

USER_AGENT = "Tether-Webhooks/0.1"
MAX_ERROR = 300  # characters of a failure kept in the delivery log


class DeliveryFailed(Exception):
    """A delivery that did not succeed; ``status_code`` when the receiver answered."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message[:MAX_ERROR])
        self.status_code = status_code


def signed_headers(secret: str, notification_id: str, body: str, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers for ``body`` sent at ``at``."""
    return {
        "webhook-id": notification_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Signer(secret).sign(notification_id, at, body),
    }


class WebhookChannel:
    """One webhook as a :class:`~tether.notifications.Channel`."""

    def __init__(
        self, *, webhook_id: str, url: str, secret: str, client: httpx.AsyncClient,
        public_url: str,
    ) -> None:
        self.name = f"webhook:{webhook_id}"
        self.url = url
        self._secret = secret
        self._client = client
        self._public_url = public_url.rstrip("/")

    def body(self, notification: Notification) -> str:
        """The JSON it POSTs: a request's notification links to the session's page,
        where whoever may answer does (a webhook is not a person)."""
        if notification.type.startswith("request."):
            url = f"{self._public_url}/sessions/{notification.session_id}"
            notification = notification.model_copy(update={"answer_url": url})
        return notification.model_dump_json()

    async def deliver(self, notification: Notification) -> None:
        await self.send(notification.id, self.body(notification))

    async def send(self, notification_id: str, body: str) -> int:
        """POST ``body``; return the 2xx status. Raises DeliveryFailed."""
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            **signed_headers(self._secret, notification_id, body, datetime.now(UTC)),
        }
        try:
            response = await self._client.post(
                self.url, content=body.encode(), headers=headers, follow_redirects=False,
            )
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}".rstrip(": ")) from exc
        if not 200 <= response.status_code < 300:
            raise DeliveryFailed(
                f"HTTP {response.status_code}", status_code=response.status_code
            )
        return response.status_code
