"""``GET /metrics``: this hub's metrics in the Prometheus text format, for whoever may.

Who may (docs/SECURITY.md, "Metrics"):

- with ``TETHER_METRICS_TOKEN`` set: a request with ``Authorization: Bearer <that
  token>`` (what a Prometheus scrape job sends with ``authorization: credentials``), or
  an admin (an admin's API token or login cookie);
- without it: anyone in single-person mode (``anonymous``: a hub on loopback, or one
  started with ``--no-auth``, which anyone who reaches may use anyway), and only admins
  in ``accounts`` and ``proxy`` mode.

The path is served in front of the identity middleware (``app.py``), because the
metrics token is not an API token and the middleware would refuse it.
"""

from __future__ import annotations

import hashlib
import hmac

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tether import api
from tether.auth import Authenticator, AuthMode
from tether.errors import Forbidden, NotAuthenticated
from tether.metrics import HubMetrics
from tether.security_headers import SecurityHeadersMiddleware

METRICS_PATH = "/metrics"


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).digest()


def bearer_matches(authorizations: list[str], token: str) -> bool:
    """Exactly one ``Authorization: Bearer <token>`` header, naming ``token`` (compared
    in constant time, as digests, so not even its length shows)."""
    if len(authorizations) != 1:
        return False
    scheme, _, given = authorizations[0].partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(_digest(given.strip()), _digest(token))


async def check_access(request: Request, auth: Authenticator, token: str | None) -> None:
    """Return if the caller may read the metrics (see the module docstring).

    Raises:
        NotAuthenticated: no identity, or a bearer token that is neither.
        Forbidden: someone who is not an admin.
        InvalidHeader, InvalidHost, StoreUnavailable: as ``Authenticator.authenticate``.
    """
    if token is not None:
        if bearer_matches(request.headers.getlist("authorization"), token):
            return
    elif auth.mode is AuthMode.ANONYMOUS:
        return
    principal = await auth.authenticate(request.scope)
    if principal is None:
        raise NotAuthenticated()
    if not principal.is_admin:
        raise Forbidden("Only admins may read the metrics (or TETHER_METRICS_TOKEN's bearer).")


def metrics_app(*, token: str | None) -> SecurityHeadersMiddleware:
    """The ASGI app of ``/metrics`` (and nothing else); ``token``: TETHER_METRICS_TOKEN."""
    token = token.strip() if token else None

    async def metrics(request: Request) -> Response:
        await check_access(request, request.state.auth, token)
        hub_metrics: HubMetrics = request.state.metrics
        hub_metrics.take_census()  # here, on the loop; the encoding in a worker thread
        body, content_type = await run_in_threadpool(
            hub_metrics.encode, request.headers.get("accept", "")
        )
        return Response(body, headers={"content-type": content_type,
                                       "cache-control": "no-store"})

    return SecurityHeadersMiddleware(Starlette(
        routes=[Route(METRICS_PATH, metrics, methods=["GET"])],
        exception_handlers=api.exception_handlers(),
    ))

