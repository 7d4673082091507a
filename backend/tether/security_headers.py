"""Security headers on every HTTP answer of the hub: its pages, files, API and errors.

- ``Content-Security-Policy``: scripts, styles and connections only from the hub itself
  (no inline script or style, no ``eval``), images also as ``data:``, no plugins, no
  ``<base>``, forms only to the hub, and no framing by any page (``frame-ancestors``,
  which supersedes ``X-Frame-Options``; that one is sent too, for older browsers).
  Markdown from tasks is sanitised in the app as well; this is the second wall.
- ``X-Content-Type-Options: nosniff``: a JSON answer or an uploaded-looking file is never
  run as a script or shown as HTML because of what its bytes look like.
- ``Referrer-Policy: no-referrer``: session URLs (``/sessions/{id}``) never leak to the
  sites that links in a task's markdown point to.

A header the app already set on a response is left as it is.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    # 'self' covers same-origin ws:/wss: only in CSP level 3 browsers; ws:/wss: keeps
    # the session sockets working everywhere (scripts are 'self' only, so nothing
    # injected can open one).
    "connect-src 'self' ws: wss:",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])

HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)


class SecurityHeadersMiddleware:
    """Adds :data:`HEADERS` to every ``http.response.start`` that lacks them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in HEADERS if h[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
