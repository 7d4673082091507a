"""``tether sessions list|show|cancel`` and ``tether hubs``: a Redis store's sessions and
leases from the command line, for when the app is not at hand.

They read and write the store the hubs share (``--redis URL`` / ``TETHER_REDIS_URL``); a
memory store lives inside its hub's process and cannot be reached from here. A cancel
goes through the store like one from the app: the session's runner, on whichever hub,
hears it and ends the task; ``cancelled_by`` says ``operator``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TextIO

from tether.config import Settings, redacted
from tether.store.base import EVERYONE
from tether.store.redis import RedisStore

OPERATOR = "operator"
STATUSES = ("pending", "running", "waiting", "completed", "failed", "cancelled")


class SessionsError(Exception):
    """A problem to report in one line."""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--redis", default=None, metavar="URL",
                       help="the hubs' Redis (default: TETHER_REDIS_URL)")
    sessions = sub.add_parser("sessions", help="list, show and cancel sessions (Redis)")
    commands = sessions.add_subparsers(dest="sessions_command", required=True)
    listing = commands.add_parser("list", parents=[where], help="sessions, newest first")
    listing.add_argument("--status", choices=STATUSES, default=None)
    listing.add_argument("--owner", default=None, metavar="ID", help="e.g. user:alice")
    listing.add_argument("--limit", type=int, default=50)
    show = commands.add_parser("show", parents=[where], help="one session, as JSON")
    show.add_argument("session_id")
    cancel = commands.add_parser("cancel", parents=[where], help="cancel a session")
    cancel.add_argument("session_id")
    sub.add_parser("hubs", parents=[where], help="which hub holds which session's lease")


def _url(args: argparse.Namespace) -> str:
    url = args.redis or Settings.from_env().redis_url
    if not url:
        raise SessionsError("name the hubs' Redis with --redis URL or TETHER_REDIS_URL "
                            "(a memory store cannot be reached from outside its hub)")
    return str(url)


async def run(args: argparse.Namespace, out: TextIO = sys.stdout) -> None:
    url = _url(args)
    store = RedisStore(url, client_name="tether-cli")
    try:
        if args.command == "hubs":
            await _hubs(store, out)
        elif args.sessions_command == "list":
            await _list(store, args, out)
        elif args.sessions_command == "show":
            record = await store.get_session(args.session_id)
            if record is None:
                raise SessionsError(f"no session {args.session_id!r} in {redacted(url)}")
            out.write(record.session.model_dump_json(indent=2) + "\n")
        else:
            outcome = await store.request_cancel(args.session_id, by=OPERATOR)
            if outcome == "unknown_session":
                raise SessionsError(f"no session {args.session_id!r}")
            if outcome == "already_finished":
                raise SessionsError(f"session {args.session_id!r} has already finished")
            out.write(f"cancelling {args.session_id}: its hub ends the task now\n")
    finally:
        await store.close()


async def _list(store: RedisStore, args: argparse.Namespace, out: TextIO) -> None:
    if not 1 <= args.limit <= 1000:
        raise SessionsError("--limit is 1 to 1000")
    sessions, _ = await store.list_sessions(
        args.owner or EVERYONE, status=args.status, limit=args.limit, before=None
    )
    for session in sessions:
        waiting = f" {len(session.pending)} waiting" if session.pending else ""
        out.write(f"{session.id}  {session.status:<9}  {session.task:<20}  "
                  f"{session.owner}  {session.created_at}{waiting}\n")
    if not sessions:
        out.write("no sessions\n")


async def _hubs(store: RedisStore, out: TextIO) -> None:
    by_hub: dict[str, list[tuple[str, float]]] = {}
    for session_id, runner, expires in await store.leases():
        by_hub.setdefault(runner or "(none)", []).append((session_id, expires))
    now = time.time()
    for hub, held in sorted(by_hub.items()):
        live = sum(1 for _, expires in held if expires > now)
        out.write(json.dumps({"hub": hub, "sessions": len(held), "live_leases": live,
                              "expired_leases": len(held) - live}) + "\n")
    if not by_hub:
        out.write("no unfinished sessions\n")
