"""``RedisWebhooks``: webhooks and delivery logs in Redis (see :mod:`tether.webhooks`).

Webhooks are one hash (id -> Webhook JSON, the secret sealed); each channel's delivery
log is a stream capped at about ``LOG_MAX`` records, read newest first like the audit
log, so a page's cursor is a stream id.
"""

from __future__ import annotations

from typing import cast

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from tether.errors import StoreUnavailable
from tether.store.connect import close_client, redis_client
from tether.store.keys import layout_for
from tether.webhooks import LOG_MAX, DeliveryRecord, Webhook

CHUNK = 200  # records read per XREVRANGE while looking for a body


class RedisWebhooks:
    """A :class:`~tether.webhooks.WebhookStore` in Redis."""

    def __init__(
        self, url: str, *, log_max: int = LOG_MAX, client_name: str = "tether-webhooks"
    ) -> None:
        self._redis: aioredis.Redis = redis_client(
            url, client_name=client_name, max_connections=16, blocking_timeout=20
        )
        self._log_max = log_max
        self._keys = layout_for(url)

    async def webhooks(self) -> list[Webhook]:
        try:
            raw = cast(dict[str, str], await self._redis.hgetall(self._keys.webhooks))
        except RedisError as exc:
            raise StoreUnavailable(f"Redis is unavailable: {exc}") from exc
        found = [Webhook.model_validate_json(value) for value in raw.values()]
        return sorted(found, key=lambda w: (w.created_at, w.id))

    async def get(self, webhook_id: str) -> Webhook | None:
        try:
            raw = await self._redis.hget(self._keys.webhooks, webhook_id)
        except RedisError as exc:
            raise StoreUnavailable(f"Redis is unavailable: {exc}") from exc
        return None if raw is None else Webhook.model_validate_json(raw)

    async def put(self, webhook: Webhook) -> None:
        try:
            await self._redis.hset(self._keys.webhooks, webhook.id, webhook.model_dump_json())
        except RedisError as exc:
            raise StoreUnavailable(f"Redis is unavailable: {exc}") from exc

    async def delete(self, webhook_id: str) -> bool:
        channel = f"webhook:{webhook_id}"
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                # Raw commands: redis-py's cluster transactions fail on the extra
                # arguments its command methods pass (the keys share a tag there).
                pipe.execute_command("HDEL", self._keys.webhooks, webhook_id)
                pipe.execute_command("DEL", self._keys.delivery_log(channel))
                removed, _ = await pipe.execute()
        except RedisError as exc:
            raise StoreUnavailable(f"Redis is unavailable: {exc}") from exc
        return bool(removed)

    async def log(self, channel: str, record: DeliveryRecord) -> str:
        try:
            return str(await self._redis.xadd(
                self._keys.delivery_log(channel), {"r": record.model_dump_json(exclude={"id"})},
                maxlen=self._log_max, approximate=True,
            ))
        except RedisError as exc:
            raise StoreUnavailable(f"Redis is unavailable: {exc}") from exc

    async def _read(self, channel: str, start: str, count: int) -> list[DeliveryRecord]:
        if start == "(0-0":
            return []  # nothing is older; and Redis refuses "(0-0"
        try:
            rows = cast(
                list[tuple[str, dict[str, str]]],
                await self._redis.xrevrange(
                    self._keys.delivery_log(channel), start, "-", count=count
                ),
            )
        except RedisError as exc:
            raise StoreUnavailable(f"Redis is unavailable: {exc}") from exc
        return [
            DeliveryRecord.model_validate_json(fields["r"]).model_copy(update={"id": entry_id})
            for entry_id, fields in rows
        ]

    async def deliveries(
        self, channel: str, *, limit: int, before: str | None
    ) -> tuple[list[DeliveryRecord], str | None]:
        rows = await self._read(channel, f"({before}" if before else "+", limit + 1)
        page = rows[:limit]
        return page, (page[-1].id if len(rows) > limit else None)

    async def last_body(self, channel: str, notification_id: str) -> tuple[str, int] | None:
        start = "+"
        while True:
            rows = await self._read(channel, start, CHUNK)
            for record in rows:
                if record.notification_id == notification_id and record.body is not None:
                    return record.body, record.attempt
            if len(rows) < CHUNK:
                return None
            start = f"({rows[-1].id}"

    async def close(self) -> None:
        await close_client(self._redis)
