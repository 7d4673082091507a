"""``create_app(settings, hub)``: builds a hub process's whole ASGI application.

Nothing lives in module globals: the lifespan opens the store and builds the session
manager and the fan-out, Starlette hands them to every request and WebSocket as
``state``, and on shutdown they close in uvicorn's order: runners stop (their sessions
stay resumable in the store), then the store closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from opentelemetry.trace import TracerProvider
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from tether import (
    access_redaction,
    answer_api,
    api,
    audit_api,
    login_api,
    oidc_api,
    sharing_api,
    webhooks_api,
)
from tether.accounts import open_access
from tether.answer_links import AnswerLinks, open_spent_links
from tether.audit import Audit
from tether.auth import IdentityMiddleware
from tether.config import Settings
from tether.csrf import CsrfMiddleware
from tether.dispatch import Dispatcher, dispatcher_settings
from tether.executors import Executors
from tether.fanout import Fanout
from tether.hub import Hub
from tether.leases import LeaseKeeper
from tether.mail import EmailChannel
from tether.metrics import HubMetrics, shared_metrics_dir
from tether.metrics_api import METRICS_PATH, metrics_app
from tether.openapi import build_openapi
from tether.quotas import Quotas
from tether.sealing import Sealer
from tether.security_headers import SecurityHeadersMiddleware
from tether.sessions import SessionManager
from tether.static import SpaFiles
from tether.store import MemoryStore, open_store
from tether.tracing import open_tracing
from tether.webhooks import open_webhooks
from tether.ws import PATH_PREFIX, SessionSocketApp, SocketLimits

log = logging.getLogger(__name__)

STEP_SECONDS = 5.0  # the longest one shutdown step may take beyond its own timeout


async def bounded(step: Coroutine[Any, Any, Any], seconds: float, what: str) -> None:
    """Run a shutdown step for at most ``seconds``; past that, cancel it and go on
    without waiting for it to end (``wait_for`` would wait for a step that does not)."""
    task = asyncio.ensure_future(step)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if done:
        task.result()
        return
    log.warning("Shutdown: %s took over %.0f s; going on without it", what, seconds)
    task.cancel()

VERSION = "0.1.0"


def create_app(
    settings: Settings, hub: Hub, *, tracer_provider: TracerProvider | None = None,
    draining: Callable[[], bool] | None = None,
) -> HubApp:
    """The ASGI app of one hub process serving ``hub``'s tasks.

    ``tracer_provider``: where its spans go (it stays the caller's to shut down); by
    default an OTLP exporter when ``settings.traces_endpoint`` is set, else none.
    ``draining``: true once the server was told to stop. From then on the hub adopts no
    more sessions: the server closes its connections before the lifespan's shutdown
    begins, and sessions other hubs release meanwhile belong to hubs that stay.
    """
    access_redaction.install()  # before any access line: URLs can carry credentials
    is_draining = draining or (lambda: False)
    hub_id = settings.hub_id or f"hub-{secrets.token_hex(4)}"
    limits = SocketLimits(
        send_queue=settings.send_queue,
        max_frame_bytes=settings.max_frame_bytes,
        rate_per_second=settings.rate_per_second,
        rate_burst=settings.rate_burst,
        allowed_origins=settings.allowed_origins,
        max_per_user=settings.max_sockets_per_user,
        credential_recheck=settings.socket_recheck_seconds,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        metrics = HubMetrics(hub_id=hub_id, version=VERSION, tasks=hub.tasks, process=True,
                             shared_dir=shared_metrics_dir())
        store = open_store(settings)
        metrics.watch_audience(lambda: store.audience.listening)
        await store.start()
        secret = settings.secret or await store.shared_secret(secrets.token_hex(32))
        # The memory store starts empty: older session ids were lost in a restart.
        forgets_before = time.time() if isinstance(store, MemoryStore) else None

        access = await open_access(settings, secret)
        sealer = Sealer(secret)
        tracing = open_tracing(settings, hub_id=hub_id, provider=tracer_provider)
        # Nothing connects or imports Ray until a task first asks for executor="ray".
        executors = Executors.for_hub(ray_address=settings.ray_address)
        manager = SessionManager(
            store=store, shares=access.auth.shares, hub=hub, hub_id=hub_id,
            sealer=sealer, forgets_before=forgets_before, tracing=tracing,
            executors=executors,
            metrics=metrics, park_after=settings.park_after,
        )
        answer_links = AnswerLinks(
            secret, open_spent_links(settings),
            login_required=settings.answer_link_login == "required",
        )
        # What notifications go out through (the email channel when SMTP is configured).
        channels: list[EmailChannel] = []
        if settings.smtp_url:
            channels.append(EmailChannel(
                settings, access.auth.directory, answer_links,
                titles={task.name: task.title for task in hub}, metrics=metrics,
            ))
        webhooks = open_webhooks(settings.redis_url)
        dispatcher = Dispatcher(
            store=store, webhooks=webhooks, sealer=sealer, dispatcher_id=hub_id,
            metrics=metrics, **dispatcher_settings(settings),
        )
        for channel in channels:  # webhooks are the dispatcher's own; mail joins them
            dispatcher.add_channel(channel, wants=channel.wants)
        await dispatcher.start()
        keeper = LeaseKeeper(
            store=store, runner_id=hub_id, lease_seconds=settings.lease_seconds,
            running=manager.running_ids, lost=manager.lost, adopt=manager.resume,
            skip=lambda session_id: is_draining() or session_id in manager.foreign,
            took_over=metrics.lease_takeovers.inc, round_trip=metrics.store_round_trip.observe,
        )
        await keeper.start()  # its first round adopts sessions orphaned by a dead hub
        # A worker of `--workers N`: its census and tallies reach the other workers' scrapes.
        sharing = (asyncio.get_running_loop().create_task(metrics.share(), name="tether-metrics")
                   if metrics.shared else None)
        log.info("Tether hub %s serving %d tasks (%s mode)", hub_id, len(hub.tasks),
                 access.auth.mode)
        if access.login_url is not None:
            # As Jupyter does: the only way in to a fresh hub on a network interface.
            print(
                "No users are configured and this hub is not on loopback, so it does not "
                f"serve anonymously. Log in as admin (once) at:\n    {access.login_url}",
                flush=True,
            )
        try:
            yield {
                "manager": manager,
                "fanout": Fanout(store),
                "quotas": Quotas(
                    max_open_sessions=settings.max_open_sessions,
                    starts_per_minute=settings.starts_per_minute,
                ),
                "auth": access.auth,
                "audit": Audit(store),
                "answer_links": answer_links,
                "channels": channels,
                "webhooks": webhooks,
                "dispatcher": dispatcher,
                "sealer": sealer,
                "metrics": metrics,
            }
        finally:
            if sharing is not None:
                sharing.cancel()
                await asyncio.wait({sharing})
            await access.close()
            await answer_links.close()
            # Stop adopting, then stop the runners (their sessions stay resumable), then
            # let their leases go, so another hub resumes them now, not after the expiry.
            # Each step bounded: one that hangs must not keep the process from exiting
            # (a supervisor kills it then, and its leases are not released).
            await bounded(keeper.stop(), STEP_SECONDS, "stopping the lease keeper")
            held = manager.running_ids()
            await bounded(manager.close(timeout=settings.shutdown_timeout),
                          settings.shutdown_timeout + STEP_SECONDS, "stopping the runners")
            await executors.close()  # after the runners, whose Ray tasks it owns
            await bounded(keeper.release(held), STEP_SECONDS, "releasing the leases")
            # Deliveries in flight are dropped: their claims run out, and whichever
            # dispatcher claims them next sends them again (same webhook-id).
            await bounded(dispatcher.stop(), STEP_SECONDS * 2, "stopping the dispatcher")
            await webhooks.close()
            await store.close()
            # The runs' spans ended as their runners stopped: export them before exit.
            await asyncio.to_thread(tracing.close)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        manager: SessionManager = request.state.manager
        ready = await manager.store.ping()
        return JSONResponse(
            {"status": "ready" if ready else "store_unavailable"},
            status_code=200 if ready else 503,
        )

    openapi_doc = build_openapi(VERSION)

    async def openapi(request: Request) -> Response:
        return JSONResponse(openapi_doc)

    spa = SpaFiles(settings.static_dir)
    routes: list[BaseRoute] = [
        *login_api.routes(spa),
        *sharing_api.routes(),
        *audit_api.routes(),
        *webhooks_api.routes(),
        *oidc_api.routes(),
        *answer_api.routes(),
        *api.routes(),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/{path:path}", spa, methods=["GET", "HEAD"]),
    ]
    # Outside Starlette's own error middleware, so that a 500 gets the headers too.
    http_app = SecurityHeadersMiddleware(Starlette(
        routes=routes,
        middleware=[
            Middleware(CsrfMiddleware, allowed_origins=settings.allowed_origins),
            Middleware(IdentityMiddleware),
        ],
        exception_handlers=api.exception_handlers(),
        lifespan=lifespan,
    ))
    sockets = SessionSocketApp(limits)
    # In front of the identity middleware: the metrics token is no API token (metrics_api).
    metrics_http = metrics_app(token=settings.metrics_token)

    return HubApp(http_app, sockets, metrics_http, routes)


class HubApp:
    """A hub's ASGI app. Session sockets go straight to their handler (see
    ws.SessionSocketApp), and /metrics to its own app; every other request, and the
    lifespan, to the HTTP application, whose route table is ``routes`` (what the
    authorization tests enumerate, so that no route goes unchecked)."""

    def __init__(self, http_app: ASGIApp, sockets: ASGIApp, metrics_http: ASGIApp,
                 routes: list[BaseRoute]) -> None:
        self.http_app = http_app
        self.sockets = sockets
        self.metrics_http = metrics_http
        self.routes = tuple(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"].startswith(PATH_PREFIX):
            await self.sockets(scope, receive, send)
        elif scope["type"] == "http" and scope["path"] == METRICS_PATH:
            await self.metrics_http(scope, receive, send)
        else:
            await self.http_app(scope, receive, send)
