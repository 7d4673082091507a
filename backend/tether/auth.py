"""Who is asking: a signed identity cookie, or a header set by a trusted proxy.

Tether has no accounts of its own. By default every browser gets an anonymous identity:
a random user id in the ``tether_user`` cookie, signed with the hub's secret so it cannot
be forged (every hub sharing a Redis uses the same secret). HTTP requests without a valid
cookie get a new identity; WebSockets without one are closed with 4401. Behind an
authenticating reverse proxy, set ``TETHER_TRUST_USER_HEADER=1`` and the proxy's
``X-Tether-User`` header is the only identity: API requests without it get 401
``not_authenticated``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from http.cookies import SimpleCookie

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tether.envelope import tether_error_response
from tether.errors import NotAuthenticated

COOKIE = "tether_user"
HEADER = "x-tether-user"
ONE_YEAR = 365 * 24 * 3600


class Identity:
    """Signs and checks user ids."""

    def __init__(self, secret: str, *, trust_header: bool = False) -> None:
        self._key = secret.encode()
        self._trust_header = trust_header

    @property
    def trusts_header(self) -> bool:
        return self._trust_header

    def sign(self, user_id: str) -> str:
        mac = hmac.new(self._key, user_id.encode(), hashlib.sha256).hexdigest()[:32]
        return f"{user_id}.{mac}"

    def verify(self, token: str) -> str | None:
        user_id, _, _mac = token.rpartition(".")
        # Bytes, not str: compare_digest refuses non-ASCII str, and a cookie may hold any.
        expected = self.sign(user_id).encode("utf-8", "surrogateescape")
        given = token.encode("utf-8", "surrogateescape")
        if not user_id or not hmac.compare_digest(expected, given):
            return None
        return user_id

    def user_from_headers(self, headers: Mapping[str, str]) -> str | None:
        """The user a request's headers prove, or None."""
        if self._trust_header:  # the proxy vouches for every request, or nobody is known
            return headers[HEADER][:128] if headers.get(HEADER) else None
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:  # a malformed Cookie header is no identity, not an error
            return None
        morsel = cookie.get(COOKIE)
        return self.verify(morsel.value) if morsel is not None else None

    def set_cookie_header(self, user_id: str, *, secure: bool) -> tuple[bytes, bytes]:
        value = (
            f"{COOKIE}={self.sign(user_id)}; Path=/; Max-Age={ONE_YEAR}; HttpOnly; SameSite=Lax"
        )
        if secure:
            value += "; Secure"
        return b"set-cookie", value.encode()


def new_user_id() -> str:
    return "u_" + secrets.token_hex(8)


class IdentityMiddleware:
    """Puts ``scope["state"]["user"]`` on every request; issues a cookie to newcomers.

    The :class:`Identity` comes from the lifespan state (``scope["state"]["identity"]``),
    because its secret may be shared through the store.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})
        identity: Identity = scope["state"]["identity"]
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        user = identity.user_from_headers(headers)
        if user is not None or scope["type"] == "websocket":
            scope["state"]["user"] = user
            await self.app(scope, receive, send)
            return
        if identity.trusts_header:
            # Behind an authenticating proxy there are no anonymous users: the API says
            # 401; the app's files and health checks are served to anyone.
            if scope["path"].startswith("/api/"):
                await tether_error_response(NotAuthenticated())(scope, receive, send)
                return
            scope["state"]["user"] = None
            await self.app(scope, receive, send)
            return
        user = new_user_id()
        scope["state"]["user"] = user
        cookie = identity.set_cookie_header(user, secure=scope.get("scheme") == "https")

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), cookie]}
            await send(message)

        await self.app(scope, receive, send_with_cookie)
