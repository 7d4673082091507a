"""Serves the browser app's production build: hashed assets cached for a year, and
``index.html`` for every other path so that app routes like ``/sessions/{id}`` are real
URLs that survive a refresh."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.types import Receive, Scope, Send

IMMUTABLE = "public, max-age=31536000, immutable"

NOT_BUILT = """<!doctype html><meta charset="utf-8"><title>Tether</title>
<body><h1>Tether is running</h1><p>The browser app is not built. Run <code>make run</code> from the
repository, or use the HTTP API under <a href="/api/tasks">/api/tasks</a>
(<a href="/openapi.json">OpenAPI</a>).</p></body>"""


class SpaFiles:
    """A catch-all GET handler over ``root`` (a Vite ``dist`` folder), or a notice.

    An ASGI app: Starlette's ``Route`` calls an endpoint that is not a function as
    ``app(scope, receive, send)``, not with a ``Request``.
    """

    def __init__(self, root: Path | None) -> None:
        self.root = root.resolve() if root is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = self.respond(Request(scope, receive))
        await response(scope, receive, send)

    def respond(self, request: Request) -> Response:
        # A TETHER_STATIC_DIR without a build in it (a typo, a clean checkout) is the
        # same as none: the notice, not a 500 for every page.
        if self.root is None or not (self.root / "index.html").is_file():
            return HTMLResponse(NOT_BUILT)
        path = request.path_params.get("path", "")
        try:
            candidate = (self.root / path).resolve()
            found = bool(path) and candidate.is_file() and candidate.is_relative_to(self.root)
        except (OSError, ValueError):  # a NUL byte, a name too long: not one of our files
            found = False
        if found:
            hashed = candidate.parent.name == "assets"
            headers = {"cache-control": IMMUTABLE if hashed else "public, max-age=300"}
            return FileResponse(candidate, headers=headers)
        return FileResponse(self.root / "index.html", headers={"cache-control": "no-cache"})
