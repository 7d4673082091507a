"""``Settings``: every knob of a hub in one frozen object.

Only :meth:`Settings.from_env` reads the environment; everything else receives a
``Settings``. The README's configuration table lists the same names.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from tether.logs import LEVELS
from tether.redis_url import check_redis_url, is_cluster_url, is_sentinel_url

DEFAULT_TASKS = ("tether.demos:hub",)
ANSWER_LINK_LOGINS = ("never", "required")


def redacted(url: str) -> str:
    """``url`` with its passwords (``redis://user:PASSWORD@host``, a Sentinel URL's
    ``sentinel_password=`` option) replaced by ``***``, for messages and logs."""
    parts = urlsplit(url)
    if "password=" in parts.query:
        parts = parts._replace(query=_SECRET_OPTION.sub(r"\1***", parts.query))
    elif parts.password is None:
        return url
    if parts.password is None:
        return urlunsplit(parts)
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


_SECRET_OPTION = re.compile(r"((?:^|&)[A-Za-z_]*password=)[^&]*")


def _default_static_dir() -> Path | None:
    """The browser app's production build, when this is a source checkout that has one."""
    candidate = Path(__file__).resolve().parents[2] / "frontend" / "dist"
    return candidate if (candidate / "index.html").is_file() else None


def traces_endpoint_from(env: Mapping[str, str]) -> str | None:
    """The OTLP/HTTP URL spans go to, as OpenTelemetry's standard variables name it:
    ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` as it is, or ``OTEL_EXPORTER_OTLP_ENDPOINT``
    with ``/v1/traces`` after it; None (tracing off) when neither is set, or when
    ``OTEL_SDK_DISABLED=true`` or ``OTEL_TRACES_EXPORTER=none``.

    Raises:
        ValueError: ``OTEL_EXPORTER_OTLP_PROTOCOL`` (or ``..._TRACES_PROTOCOL``) asks for
            another protocol than ``http/protobuf``, the only one the hub ships.
    """
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    if env.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() == "none":
        return None
    signal = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    if not (signal or base):
        return None
    for name in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        protocol = env.get(name, "").strip()
        if protocol:
            if protocol != "http/protobuf":
                raise ValueError(f"{name}={protocol!r}: the hub exports http/protobuf only")
            break
    return signal or f"{base.rstrip('/')}/v1/traces"


@dataclass(frozen=True, slots=True)
class Settings:
    """Configuration of one hub process. Defaults suit a laptop; see the README table."""

    host: str = "127.0.0.1"
    port: int = 8000
    redis_url: str | None = None
    # Replicas that must have a write that may not be lost (an answer, a journal entry)
    # before it counts as done (Redis WAIT); None: 1 with Sentinel or a cluster, else 0.
    redis_wait_replicas: int | None = None
    redis_wait_timeout: float = 0.25  # seconds WAIT waits for them, at most
    task_specs: tuple[str, ...] = DEFAULT_TASKS
    history_cap: int = 10_000
    audit_max: int = 100_000
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
    # Seconds between an open socket's credential re-checks (write frames check it too).
    socket_recheck_seconds: float = 30.0
    keepalive_timeout: float = 5.0
    allowed_origins: tuple[str, ...] = ()
    trust_user_header: bool = False
    allowed_hosts: tuple[str, ...] = ()
    users_file: Path | None = None
    no_auth: bool = False
    log_format: str = "text"  # "json": one JSON object per line (logs.py)
    log_level: str = "info"
    access_log: bool = False
    session_hours: float = 12.0
    login_failures_per_ip: int = 20
    login_failures_per_user: int = 5
    login_window: float = 300.0
    secret: str | None = None
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_groups_claim: str = "groups"
    oidc_admin_group: str | None = None
    oidc_name: str | None = None
    public_url: str | None = None
    answer_link_hours: float = 72.0
    # "required": an answer link answers only for its person signed in (answer_api.py);
    # "never": the link's token alone is enough.
    answer_link_login: str = "never"
    smtp_url: str | None = None
    mail_from: str | None = None
    static_dir: Path | None = field(default_factory=_default_static_dir)
    shutdown_timeout: float = 10.0
    lease_seconds: float = 10.0
    park_after: float = 300.0  # seconds a runner only waiting for a person stays loaded
    hub_id: str = ""
    workers: int = 1  # hub processes on one socket (workers.py); > 1 needs Redis
    # Seconds a worker's event loop may go without a heartbeat before its supervisor kills
    # it (and starts it again); 0: never (workers.py).
    worker_timeout: float = 60.0
    webhook_retry_base: float = 5.0
    webhook_retry_cap: float = 3600.0
    webhook_retry_for: float = 86400.0
    webhook_timeout: float = 10.0
    dispatch_concurrency: int = 16
    metrics_token: str | None = None  # GET /metrics with this bearer (metrics_api.py)
    # Where spans go (an OTLP/HTTP traces URL); None: tracing off. See traces_endpoint_from.
    traces_endpoint: str | None = None
    ray_address: str | None = None  # the Ray cluster of executor="ray" (tether[ray])

    def __post_init__(self) -> None:
        if self.trust_user_header and not self.allowed_hosts:
            # Without a Host check, anyone who reaches the hub past the proxy (another
            # virtual host, a direct port) could name any user in the header.
            raise ValueError(
                "TETHER_TRUST_USER_HEADER needs TETHER_ALLOWED_HOSTS (the proxy's host names)"
            )
        if self.session_hours <= 0:
            raise ValueError("TETHER_SESSION_HOURS must be above 0")
        if self.audit_max < 1:
            raise ValueError("TETHER_AUDIT_MAX must be at least 1")
        if self.answer_link_hours <= 0:
            raise ValueError("TETHER_ANSWER_LINK_HOURS must be above 0")
        if self.answer_link_login not in ANSWER_LINK_LOGINS:
            raise ValueError(
                f"TETHER_ANSWER_LINK_LOGIN={self.answer_link_login!r}: never or required"
            )
        self._check_workers()
        self._check_redis()
        self._check_notifications()
        self._check_logging()
        self._check_oidc()
        self._check_mail()
        if self.metrics_token is not None and len(self.metrics_token.strip()) < 16:
            # Sent by a scraper on every request: short enough to guess is too short.
            raise ValueError("TETHER_METRICS_TOKEN must be at least 16 characters")
        if self.traces_endpoint is not None:
            endpoint = urlsplit(self.traces_endpoint)
            if endpoint.scheme not in ("http", "https") or not endpoint.netloc:
                raise ValueError(
                    f"The OTLP traces endpoint {redacted(self.traces_endpoint)!r} "
                    "(OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) "
                    "must be an http:// or https:// URL"
                )
        self._check_ray()

    def _check_ray(self) -> None:
        if self.ray_address is None:
            return
        address = self.ray_address
        if address == "auto" or address.startswith("ray://"):
            return
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(
                f"TETHER_RAY_ADDRESS={address!r} must be auto, host:port (the cluster's "
                "GCS address) or ray://host:port (Ray Client)"
            )

    def _check_redis(self) -> None:
        if self.redis_url is not None:
            try:
                check_redis_url(self.redis_url)
            except ValueError as exc:
                raise ValueError(f"TETHER_REDIS_URL={redacted(self.redis_url)!r}: {exc}") from exc
        if self.redis_wait_replicas is not None and self.redis_wait_replicas < 0:
            raise ValueError("TETHER_REDIS_WAIT_REPLICAS must not be below 0")
        if self.redis_wait_timeout <= 0:
            raise ValueError("TETHER_REDIS_WAIT_TIMEOUT must be above 0")
        if self.park_after < 0:
            raise ValueError("TETHER_PARK_AFTER must not be below 0 (0: never park)")

    @property
    def wait_replicas(self) -> int:
        """How many replicas must acknowledge a write that may not be lost (0: no WAIT):
        ``TETHER_REDIS_WAIT_REPLICAS``, by default 1 behind Sentinel or on a cluster (both
        fail over to a replica) and 0 otherwise."""
        if self.redis_wait_replicas is not None:
            return self.redis_wait_replicas
        url = self.redis_url
        return 1 if url and (is_sentinel_url(url) or is_cluster_url(url)) else 0

    def _check_workers(self) -> None:
        if self.workers < 1:
            raise ValueError("TETHER_WORKERS (--workers) must be at least 1")
        if not self.worker_timeout >= 0:  # NaN too
            raise ValueError("TETHER_WORKER_TIMEOUT must be 0 (never) or more seconds")
        if self.workers > 1 and not self.redis_url:
            # Each worker is its own process: a session in one's memory is invisible to
            # the others, so a tab or an answer landing on another worker would not find it.
            raise ValueError(
                f"--workers {self.workers} needs a Redis store (--redis URL or "
                "TETHER_REDIS_URL): the memory store keeps sessions in one process's memory, "
                "where the other workers cannot see them"
            )

    def _check_mail(self) -> None:
        if self.public_url is not None:
            public = urlsplit(self.public_url)
            if public.scheme not in ("http", "https") or not public.netloc:
                raise ValueError(
                    f"TETHER_PUBLIC_URL={self.public_url!r} must be an http:// or https:// URL"
                )
            if public.query or public.fragment:
                raise ValueError("TETHER_PUBLIC_URL must not have a query or a fragment")
        if self.smtp_url is None:
            return
        smtp = urlsplit(self.smtp_url)
        if smtp.scheme not in ("smtp", "smtps") or not smtp.hostname:
            raise ValueError(
                f"TETHER_SMTP_URL={redacted(self.smtp_url)!r} must be smtp://[user:pass@]host"
                "[:port] or smtps://..."
            )
        if not self.mail_from:
            raise ValueError("TETHER_SMTP_URL needs TETHER_MAIL_FROM (the mails' sender)")

    @property
    def base_url(self) -> str:
        """Where people reach this hub: the base of every link it sends out
        (``TETHER_PUBLIC_URL``; by default the address it listens on)."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def _check_oidc(self) -> None:
        given = [self.oidc_issuer, self.oidc_client_id, self.oidc_client_secret]
        if not any(given):
            return
        if not all(given):
            raise ValueError(
                "OpenID Connect needs all of TETHER_OIDC_ISSUER, TETHER_OIDC_CLIENT_ID and "
                "TETHER_OIDC_CLIENT_SECRET"
            )
        if self.trust_user_header:
            # Two sources of identity would make it unclear who vouches for a user.
            raise ValueError("TETHER_OIDC_ISSUER and TETHER_TRUST_USER_HEADER exclude each other")
        issuer = urlsplit(self.oidc_issuer or "")
        # Tokens and the client secret travel to the issuer: only over TLS, except to a
        # provider on this machine (development, tests).
        loopback = issuer.hostname in ("localhost", "127.0.0.1", "::1")
        if issuer.scheme != "https" and not (issuer.scheme == "http" and loopback):
            raise ValueError(
                f"TETHER_OIDC_ISSUER={self.oidc_issuer!r} must be an https:// URL "
                "(http:// only for a provider on loopback)"
            )
        if issuer.query or issuer.fragment:
            raise ValueError("TETHER_OIDC_ISSUER must not have a query or a fragment")
        if not self.oidc_groups_claim:
            raise ValueError("TETHER_OIDC_GROUPS_CLAIM must not be empty")

    def _check_logging(self) -> None:
        if self.log_format not in ("text", "json"):
            raise ValueError(f"TETHER_LOG_FORMAT={self.log_format!r}: text or json")
        if self.log_level not in LEVELS:
            raise ValueError(f"TETHER_LOG_LEVEL={self.log_level!r}: one of {', '.join(LEVELS)}")

    def _check_notifications(self) -> None:
        if min(self.webhook_retry_base, self.webhook_retry_cap, self.webhook_timeout) <= 0:
            raise ValueError(
                "TETHER_WEBHOOK_RETRY_BASE, _RETRY_CAP and _TIMEOUT must be above 0"
            )
        if self.webhook_retry_for < 0:
            raise ValueError("TETHER_WEBHOOK_RETRY_FOR must not be below 0")
        if self.dispatch_concurrency < 1:
            raise ValueError("TETHER_DISPATCH_CONCURRENCY must be at least 1")

    @property
    def oidc_enabled(self) -> bool:
        """An OpenID provider is configured (``__post_init__`` made sure it is whole)."""
        return self.oidc_issuer is not None

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Read ``TETHER_*`` variables; keyword ``overrides`` (e.g. CLI flags) win."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        readers: dict[str, tuple[str, Any]] = {
            "TETHER_HOST": ("host", str),
            "TETHER_PORT": ("port", int),
            "TETHER_REDIS_URL": ("redis_url", str),
            "TETHER_REDIS_WAIT_REPLICAS": ("redis_wait_replicas", int),
            "TETHER_REDIS_WAIT_TIMEOUT": ("redis_wait_timeout", float),
            "TETHER_HISTORY_CAP": ("history_cap", int),
            "TETHER_AUDIT_MAX": ("audit_max", int),
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
            "TETHER_SOCKET_RECHECK_SECONDS": ("socket_recheck_seconds", float),
            "TETHER_KEEPALIVE_TIMEOUT": ("keepalive_timeout", float),
            "TETHER_SECRET": ("secret", str),
            "TETHER_SHUTDOWN_TIMEOUT": ("shutdown_timeout", float),
            "TETHER_LEASE_SECONDS": ("lease_seconds", float),
            "TETHER_PARK_AFTER": ("park_after", float),
            "TETHER_HUB_ID": ("hub_id", str),
            "TETHER_WORKERS": ("workers", int),
            "TETHER_WORKER_TIMEOUT": ("worker_timeout", float),
            "TETHER_LOG_FORMAT": ("log_format", str),
            "TETHER_LOG_LEVEL": ("log_level", str),
            "TETHER_SESSION_HOURS": ("session_hours", float),
            "TETHER_LOGIN_FAILURES_PER_IP": ("login_failures_per_ip", int),
            "TETHER_LOGIN_FAILURES_PER_USER": ("login_failures_per_user", int),
            "TETHER_LOGIN_WINDOW": ("login_window", float),
            "TETHER_OIDC_ISSUER": ("oidc_issuer", str),
            "TETHER_OIDC_CLIENT_ID": ("oidc_client_id", str),
            "TETHER_OIDC_CLIENT_SECRET": ("oidc_client_secret", str),
            "TETHER_OIDC_GROUPS_CLAIM": ("oidc_groups_claim", str),
            "TETHER_OIDC_ADMIN_GROUP": ("oidc_admin_group", str),
            "TETHER_OIDC_NAME": ("oidc_name", str),
            "TETHER_PUBLIC_URL": ("public_url", str),
            "TETHER_ANSWER_LINK_HOURS": ("answer_link_hours", float),
            "TETHER_ANSWER_LINK_LOGIN": ("answer_link_login", str),
            "TETHER_SMTP_URL": ("smtp_url", str),
            "TETHER_MAIL_FROM": ("mail_from", str),
            "TETHER_WEBHOOK_RETRY_BASE": ("webhook_retry_base", float),
            "TETHER_WEBHOOK_RETRY_CAP": ("webhook_retry_cap", float),
            "TETHER_WEBHOOK_RETRY_FOR": ("webhook_retry_for", float),
            "TETHER_WEBHOOK_TIMEOUT": ("webhook_timeout", float),
            "TETHER_DISPATCH_CONCURRENCY": ("dispatch_concurrency", int),
            "TETHER_RAY_ADDRESS": ("ray_address", str),
            "TETHER_METRICS_TOKEN": ("metrics_token", str),
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
        if env.get("TETHER_ACCESS_LOG"):
            flag = env["TETHER_ACCESS_LOG"].strip().lower()
            values["access_log"] = flag in ("1", "true", "yes", "on")
        if env.get("TETHER_STATIC_DIR"):
            values["static_dir"] = Path(env["TETHER_STATIC_DIR"])
        values["traces_endpoint"] = traces_endpoint_from(env)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)
