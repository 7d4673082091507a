"""The Redis store's outbox (store/base.py, "the outbox"): notifications queued with the
events that cause them, claimed by one dispatcher at a time per session, and what each
channel was given. The scripts are ``lua/outbox_*.lua``; on a cluster the due set and the
claims are per bucket, and a claim looks where something is due first.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from typing import Any

from tether.notifications import Notification, outbox_body
from tether.store.base import DeliveryState, OutboxItem, delivery_field
from tether.store.codec import outbox_items
from tether.store.redis_base import RedisBase
from tether.store.scripts import Call


class RedisOutbox(RedisBase):
    """See the module docstring."""

    _outbox_add: Any
    _outbox_claim: Any
    _outbox_renew: Any
    _outbox_save: Any
    _outbox_release: Any

    def _outbox_body(self, notification: Notification | None) -> str:
        """What a script queues in the outbox: nothing while nobody listens."""
        if notification is None or not self.audience.listening:
            return ""
        return outbox_body(notification)

    async def enqueue_notification(self, notification: Notification) -> None:
        if not self.audience.listening:
            return
        layout = self._layout
        session_id = notification.session_id
        bucket = layout.bucket_of(session_id)
        await self._run(
            self._outbox_add, [*layout.outbox_keys(session_id), *layout.guard(bucket)],
            [session_id, notification.model_dump_json(), layout.outbox_channel(bucket),
             layout.publish],
        )

    async def claim_outbox(
        self, dispatcher: str, *, limit: int, lease_seconds: float
    ) -> list[str]:
        layout = self._layout
        lease_ms = int(lease_seconds * 1000)
        if not layout.is_cluster:
            return list(await self._run(
                self._outbox_claim, [layout.outbox_due(0), layout.outbox_claims(0)],
                [dispatcher, lease_ms, limit],
            ))
        # Where something is due (by this hub's clock: the scripts decide by each node's),
        # then claims there, together no more than `limit`.
        now_ms = int(time.time() * 1000)
        counts = await self._pipelined(
            [("ZCOUNT", layout.outbox_due(b), "-inf", now_ms) for b in self._buckets()]
        )
        calls, budget = [], limit
        for bucket, count in enumerate(counts):
            if int(count) and budget > 0:
                take = min(int(count), budget)
                budget -= take
                calls.append(Call(
                    self._outbox_claim,
                    [layout.outbox_due(bucket), layout.outbox_claims(bucket),
                     *layout.guard(bucket)],
                    [dispatcher, lease_ms, take],
                ))
        return [str(sid) for claimed in await self._each(calls) for sid in claimed]

    async def renew_outbox(
        self, dispatcher: str, session_ids: Collection[str], *, lease_seconds: float
    ) -> list[str]:
        if not session_ids:
            return []
        layout = self._layout
        calls = [
            Call(self._outbox_renew,
                 [layout.outbox_due(b), layout.outbox_claims(b), *layout.guard(b)],
                 [dispatcher, int(lease_seconds * 1000), *ids])
            for b, ids in self._by_bucket(session_ids).items()
        ]
        return [str(sid) for lost in await self._each(calls) for sid in lost]

    async def read_outbox(self, session_id: str, *, limit: int) -> list[OutboxItem]:
        k = self._layout.session(session_id)
        queued, states = await self._atomic(
            [("LRANGE", k.outbox, 0, limit - 1), ("HGETALL", k.deliveries)]
        )
        return outbox_items(queued, states)

    async def save_delivery(
        self, session_id: str, dispatcher: str, notification_id: str, channel: str,
        state: DeliveryState,
    ) -> bool:
        layout = self._layout
        bucket = layout.bucket_of(session_id)
        saved = await self._run(
            self._outbox_save,
            [layout.outbox_claims(bucket), layout.session(session_id).deliveries,
             *layout.guard(bucket)],
            [session_id, dispatcher, delivery_field(notification_id, channel), state.to_json()],
        )
        return bool(int(saved))

    async def release_outbox(
        self, session_id: str, dispatcher: str, *, finished: Sequence[OutboxItem],
        seen: int, delay: float | None,
    ) -> None:
        layout = self._layout
        bucket = layout.bucket_of(session_id)
        k = layout.session(session_id)
        ids = [item.notification.id for item in finished]
        fields = [delivery_field(item.notification.id, channel)
                  for item in finished for channel in item.deliveries]
        await self._run(
            self._outbox_release,
            [layout.outbox_due(bucket), layout.outbox_claims(bucket), k.outbox, k.deliveries,
             *layout.guard(bucket)],
            [session_id, dispatcher, "" if delay is None else max(1, int(delay * 1000)), seen,
             len(ids), *ids, *fields],
        )
