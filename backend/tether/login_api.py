"""``POST /api/login``, ``POST /api/logout``, ``GET /api/me`` and one-time login links.

Translation only: :class:`~tether.auth.Authenticator` does the checking.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from tether.api import json_response, read_body
from tether.audit import Audit, Where, attempted_user
from tether.auth import Authenticator, AuthMode
from tether.envelope import error_response
from tether.errors import InvalidCredentials, NotAuthenticated
from tether.messages import LoginRequest, Me
from tether.principal import Principal
from tether.static import SpaFiles


def _auth(request: Request) -> Authenticator:
    auth: Authenticator = request.state.auth
    return auth


def _audit(request: Request) -> Audit:
    audit: Audit = request.state.audit
    return audit


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
    where = Where.of(request.scope)
    try:
        principal, cookie = await auth.login(request.scope, body.username, body.password)
    except InvalidCredentials as exc:
        # Refusals while rate-limited (TooManyAttempts) are not recorded: the failures
        # that led there are, and a flood of refusals must not push them out of the log.
        await _audit(request).login_failed(
            attempted_user(body.username), where, via="password", outcome=exc.code
        )
        raise
    await _audit(request).logged_in(principal.id, where, via="password")
    response = json_response(me_of(principal, auth.mode))
    response.raw_headers.append(cookie)
    return response


async def logout(request: Request) -> Response:
    auth = _auth(request)
    response = Response(status_code=204)
    if auth.mode is AuthMode.ACCOUNTS:
        response.raw_headers.append(await auth.logout(request.scope))
        principal: Principal | None = request.state.principal
        if principal is not None:
            await _audit(request).record(
                "logout", user=principal.id, where=Where.of(request.scope)
            )
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
        where = Where.of(request.scope)
        spent = await _auth(request).spend_link(request.scope, token)
        if spent is None:
            await _audit(request).login_failed(None, where, via="link", outcome="invalid_link")
            return error_response(
                "invalid_link", "This login link is unknown or was already used.", status=404
            )
        principal, cookie = spent
        await _audit(request).logged_in(principal.id, where, via="link")
        response = RedirectResponse("/", status_code=303)
        response.raw_headers.append(cookie)
        return response

    return [
        Route("/api/login", login, methods=["POST"]),
        Route("/api/logout", logout, methods=["POST"]),
        Route("/api/me", me, methods=["GET"]),
        Route("/login", login_page, methods=["GET"]),
    ]
