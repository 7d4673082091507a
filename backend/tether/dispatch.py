"""``Dispatcher``: takes notifications from the outbox to every channel that wants them.

One per hub process. The outbox (``store/base.py``, "the outbox") is written in the same
atomic step as the events that cause its notifications, so nothing is lost between an
event and its notification; this module gets each one delivered at least once:

- **Claims.** A dispatcher claims sessions whose outbox is due, with a lease on the
  store's clock that it renews while it works. So with several hubs each session's
  outbox is worked on by one at a time, and each notification is sent by one hub. A hub
  killed mid-delivery leaves its claims to run out; another hub (or the same, restarted)
  claims them and sends what was not recorded as delivered: a receiver may get a
  notification twice, always with the same ``webhook-id``.
- **Order.** Per session and channel, notifications go in ``seq`` order, one at a time:
  the next is not sent before the one before it was delivered or given up. Channels do
  not wait for each other, and sessions do not wait for each other.
- **Retries.** A failed delivery is tried again after a capped, jittered, doubling wait
  (``TETHER_WEBHOOK_RETRY_BASE``, ``_CAP``), until ``TETHER_WEBHOOK_RETRY_FOR`` seconds
  after its first attempt; then it is given up (``failed`` in the delivery log).
- **Prompt.** Every queued notification publishes ``outbox`` on the store's feed: the
  dispatchers look at once instead of polling slowly.
- **Bounded.** At most ``concurrency`` deliveries are in flight per hub.
- **Only when someone listens.** The store queues nothing while no notification could
  reach anyone: this hub has no channel of its own (mail) and the store's webhook list,
  as last read, is empty (``notifications.Audience``). The dispatcher keeps that view: it
  reads the list at start, every :data:`AUDIENCE_REFRESH` seconds, after its feed was
  away, and when a hub says it changed the list (``webhooks`` on the feed, published by
  the webhook routes), counting it unsure (so listening) from then until it has read it.

Channels: every webhook (``webhooks.py``) is one, built from the store's list; other
channels (email) join with :meth:`Dispatcher.add_channel`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from tether.backoff import nth_delay
from tether.config import Settings
from tether.errors import SealBroken, StoreUnavailable
from tether.messages import now_iso
from tether.metrics import HubMetrics
from tether.notifications import Channel, Notification
from tether.sealing import Sealer
from tether.store.base import OUTBOX, OUTBOX_COMMAND, DeliveryState, OutboxItem, Store
from tether.webhook_channel import DeliveryFailed, WebhookChannel
from tether.webhooks import DeliveryInfo, DeliveryRecord, Webhook, WebhookStore

log = logging.getLogger(__name__)

READ_LIMIT = 100  # notifications of one session looked at per claim
AUDIENCE_REFRESH = 30.0  # seconds between reads of the webhook list for the audience
WEBHOOKS_COMMAND = "webhooks"  # on the outbox feed: a hub changed the webhook list

Target = tuple[Channel, Callable[[Notification], bool]]  # a channel and what it wants


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When a failed delivery is tried again, and when it is given up."""

    first: float = 5.0
    cap: float = 3600.0
    give_up_after: float = 86400.0

    def delay(self, attempt: int) -> float:
        return min(nth_delay(attempt, first=self.first, cap=self.cap), self.cap)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )


class Dispatcher:
    """Delivers the outbox. See the module docstring."""

    def __init__(
        self,
        *,
        store: Store,
        webhooks: WebhookStore,
        sealer: Sealer,
        dispatcher_id: str,
        public_url: str,
        lease_seconds: float = 10.0,
        retry: RetryPolicy = RetryPolicy(),
        concurrency: int = 16,
        timeout: float = 10.0,
        max_sessions: int = 64,
        metrics: HubMetrics | None = None,
    ) -> None:
        self._store = store
        self._metrics = metrics or HubMetrics()
        self._webhooks = webhooks
        self._sealer = sealer
        self._id = dispatcher_id
        self._public_url = public_url
        self._lease = lease_seconds
        self._retry = retry
        self._slots = asyncio.Semaphore(concurrency)
        self._max_sessions = max_sessions
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=concurrency),
        )
        self._channels: list[tuple[Channel, Callable[[Notification], bool]]] = []
        self._hooks: dict[str, tuple[Webhook, WebhookChannel]] = {}
        self._working: dict[str, asyncio.Task[None]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._wake = asyncio.Event()
        self._heard_change = False
        self._audience_read = 0.0  # when the webhook list was last read for the audience

    def add_channel(self, channel: Channel, *, wants: Callable[[Notification], bool]) -> None:
        """Deliver to ``channel`` every notification ``wants`` accepts (from now on,
        including those already queued), with the same order and retries as webhooks."""
        self._channels.append((channel, wants))
        self._store.audience.channels += 1
        self._wake.set()

    # --- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        with contextlib.suppress(StoreUnavailable):
            await self._store.subscribe(OUTBOX, self)
        self._tasks = [
            asyncio.create_task(self._loop(), name="tether-dispatcher"),
            asyncio.create_task(self._renew_loop(), name="tether-dispatcher-renew"),
        ]

    async def stop(self) -> None:
        """Stop delivering. Claims held now run out, and whatever was not recorded as
        delivered is sent again by whichever dispatcher claims it next."""
        with contextlib.suppress(StoreUnavailable):
            await self._store.unsubscribe(OUTBOX, self)
        tasks = [*self._tasks, *self._working.values()]
        for task in tasks:
            task.cancel()
        if tasks:  # bounded: a delivery stuck in a slow receiver must not hold shutdown
            await asyncio.wait(tasks, timeout=5)
        await self._client.aclose()

    # --- the feed (SessionListener of the OUTBOX pseudo-session) ----------------------

    def on_frames(self, session_id: str, frames: Sequence[str]) -> None:
        return None

    def on_command(self, session_id: str, command: str) -> None:
        if command == OUTBOX_COMMAND:
            self._wake.set()
        elif command == WEBHOOKS_COMMAND:
            self.webhooks_changed()

    def on_resync(self) -> None:
        self._store.audience.certain = False  # a change of the webhooks may have gone unheard
        self._wake.set()  # the feed was away: a notification may have gone unheard

    def on_outage(self) -> None:
        self._store.audience.certain = False

    def webhooks_changed(self) -> None:
        """The webhook list changed (here, or a hub said so): listen until it is read."""
        self._store.audience.certain = False
        self._heard_change = True
        self._wake.set()

    async def _refresh_audience(self) -> None:
        """Read how many webhooks there are; sure of it unless a change was heard during
        the read (then it is read again at once)."""
        self._heard_change = False
        self._audience_read = time.monotonic()
        try:
            count = len(await self._webhooks.webhooks())
        except StoreUnavailable:
            self._store.audience.certain = False
            return
        audience = self._store.audience
        audience.webhooks = count
        audience.certain = not self._heard_change
        if self._heard_change:
            self._wake.set()

    # --- the loops -------------------------------------------------------------------

    async def _loop(self) -> None:
        # Polling finds retries whose time came and claims whose dispatcher died; the
        # feed wakes it for new notifications.
        poll = max(0.01, min(self._lease / 3, self._retry.first))
        while True:
            self._wake.clear()
            audience = self._store.audience
            if not audience.certain or time.monotonic() - self._audience_read > AUDIENCE_REFRESH:
                await self._refresh_audience()
            try:
                room = self._max_sessions - len(self._working)
                claimed = await self._store.claim_outbox(
                    self._id, limit=room, lease_seconds=self._lease
                ) if room > 0 else []
                if claimed:
                    await self._start_round(claimed)
            except StoreUnavailable as exc:
                log.warning("The outbox is not dispatched, the store is unavailable: %s", exc)
            except Exception:
                log.exception("Dispatching failed; trying again")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(poll):  # a timer; wait_for would add a task
                    await self._wake.wait()

    async def _start_round(self, claimed: list[str]) -> None:
        """Read the claimed sessions' outboxes, then the channels once for all of them
        (a burst of starts claims dozens of sessions at once), and deliver each.

        The channels are read after the outboxes, so a webhook gets every notification
        queued after it was added. A session whose outbox cannot be read now is left to
        its claim, which runs out; it is claimed again then.
        """
        read = await asyncio.gather(
            *(self._store.read_outbox(session_id, limit=READ_LIMIT) for session_id in claimed),
            return_exceptions=True,
        )
        targets = await self._targets()
        for session_id, items in zip(claimed, read, strict=True):
            if isinstance(items, BaseException):
                log.warning("The outbox of session %s is not dispatched now: %s",
                            session_id, items)
            else:
                self._spawn(session_id, items, targets)

    def _spawn(self, session_id: str, items: list[OutboxItem], targets: list[Target]) -> None:
        task = asyncio.create_task(
            self._work(session_id, items, targets), name=f"dispatch-{session_id}"
        )
        self._working[session_id] = task

        def done(t: asyncio.Task[None]) -> None:
            self._working.pop(session_id, None)
            if not t.cancelled() and t.exception() is not None:
                log.error("Dispatching session %s failed", session_id, exc_info=t.exception())
            self._wake.set()  # released: it may be due again at once

        task.add_done_callback(done)

    async def _renew_loop(self) -> None:
        while True:
            await asyncio.sleep(self._lease / 3)
            if not self._working:
                continue
            try:
                lost = await self._store.renew_outbox(
                    self._id, list(self._working), lease_seconds=self._lease
                )
            except StoreUnavailable as exc:
                log.warning("Outbox claims not renewed, the store is unavailable: %s", exc)
                continue
            for session_id in lost:  # another dispatcher took it after a long pause
                task = self._working.get(session_id)
                if task is None or task.done():
                    continue  # released while the renewal was on its way: not lost
                log.warning("Lost the outbox claim of session %s", session_id)
                task.cancel()

    # --- one session's outbox --------------------------------------------------------

    async def _targets(self) -> list[Target]:
        """Every channel and what it wants: the webhooks as stored now, then the others."""
        found: list[Target] = []
        for webhook in await self._webhooks.webhooks():
            known = self._hooks.get(webhook.id)
            if known is None or known[0] != webhook:
                try:
                    known = (webhook, self.webhook_channel(webhook))
                except SealBroken:  # another TETHER_SECRET sealed it: the others still go
                    log.error("Webhook %s cannot be signed: its secret was sealed with "
                              "another hub secret", webhook.id)
                    continue
                self._hooks[webhook.id] = known
            found.append((known[1], webhook.wants))
        return [*found, *self._channels]

    def webhook_channel(self, webhook: Webhook) -> WebhookChannel:
        return WebhookChannel(
            webhook_id=webhook.id, url=webhook.url,
            secret=self._sealer.open(webhook.sealed_secret), client=self._client,
            public_url=self._public_url,
        )

    async def _work(
        self, session_id: str, items: list[OutboxItem], targets: list[Target]
    ) -> None:
        """Deliver what is due of ``items`` (the head of a claimed session's outbox) to
        ``targets`` (the channels read after it), then release the session."""
        lanes: dict[str, tuple[Channel, list[OutboxItem]]] = {}
        wanted: dict[str, set[str]] = {}
        for item in items:
            wanted[item.notification.id] = set()
            for channel, wants in targets:
                if wants(item.notification):
                    lanes.setdefault(channel.name, (channel, []))[1].append(item)
                    wanted[item.notification.id].add(channel.name)
        states = {
            (item.notification.id, name): state
            for item in items for name, state in item.deliveries.items()
        }
        waits: list[float] = []

        async def lane(channel: Channel, queued: list[OutboxItem]) -> None:
            for item in queued:  # in seq order, each once delivered or given up
                key = (item.notification.id, channel.name)
                state = states.get(key)
                if state is not None and state.finished:
                    continue
                if state is not None and (state.next_at or 0) > time.time():
                    waits.append((state.next_at or 0) - time.time())
                    return
                state = await self._attempt(session_id, channel, item.notification, state)
                if state is None:
                    return  # the claim is gone: its new holder carries on
                states[key] = state
                if not state.finished:
                    waits.append((state.next_at or 0) - time.time())
                    return

        await asyncio.gather(*(lane(channel, queued) for channel, queued in lanes.values()))
        finished: list[OutboxItem] = []
        for item in items:  # the head whose every channel is done leaves the outbox
            nid = item.notification.id
            done = all(
                (s := states.get((nid, name))) is not None and s.finished
                for name in wanted[nid]
            )
            if not done:
                break
            finished.append(OutboxItem(item.notification, {  # every state kept, to drop
                name: state for (of, name), state in states.items() if of == nid
            }))
        await self._store.release_outbox(
            session_id, self._id, finished=finished, seen=len(items),
            delay=max(0.0, min(waits)) if waits else None,
        )

    async def _attempt(
        self, session_id: str, channel: Channel, notification: Notification,
        state: DeliveryState | None,
    ) -> DeliveryState | None:
        """Deliver once and record how it went; None when the claim was lost."""
        attempt = (state.attempts if state else 0) + 1
        first_at = state.first_at if state else time.time()
        status_code: int | None = None
        error: str | None = None
        async with self._slots:
            try:
                if isinstance(channel, WebhookChannel):
                    status_code = await channel.send(notification.id, channel.body(notification))
                else:
                    await channel.deliver(notification)
            except asyncio.CancelledError:
                raise
            except DeliveryFailed as exc:
                status_code, error = exc.status_code, str(exc)
            except Exception as exc:  # a channel's own failure: retried the same way
                error = f"{type(exc).__name__}: {exc}"[:300]
        now = time.time()
        if error is None:
            new = DeliveryState("delivered", attempt, first_at)
        elif now - first_at >= self._retry.give_up_after:
            new = DeliveryState("failed", attempt, first_at)
            log.warning("Gave up delivering %s to %s after %d attempts: %s",
                        notification.id, channel.name, attempt, error)
        else:
            new = DeliveryState("retrying", attempt, first_at,
                                next_at=now + self._retry.delay(attempt))
        self._metrics.delivery(channel.name, new.status)  # it happened, claim or not
        if not await self._store.save_delivery(
            session_id, self._id, notification.id, channel.name, new
        ):
            return None
        body = None
        if new.finished:
            body = (channel.body(notification) if isinstance(channel, WebhookChannel)
                    else notification.model_dump_json())
        await self._log(channel.name, DeliveryRecord(
            notification_id=notification.id, type=notification.type,
            session_id=notification.session_id, seq=notification.seq, attempt=attempt,
            status=new.status, status_code=status_code, error=error, at=_iso(now),
            next_attempt_at=_iso(new.next_at) if new.next_at else None, body=body,
        ))
        return new

    async def _log(self, channel: str, record: DeliveryRecord) -> str:
        try:
            return await self._webhooks.log(channel, record)
        except StoreUnavailable as exc:  # the delivery stands; its record goes here
            log.error("Delivery record not stored (%s): %s", exc, record.model_dump_json())
            return ""

    # --- sending again ---------------------------------------------------------------

    async def redeliver(self, webhook: Webhook, notification_id: str) -> DeliveryInfo | None:
        """Send a notification the webhook's log holds (delivered or given up) again,
        now, with its id; record the attempt. None when the log does not hold it."""
        found = await self._webhooks.last_body(webhook.channel, notification_id)
        if found is None:
            return None
        body, last_attempt = found
        notification = Notification.model_validate_json(body)
        channel = self.webhook_channel(webhook)
        status_code: int | None = None
        error: str | None = None
        async with self._slots:
            try:
                status_code = await channel.send(notification_id, body)
            except DeliveryFailed as exc:
                status_code, error = exc.status_code, str(exc)
        self._metrics.delivery(channel.name, "delivered" if error is None else "failed")
        record = DeliveryRecord(
            notification_id=notification_id, type=notification.type,
            session_id=notification.session_id, seq=notification.seq,
            attempt=last_attempt + 1, status="delivered" if error is None else "failed",
            status_code=status_code, error=error, at=now_iso(), body=body,
        )
        record_id = await self._log(webhook.channel, record)
        return record.model_copy(update={"id": record_id}).info()


def dispatcher_settings(settings: Settings) -> dict[str, Any]:
    """The keyword arguments of :class:`Dispatcher` that ``Settings`` gives."""
    return {
        "lease_seconds": settings.lease_seconds,
        "retry": RetryPolicy(
            first=settings.webhook_retry_base, cap=settings.webhook_retry_cap,
            give_up_after=settings.webhook_retry_for,
        ),
        "concurrency": settings.dispatch_concurrency,
        "timeout": settings.webhook_timeout,
        "public_url": settings.base_url,
    }
