"""``tether users add|token|list|remove``: manage accounts from the command line.

Users live where the hub finds them (``accounts.py``): in Redis with ``--redis URL`` /
``TETHER_REDIS_URL``, else in the TOML file ``--users FILE`` / ``TETHER_USERS_FILE``.
A password is read from standard input — at a terminal without echo, twice — and never
from the command line, where ``ps`` and shell history would show it.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import TextIO

from email_validator import EmailNotValidError, validate_email

from tether.accounts import open_directory, open_logins
from tether.config import Settings
from tether.credentials import Passwords, new_token, password_problem, token_digest
from tether.users import MAX_GROUPS, UserDirectory, UserExists, UserRecord, name_problem
from tether.users_file import UsersFileError


class UsersError(Exception):
    """A problem to report in one line."""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--redis", default=None, metavar="URL",
                       help="the hub's Redis (default: TETHER_REDIS_URL)")
    where.add_argument("--users", default=None, metavar="FILE",
                       help="the users TOML file of a memory-store hub (TETHER_USERS_FILE)")
    users = sub.add_parser("users", help="manage accounts")
    commands = users.add_subparsers(dest="users_command", required=True)
    add = commands.add_parser("add", parents=[where],
                              help="add a user; the password is read from standard input")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="may see and do everything")
    add.add_argument("--group", action="append", default=[], metavar="G",
                     help="a group the user is in (repeat for more)")
    add.add_argument("--email", default=None, metavar="E")
    add.add_argument("--no-password", action="store_true",
                     help="no password: the user signs in with API tokens only")
    token = commands.add_parser("token", parents=[where],
                                help="print a new API token for the user, once")
    token.add_argument("name")
    commands.add_parser("list", parents=[where], help="list users")
    remove = commands.add_parser("remove", parents=[where],
                                 help="remove a user, its tokens and its login sessions")
    remove.add_argument("name")


def read_password(stdin: TextIO) -> str:
    if stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != first:
            raise UsersError("the two passwords differ")
        return first
    line = stdin.readline()
    return line[:-1] if line.endswith("\n") else line


def _record(args: argparse.Namespace, passwords: Passwords | None) -> UserRecord:
    problem = name_problem(args.name)
    groups = frozenset(args.group)
    for group in groups:
        problem = problem or name_problem(group, "a group name")
    if len(groups) > MAX_GROUPS:
        problem = problem or f"a user is in at most {MAX_GROUPS} groups"
    email = None
    if args.email is not None:
        try:
            email = validate_email(args.email, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            problem = problem or f"--email {args.email!r}: {exc}"
    if problem:
        raise UsersError(problem)
    password_hash = None
    if passwords is not None:
        password = read_password(sys.stdin)
        problem = password_problem(password)
        if problem:
            raise UsersError(problem)
        password_hash = passwords.hash(password)
    return UserRecord(name=args.name, admin=args.admin, groups=groups, email=email,
                      password_hash=password_hash)


async def run(args: argparse.Namespace) -> None:
    settings = Settings.from_env(
        redis_url=args.redis, users_file=None if args.users is None else Path(args.users)
    )
    if not settings.redis_url and settings.users_file is None:
        raise UsersError("say where users live: --redis URL or --users FILE "
                         "(or TETHER_REDIS_URL / TETHER_USERS_FILE)")
    directory = open_directory(settings)
    try:
        await _command(args, settings, directory)
    except UsersFileError as exc:
        raise UsersError(str(exc)) from exc
    finally:
        await directory.close()


async def _command(
    args: argparse.Namespace, settings: Settings, users: UserDirectory
) -> None:
    command = args.users_command
    if command == "add":
        record = _record(args, None if args.no_password else Passwords())
        try:
            await users.add(record)
        except UserExists as exc:
            raise UsersError(str(exc)) from exc
        role = "admin" if record.admin else "member"
        print(f"added {record.name} ({role}), id user:{record.name}", file=sys.stderr)
    elif command == "token":
        if await users.get(args.name) is None:
            raise UsersError(f"no user is named {args.name!r}")
        token = new_token()
        await users.add_token(args.name, token_digest(token))
        print(token, flush=True)  # alone on stdout, so `$(tether users token x)` works
    elif command == "list":
        for user in await users.list():
            flags = ["admin" if user.admin else "member"]
            if user.groups:
                flags.append("groups=" + ",".join(sorted(user.groups)))
            if user.email:
                flags.append(f"email={user.email}")
            flags.append(f"tokens={len(user.token_digests)}")
            flags.append("password" if user.password_hash else "no-password")
            print(f"{user.name}\t{' '.join(flags)}")
    elif command == "remove":
        if not await users.remove(args.name):
            raise UsersError(f"no user is named {args.name!r}")
        logins = open_logins(settings)
        try:
            ended = await logins.revoke_user(args.name)
        finally:
            await logins.close()
        print(f"removed {args.name} ({ended} login sessions ended)", file=sys.stderr)
