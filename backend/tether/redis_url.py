"""``TETHER_REDIS_URL``: which Redis URLs a hub takes; the Sentinel and Cluster forms
parsed. No I/O.

A plain Redis is named the way redis-py's ``from_url`` reads it (``redis://``, ``rediss://``
for TLS, ``unix://``). A primary watched by Redis Sentinel is named the way other Redis
clients name it, a form ``from_url`` does not read::

    redis+sentinel://[[USER]:PASSWORD@]HOST[:PORT][,HOST[:PORT]...]/SERVICE[/DB][?OPTIONS]
    rediss+sentinel://...   (TLS to the sentinels and to the data nodes)

``HOST:PORT`` pairs are sentinels (port 26379 when left out; IPv6 in brackets), ``SERVICE``
is the name the sentinels monitor the primary under, ``DB`` the database number (0). The
user and password are the data nodes' (primary and replicas), not the sentinels'; sentinels
that require a password of their own get it as the options ``sentinel_password=`` (and
``sentinel_username=``). Other options are redis-py's connection options, as in a plain URL
(``socket_timeout=``, ``ssl_ca_certs=``...). Percent-encoding works everywhere.

A Redis Cluster is named by some of its nodes (a client learns the others from them)::

    redis+cluster://[[USER]:PASSWORD@]HOST[:PORT][,HOST[:PORT]...][/][?OPTIONS]
    rediss+cluster://...   (TLS to every node)

``HOST:PORT`` pairs are cluster nodes (port 6379 when left out; IPv6 in brackets); the user
and password are every node's; a cluster has only database 0, so the path is empty, ``/``
or ``/0``. Options are redis-py's connection options, as above.

This module only parses; ``tether.store.connect`` turns the result into a client.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote

PLAIN_SCHEMES = ("redis", "rediss", "unix")
SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")
CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")
DEFAULT_SENTINEL_PORT = 26379
DEFAULT_CLUSTER_PORT = 6379
# Options that concern the sentinels, taken out before the rest go to the data nodes.
SENTINEL_OPTIONS = ("sentinel_password", "sentinel_username")
_HOST = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<name>[A-Za-z0-9._-]+))(?::(?P<port>\d+))?$")


@dataclass(frozen=True, slots=True)
class SentinelURL:
    """A parsed ``redis+sentinel://`` URL (see the module docstring)."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    tls: bool = False
    # Connection options for the data nodes, as the query gave them (redis-py's names).
    options: tuple[tuple[str, str], ...] = ()
    sentinel_username: str | None = None
    sentinel_password: str | None = None


@dataclass(frozen=True, slots=True)
class ClusterURL:
    """A parsed ``redis+cluster://`` URL (see the module docstring)."""

    nodes: tuple[tuple[str, int], ...]
    username: str | None = None
    password: str | None = None
    tls: bool = False
    # Connection options for every node, as the query gave them (redis-py's names).
    options: tuple[tuple[str, str], ...] = ()


def scheme_of(url: str) -> str:
    return url.partition("://")[0].lower() if "://" in url else ""


def is_sentinel_url(url: str) -> bool:
    return scheme_of(url) in SENTINEL_SCHEMES


def is_cluster_url(url: str) -> bool:
    return scheme_of(url) in CLUSTER_SCHEMES


def check_redis_url(url: str) -> None:
    """Raise ValueError, saying what is wrong, unless a hub can connect with ``url``.

    A plain URL is only checked for its scheme (redis-py reads the rest when it connects);
    a Sentinel or Cluster URL is parsed whole.
    """
    scheme = scheme_of(url)
    if scheme in SENTINEL_SCHEMES:
        parse_sentinel_url(url)
    elif scheme in CLUSTER_SCHEMES:
        parse_cluster_url(url)
    elif scheme not in PLAIN_SCHEMES:
        raise ValueError(
            "a Redis URL starts with redis://, rediss://, unix://, redis+sentinel://, "
            "rediss+sentinel://, redis+cluster:// or rediss+cluster://"
        )


def parse_sentinel_url(url: str) -> SentinelURL:
    """Parse ``redis+sentinel://...`` (module docstring).

    Raises:
        ValueError: the URL is not of that form; the message says which part is wrong and
            never repeats a password.
    """
    parts = _split(url, "Sentinel", SENTINEL_SCHEMES, DEFAULT_SENTINEL_PORT)
    service_raw, _, db_raw = parts.path.partition("/")
    if not parts.has_path or not parts.path:
        raise ValueError(
            "a Sentinel URL names the service after the sentinels: "
            "redis+sentinel://host:port,host:port/SERVICE[/DB]"
        )
    service = unquote(service_raw)
    if not service or any(c.isspace() or not c.isprintable() for c in service):
        raise ValueError(f"the Sentinel service name {service_raw!r} is empty or has blanks")
    db = _db(db_raw)
    # The sentinels' own credentials travel as options; the rest go to the primary.
    extra = {name: value for name, value in parts.options if name in SENTINEL_OPTIONS}
    options = tuple((n, v) for n, v in parts.options if n not in SENTINEL_OPTIONS)
    return SentinelURL(
        sentinels=parts.hosts, service=service, db=db, username=parts.username,
        password=parts.password, tls=parts.scheme == "rediss+sentinel", options=options,
        sentinel_username=extra.get("sentinel_username") or None,
        sentinel_password=extra.get("sentinel_password") or None,
    )


def parse_cluster_url(url: str) -> ClusterURL:
    """Parse ``redis+cluster://...`` (module docstring).

    Raises:
        ValueError: the URL is not of that form; the message says which part is wrong and
            never repeats a password.
    """
    parts = _split(url, "Cluster", CLUSTER_SCHEMES, DEFAULT_CLUSTER_PORT)
    if parts.path.rstrip("/") not in ("", "0"):
        raise ValueError(
            f"a Redis Cluster has only database 0: the URL's path {parts.path!r} must be empty"
        )
    return ClusterURL(
        nodes=parts.hosts, username=parts.username, password=parts.password,
        tls=parts.scheme == "rediss+cluster", options=parts.options,
    )


@dataclass(frozen=True)
class _Parts:
    """A many-host Redis URL taken apart: what Sentinel and Cluster URLs share."""

    scheme: str
    username: str | None
    password: str | None
    hosts: tuple[tuple[str, int], ...]
    has_path: bool  # a "/" after the hosts
    path: str  # what follows that "/"
    options: tuple[tuple[str, str], ...]  # the query's name=value pairs, in order


def _split(url: str, kind: str, schemes: tuple[str, ...], default_port: int) -> _Parts:
    """``scheme://[user[:password]@]host[:port],...[/path][?name=value&...]``, checked
    part by part; ``kind`` ("Sentinel", "Cluster") names the URL in errors."""
    scheme = scheme_of(url)
    if scheme not in schemes:
        raise ValueError(f"a {kind} URL starts with {schemes[0]}:// or {schemes[1]}://")
    rest = url.partition("://")[2]
    if "#" in rest:
        raise ValueError(f"a {kind} URL has no #fragment")
    rest, _, query = rest.partition("?")
    netloc, slash, path = rest.partition("/")
    userinfo, at, hosts = netloc.rpartition("@")
    username, password = _credentials(userinfo) if at else (None, None)
    parsed = tuple(_host(part, kind, default_port) for part in hosts.split(","))
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError as exc:
        raise ValueError(f"the {kind} URL's options are not name=value pairs") from exc
    for name, _ in pairs:
        if not name.isidentifier():
            raise ValueError(f"the {kind} URL has an option {name!r} that is not a name")
    return _Parts(scheme, username, password, parsed, bool(slash), path, tuple(pairs))


def _credentials(userinfo: str) -> tuple[str | None, str | None]:
    user, colon, password = userinfo.partition(":")
    if not colon:  # "secret@" alone: redis-py reads a lone userinfo as the password too
        return None, unquote(user) or None
    return unquote(user) or None, unquote(password) or None


def _host(part: str, kind: str, default_port: int) -> tuple[str, int]:
    """One ``host[:port]`` of a ``kind`` ("Sentinel", "Cluster") URL's list."""
    match = _HOST.match(part.strip())
    if match is None:
        shown = part if "@" not in part else "(a host with '@')"
        what = "a sentinel" if kind == "Sentinel" else "a node's"
        raise ValueError(
            f"the {kind} URL lists {shown!r} where {what} host[:port] belongs "
            "(hosts are separated by commas, IPv6 addresses go in [brackets])"
        )
    host = match.group("v6") or match.group("name")
    port = int(match.group("port") or default_port)
    if not 0 < port < 65536:
        raise ValueError(f"the {kind} URL's port {port} is not between 1 and 65535")
    return host, port


def _db(raw: str) -> int:
    if raw in ("", "/"):
        return 0
    text = raw.rstrip("/")
    if not (text.isascii() and text.isdigit()) or "/" in text or len(text) > 5:
        raise ValueError(f"the Sentinel URL's database {raw!r} is not a number (0, 1, ...)")
    return int(text)
