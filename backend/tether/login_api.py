"""``POST /api/login``, ``POST /api/logout``, ``GET /api/me`` and one-time login links.

Translation only: :class:`~tether.auth.Authenticator` does the checking.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from tether.api import json_response, read_body
from tether.auth import Authenticator, AuthMode
from tether.envelope import error_response
from tether.errors import NotAuthenticated
from tether.messages import LoginRequest, Me
from tether.principal import Principal
from tether.static import SpaFiles


def _auth(request: Request) -> Authenticator:
    auth: Authenticator = request.state.auth
    return auth


def me_of(principal: Principal, mode: AuthMode) -> Me:
    return Me(
        id=principal.id, name=principal.name, roles=sorted(principal.roles),
        groups=sorted(principal.groups), mode=mode.value,
    )


async def login(request: Request) -> Response:
    auth = _auth(request)
    if auth.mode is not AuthMode.ACCOUNTS:
        return error_response(
            "accounts_disabled", f"This hub has no accounts (it runs in {auth.mode} mode).",
            status=404,
        )
    body = await read_body(request, LoginRequest)
    principal, cookie = await auth.login(request.scope, body.username, body.password)
    response = json_response(me_of(principal, auth.mode))
    response.raw_headers.append(cookie)
    return response


async def logout(request: Request) -> Response:
    auth = _auth(request)
    response = Response(status_code=204)
    if auth.mode is AuthMode.ACCOUNTS:
        response.raw_headers.append(await auth.logout(request.scope))
    return response


async def me(request: Request) -> Response:
    principal: Principal | None = request.state.principal
    if principal is None:
        raise NotAuthenticated()
    return json_response(me_of(principal, _auth(request).mode))


def routes(spa: SpaFiles) -> list[Route]:
    async def login_page(request: Request) -> Response:
        """``/login?token=…`` spends a one-time link; without a token it is the app's
        login page."""
        token = request.query_params.get("token")
        if not token:
            return spa.respond(request)
        cookie = await _auth(request).spend_link(request.scope, token)
        if cookie is None:
            return error_response(
                "invalid_link", "This login link is unknown or was already used.", status=404
            )
        response = RedirectResponse("/", status_code=303)
        response.raw_headers.append(cookie)
        return response

    return [
        Route("/api/login", login, methods=["POST"]),
        Route("/api/logout", logout, methods=["POST"]),
        Route("/api/me", me, methods=["GET"]),
        Route("/login", login_page, methods=["GET"]),
    ]
