"""``GET /api/auth``, ``GET /api/login/oidc`` and its callback: translation only.

The flow is :class:`~tether.oidc.OidcLogin`'s; the session it ends in is
:meth:`~tether.auth.Authenticator.oidc_session`'s. The two OpenID routes are browser
navigations, so a failure at the callback is never a JSON error page: the browser is sent
to ``/login?oidc_error=REASON`` (one of ``errors.OIDC_REASONS``), where the app says
what happened, and the hub logs the details.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from tether.api import json_response
from tether.audit import Audit, Where
from tether.auth import Authenticator, AuthMode
from tether.errors import OidcDisabled, OidcLoginFailed
from tether.messages import AuthInfo, OidcInfo
from tether.oidc import CALLBACK_PATH, OidcLogin, same_origin_path

log = logging.getLogger(__name__)

LOGIN_PATH = "/api/login/oidc"


def _auth(request: Request) -> Authenticator:
    auth: Authenticator = request.state.auth
    return auth


def _oidc(request: Request) -> OidcLogin:
    oidc = _auth(request).oidc
    if oidc is None:
        raise OidcDisabled()
    return oidc


def _cookie_header(request: Request) -> str:
    return "; ".join(
        v.decode("latin-1") for k, v in request.scope["headers"] if k == b"cookie"
    )


def _redirect(url: str, *headers: tuple[bytes, bytes]) -> Response:
    response = RedirectResponse(url, status_code=303)
    response.headers["cache-control"] = "no-store"
    response.raw_headers.extend(headers)
    return response


async def auth_info(request: Request) -> Response:
    auth = _auth(request)
    oidc = None
    if auth.oidc is not None:
        oidc = OidcInfo(name=auth.oidc.provider.name, login_url=LOGIN_PATH)
    return json_response(AuthInfo(
        mode=auth.mode.value, password=auth.mode is AuthMode.ACCOUNTS, oidc=oidc,
    ))


async def begin(request: Request) -> Response:
    oidc = _oidc(request)
    next_path = same_origin_path(request.query_params.get("next"))
    # The browser's own view of this hub; the provider only accepts a registered one.
    redirect_uri = str(request.base_url).rstrip("/") + CALLBACK_PATH
    try:
        url, cookie = await oidc.begin(
            request.scope, redirect_uri=redirect_uri, next_path=next_path
        )
    except OidcLoginFailed as exc:
        log.warning("OpenID login cannot start: %s", exc.message)
        return _redirect(f"/login?oidc_error={exc.reason}")
    return _redirect(url, cookie)


async def callback(request: Request) -> Response:
    oidc = _oidc(request)
    clear = oidc.clear_cookie(request.scope)
    audit: Audit = request.state.audit
    where = Where.of(request.scope)
    try:
        identity, next_path = await oidc.finish(
            request.scope, _cookie_header(request), request.query_params
        )
        principal, session_cookie = await _auth(request).oidc_session(request.scope, identity)
    except OidcLoginFailed as exc:
        log.warning("OpenID login refused (%s): %s", exc.reason, exc.message)
        await audit.login_failed(None, where, via="oidc", outcome=f"oidc_{exc.reason}")
        return _redirect(f"/login?oidc_error={exc.reason}", clear)
    log.info("OpenID login of %s (%s)", identity.name, identity.subject)
    await audit.logged_in(principal.id, where, via="oidc")
    return _redirect(next_path, clear, session_cookie)


def routes() -> list[Route]:
    return [
        Route("/api/auth", auth_info, methods=["GET"]),
        Route(LOGIN_PATH, begin, methods=["GET"]),
        Route(CALLBACK_PATH, callback, methods=["GET"]),
    ]
