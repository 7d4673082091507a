"""``create_app(settings, hub)``: builds a hub process's whole ASGI application.

Nothing lives in module globals: the lifespan opens the store and builds the session
manager and the fan-out, Starlette hands them to every request and WebSocket as
``state``, and on shutdown they close in uvicorn's order: runners stop (their sessions
stay resumable in the store), then the store closes.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from tether import api, login_api
from tether.accounts import open_access
from tether.auth import IdentityMiddleware
from tether.config import Settings
from tether.csrf import CsrfMiddleware
from tether.fanout import Fanout
from tether.hub import Hub
from tether.leases import LeaseKeeper
from tether.openapi import build_openapi
from tether.quotas import Quotas
from tether.sealing import Sealer
from tether.security_headers import SecurityHeadersMiddleware
from tether.sessions import SessionManager
from tether.static import SpaFiles
from tether.store import MemoryStore, open_store
from tether.ws import PATH_PREFIX, SessionSocketApp, SocketLimits

log = logging.getLogger(__name__)

VERSION = "0.1.0"


def create_app(settings: Settings, hub: Hub) -> ASGIApp:
    """The ASGI app of one hub process serving ``hub``'s tasks."""
    hub_id = settings.hub_id or f"hub-{secrets.token_hex(4)}"
    limits = SocketLimits(
        send_queue=settings.send_queue,
        max_frame_bytes=settings.max_frame_bytes,
        rate_per_second=settings.rate_per_second,
        rate_burst=settings.rate_burst,
        allowed_origins=settings.allowed_origins,
        max_per_user=settings.max_sockets_per_user,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        store = open_store(settings)
        await store.start()
        secret = settings.secret or await store.shared_secret(secrets.token_hex(32))
        # The memory store starts empty: older session ids were lost in a restart.
        forgets_before = time.time() if isinstance(store, MemoryStore) else None
        manager = SessionManager(
            store=store, hub=hub, hub_id=hub_id, sealer=Sealer(secret),
            forgets_before=forgets_before,
        )
        keeper = LeaseKeeper(
            store=store, runner_id=hub_id, lease_seconds=settings.lease_seconds,
            running=manager.running_ids, lost=manager.lost, adopt=manager.resume,
            skip=manager.foreign.__contains__,
        )
        await keeper.start()  # its first round adopts sessions orphaned by a dead hub
        access = await open_access(settings, secret)
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
                    store=store, max_open_sessions=settings.max_open_sessions,
                    starts_per_minute=settings.starts_per_minute,
                ),
                "auth": access.auth,
            }
        finally:
            await access.close()
            # Stop adopting, then stop the runners (their sessions stay resumable), then
            # let their leases go, so another hub resumes them now, not after the expiry.
            await keeper.stop()
            held = manager.running_ids()
            await manager.close(timeout=settings.shutdown_timeout)
            await keeper.release(held)
            await store.close()

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

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        # Session sockets go straight to their handler (see ws.SessionSocketApp); every
        # other request, and the lifespan, to the HTTP application.
        if scope["type"] == "websocket" and scope["path"].startswith(PATH_PREFIX):
            await sockets(scope, receive, send)
        else:
            await http_app(scope, receive, send)

    return app
