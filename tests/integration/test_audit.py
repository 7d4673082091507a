"""The audit log on a real hub in accounts mode (memory store with a users file, and
Redis): logins, failed logins, one-time links, logouts, answers and cancels over HTTP and
WebSocket are recorded with who, what, where and how it went, never with a secret; only
admins read them, newest first, paged and filtered."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from pydantic import BaseModel, SecretStr

from tests.support.accounts import (
    PASSWORD,
    accounts_settings,
    add_accounts,
    log_in,
    with_token,
)
from tests.support.server import RunningHub, run_hub
from tests.support.timing import eventually
from tether import Context, Hub
from tether.config import Settings
from tether.credentials import new_token
from tether.users import UserRecord

WRONG = "wrong horse battery"
SECRET = "hunter2-in-the-answer"
TOKEN = new_token()
AGENT = "audit-test/1.0 " + "x" * 400
LOGIN_URL = re.compile(r"/login\?token=(\S+)")


class Login(BaseModel):
    account: str
    password: SecretStr


def audited_hub() -> Hub:
    hub = Hub()

    @hub.task(title="Sign in", description="Asks for a password, then to go on.")
    async def sign_in(ctx: Context) -> str:
        login = await ctx.ask(Login, prompt="Sign in")
        await ctx.confirm("Go on?")
        return login.account

    @hub.task(title="Wait", description="Waits for a confirmation.")
    async def wait(ctx: Context) -> bool:
        return await ctx.confirm("Still there?")

    return hub


ACCOUNTS = (UserRecord(name="alice"), UserRecord(name="root", admin=True))


@pytest.fixture
def settings(store_url: str | None, tmp_path: Path) -> Settings:
    return accounts_settings(store_url, tmp_path, login_failures_per_user=3,
                             login_failures_per_ip=6)


@pytest.fixture
async def hub(settings: Settings) -> AsyncIterator[RunningHub]:
    await add_accounts(settings, ACCOUNTS, tokens={"root": TOKEN})
    async with run_hub(settings, audited_hub()) as running:
        yield running


@pytest.fixture
async def root(hub: RunningHub) -> AsyncIterator[httpx.AsyncClient]:
    """The admin, with a bearer token."""
    async with with_token(hub, TOKEN) as http:
        yield http


@pytest.fixture
async def alice(hub: RunningHub) -> AsyncIterator[httpx.AsyncClient]:
    """A member, logged in with a password (a browser's cookie)."""
    async with httpx.AsyncClient(base_url=hub.base_url, headers={"User-Agent": AGENT}) as http:
        await log_in(http, "alice")
        yield http


async def audit(http: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    """Every entry the filters match, newest first, paging with ``next``."""
    entries: list[dict[str, Any]] = []
    while True:
        response = await http.get("/api/audit", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        entries += page["entries"]
        if page["next"] is None:
            return entries
        params = {**params, "before": page["next"]}


def summary(entries: list[dict[str, Any]]) -> list[tuple[str, str | None, str]]:
    return [(e["action"], e["user"], e["outcome"]) for e in entries]


async def test_logins_failed_logins_and_logouts_are_recorded_without_secrets(
    hub: RunningHub, root: httpx.AsyncClient
) -> None:
    async with httpx.AsyncClient(base_url=hub.base_url, headers={"User-Agent": AGENT}) as http:
        for name, password in (("alice", WRONG), ("Mallory", WRONG), ("not a name!", WRONG),
                               ("alice", PASSWORD)):
            await http.post("/api/login", json={"username": name, "password": password})
        cookie = http.cookies["tether_session"]
        assert (await http.post("/api/logout")).status_code == 204
    entries = await audit(root)
    assert summary(entries) == [
        ("logout", "user:alice", "ok"),
        ("login", "user:alice", "ok"),
        ("login_failed", None, "invalid_credentials"),  # no name kept that is not one
        ("login_failed", "user:mallory", "invalid_credentials"),
        ("login_failed", "user:alice", "invalid_credentials"),
    ]
    assert [e["via"] for e in entries[1:]] == ["password"] * 4
    for entry in entries:
        assert entry["ip"] == "127.0.0.1"
        assert entry["agent"] == AGENT[:200]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["at"])
        assert re.fullmatch(r"\d+-\d+", entry["id"])
    text = json.dumps(entries)
    for secret in (PASSWORD, WRONG, cookie, TOKEN):
        assert secret not in text


async def test_answers_and_cancels_over_http_and_websocket_are_recorded(
    hub: RunningHub, root: httpx.AsyncClient, alice: httpx.AsyncClient
) -> None:
    started = await alice.post("/api/sessions", json={"task": "sign_in", "inputs": {}})
    session_id = started.json()["id"]
    request_id = await open_request(alice, session_id, "input")
    url = f"/api/sessions/{session_id}/requests/{request_id}"
    value = {"account": "acme", "password": SECRET}
    assert (await alice.post(url, json={"value": value})).status_code == 200
    assert (await alice.post(url, json={"value": value})).status_code == 409
    confirm_id = await open_request(alice, session_id, "confirm")
    jar = {"Cookie": f"tether_session={alice.cookies['tether_session']}"}
    async with websockets.connect(f"{hub.ws_url}/ws/sessions/{session_id}",
                                  additional_headers=jar, user_agent_header=AGENT) as ws:
        await ws.send(json.dumps({"type": "confirm", "value": True, "ref": "go"}))
        await frame(ws, "ack", ref="go")
    await eventually(lambda: finished(alice, session_id), what="the session to complete")
    assert (await alice.post(f"/api/sessions/{session_id}/cancel")).status_code == 409

    waiting = (await alice.post("/api/sessions", json={"task": "wait", "inputs": {}})).json()
    async with websockets.connect(f"{hub.ws_url}/ws/sessions/{waiting['id']}",
                                  additional_headers=jar) as ws:
        await ws.send(json.dumps({"type": "cancel", "ref": "stop"}))
        await frame(ws, "ack", ref="stop")

    entries = await audit(root, session=session_id)
    assert [(e["action"], e["request"], e["via"], e["outcome"]) for e in entries] == [
        ("cancel", None, "http", "already_finished"),
        ("answer", confirm_id, "ws", "ok"),  # the request the frame did not name
        ("answer", request_id, "http", "already_answered"),
        ("answer", request_id, "http", "ok"),
    ]
    assert {e["user"] for e in entries} == {"user:alice"}
    assert entries[1]["agent"] == AGENT[:200] and entries[1]["ip"] == "127.0.0.1"
    cancels = await audit(root, action="cancel", user="user:alice")
    assert [(e["session"], e["via"], e["outcome"]) for e in cancels] == [
        (waiting["id"], "ws", "ok"), (session_id, "http", "already_finished"),
    ]
    assert SECRET not in json.dumps(await audit(root)), "an answer's value is never audited"


async def open_request(http: httpx.AsyncClient, session_id: str, kind: str) -> str:
    found: list[str] = []

    async def check() -> bool:
        session = (await http.get(f"/api/sessions/{session_id}")).json()
        found[:] = [r["request_id"] for r in session["pending"] if r["kind"] == kind]
        return bool(found)

    await eventually(check, what=f"an open {kind} request")
    return found[0]


async def finished(http: httpx.AsyncClient, session_id: str) -> bool:
    return bool((await http.get(f"/api/sessions/{session_id}")).json()["status"] == "completed")


async def frame(ws: websockets.ClientConnection, kind: str, **match: Any) -> dict[str, Any]:
    while True:
        data: dict[str, Any] = json.loads(await ws.recv())
        if data.get("type") == kind and all(data.get(k) == v for k, v in match.items()):
            return data
        assert data.get("type") != "error", data


async def test_only_admins_read_the_audit_log(
    hub: RunningHub, root: httpx.AsyncClient, alice: httpx.AsyncClient
) -> None:
    refused = await alice.get("/api/audit")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    async with httpx.AsyncClient(base_url=hub.base_url) as nobody:
        assert (await nobody.get("/api/audit")).status_code == 401
    assert (await root.get("/api/audit")).status_code == 200
    for bad in ({"limit": "0"}, {"limit": "501"}, {"before": "yesterday"},
                {"before": f"{2**64}-0"}, {"before": "1-" + "9" * 21},
                {"action": "x" * 201}, {"user": "u" * 201}):
        response = await root.get("/api/audit", params=bad)
        assert response.status_code == 422, bad
        assert response.json()["error"]["code"] == "invalid_query"


async def test_pages_are_newest_first_and_filters_combine(
    hub: RunningHub, root: httpx.AsyncClient
) -> None:
    async with httpx.AsyncClient(base_url=hub.base_url) as http:
        for name in ("alice", "root") * 4:
            response = await http.post("/api/login", json={"username": name,
                                                           "password": PASSWORD})
            assert response.status_code == 200
    first = (await root.get("/api/audit", params={"limit": 3})).json()
    assert len(first["entries"]) == 3 and first["next"] == first["entries"][-1]["id"]
    assert [e["user"] for e in first["entries"]] == ["user:root", "user:alice", "user:root"]
    everything = await audit(root, limit=3)
    assert len(everything) == 8 and everything[:3] == first["entries"]
    assert len({e["id"] for e in everything}) == 8
    assert summary(await audit(root, user="user:alice", action="login", limit=2)) == [
        ("login", "user:alice", "ok")] * 4
    assert await audit(root, action="logout") == []


@pytest.fixture
def bootstrap_settings(store_url: str | None) -> Settings:
    """No users, not on loopback: the hub prints a one-time login link for ``admin``."""
    return Settings(redis_url=store_url, users_file=None, static_dir=None, host="0.0.0.0",
                    login_failures_per_ip=4)


async def test_one_time_links_are_recorded_and_wrong_tokens_run_out(
    bootstrap_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    async with run_hub(bootstrap_settings, audited_hub()) as hub:
        found = LOGIN_URL.search(capsys.readouterr().out)
        assert found is not None
        async with httpx.AsyncClient(base_url=hub.base_url) as http:
            assert (await http.get("/login", params={"token": "guess-1"})).status_code == 404
            spent = await http.get("/login", params={"token": found.group(1)})
            assert spent.status_code == 303
            statuses = [
                (await http.get("/login", params={"token": f"guess-{n}"})).status_code
                for n in range(2, 6)
            ]
            assert statuses == [404, 404, 404, 429], "4 wrong tokens per address, then 429"
            entries = await audit(http)  # the admin's cookie from the link
    assert [(e["action"], e["user"], e["via"], e["outcome"]) for e in entries] == [
        *[("login_failed", None, "link", "invalid_link")] * 3,
        ("login", "user:admin", "link", "ok"),
        ("login_failed", None, "link", "invalid_link"),
    ]
    assert found.group(1) not in json.dumps(entries)
