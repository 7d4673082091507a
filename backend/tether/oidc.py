"""OpenID Connect login: the authorization code flow with PKCE, ``state`` and ``nonce``.

Two parts:

- :class:`OidcProvider` talks to the provider: discovery
  (``{issuer}/.well-known/openid-configuration``, whose ``issuer`` must be the configured
  one), its keys (JWKS, fetched again once when a token names an unknown key), the
  authorization URL and the code exchange, through Authlib's ``AsyncOAuth2Client``. The
  ID token is checked in ``oidc_tokens.py``.
- :class:`OidcLogin` runs one login. ``GET /api/login/oidc`` (:meth:`begin`) makes a
  random ``state``, ``nonce`` and PKCE verifier (S256), keeps nonce and verifier in the
  login store under the state's SHA-256 for ``FLOW_SECONDS``, and binds the state to this
  browser with a signed cookie (``tether_oidc``, ``SameSite=Lax`` so that it comes back
  with the provider's cross-site redirect). The callback (:meth:`finish`) needs the state
  in its query to be the cookie's, spends the store entry in one step (so a replayed
  callback finds nothing, on whichever hub it lands), and only then exchanges the code.

The cookie stops login CSRF (an attacker's own callback URL planted in a victim's
browser has no matching cookie there); the store entry makes each state good for one
callback and lets another hub of the same store finish the login.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import time
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from itsdangerous import BadSignature, TimestampSigner
from starlette.types import Scope

from tether.cookies import CookieSpec, cookie_values
from tether.credentials import token_digest
from tether.errors import InvalidQuery, OidcLoginFailed
from tether.logins import LoginStore
from tether.oidc_tokens import (
    InvalidKeyId,
    OidcIdentity,
    accepted_algorithms,
    identity_from_claims,
    verify_id_token,
)

with warnings.catch_warnings():
    # Authlib 1.7+ prefers the "httpx2" package and warns when it falls back to httpx,
    # which it still supports and which the hub already uses; the warning says nothing
    # a person running the hub could act on.
    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.integrations.base_client.errors import OAuthError
    from authlib.integrations.httpx_client import AsyncOAuth2Client

log = logging.getLogger(__name__)

CALLBACK_PATH = "/api/login/oidc/callback"
FLOW_COOKIE = "tether_oidc"
SECURE_FLOW_COOKIE = "__Host-tether_oidc"
FLOW_SECONDS = 600  # from the redirect to the provider to its callback
METADATA_SECONDS = 3600  # discovery document and JWKS are fetched again after this
MAX_NEXT = 2048


def same_origin_path(value: str | None) -> str:
    """``next`` as a path of this hub (``/sessions?x=1``), or ``/`` when not given.

    Raises:
        InvalidQuery: a URL of another origin, a scheme-relative ``//host`` or a path
            with control characters or backslashes (which browsers read as ``/``).
    """
    if not value:
        return "/"
    parts = urlsplit(value)
    if (
        len(value) > MAX_NEXT or not value.startswith("/") or value.startswith("//")
        or "\\" in value or not value.isprintable() or parts.scheme or parts.netloc
    ):
        raise InvalidQuery(
            "next must be a path on this hub, such as /sessions.",
            fields={"next": "must be a path on this hub"},
        )
    return value


@dataclass(frozen=True, slots=True)
class Flow:
    """One login under way, as the login store keeps it."""

    nonce: str
    verifier: str
    redirect_uri: str
    next: str

    def encode(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def decode(cls, raw: str) -> Flow:
        data = json.loads(raw)
        return cls(data["nonce"], data["verifier"], data["redirect_uri"], data["next"])


class OidcProvider:
    """One OpenID provider and this hub's client registration with it."""

    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        client_secret: str,
        groups_claim: str = "groups",
        admin_group: str | None = None,
        name: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.issuer = issuer
        self.client_id = client_id
        self._client_secret = client_secret
        self.groups_claim = groups_claim
        self.admin_group = admin_group
        self.name = name or urlsplit(issuer).hostname or issuer
        self._timeout = timeout
        self._http = httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        self._metadata: dict[str, Any] | None = None
        self._jwks: dict[str, Any] | None = None
        self._fetched_at = 0.0

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = await self._http.get(url, headers={"accept": "application/json"})
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise OidcLoginFailed(
                "unavailable", f"The OpenID provider did not answer {url}: {exc}"
            ) from exc
        if not isinstance(data, dict):
            raise OidcLoginFailed("unavailable", f"{url} did not answer a JSON object")
        return data

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document, fetched at most every METADATA_SECONDS.

        Raises:
            OidcLoginFailed: ``unavailable`` — no answer, or a document that is not this
                issuer's or lacks an endpoint the flow needs.
        """
        if self._metadata is not None and time.monotonic() - self._fetched_at < METADATA_SECONDS:
            return self._metadata
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        data = await self._get_json(url)
        if data.get("issuer") != self.issuer:
            # OpenID Connect Discovery §4.3: else tokens would be checked against keys of
            # whoever answered.
            raise OidcLoginFailed(
                "unavailable",
                f"{url} names the issuer {data.get('issuer')!r}, not {self.issuer!r}",
            )
        for endpoint in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(data.get(endpoint), str):
                raise OidcLoginFailed("unavailable", f"{url} has no {endpoint}")
        self._metadata, self._jwks, self._fetched_at = data, None, time.monotonic()
        return data

    async def _keys(self, *, fresh: bool = False) -> dict[str, Any]:
        metadata = await self.metadata()
        if self._jwks is None or fresh:
            self._jwks = await self._get_json(metadata["jwks_uri"])
        return self._jwks

    def _scope(self, metadata: Mapping[str, Any]) -> str:
        """``openid profile``, and the groups claim's name where the provider has such
        a scope (as Okta's and oidc-provider's ``groups``)."""
        scopes = ["openid", "profile"]
        supported = metadata.get("scopes_supported")
        if isinstance(supported, list) and self.groups_claim in supported:
            scopes.append(self.groups_claim)
        return " ".join(scopes)

    def _oauth_client(self, metadata: Mapping[str, Any], redirect_uri: str) -> AsyncOAuth2Client:
        methods = metadata.get("token_endpoint_auth_methods_supported")
        basic = not isinstance(methods, list) or "client_secret_basic" in methods
        return AsyncOAuth2Client(
            client_id=self.client_id, client_secret=self._client_secret,
            token_endpoint_auth_method="client_secret_basic" if basic else "client_secret_post",
            scope=self._scope(metadata), redirect_uri=redirect_uri,
            code_challenge_method="S256", timeout=self._timeout,
        )

    async def authorization_url(self, flow: Flow, state: str) -> str:
        """Where to send the browser: the provider's login for this flow."""
        metadata = await self.metadata()
        async with self._oauth_client(metadata, flow.redirect_uri) as client:
            url, _ = client.create_authorization_url(
                metadata["authorization_endpoint"], state=state, nonce=flow.nonce,
                code_verifier=flow.verifier,
            )
        return str(url)

    async def identity(self, flow: Flow, code: str) -> OidcIdentity:
        """Exchange ``code`` for tokens and say who the verified ID token names.

        Raises:
            OidcLoginFailed: ``token``, ``account`` or ``unavailable``.
        """
        metadata = await self.metadata()
        try:
            async with self._oauth_client(metadata, flow.redirect_uri) as client:
                token = await client.fetch_token(
                    metadata["token_endpoint"], grant_type="authorization_code", code=code,
                    code_verifier=flow.verifier,
                )
        except OAuthError as exc:
            raise OidcLoginFailed(
                "token", f"The provider refused the code: {exc.error} {exc.description or ''}"
            ) from exc
        except (httpx.HTTPError, ValueError) as exc:
            raise OidcLoginFailed("unavailable", f"The token request failed: {exc}") from exc
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise OidcLoginFailed("token", "The provider's token answer has no ID token.")
        access_token = token.get("access_token")

        def verify(jwks: Mapping[str, Any]) -> dict[str, Any]:
            return verify_id_token(
                id_token, jwks=jwks, issuer=self.issuer, client_id=self.client_id,
                nonce=flow.nonce,
                access_token=access_token if isinstance(access_token, str) else None,
                algorithms=accepted_algorithms(
                    metadata.get("id_token_signing_alg_values_supported")
                ),
            )

        try:
            claims = verify(await self._keys())
        except InvalidKeyId:
            try:
                claims = verify(await self._keys(fresh=True))  # the provider rotated its keys
            except InvalidKeyId as exc:
                raise OidcLoginFailed("token", f"The ID token's key is unknown: {exc}") from exc
        return identity_from_claims(
            claims, issuer=self.issuer, groups_claim=self.groups_claim,
            admin_group=self.admin_group,
        )

    async def close(self) -> None:
        await self._http.aclose()


def _query_value(query: Mapping[str, str], name: str) -> str | None:
    value = query.get(name)
    return value if value else None


class OidcLogin:
    """The login flow's state: made at :meth:`begin`, checked and spent at :meth:`finish`."""

    def __init__(self, provider: OidcProvider, *, logins: LoginStore, secret: str) -> None:
        self.provider = provider
        self._logins = logins
        self._signer = TimestampSigner(secret, salt="tether.oidc-state")

    @staticmethod
    def _cookie(scope: Scope) -> CookieSpec:
        secure = scope.get("scheme") == "https"
        return CookieSpec(
            SECURE_FLOW_COOKIE if secure else FLOW_COOKIE, FLOW_SECONDS,
            same_site="Lax", secure=secure,
        )

    async def begin(
        self, scope: Scope, *, redirect_uri: str, next_path: str
    ) -> tuple[str, tuple[bytes, bytes]]:
        """The provider's login URL and the cookie that binds its state to this browser.

        Raises:
            OidcLoginFailed: ``unavailable`` — the provider's discovery failed.
            StoreUnavailable: the login store does not answer.
        """
        state = secrets.token_urlsafe(32)
        # RFC 7636 §4.1: 43 to 128 characters; 64 random bytes make 86.
        flow = Flow(
            nonce=secrets.token_urlsafe(32), verifier=secrets.token_urlsafe(64),
            redirect_uri=redirect_uri, next=next_path,
        )
        url = await self.provider.authorization_url(flow, state)
        await self._logins.create_flow(token_digest(state), flow.encode(), ttl=FLOW_SECONDS)
        cookie = self._cookie(scope).set_header(self._signer.sign(state).decode())
        return url, cookie

    def _bound_to_browser(self, scope: Scope, cookie_header: str, state: str) -> bool:
        for value in cookie_values(cookie_header, self._cookie(scope).name):
            try:
                signed = self._signer.unsign(value, max_age=FLOW_SECONDS)
            except BadSignature:
                continue
            if hmac.compare_digest(signed, state.encode("utf-8", "surrogateescape")):
                return True
        return False

    async def finish(
        self, scope: Scope, cookie_header: str, query: Mapping[str, str]
    ) -> tuple[OidcIdentity, str]:
        """Who logged in at the provider, and the path to land on.

        Raises:
            OidcLoginFailed: ``state`` (missing, not this browser's, expired or spent),
                ``provider`` (the provider answered an error), ``token``, ``account``
                or ``unavailable``.
            StoreUnavailable: the login store does not answer.
        """
        state = _query_value(query, "state")
        if state is None or not self._bound_to_browser(scope, cookie_header, state):
            raise OidcLoginFailed(
                "state", "The login's state is missing or was not made for this browser."
            )
        raw = await self._logins.spend_flow(token_digest(state))
        if raw is None:
            raise OidcLoginFailed("state", "The login's state expired or was already used.")
        flow = Flow.decode(raw)
        error = _query_value(query, "error")
        if error is not None:
            detail = _query_value(query, "error_description") or ""
            raise OidcLoginFailed("provider", f"The provider answered {error}: {detail}")
        issuer = _query_value(query, "iss")
        if issuer is not None and issuer != self.provider.issuer:
            # RFC 9207: an answer from another provider (a mix-up attack).
            raise OidcLoginFailed("token", f"The answer comes from issuer {issuer!r}.")
        code = _query_value(query, "code")
        if code is None:
            raise OidcLoginFailed("provider", "The provider's answer has no code.")
        return await self.provider.identity(flow, code), flow.next

    def clear_cookie(self, scope: Scope) -> tuple[bytes, bytes]:
        return self._cookie(scope).clear_header()

    async def close(self) -> None:
        await self.provider.close()
