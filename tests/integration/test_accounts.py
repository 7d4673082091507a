"""Accounts mode on a real hub (memory store with a users file, and Redis): login with a
signed, revocable session cookie, bearer tokens on HTTP and WebSockets, nothing for a
request without credentials, and failed logins rate-limited."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import websockets
from argon2 import PasswordHasher

from tests.support.accounts import PASSWORD, accounts_settings, add_accounts
from tests.support.server import RunningHub, run_hub
from tether.config import Settings
from tether.credentials import new_token
from tether.demos import build_demo_hub
from tether.users import UserDirectory, UserRecord

TOKEN = new_token()


@pytest.fixture
def settings(store_url: str | None, tmp_path: Path) -> Settings:
    return accounts_settings(store_url, tmp_path, login_failures_per_user=3,
                             login_failures_per_ip=6)


@pytest.fixture
async def hub(settings: Settings) -> AsyncIterator[RunningHub]:
    accounts = (UserRecord(name="alice", groups=frozenset({"finance"})),
                UserRecord(name="root", admin=True))
    await add_accounts(settings, accounts, tokens={"root": TOKEN})
    async with run_hub(settings, build_demo_hub()) as running:
        yield running


async def close_code(ws: websockets.ClientConnection) -> int | None:
    with pytest.raises(websockets.ConnectionClosed):
        while True:
            await ws.recv()
    return ws.close_code


async def login(http: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await http.post("/api/login", json={"username": username, "password": password})


async def test_without_credentials_nothing_is_served_or_issued(hub: RunningHub) -> None:
    async with httpx.AsyncClient(base_url=hub.base_url) as http:
        for method, path in (("GET", "/api/sessions"), ("GET", "/api/me"),
                             ("GET", "/api/tasks"), ("POST", "/api/sessions")):
            response = await http.request(method, path, json={})
            assert response.status_code == 401, path
            assert response.json()["error"]["code"] == "not_authenticated"
            assert "set-cookie" not in response.headers
        assert (await http.get("/healthz")).status_code == 200
        root = httpx.Headers({"Authorization": f"Bearer {TOKEN}"})
        session = (await http.post("/api/sessions", headers=root,
                                   json={"task": "ticker", "inputs": {"count": 1}})).json()
    async with websockets.connect(f"{hub.ws_url}/ws/sessions/{session['id']}") as ws:
        assert await close_code(ws) == 4401


async def test_login_me_and_a_socket_then_logout_revokes_the_cookie(hub: RunningHub) -> None:
    async with httpx.AsyncClient(base_url=hub.base_url) as http:
        response = await login(http, "alice", PASSWORD)
        assert response.status_code == 200, response.text
        me = {"id": "user:alice", "name": "alice", "roles": ["member"],
              "groups": ["finance"], "mode": "accounts"}
        assert response.json() == me
        cookie = response.headers["set-cookie"]
        for attribute in ("tether_session=", "HttpOnly", "SameSite=Strict", "Path=/",
                          "Max-Age=43200"):
            assert attribute in cookie
        assert "Secure" not in cookie
        assert (await http.get("/api/me")).json() == me
        started = await http.post("/api/sessions", json={"task": "ticker", "inputs": {"count": 1}})
        assert started.status_code == 201 and started.json()["owner"] == "user:alice"
        jar = {"Cookie": f"tether_session={http.cookies['tether_session']}"}
        url = f"{hub.ws_url}/ws/sessions/{started.json()['id']}"
        async with websockets.connect(url, additional_headers=jar) as ws:
            assert '"replay_start"' in str(await ws.recv())
        assert (await http.post("/api/logout")).status_code == 204
        stolen = await http.get("/api/me", headers=jar)
        assert stolen.status_code == 401, "a logged-out session cookie must be refused"
        async with websockets.connect(url, additional_headers=jar) as ws:
            assert await close_code(ws) == 4401


async def test_unknown_user_and_wrong_password_get_one_answer(hub: RunningHub) -> None:
    async with httpx.AsyncClient(base_url=hub.base_url) as http:
        wrong = await login(http, "alice", "not the password")
        unknown = await login(http, "mallory", "not the password")
        impossible = await login(http, "Ä" * 300, "x")
        assert wrong.status_code == unknown.status_code == 401
        assert wrong.json() == unknown.json()
        assert wrong.json()["error"]["code"] == "invalid_credentials"
        assert impossible.status_code in (401, 422)
        assert "set-cookie" not in wrong.headers and "set-cookie" not in unknown.headers


async def test_bearer_tokens_work_on_http_and_websockets(hub: RunningHub) -> None:
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=hub.base_url, headers=bearer) as http:
        me = (await http.get("/api/me")).json()
        assert me["id"] == "user:root" and me["roles"] == ["admin", "member"]
        session = (await http.post("/api/sessions",
                                   json={"task": "ticker", "inputs": {"count": 1}})).json()
    url = f"{hub.ws_url}/ws/sessions/{session['id']}"
    async with websockets.connect(url, additional_headers=bearer) as ws:
        assert '"replay_start"' in str(await ws.recv())
    async with websockets.connect(url, additional_headers={"Authorization": "Bearer nope"}) as ws:
        assert await close_code(ws) == 4401
    async with httpx.AsyncClient(base_url=hub.base_url) as http:
        for header in ("Bearer nope", "Basic cm9vdDp4", "Bearer", TOKEN):
            response = await http.get("/api/me", headers={"Authorization": header})
            assert response.status_code == 401, header


async def test_failed_logins_are_rate_limited_per_user_and_per_ip(hub: RunningHub) -> None:
    async with httpx.AsyncClient(base_url=hub.base_url) as http:
        for _ in range(3):
            assert (await login(http, "alice", "wrong password")).status_code == 401
        limited = await login(http, "alice", PASSWORD)  # even the right password now
        assert limited.status_code == 429
        assert limited.json()["error"]["code"] == "too_many_attempts"
        assert 250 <= int(limited.headers["retry-after"]) <= 300
        assert (await login(http, "root", PASSWORD)).status_code == 200  # another name
        for name in ("nobody1", "nobody2", "nobody3"):
            assert (await login(http, name, "wrong password")).status_code == 401
        # 6 failures from this address (a refused 429 is not one): every name is refused.
        assert (await login(http, "root", PASSWORD)).status_code == 429


async def test_https_sets_a_secure_host_only_cookie(hub: RunningHub) -> None:
    """Behind a TLS proxy (uvicorn trusts X-Forwarded-Proto from loopback) the cookie is
    `__Host-tether_session` with Secure."""
    https = {"X-Forwarded-Proto": "https"}
    async with httpx.AsyncClient(base_url=hub.base_url, headers=https) as http:
        response = await login(http, "alice", PASSWORD)
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("__Host-tether_session=") and "; Secure" in cookie
        value = cookie.split(";")[0]
        me = await http.get("/api/me", headers={"Cookie": value})
        assert me.status_code == 200
        plain = await http.get("/api/me", headers={"Cookie": value, "X-Forwarded-Proto": "http"})
        assert plain.status_code == 401


async def test_a_weaker_hash_is_remade_at_login(hub: RunningHub, directory: UserDirectory) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    await directory.add(UserRecord(name="old", password_hash=weak))
    async with httpx.AsyncClient(base_url=hub.base_url) as http:
        assert (await login(http, "old", PASSWORD)).status_code == 200
    stored = await directory.get("old")
    assert stored is not None and stored.password_hash != weak
    assert not PasswordHasher().check_needs_rehash(stored.password_hash or "")


async def test_a_removed_user_is_logged_out(hub: RunningHub, directory: UserDirectory) -> None:
    async with httpx.AsyncClient(base_url=hub.base_url) as http:
        assert (await login(http, "alice", PASSWORD)).status_code == 200
        assert (await http.get("/api/me")).status_code == 200
        await directory.remove("alice")
        assert (await http.get("/api/me")).status_code == 401
        await directory.add(UserRecord(name="alice"))  # the same name, another person
        assert (await http.get("/api/me")).status_code == 401
