"""``tether serve MODULE:ATTR ...``: run a hub process.

Every failure a person can cause here gets one clear line and a non-zero exit: a module
path that does not import, an attribute that is not a ``Hub``, a Redis that does not
answer, a port that is taken.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import importlib
import logging
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from tether import users_cli
from tether.app import create_app
from tether.config import DEFAULT_TASKS, Settings, redacted
from tether.errors import StoreUnavailable
from tether.http_protocol import http_protocol
from tether.hub import Hub
from tether.socket_protocol import TetherWebSocketProtocol
from tether.store import open_store


class CliError(Exception):
    """A problem to report in one line."""


def load_hub(specs: Sequence[str]) -> Hub:
    """Import ``module:attr`` for each spec and combine the hubs."""
    hubs: list[Hub] = []
    for spec in specs:
        module_name, sep, attr = spec.partition(":")
        if not sep or not module_name or not attr:
            raise CliError(f"{spec!r} is not MODULE:ATTR (for example myapp.tasks:hub)")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise CliError(f"cannot import module {module_name!r}: {exc}") from exc
        hub = getattr(module, attr, None)
        if not isinstance(hub, Hub):
            raise CliError(f"{spec!r} is not a tether.Hub (found {type(hub).__name__})")
        hubs.append(hub)
    try:
        return Hub.combine(hubs)
    except ValueError as exc:
        raise CliError(str(exc)) from exc


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


def serve(settings: Settings) -> None:
    hub = load_hub(settings.task_specs)
    asyncio.run(check_store(settings))
    sock = bind(settings.host, settings.port)
    port = sock.getsockname()[1]
    settings = settings.with_(port=port)  # the one-time login URL names the real port
    config = uvicorn.Config(
        create_app(settings, hub),
        ws=TetherWebSocketProtocol,
        http=http_protocol(settings.header_timeout),
        timeout_keep_alive=settings.keepalive_timeout,  # type: ignore[arg-type]
        ws_max_size=settings.max_frame_bytes,
        ws_ping_interval=settings.ping_interval,
        ws_ping_timeout=settings.ping_interval,
        ws_per_message_deflate=False,  # compression costs ~64 KiB per idle socket
        timeout_graceful_shutdown=int(settings.shutdown_timeout),
        log_level="info",
        access_log=False,
        lifespan="on",
    )
    store = "memory (nothing persists)"
    if settings.redis_url:
        store = f"Redis at {redacted(settings.redis_url)}"
    url = f"http://{settings.host}:{port}"
    print(f"Tether serving {len(hub.tasks)} tasks on {url} - store: {store}", flush=True)
    if settings.no_auth:
        print("WARNING: --no-auth: no login on this hub; whoever reaches it can start, watch "
              "and answer every task. For development only.", file=sys.stderr, flush=True)
    uvicorn.Server(config).run(sockets=[sock])


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
    users_cli.add_parser(sub)
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
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "users":
            asyncio.run(users_cli.run(args))
            return 0
        settings = Settings.from_env(
            host=args.host, port=args.port, redis_url=args.redis,
            task_specs=tuple(args.tasks) or None,
            users_file=Path(args.users) if args.users else None,
            no_auth=args.no_auth or None,
        )
        serve(settings)
    except (CliError, users_cli.UsersError, StoreUnavailable, ValueError) as exc:
        print(f"tether: {exc}", file=sys.stderr)
        return 2
    return 0
