"""``tether users`` and ``tether serve`` as real processes: accounts made from the command
line (password from stdin, token printed once, a 0600 file), and the defaults on
loopback and on other interfaces."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import stat
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.support.timing import MS

STARTUP_MS = 30_000
SERVING = re.compile(r"Tether serving \d+ tasks on http://[^:]+:(\d+)")
LOGIN_URL = re.compile(r"http://\S+/login\?token=(\S+)")
PASSWORD = "a long enough password"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TETHER_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


async def users(*args: str, stdin: str = "") -> tuple[int, str, str]:
    """``tether users ARGS`` with ``stdin``; ``(exit code, stdout, stderr)``."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tether", "users", *args, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=_env(),
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), STARTUP_MS * MS)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@contextlib.asynccontextmanager
async def serving(*args: str) -> AsyncIterator[tuple[str, list[str]]]:
    """``tether serve ARGS --port 0``: its base URL on loopback and its output so far."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tether", "serve", "--port", "0", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=_env(),
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        port = None
        while port is None:
            raw = await asyncio.wait_for(proc.stdout.readline(), STARTUP_MS * MS)
            assert raw, "tether serve ended:\n" + "\n".join(lines)
            lines.append(raw.decode().rstrip())
            match = SERVING.search(lines[-1])
            port = match.group(1) if match else None
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base) as http:  # until the lifespan is done
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/healthz")).status_code == 200:
                        break
                await asyncio.sleep(20 * MS)  # poll interval of a deadline-bound wait
        while True:  # what the lifespan printed before it was ready
            try:
                raw = await asyncio.wait_for(proc.stdout.readline(), 200 * MS)
            except TimeoutError:
                break
            if not raw:
                break
            lines.append(raw.decode().rstrip())
        yield base, lines
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()


async def test_users_made_on_the_command_line_log_in_and_use_tokens(tmp_path: Path) -> None:
    file = str(tmp_path / "users.toml")
    code, out, err = await users("add", "alice", "--group", "finance", "--email",
                                 "alice@example.com", "--users", file, stdin=PASSWORD + "\n")
    assert code == 0, err
    assert PASSWORD not in out + err
    assert stat.S_IMODE(os.stat(file).st_mode) == 0o600
    text = await asyncio.to_thread(Path(file).read_text)
    assert PASSWORD not in text
    code, token, err = await users("token", "alice", "--users", file)
    assert code == 0, err
    assert re.fullmatch(r"tether_[A-Za-z0-9_-]{43}\n", token), token
    assert token.strip() not in await asyncio.to_thread(Path(file).read_text)  # only a hash
    code, listing, _ = await users("list", "--users", file)
    assert listing.startswith("alice\tmember groups=finance email=alice@example.com tokens=1")
    async with serving("--users", file) as (base, _lines):
        async with httpx.AsyncClient(base_url=base) as http:
            assert (await http.get("/api/me")).status_code == 401  # accounts mode
            bearer = {"Authorization": f"Bearer {token.strip()}"}
            assert (await http.get("/api/me", headers=bearer)).json()["id"] == "user:alice"
            login = await http.post("/api/login",
                                    json={"username": "alice", "password": PASSWORD})
            assert login.status_code == 200
            code, _, err = await users("remove", "alice", "--users", file)
            assert code == 0, err
            assert (await http.get("/api/me")).status_code == 401
            assert (await http.get("/api/me", headers=bearer)).status_code == 401


async def test_users_in_redis_are_removed_with_their_sessions(redis_url: str) -> None:
    code, _, err = await users("add", "bob", "--admin", "--redis", redis_url, stdin=PASSWORD)
    assert code == 0, err
    async with serving("--redis", redis_url) as (base, _lines):
        async with httpx.AsyncClient(base_url=base) as http:
            login = await http.post("/api/login", json={"username": "bob", "password": PASSWORD})
            assert login.json()["roles"] == ["admin", "member"]
            code, _, err = await users("remove", "bob", "--redis", redis_url)
            assert "1 login sessions ended" in err
            assert (await http.get("/api/me")).status_code == 401


@pytest.mark.parametrize(
    ("args", "message"),
    [(("add", "Alice"), "a user name has"), (("add", "a" * 65), "a user name has"),
     (("add", "al", "--group", "Bad Group"), "a group name has"),
     (("add", "al", "--email", "not-an-email"), "--email"),
     (("add", "alice"), "at least 8 characters"), (("token", "nobody"), "no user is named"),
     (("remove", "nobody"), "no user is named")],
)
async def test_mistakes_are_one_line_and_exit_2(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    code, out, err = await users(*args, "--users", str(tmp_path / "u.toml"), stdin="short\n")
    assert code == 2 and out == ""
    assert err.startswith("tether: ") and message in err and "Traceback" not in err


async def test_a_name_is_added_only_once(tmp_path: Path) -> None:
    file = str(tmp_path / "u.toml")
    assert (await users("add", "carol", "--users", file, stdin=PASSWORD))[0] == 0
    code, _, err = await users("add", "carol", "--users", file, stdin=PASSWORD)
    assert code == 2 and "already exists" in err
    code, _, err = await users("list")
    assert code == 2 and "--redis URL or --users FILE" in err


async def test_on_loopback_without_users_the_hub_is_anonymous() -> None:
    async with serving() as (base, lines):
        async with httpx.AsyncClient(base_url=base) as http:
            me = await http.get("/api/me")
            assert me.status_code == 200 and me.json()["mode"] == "anonymous"
        assert not any("login?token=" in line for line in lines)


async def test_on_another_interface_without_users_a_one_time_login_url_is_printed() -> None:
    async with serving("--host", "0.0.0.0") as (base, lines):
        found = [LOGIN_URL.search(line) for line in lines]
        tokens = [m.group(1) for m in found if m]
        assert len(tokens) == 1, lines
        async with httpx.AsyncClient(base_url=base) as http:
            assert (await http.get("/api/me")).status_code == 401  # no anonymous service
            spent = await http.get(f"/login?token={tokens[0]}")
            assert spent.status_code == 303 and spent.headers["location"] == "/"
            assert "HttpOnly" in spent.headers["set-cookie"]
            me = await http.get("/api/me")
            assert me.json()["name"] == "admin" and "admin" in me.json()["roles"]
        async with httpx.AsyncClient(base_url=base) as other:
            again = await other.get(f"/login?token={tokens[0]}")
            assert again.status_code == 404 and "set-cookie" not in again.headers


async def test_no_auth_serves_anonymously_anywhere_and_says_so() -> None:
    async with serving("--host", "0.0.0.0", "--no-auth") as (base, lines):
        assert any("WARNING: --no-auth" in line for line in lines), lines
        async with httpx.AsyncClient(base_url=base) as http:
            assert (await http.get("/api/me")).json()["mode"] == "anonymous"
