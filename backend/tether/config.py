"""``Settings``: every knob of a hub in one frozen object.

Only :meth:`Settings.from_env` reads the environment; everything else receives a
``Settings``. The README's configuration table lists the same names.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

DEFAULT_TASKS = ("tether.demos:hub",)


def redacted(url: str) -> str:
    """``url`` with its password (``redis://user:PASSWORD@host``) replaced by ``***``, for
    messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def _default_static_dir() -> Path | None:
    """The browser app's production build, when this is a source checkout that has one."""
    candidate = Path(__file__).resolve().parents[2] / "frontend" / "dist"
    return candidate if (candidate / "index.html").is_file() else None


@dataclass(frozen=True, slots=True)
class Settings:
    """Configuration of one hub process. Defaults suit a laptop; see the README table."""

    host: str = "127.0.0.1"
    port: int = 8000
    redis_url: str | None = None
    task_specs: tuple[str, ...] = DEFAULT_TASKS
    history_cap: int = 10_000
    finished_ttl: int = 7 * 86400
    send_queue: int = 4096
    max_frame_bytes: int = 64 * 1024
    rate_per_second: float = 50.0
    rate_burst: int = 200
    ping_interval: float = 20.0
    header_timeout: float = 10.0
    max_open_sessions: int = 100
    starts_per_minute: int = 30
    max_sockets_per_user: int = 64
    keepalive_timeout: float = 5.0
    allowed_origins: tuple[str, ...] = ()
    trust_user_header: bool = False
    allowed_hosts: tuple[str, ...] = ()
    users_file: Path | None = None
    no_auth: bool = False
    session_hours: float = 12.0
    login_failures_per_ip: int = 20
    login_failures_per_user: int = 5
    login_window: float = 300.0
    secret: str | None = None
    static_dir: Path | None = field(default_factory=_default_static_dir)
    shutdown_timeout: float = 10.0
    lease_seconds: float = 10.0
    hub_id: str = ""

    def __post_init__(self) -> None:
        if self.trust_user_header and not self.allowed_hosts:
            # Without a Host check, anyone who reaches the hub past the proxy (another
            # virtual host, a direct port) could name any user in the header.
            raise ValueError(
                "TETHER_TRUST_USER_HEADER needs TETHER_ALLOWED_HOSTS (the proxy's host names)"
            )
        if self.session_hours <= 0:
            raise ValueError("TETHER_SESSION_HOURS must be above 0")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Read ``TETHER_*`` variables; keyword ``overrides`` (e.g. CLI flags) win."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        readers: dict[str, tuple[str, Any]] = {
            "TETHER_HOST": ("host", str),
            "TETHER_PORT": ("port", int),
            "TETHER_REDIS_URL": ("redis_url", str),
            "TETHER_HISTORY_CAP": ("history_cap", int),
            "TETHER_FINISHED_TTL": ("finished_ttl", int),
            "TETHER_SEND_QUEUE": ("send_queue", int),
            "TETHER_MAX_FRAME_BYTES": ("max_frame_bytes", int),
            "TETHER_RATE_PER_SECOND": ("rate_per_second", float),
            "TETHER_RATE_BURST": ("rate_burst", int),
            "TETHER_PING_INTERVAL": ("ping_interval", float),
            "TETHER_HEADER_TIMEOUT": ("header_timeout", float),
            "TETHER_MAX_OPEN_SESSIONS": ("max_open_sessions", int),
            "TETHER_STARTS_PER_MINUTE": ("starts_per_minute", int),
            "TETHER_MAX_SOCKETS_PER_USER": ("max_sockets_per_user", int),
            "TETHER_KEEPALIVE_TIMEOUT": ("keepalive_timeout", float),
            "TETHER_SECRET": ("secret", str),
            "TETHER_SHUTDOWN_TIMEOUT": ("shutdown_timeout", float),
            "TETHER_LEASE_SECONDS": ("lease_seconds", float),
            "TETHER_HUB_ID": ("hub_id", str),
            "TETHER_SESSION_HOURS": ("session_hours", float),
            "TETHER_LOGIN_FAILURES_PER_IP": ("login_failures_per_ip", int),
            "TETHER_LOGIN_FAILURES_PER_USER": ("login_failures_per_user", int),
            "TETHER_LOGIN_WINDOW": ("login_window", float),
        }
        for name, (attr, parse) in readers.items():
            raw = env.get(name)
            if raw:
                try:
                    values[attr] = parse(raw)
                except ValueError as exc:
                    raise ValueError(f"{name}={raw!r} is not a valid {parse.__name__}") from exc
        if env.get("TETHER_ALLOWED_ORIGINS"):
            values["allowed_origins"] = tuple(
                o.strip() for o in env["TETHER_ALLOWED_ORIGINS"].split(",") if o.strip()
            )
        if env.get("TETHER_ALLOWED_HOSTS"):
            values["allowed_hosts"] = tuple(
                h.strip() for h in env["TETHER_ALLOWED_HOSTS"].split(",") if h.strip()
            )
        if env.get("TETHER_USERS_FILE"):
            values["users_file"] = Path(env["TETHER_USERS_FILE"])
        if env.get("TETHER_TRUST_USER_HEADER"):
            flag = env["TETHER_TRUST_USER_HEADER"].strip().lower()
            values["trust_user_header"] = flag in ("1", "true", "yes", "on")
        if env.get("TETHER_STATIC_DIR"):
            values["static_dir"] = Path(env["TETHER_STATIC_DIR"])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)
