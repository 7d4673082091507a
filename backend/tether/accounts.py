"""Opening a hub's accounts, and choosing at start how it knows who is asking.

The mode (see ``auth.py``) is decided once, when the hub starts:

1. ``TETHER_TRUST_USER_HEADER=1`` → ``proxy``.
2. An OpenID provider is configured (``TETHER_OIDC_ISSUER``), or the user directory is
   not empty ("users are configured") → ``accounts``. With a provider, its users log in
   through it and local accounts (``tether users add``) may log in beside them.
3. No users, and ``--no-auth`` or the hub listens on a loopback address only
   (``127.0.0.1``, ``::1``, ``localhost``) → ``anonymous``, single-person mode. With
   ``--no-auth`` on any other interface the hub says loudly that anyone who reaches it
   can use it.
4. No users on any other interface → the hub refuses to serve anonymously: it makes an
   admin account ``admin`` and prints a one-time login URL (``/login?token=…``, valid for
   a day, spent on first use) → ``accounts``.

Adding the first user while a hub runs in anonymous mode takes effect at its next start.

Where users live: in Redis when the hub has ``TETHER_REDIS_URL``; otherwise in the TOML
file ``TETHER_USERS_FILE`` (``--users``), or, without one, in memory.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
import socket
from dataclasses import dataclass

from tether.auth import Authenticator, AuthMode, LoginLimits
from tether.config import Settings
from tether.credentials import token_digest
from tether.logins import LoginStore, MemoryLogins
from tether.oidc import OidcLogin, OidcProvider
from tether.sharing import MemoryShares, ShareStore
from tether.users import UserDirectory, UserExists, UserRecord
from tether.users_file import FileDirectory

log = logging.getLogger(__name__)

BOOTSTRAP_ADMIN = "admin"
LINK_SECONDS = 24 * 3600


def open_directory(settings: Settings) -> UserDirectory:
    """Redis with a Redis URL, else the users file, else memory only."""
    if settings.redis_url:
        from tether.store.redis_users import RedisDirectory

        return RedisDirectory(settings.redis_url)
    return FileDirectory(settings.users_file)


def open_logins(settings: Settings) -> LoginStore:
    if settings.redis_url:
        from tether.store.redis_logins import RedisLogins

        return RedisLogins(settings.redis_url)
    return MemoryLogins()


def open_shares(settings: Settings) -> ShareStore:
    if settings.redis_url:
        from tether.store.redis_shares import RedisShares

        return RedisShares(settings.redis_url)
    return MemoryShares()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve to anything


def public_host(host: str) -> str:
    """A host name for the login URL: a wildcard bind is reached by the machine's name."""
    return socket.gethostname() if host in ("0.0.0.0", "::", "") else host


@dataclass(frozen=True, slots=True)
class Access:
    """What the lifespan hands to requests: the authenticator and what it opened."""

    auth: Authenticator
    login_url: str | None = None  # the one-time URL printed at start, if one was made

    async def close(self) -> None:
        if self.auth.oidc is not None:
            await self.auth.oidc.close()
        await self.auth.directory.close()
        await self.auth.logins.close()
        await self.auth.shares.close()


def open_oidc(settings: Settings, logins: LoginStore, secret: str) -> OidcLogin | None:
    """The OpenID login of the settings' provider, or None without one. Nothing is
    fetched yet: the provider's discovery happens at the first login, so a provider that
    is down does not stop the hub (password logins and API tokens still work)."""
    if not settings.oidc_enabled:
        return None
    assert settings.oidc_issuer and settings.oidc_client_id and settings.oidc_client_secret
    provider = OidcProvider(
        issuer=settings.oidc_issuer, client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret, groups_claim=settings.oidc_groups_claim,
        admin_group=settings.oidc_admin_group, name=settings.oidc_name,
    )
    return OidcLogin(provider, logins=logins, secret=secret)


async def open_access(settings: Settings, secret: str) -> Access:
    """The hub's :class:`Authenticator`, in the mode its settings and users call for."""
    directory = open_directory(settings)
    logins = open_logins(settings)
    shares = open_shares(settings)
    limits = LoginLimits(
        per_ip=settings.login_failures_per_ip, per_user=settings.login_failures_per_user,
        window=settings.login_window,
    )

    def authenticator(mode: AuthMode) -> Authenticator:
        return Authenticator(
            mode=mode, secret=secret, directory=directory, logins=logins,
            shares=shares,
            session_hours=settings.session_hours, allowed_hosts=settings.allowed_hosts,
            limits=limits,
            oidc=open_oidc(settings, logins, secret) if mode is AuthMode.ACCOUNTS else None,
        )

    if settings.trust_user_header:
        return Access(authenticator(AuthMode.PROXY))
    if settings.oidc_enabled or await directory.list():
        return Access(authenticator(AuthMode.ACCOUNTS))
    if settings.no_auth or is_loopback(settings.host):
        if not is_loopback(settings.host):
            log.warning(
                "--no-auth: NO AUTHENTICATION on %s - anyone who can reach this port can "
                "start, watch and answer every task", settings.host,
            )
        return Access(authenticator(AuthMode.ANONYMOUS))
    auth = authenticator(AuthMode.ACCOUNTS)
    token = secrets.token_urlsafe(32)
    try:
        await directory.add(UserRecord(name=BOOTSTRAP_ADMIN, admin=True))
    except UserExists:
        pass  # another hub of this Redis made it a moment ago; its link is as good
    await logins.create_link(token_digest(token), BOOTSTRAP_ADMIN, ttl=LINK_SECONDS)
    # Behind a proxy the hub's own address is not where people reach it: TETHER_PUBLIC_URL is.
    base = settings.base_url if settings.public_url else (
        f"http://{public_host(settings.host)}:{settings.port}"
    )
    url = f"{base}/login?token={token}"
    return Access(auth, login_url=url)
