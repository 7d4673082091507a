"""Cross-site request forgery: a write that rides on the browser's cookie must come from
the hub's own pages.

A page on another site can make a browser send a form (``application/x-www-form-urlencoded``,
``multipart/form-data``, ``text/plain``) or a simple ``fetch`` to the hub, and the browser
attaches the hub's cookie. So every write under ``/api/`` (POST, PUT, PATCH, DELETE):

- carries its body as ``Content-Type: application/json`` (a type no form can send and no
  cross-origin ``fetch`` can send without a CORS preflight, which the hub never grants),
  or has no body and no ``Content-Type``; otherwise 415 ``unsupported_media_type``;
- comes from an allowed origin: ``Origin`` equal to the request's own scheme and host,
  or listed in ``TETHER_ALLOWED_ORIGINS`` (``*`` turns the check off). Browsers send
  ``Origin`` on every non-GET request; one without it is refused when its
  ``Sec-Fetch-Site`` says another site made it. Otherwise 403 ``cross_site_request``.

A request that ``Authorization: Bearer`` authenticates is exempt: a browser never adds
that header by itself, so a page of another site cannot forge it. That is a bearer in
accounts mode (where a request with one is never read for its cookie) or a share link's
token; any other bearer (``Bearer junk`` beside a single-person cookie) exempts nothing.
Requests with neither ``Origin`` nor ``Sec-Fetch-Site`` come from programs (curl, SDKs),
not from a browser page, and pass.

The middleware runs before the identity middleware, so a refused request is also never
issued a new identity.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from tether.auth import Authenticator
from tether.envelope import tether_error_response
from tether.errors import CrossSiteRequest, TetherError, UnsupportedMediaType

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DEFAULT_PORTS = {"http": "80", "https": "443"}
# Sec-Fetch-Site values a browser sends for the hub's own pages or a typed-in URL.
OWN_SITE = frozenset({"same-origin", "none"})


def normal_origin(scheme: str, hostport: str) -> str:
    """``scheme://host[:port]`` lower-cased, without the scheme's default port."""
    scheme, hostport = scheme.lower(), hostport.lower()
    host, sep, port = hostport.rpartition(":")
    if sep and "]" not in port and port == DEFAULT_PORTS.get(scheme):
        hostport = host
    return f"{scheme}://{hostport}"


def own_origin(scope: Scope, headers: dict[str, str]) -> str | None:
    host = headers.get("host")
    if not host:
        return None
    scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
    return normal_origin(scheme, host)


def refusal(scope: Scope, headers: dict[str, str], allowed: frozenset[str]) -> TetherError | None:
    """Why this write is refused, or None when it may go on."""
    auth: Authenticator | None = scope.get("state", {}).get("auth")
    if auth is not None:
        try:
            if auth.bearer_authenticates(scope):
                return None
        except TetherError:  # two Authorization headers: the identity layer refuses it
            return None
    content_type = headers.get("content-type")
    has_body = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
    if content_type is not None or has_body:
        media_type = (content_type or "").split(";", 1)[0].strip().lower()
        if media_type != "application/json":
            return UnsupportedMediaType(content_type)
    origin = headers.get("origin")
    if origin is None:
        site = headers.get("sec-fetch-site")
        return None if site is None or site in OWN_SITE else CrossSiteRequest(None)
    if "*" in allowed or origin in allowed:
        return None
    scheme, sep, hostport = origin.partition("://")
    if sep and normal_origin(scheme, hostport) == own_origin(scope, headers):
        return None
    return CrossSiteRequest(origin)


class CsrfMiddleware:
    """Refuses cookie-authenticated writes from other sites (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, allowed_origins: tuple[str, ...] = ()) -> None:
        self.app = app
        self.allowed = frozenset(o.rstrip("/") for o in allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in WRITE_METHODS
            and scope["path"].startswith("/api/")
        ):
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            refused = refusal(scope, headers, self.allowed)
            if refused is not None:
                await tether_error_response(refused)(scope, receive, send)
                return
        await self.app(scope, receive, send)
