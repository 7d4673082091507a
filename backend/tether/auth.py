"""Who is asking: the identity middleware, and the :class:`Authenticator` it asks.

A hub runs in one of three modes (:class:`AuthMode`), chosen at start (``cli.py``):

- ``anonymous`` — single-person mode, the default on loopback with no users: every
  browser gets a random id in the ``tether_user`` cookie, signed with the hub's secret.
  A new identity is only ever issued on a same-site ``GET``/``HEAD`` without a valid
  cookie, so a cross-site form POST (which carries no ``SameSite=Lax`` cookie) cannot
  make the hub replace the identity the browser already has.
- ``accounts`` — users from a :class:`~tether.users.UserDirectory`. A request proves who
  it is with ``Authorization: Bearer <API token>`` or with the session cookie that
  ``POST /api/login`` sets (``tether_session``; ``__Host-tether_session`` under https).
  Nothing is ever issued to a request without credentials: the API answers 401. With an
  OpenID provider configured (``oidc.py``), its callback sets the same session cookie;
  the session of such a user carries the roles and groups the provider gave.
- ``proxy`` — ``TETHER_TRUST_USER_HEADER=1``: an authenticating reverse proxy names the
  user in exactly one ``X-Tether-User`` header, and the ``Host`` must be one of
  ``TETHER_ALLOWED_HOSTS``.

The middleware puts a :class:`~tether.principal.Principal` on
``scope["state"]["principal"]`` and its id on ``scope["state"]["user"]`` (None for
requests that need nobody: the app's files, health checks, ``/api/login``). Session
WebSockets skip the middleware (``ws.py``) and call :meth:`Authenticator.authenticate`
themselves.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import parse_qs

from itsdangerous import BadSignature, TimestampSigner
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tether.cookies import CookieSpec, cookie_values
from tether.credentials import Passwords, token_digest
from tether.envelope import close_message, tether_error_response
from tether.errors import (
    Forbidden,
    InvalidCredentials,
    InvalidHeader,
    InvalidHost,
    NotAuthenticated,
    OidcLoginFailed,
    TetherError,
    TooManyAttempts,
    UnknownSession,
)
from tether.logins import LoginSession, LoginStore
from tether.logs import current_user
from tether.oidc import OidcLogin
from tether.oidc_tokens import OidcIdentity
from tether.principal import Principal, link_principal
from tether.sharing import ShareStore
from tether.users import NAME_RULE, UserDirectory, UserExists, UserRecord, valid_name

ANON_COOKIE = "tether_user"
SESSION_COOKIE = "tether_session"
SECURE_SESSION_COOKIE = "__Host-tether_session"  # RFC 6265bis: Secure, Path=/, no Domain
USER_HEADER = b"x-tether-user"
MAX_USER_HEADER = 128
ONE_YEAR = 365 * 24 * 3600
# Share link tokens start with this, so a bearer token tells which kind it is at once.
LINK_PREFIX = "tl_"
SESSION_PATHS = ("/api/sessions/", "/ws/sessions/")
# Paths that answer without an identity even where the API needs one.
OPEN_API_PATHS = frozenset({
    "/api/login", "/api/logout", "/api/auth", "/api/login/oidc", "/api/login/oidc/callback",
})
# Prefixes of such paths: an answer link's token is its own credential (answer_api.py).
OPEN_API_PREFIXES = ("/api/answer/",)


class AuthMode(StrEnum):
    ANONYMOUS = "anonymous"
    ACCOUNTS = "accounts"
    PROXY = "proxy"


@dataclass(frozen=True, slots=True)
class LoginLimits:
    """Failed logins allowed per window, per client address and per user name."""

    per_ip: int = 20
    per_user: int = 5
    window: float = 300.0


class AnonymousIds:
    """Signs and checks the anonymous per-browser ids of single-person mode."""

    def __init__(self, secret: str) -> None:
        self._key = secret.encode()

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


def new_user_id() -> str:
    return "u_" + secrets.token_hex(8)


# The headers authenticate() reads: all a socket's credential re-check needs.
CREDENTIAL_HEADERS = frozenset({b"authorization", b"cookie", b"host", USER_HEADER})


def _header_values(scope: Scope, name: bytes) -> list[bytes]:
    return [v for k, v in scope["headers"] if k == name]


def _one_header(scope: Scope, name: bytes) -> str | None:
    """The header's value as text; None when absent; refused when it appears twice."""
    values = _header_values(scope, name)
    if len(values) > 1:
        raise InvalidHeader(f"The request has {len(values)} {name.decode()} headers.")
    return values[0].decode("latin-1") if values else None


def new_link_token() -> str:
    return LINK_PREFIX + secrets.token_urlsafe(32)


def path_session(scope: Scope) -> str | None:
    """The session id a ``/api/sessions/{id}...`` or ``/ws/sessions/{id}`` path names."""
    path: str = scope["path"]
    for prefix in SESSION_PATHS:
        if path.startswith(prefix):
            return path[len(prefix):].split("/", 1)[0] or None
    return None


def _link_param(scope: Scope) -> str | None:
    """The ``link`` query parameter (the last one), if the request has one."""
    query: bytes = scope.get("query_string", b"")
    if b"link=" not in query:
        return None
    values = parse_qs(query.decode("latin-1")).get("link")
    return values[-1] if values else None


def is_https(scope: Scope) -> bool:
    return scope.get("scheme") in ("https", "wss")


def client_ip(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class Authenticator:
    """Turns a request's headers into a :class:`Principal`, and runs logins."""

    def __init__(
        self,
        *,
        mode: AuthMode,
        secret: str,
        directory: UserDirectory,
        logins: LoginStore,
        shares: ShareStore,
        passwords: Passwords | None = None,
        session_hours: float = 12.0,
        allowed_hosts: Sequence[str] = (),
        limits: LoginLimits | None = None,
        oidc: OidcLogin | None = None,
    ) -> None:
        self.mode = mode
        self.oidc = oidc
        self.directory = directory
        self.logins = logins
        self.shares = shares
        self._anonymous = AnonymousIds(secret)
        # itsdangerous: an HMAC-SHA1 signature with a timestamp (checked against the
        # session's lifetime) over the random session id; the salt keeps these signatures
        # apart from any other use of the secret.
        self._signer = TimestampSigner(secret, salt="tether.login-session")
        self._passwords = passwords
        self.session_seconds = session_hours * 3600
        self._allowed_hosts = tuple(h.lower() for h in allowed_hosts)
        self._limits = limits or LoginLimits()

    @property
    def passwords(self) -> Passwords:
        if self._passwords is None:  # one Argon2 run for the dummy hash: only when needed
            self._passwords = Passwords()
        return self._passwords

    # --- who is asking -------------------------------------------------------------------

    async def authenticate(self, scope: Scope) -> Principal | None:
        """The caller, or None when the request carries no identity.

        Raises:
            InvalidHeader, InvalidHost: in proxy mode, a request no proxy would send.
            NotAuthenticated: a bearer token that proves nobody.
            UnknownSession: a share link that is unknown, expired or revoked.
            StoreUnavailable: the directory or the login store does not answer.
        """
        if self.mode is AuthMode.PROXY:
            self._check_proxy_host(scope)
        authorization = _one_header(scope, b"authorization")
        link = _link_param(scope) if path_session(scope) is not None else None
        if link is None and authorization is not None:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() == "bearer" and token.strip().startswith(LINK_PREFIX):
                link = token.strip()
        if link is not None:
            return await self._from_link(scope, link)
        if self.mode is AuthMode.PROXY:
            return self._from_proxy(scope)
        if self.mode is AuthMode.ACCOUNTS:
            if authorization is not None:
                return await self._from_bearer(authorization)
            return await self._from_session_cookie(scope)
        for value in cookie_values(self._cookie_header(scope), ANON_COOKIE):
            browser = self._anonymous.verify(value)
            if browser is not None:
                return Principal.anonymous(browser)
        return None

    def bearer_authenticates(self, scope: Scope) -> bool:
        """Whether :meth:`authenticate` reads this request's ``Authorization: Bearer``
        and no cookie: the CSRF check may skip only such requests, since a browser never
        adds that header by itself. In single-person and proxy modes only a share link's
        token is read from it; any other bearer beside a cookie proves nothing."""
        authorization = _one_header(scope, b"authorization")
        if authorization is None:
            return False
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return False
        return self.mode is AuthMode.ACCOUNTS or token.strip().startswith(LINK_PREFIX)

    @staticmethod
    def credential(scope: Scope) -> Scope:
        """What of ``scope`` :meth:`authenticate` reads, and nothing more: a WebSocket
        keeps it to re-check its caller on every write frame (ws.py) without keeping
        every header of its handshake alive."""
        return {
            "type": scope["type"],
            "path": scope["path"],
            "scheme": scope.get("scheme"),
            "query_string": scope.get("query_string", b""),
            "headers": [(k, v) for k, v in scope["headers"] if k in CREDENTIAL_HEADERS],
        }

    @staticmethod
    def _cookie_header(scope: Scope) -> str:
        # HTTP/2 and some proxies split cookies over several headers; join them.
        return "; ".join(v.decode("latin-1") for v in _header_values(scope, b"cookie"))

    async def _from_link(self, scope: Scope, token: str) -> Principal:
        """A share link's holder; the same 404 as a missing session for a dead link."""
        link = await self.shares.link(token_digest(token))
        if link is None:
            raise UnknownSession(
                path_session(scope) or "", "This link has expired or was revoked."
            )
        return link_principal(link.id, link.session_id)

    def _check_proxy_host(self, scope: Scope) -> None:
        host = _one_header(scope, b"host") or ""
        if not self.host_allowed(host):
            raise InvalidHost(host)

    def _from_proxy(self, scope: Scope) -> Principal | None:
        values = _header_values(scope, USER_HEADER)
        if len(values) > 1:
            raise InvalidHeader("The request has more than one X-Tether-User header.")
        if not values or not values[0].strip():
            return None
        raw = values[0].strip()
        if len(raw) > MAX_USER_HEADER:
            # Never cut: two long names with one prefix would become one user.
            raise InvalidHeader(f"X-Tether-User is over {MAX_USER_HEADER} bytes.")
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidHeader("X-Tether-User is not UTF-8.") from exc
        if not name.isprintable():
            raise InvalidHeader("X-Tether-User holds control characters.")
        # Lowercased as share targets and assignees are (access.parse_target), so that
        # "Bob@Corp" and "bob@corp" are one person whom a share can name; a name no share
        # or assignee could name is refused rather than let in unaddressable.
        name = name.lower()
        if not valid_name(name):
            raise InvalidHeader(f"X-Tether-User is no user name: it has {NAME_RULE}.")
        return Principal.user(name)

    def host_allowed(self, host: str) -> bool:
        """``host`` (``name[:port]``) is one of the allowed hosts (``*.example.com`` too)."""
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        name = name.lower()
        for allowed in self._allowed_hosts:
            if allowed == "*" or name == allowed:
                return True
            if allowed.startswith("*.") and name.endswith(allowed[1:]):
                return True
        return False

    async def _from_bearer(self, authorization: str) -> Principal:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthenticated()
        user = await self.directory.by_token(token_digest(token.strip()))
        if user is None:
            raise NotAuthenticated()
        return user.principal()

    def session_cookie(self, scope: Scope) -> CookieSpec:
        secure = is_https(scope)
        return CookieSpec(
            name=SECURE_SESSION_COOKIE if secure else SESSION_COOKIE,
            max_age=int(self.session_seconds), same_site="Strict", secure=secure,
        )

    def _session_ids(self, scope: Scope) -> list[str]:
        """The verified session ids the request's cookies carry (usually one)."""
        ids: list[str] = []
        name = self.session_cookie(scope).name
        for value in cookie_values(self._cookie_header(scope), name):
            try:
                ids.append(
                    self._signer.unsign(value, max_age=int(self.session_seconds)).decode()
                )
            except (BadSignature, UnicodeDecodeError):
                continue
        return ids

    async def _from_session_cookie(self, scope: Scope) -> Principal | None:
        for session_id in self._session_ids(scope):
            session = await self.logins.get(token_digest(session_id))
            if session is None:
                continue
            user = await self.directory.get(session.name)
            if user is None or user.serial != session.serial:
                continue
            if user.oidc_subject is not None:
                # The provider's word at this login, not the directory's.
                return Principal.user(user.name, admin=session.admin, groups=session.groups)
            return user.principal()
        return None

    # --- logging in and out --------------------------------------------------------------

    async def login(
        self, scope: Scope, username: str, password: str
    ) -> tuple[Principal, tuple[bytes, bytes]]:
        """Check a name and password; the principal and the session cookie to set.

        An unknown name and a wrong password get the same error after the same work (an
        Argon2 check against a dummy hash); each failure counts against the client's
        address and against the name.

        Raises:
            TooManyAttempts: too many recent failures for this address or this name.
            InvalidCredentials: the name or the password is wrong.
        """
        name = username.strip().lower()
        known = valid_name(name)
        # An impossible name counts under its hash, so the key stays short.
        by_name = f"user:{name if known else token_digest(name)[:32]}"
        by_ip = f"ip:{client_ip(scope)}"
        limits = self._limits
        for what, limit in ((by_ip, limits.per_ip), (by_name, limits.per_user)):
            count, wait = await self.logins.failures(what, window=limits.window)
            if count >= limit:
                raise TooManyAttempts(wait)
        user = await self.directory.get(name) if known else None
        stored = user.password_hash if user is not None else None
        ok, rehash = await asyncio.to_thread(self.passwords.verify, stored, password)
        if not ok or user is None:
            for what in (by_ip, by_name):
                await self.logins.add_failure(what, window=limits.window)
            raise InvalidCredentials()
        if rehash:
            new_hash = await asyncio.to_thread(self.passwords.hash, password)
            await self.directory.set_password(user.name, new_hash)
        await self.logins.clear_failures(by_name)
        return user.principal(), await self.start_session(scope, user)

    async def start_session(
        self, scope: Scope, user: UserRecord, *, identity: OidcIdentity | None = None
    ) -> tuple[bytes, bytes]:
        """A new server-side login session for ``user``; the Set-Cookie header for it.

        ``identity``: what an OpenID provider said at this login (groups, admin), kept
        in the session.
        """
        session_id = secrets.token_urlsafe(32)
        session = LoginSession(user.name, user.serial)
        if identity is not None:
            session = LoginSession(
                user.name, user.serial, groups=identity.groups, admin=identity.admin
            )
        await self.logins.create(token_digest(session_id), session, ttl=self.session_seconds)
        signed = self._signer.sign(session_id).decode()
        return self.session_cookie(scope).set_header(signed)

    async def oidc_session(
        self, scope: Scope, identity: OidcIdentity
    ) -> tuple[Principal, tuple[bytes, bytes]]:
        """Log in the person an OpenID provider vouched for; the principal and the cookie.

        The first login makes the account ``identity.name`` bound to the provider's
        subject; later logins must be that subject's. A name that belongs to a local
        account (``tether users add``) or to another subject is refused, so a provider
        user can never take over an account it did not make.

        Raises:
            OidcLoginFailed: ``account`` — the name belongs to another account.
        """
        user = await self.directory.get(identity.name)
        if user is None:
            user = UserRecord(name=identity.name, oidc_subject=identity.subject)
            try:
                await self.directory.add(user)
            except UserExists:  # made a moment ago, by this person's other tab or not
                user = await self.directory.get(identity.name)
        if user is None or user.oidc_subject != identity.subject:
            owner = "a local account" if user is not None and not user.oidc_subject else (
                "another OpenID account"
            )
            raise OidcLoginFailed(
                "account", f"The user name {identity.name!r} belongs to {owner}."
            )
        principal = Principal.user(user.name, admin=identity.admin, groups=identity.groups)
        return principal, await self.start_session(scope, user, identity=identity)

    async def logout(self, scope: Scope) -> tuple[bytes, bytes]:
        """End the request's login session(s) in the store; the header that clears it."""
        for session_id in self._session_ids(scope):
            await self.logins.revoke(token_digest(session_id))
        return self.session_cookie(scope).clear_header()

    async def spend_link(
        self, scope: Scope, token: str
    ) -> tuple[Principal, tuple[bytes, bytes]] | None:
        """Log in with a one-time link's token (spent now): the principal and the session
        cookie; None if the link is unknown or spent.

        A wrong token counts as a failed login of the client's address, as a wrong
        password does: tokens cannot be guessed, but the tries are bounded all the same.

        Raises:
            TooManyAttempts: too many recent failures from this address.
        """
        by_ip = f"ip:{client_ip(scope)}"
        count, wait = await self.logins.failures(by_ip, window=self._limits.window)
        if count >= self._limits.per_ip:
            raise TooManyAttempts(wait)
        name = await self.logins.spend_link(token_digest(token))
        user = await self.directory.get(name) if name is not None else None
        if user is None:
            await self.logins.add_failure(by_ip, window=self._limits.window)
            return None
        return user.principal(), await self.start_session(scope, user)

    def anonymous_cookie(self, scope: Scope, browser_id: str) -> tuple[bytes, bytes]:
        spec = CookieSpec(ANON_COOKIE, ONE_YEAR, same_site="Lax", secure=is_https(scope))
        return spec.set_header(self._anonymous.sign(browser_id))


def _may_issue_identity(scope: Scope) -> bool:
    """A new anonymous identity goes only to a same-site navigation or fetch that reads.

    A cross-site form POST carries no ``SameSite=Lax`` cookie; issuing one to it would
    replace the browser's identity, and with it every session it owns.
    """
    if scope["method"] not in ("GET", "HEAD"):
        return False
    for key, value in scope["headers"]:
        if key == b"sec-fetch-site" and value == b"cross-site":
            return False
    return True


class IdentityMiddleware:
    """Puts the caller's :class:`Principal` on every HTTP request's state.

    The :class:`Authenticator` comes from the lifespan state (``scope["state"]["auth"]``),
    because the secret and the stores it uses are opened there.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        auth: Authenticator = state["auth"]
        try:
            principal = await auth.authenticate(scope)
        except TetherError as exc:
            if scope["type"] == "websocket":
                await send(close_message(exc.close_code, exc.message))
            else:
                await tether_error_response(exc)(scope, receive, send)
            return
        if principal is None and scope["type"] == "http":
            if auth.mode is AuthMode.ANONYMOUS and _may_issue_identity(scope):
                principal = Principal.anonymous(new_user_id())
                send = _with_header(send, auth.anonymous_cookie(scope, principal.id))
            elif scope["path"].startswith("/api/") and not _open_path(scope["path"]):
                await tether_error_response(NotAuthenticated())(scope, receive, send)
                return
        if principal is not None and principal.session_scope is not None:
            # A link reaches session routes only (another session's id: the manager's
            # 404, as for anyone who may not see it).
            if path_session(scope) is None and scope["path"].startswith("/api/"):
                refusal = Forbidden("A share link shows its one session and nothing else.")
                await tether_error_response(refusal)(scope, receive, send)
                return
        state["principal"] = principal
        state["user"] = principal.id if principal is not None else None
        current_user.set(state["user"])  # this request's log lines name who asked
        await self.app(scope, receive, send)


def _open_path(path: str) -> bool:
    return path in OPEN_API_PATHS or path.startswith(OPEN_API_PREFIXES)


def _with_header(send: Send, header: tuple[bytes, bytes]) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), header]}
        await send(message)

    return sending
