"""The webhook routes (``/api/webhooks``), for admins only: everyone else gets 403.

Translation only: the registry is :mod:`tether.webhooks`'s, delivering is the
:class:`~tether.dispatch.Dispatcher`'s. Creating and deleting a webhook are audited
(``webhook.create``, ``webhook.delete``, with the webhook's id and URL; never its secret).
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tether.api import int_param, json_response, read_body
from tether.audit import Audit, Where
from tether.dispatch import WEBHOOKS_COMMAND, Dispatcher
from tether.errors import (
    Forbidden,
    InvalidQuery,
    NotAuthenticated,
    StoreUnavailable,
    UnknownNotification,
    UnknownWebhook,
)
from tether.messages import now_iso
from tether.principal import Principal
from tether.sealing import Sealer
from tether.sessions import SessionManager
from tether.store.base import OUTBOX, Store
from tether.webhooks import (
    CURSOR,
    DeliveryPage,
    NewWebhook,
    Webhook,
    WebhookCreated,
    WebhookList,
    WebhookStore,
    new_secret,
    new_webhook_id,
)

log = logging.getLogger(__name__)

MAX_PAGE = 200


def _admin(request: Request) -> Principal:
    principal: Principal | None = request.state.principal
    if principal is None:
        raise NotAuthenticated()
    if not principal.is_admin:
        raise Forbidden("Only admins may manage webhooks.")
    return principal


def _store(request: Request) -> WebhookStore:
    store: WebhookStore = request.state.webhooks
    return store


async def _webhook(request: Request) -> Webhook:
    webhook_id = request.path_params["webhook_id"]
    webhook = await _store(request).get(webhook_id)
    if webhook is None:
        raise UnknownWebhook(f"There is no webhook {webhook_id[:64]!r}.")
    return webhook


def _about_to_change(request: Request) -> Store:
    """Before the webhook list changes: this hub's dispatcher counts on listeners from
    now on; returns the store whose feed tells the other hubs, once it changed
    (:func:`_tell_hubs`; dispatch.py, "Only when someone listens")."""
    dispatcher: Dispatcher = request.state.dispatcher
    dispatcher.webhooks_changed()
    manager: SessionManager = request.state.manager
    return manager.store


async def _tell_hubs(store: Store) -> None:
    try:
        await store.notify(OUTBOX, WEBHOOKS_COMMAND)
    except StoreUnavailable as exc:  # they read the list again within AUDIENCE_REFRESH
        log.warning("Other hubs were not told of the webhook change: %s", exc)


async def _record(request: Request, action: str, who: Principal, webhook: Webhook) -> None:
    audit: Audit = request.state.audit
    await audit.record(action, user=who.id, where=Where.of(request.scope),
                       target=f"{webhook.id} {webhook.url}"[:300], via="http")


async def create_webhook(request: Request) -> Response:
    who = _admin(request)
    body = await read_body(request, NewWebhook)
    secret = new_secret()
    sealer: Sealer = request.state.sealer
    webhook = Webhook(
        id=new_webhook_id(), url=body.url, events=body.events, tasks=body.tasks,
        created_at=now_iso(), created_by=who.id, sealed_secret=sealer.seal(secret),
    )
    feed = _about_to_change(request)
    await _store(request).put(webhook)
    await _tell_hubs(feed)
    await _record(request, "webhook.create", who, webhook)
    return json_response(WebhookCreated(**webhook.info().model_dump(), secret=secret), 201)


async def list_webhooks(request: Request) -> Response:
    _admin(request)
    webhooks = await _store(request).webhooks()
    return json_response(WebhookList(webhooks=[w.info() for w in webhooks]))


async def get_webhook(request: Request) -> Response:
    _admin(request)
    return json_response((await _webhook(request)).info())


async def delete_webhook(request: Request) -> Response:
    who = _admin(request)
    webhook = await _webhook(request)
    feed = _about_to_change(request)
    await _store(request).delete(webhook.id)
    await _tell_hubs(feed)
    await _record(request, "webhook.delete", who, webhook)
    return Response(status_code=204)


async def list_deliveries(request: Request) -> Response:
    _admin(request)
    webhook = await _webhook(request)
    before = request.query_params.get("before") or None
    if before is not None and not CURSOR.fullmatch(before):
        raise InvalidQuery("'before' is the 'next' of a previous page.",
                           fields={"before": before[:40]})
    records, cursor = await _store(request).deliveries(
        webhook.channel, limit=int_param(request, "limit", 50, 1, MAX_PAGE), before=before
    )
    return json_response(DeliveryPage(deliveries=[r.info() for r in records], next=cursor))


async def redeliver(request: Request) -> Response:
    _admin(request)
    webhook = await _webhook(request)
    notification_id = request.path_params["notification_id"]
    dispatcher: Dispatcher = request.state.dispatcher
    delivery = await dispatcher.redeliver(webhook, notification_id)
    if delivery is None:
        raise UnknownNotification(
            f"The delivery log of webhook {webhook.id!r} holds no finished delivery of "
            f"{notification_id[:64]!r}."
        )
    return json_response(delivery)


def routes() -> list[Route]:
    base = "/api/webhooks/{webhook_id}"
    return [
        Route("/api/webhooks", create_webhook, methods=["POST"]),
        Route("/api/webhooks", list_webhooks, methods=["GET"]),
        Route(base, get_webhook, methods=["GET"]),
        Route(base, delete_webhook, methods=["DELETE"]),
        Route(f"{base}/deliveries", list_deliveries, methods=["GET"]),
        Route(f"{base}/deliveries/{{notification_id}}/redeliver", redeliver, methods=["POST"]),
    ]
