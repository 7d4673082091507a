"""An open WebSocket is only as good as its credential now: after a logout, a removed
user or a replaced token, its next answer or cancel closes it with 4401 and does
nothing, and an idle one is closed by its periodic re-check."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
import websockets

from tests.integration.test_audit import ACCOUNTS, audited_hub, open_request
from tests.support.accounts import PASSWORD, accounts_settings, add_accounts, log_in
from tests.support.server import RunningHub, run_hub
from tether.config import Settings
from tether.credentials import Passwords, new_token, token_digest
from tether.users import UserDirectory, UserRecord

TOKEN = new_token()
RECHECK = 0.3  # seconds between an idle socket's re-checks in the periodic test


@pytest.fixture
def settings(store_url: str | None, tmp_path: Path) -> Settings:
    return accounts_settings(store_url, tmp_path)


@pytest.fixture
async def hub(settings: Settings) -> AsyncIterator[RunningHub]:
    await add_accounts(settings, ACCOUNTS, tokens={"root": TOKEN})
    async with run_hub(settings, audited_hub()) as running:
        yield running


@pytest.fixture
async def alice(hub: RunningHub) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=hub.base_url) as http:
        await log_in(http, "alice")
        yield http


async def closed_with(ws: websockets.ClientConnection) -> int | None:
    """The close code, reading (and dropping) whatever frames come before it."""
    async with asyncio.timeout(10):
        with pytest.raises(websockets.ConnectionClosed):
            while True:
                frame = json.loads(await ws.recv())
                assert frame.get("type") != "ack", f"a revoked socket acted: {frame}"
    return ws.close_code


async def replayed(ws: websockets.ClientConnection) -> None:
    async with asyncio.timeout(10):
        while json.loads(await ws.recv()).get("type") != "replay_complete":
            pass


async def still_open(hub: RunningHub, session_id: str, request_id: str) -> None:
    """The request is unanswered and the session still running, as an admin sees it."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=hub.base_url, headers=headers) as root:
        session = (await root.get(f"/api/sessions/{session_id}")).json()
    assert [r["request_id"] for r in session["pending"]] == [request_id]
    assert session["status"] not in ("completed", "cancelled", "failed")


def cookie_jar(http: httpx.AsyncClient) -> dict[str, str]:
    return {"Cookie": f"tether_session={http.cookies['tether_session']}"}


async def test_a_logged_out_socket_cannot_answer(
    hub: RunningHub, alice: httpx.AsyncClient
) -> None:
    session_id = (await alice.post("/api/sessions", json={"task": "wait"})).json()["id"]
    request_id = await open_request(alice, session_id, "confirm")
    url = f"{hub.ws_url}/ws/sessions/{session_id}"
    async with websockets.connect(url, additional_headers=cookie_jar(alice)) as ws:
        await replayed(ws)
        assert (await alice.post("/api/logout")).status_code == 204
        await ws.send(json.dumps({"type": "confirm", "request_id": request_id,
                                  "value": True, "ref": "late"}))
        assert await closed_with(ws) == 4401
    await still_open(hub, session_id, request_id)


async def test_a_removed_users_socket_cannot_answer_or_cancel(
    hub: RunningHub, alice: httpx.AsyncClient, directory: UserDirectory
) -> None:
    session_id = (await alice.post("/api/sessions", json={"task": "wait"})).json()["id"]
    request_id = await open_request(alice, session_id, "confirm")
    url = f"{hub.ws_url}/ws/sessions/{session_id}"
    async with websockets.connect(url, additional_headers=cookie_jar(alice)) as answering, \
            websockets.connect(url, additional_headers=cookie_jar(alice)) as cancelling:
        await replayed(answering)
        await replayed(cancelling)
        assert await directory.remove("alice")
        await answering.send(json.dumps({"type": "confirm", "request_id": request_id,
                                         "value": True, "ref": "late"}))
        await cancelling.send(json.dumps({"type": "cancel", "ref": "stop"}))
        assert await closed_with(answering) == 4401
        assert await closed_with(cancelling) == 4401
    await still_open(hub, session_id, request_id)


async def test_a_replaced_tokens_socket_cannot_cancel(
    hub: RunningHub, directory: UserDirectory
) -> None:
    old = new_token()
    await directory.add(UserRecord(name="bot"))
    await directory.add_token("bot", token_digest(old))
    bearer = {"Authorization": f"Bearer {old}"}
    async with httpx.AsyncClient(base_url=hub.base_url, headers=bearer) as bot:
        session_id = (await bot.post("/api/sessions", json={"task": "wait"})).json()["id"]
        request_id = await open_request(bot, session_id, "confirm")
    url = f"{hub.ws_url}/ws/sessions/{session_id}"
    async with websockets.connect(url, additional_headers=bearer) as ws:
        await replayed(ws)
        # Replacing a token: the account is made again with a new one only.
        assert await directory.remove("bot")
        await directory.add(UserRecord(name="bot"))
        await directory.add_token("bot", token_digest(new_token()))
        await ws.send(json.dumps({"type": "cancel", "ref": "stop"}))
        assert await closed_with(ws) == 4401
    await still_open(hub, session_id, request_id)


async def test_an_idle_socket_is_closed_soon_after_logout(
    settings: Settings, directory: UserDirectory
) -> None:
    await directory.add(UserRecord(name="carol", password_hash=Passwords().hash(PASSWORD)))
    quick = replace(settings, socket_recheck_seconds=RECHECK)
    async with run_hub(quick, audited_hub()) as hub, \
            httpx.AsyncClient(base_url=hub.base_url) as carol:
        await carol.post("/api/login", json={"username": "carol", "password": PASSWORD})
        session_id = (await carol.post("/api/sessions", json={"task": "wait"})).json()["id"]
        url = f"{hub.ws_url}/ws/sessions/{session_id}"
        async with websockets.connect(url, additional_headers=cookie_jar(carol)) as ws:
            await replayed(ws)
            await ws.ping()  # alive past a re-check while logged in
            assert (await carol.post("/api/logout")).status_code == 204
            loop = asyncio.get_running_loop()
            logged_out = loop.time()
            assert await closed_with(ws) == 4401
            assert loop.time() - logged_out < RECHECK + 2
