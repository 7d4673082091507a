"""``tether serve MODULE:ATTR ...``: run a hub process (or, with ``--workers N``, N of
them on one port: see :mod:`tether.workers`).

Every failure a person can cause here gets one clear line and a non-zero exit: a module
path that does not import, an attribute that is not a ``Hub``, a Redis that does not
answer, a port that is taken.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import os
import secrets
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import cast

from tether import logs, sessions_cli, users_cli
from tether.config import DEFAULT_TASKS, Settings, redacted
from tether.errors import StoreUnavailable
from tether.hub import load_hub
from tether.logs import LEVELS, LogFormat
from tether.serving import hub_server
from tether.store import open_store
from tether.workers import Supervisor


class CliError(Exception):
    """A problem to report in one line."""


def bind(host: str, port: int) -> socket.socket:
    """Bind the listening socket ourselves, so a taken port is one clear line.

    ``IPPROTO_TCP``, not the default 0: asyncio sets ``TCP_NODELAY`` on the connections
    it accepts only from a socket that says it is TCP, and without it every HTTP answer
    written in two parts waits for the client's delayed ACK. (Session sockets also set it
    per connection, in :mod:`tether.socket_protocol`, whatever socket they came from.)
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise CliError(f"port {port} on {host} is in use (pick another with --port)") from exc
        raise CliError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


async def check_store(settings: Settings) -> None:
    if not settings.redis_url:
        return
    store = open_store(settings)
    try:
        await store.start()
    except StoreUnavailable as exc:
        # Redis's own words tell "nothing listens" from "wrong password" apart.
        reason = exc.__cause__ or exc
        raise CliError(f"cannot reach Redis at {redacted(settings.redis_url)}: {reason}") from exc
    finally:
        await store.close()


def serve(settings: Settings) -> int:
    """Serve until SIGTERM/SIGINT: one hub in this process, or, with ``settings.workers``
    above 1, a supervisor of that many hub processes on the same socket (workers.py)."""
    hub = load_hub(settings.task_specs)
    asyncio.run(check_store(settings))
    sock = bind(settings.host, settings.port)
    port = sock.getsockname()[1]
    settings = settings.with_(port=port)  # the one-time login URL names the real port
    store = "memory (nothing persists)"
    if settings.redis_url:
        store = f"Redis at {redacted(settings.redis_url)}"
    url = f"http://{settings.host}:{port}"
    supervisor = Supervisor(settings, sock) if settings.workers > 1 else None
    workers = ""
    if supervisor is not None:
        workers = f" - {settings.workers} workers: {', '.join(supervisor.hub_ids)}"
    print(f"Tether serving {len(hub.tasks)} tasks on {url} - store: {store}{workers}",
          flush=True)
    if settings.no_auth:
        print("WARNING: --no-auth: no login on this hub; whoever reaches it can start, watch "
              "and answer every task. For development only.", file=sys.stderr, flush=True)
    if supervisor is not None:
        return supervisor.run()
    hub_server(settings, hub).run(sockets=[sock])
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tether", description="A hub for long-running tasks with people in the loop."
    )
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve tasks, the HTTP API, WebSockets and the browser app")
    s.add_argument("tasks", nargs="*", metavar="MODULE:ATTR",
                   help=f"hubs to serve (default: the demos, {DEFAULT_TASKS[0]})")
    s.add_argument("--host", default=None, help="interface to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=None, help="port (default 8000; 0 = any free)")
    s.add_argument("--redis", default=None, metavar="URL",
                   help="Redis URL; without it everything stays in this process's memory")
    s.add_argument("--users", default=None, metavar="FILE",
                   help="users TOML file for the memory store (see `tether users`)")
    s.add_argument("--no-auth", action="store_true",
                   help="serve anonymously on any interface: for development only")
    s.add_argument("--workers", type=int, default=None, metavar="N",
                   help="hub processes sharing the port and the Redis store, each with its "
                        "own hub id (default 1, TETHER_WORKERS; above 1 needs --redis)")
    s.add_argument("--log-level", default=None, choices=LEVELS,
                   help="the least severe records logged (default info, TETHER_LOG_LEVEL)")
    users_cli.add_parser(sub)
    sessions_cli.add_parser(sub)
    return p


def import_from_cwd() -> None:
    """Let ``MODULE:ATTR`` name a module in the current directory.

    ``python -m tether`` puts the current directory first on ``sys.path``; the ``tether``
    console script puts only its own ``bin`` folder there. Both must find ``mymod.py``
    in the folder they are started from, as uvicorn's ``--app-dir`` (default ``.``) does.
    """
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    import_from_cwd()
    try:
        if args.command == "users":
            logs.configure()
            asyncio.run(users_cli.run(args))
            return 0
        if args.command in ("sessions", "hubs"):
            logs.configure(level="warning")
            asyncio.run(sessions_cli.run(args))
            return 0
        settings = Settings.from_env(
            host=args.host, port=args.port, redis_url=args.redis,
            task_specs=tuple(args.tasks) or None,
            users_file=Path(args.users) if args.users else None,
            no_auth=args.no_auth or None, log_level=args.log_level, workers=args.workers,
        )
        if not settings.hub_id:  # named here, so the log lines and the hub agree
            settings = settings.with_(hub_id=f"hub-{secrets.token_hex(4)}")
        logs.configure(level=settings.log_level, fmt=cast(LogFormat, settings.log_format),
                       hub_id=settings.hub_id)
        return serve(settings)
    except (CliError, users_cli.UsersError, sessions_cli.SessionsError, StoreUnavailable,
            ValueError) as exc:
        print(f"tether: {exc}", file=sys.stderr)
        return 2
