"""Trusted proxy header mode on a live hub: what a proxy would never send is refused (HTTP
400, WebSocket 1008), and the names it sends, e-mail addresses in any case, are users that
shares and assignees can name (docs/SECURITY.md, "A trusted authenticating proxy")."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
import websockets
from pydantic import BaseModel

from tests.support.server import RunningHub, run_hub
from tests.support.timing import until
from tether.config import Settings
from tether.context import Context
from tether.hub import Hub

pytestmark = pytest.mark.asyncio(loop_scope="module")

hub_def = Hub()
ASSIGNEE = "user:dave+ops@corp.example"


class NoInputs(BaseModel):
    pass


@hub_def.task(title="Sign")
async def sign(ctx: Context, inputs: NoInputs) -> bool:
    return await ctx.confirm("Sign?", assignees=[ASSIGNEE])


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def hub() -> AsyncIterator[RunningHub]:
    settings = Settings(static_dir=None, trust_user_header=True, allowed_hosts=("127.0.0.1",))
    async with run_hub(settings, hub_def) as running:
        yield running


def as_user(name: str) -> list[tuple[str, str]]:
    return [("X-Tether-User", name)]


# What no proxy sends: (headers, the error code, whether the Host is another one).
REFUSED = {
    "two user headers": (as_user("alice") + as_user("bob"), "invalid_header", False),
    "over 128 bytes": (as_user("a" * 200), "invalid_header", False),
    "over 64 characters": (as_user("a" * 65), "invalid_header", False),
    "a space": (as_user("bob smith"), "invalid_header", False),
    "a slash": (as_user("bob/x"), "invalid_header", False),
    "not ascii": (as_user("bob\u00e9"), "invalid_header", False),
    "another host": (as_user("alice"), "invalid_host", True),
}


def base_of(hub: RunningHub, other_host: bool) -> str:
    # The hub allows "127.0.0.1" only; "localhost" reaches it under another Host.
    return hub.base_url.replace("127.0.0.1", "localhost") if other_host else hub.base_url


@pytest.mark.parametrize("case", list(REFUSED))
async def test_what_no_proxy_sends_is_400_on_http(hub: RunningHub, case: str) -> None:
    headers, code, other_host = REFUSED[case]
    raw = [(k.encode(), v.encode("utf-8")) for k, v in headers]
    async with httpx.AsyncClient(base_url=base_of(hub, other_host)) as http:
        for method, path in (("GET", "/api/me"), ("GET", "/api/sessions"),
                             ("POST", "/api/sessions")):
            got = await http.request(method, path, headers=raw,
                                     json={"task": "sign"} if method == "POST" else None)
            assert got.status_code == 400, (path, got.text)
            assert got.json()["error"]["code"] == code


@pytest.mark.parametrize("case", list(REFUSED))
async def test_what_no_proxy_sends_closes_the_websocket_with_1008(
    hub: RunningHub, case: str
) -> None:
    async with httpx.AsyncClient(base_url=hub.base_url) as http:
        started = await http.post("/api/sessions", headers=as_user("alice"),
                                  json={"task": "sign"})
        assert started.status_code == 201, started.text
    headers, _, other_host = REFUSED[case]
    url = base_of(hub, other_host).replace("http://", "ws://", 1)
    raw = [(k, v.encode("utf-8").decode("latin-1")) for k, v in headers]
    async with websockets.connect(f"{url}/ws/sessions/{started.json()['id']}",
                                  additional_headers=raw) as ws:
        with pytest.raises(websockets.ConnectionClosed):
            await ws.recv()
        assert ws.close_code == 1008


async def test_an_email_name_is_one_user_in_any_case_and_is_named_by_shares_and_assignees(
    hub: RunningHub,
) -> None:
    async with httpx.AsyncClient(base_url=hub.base_url) as http:
        me = await http.get("/api/me", headers=as_user("Bob@Corp.Example"))
        assert me.status_code == 200, me.text
        assert (me.json()["id"], me.json()["name"]) == ("user:bob@corp.example",
                                                        "bob@corp.example")
        longest = "a" * 60 + "@c.d"
        assert (await http.get("/api/me", headers=as_user(longest))).status_code == 200

        alice = as_user("Alice@Corp.Example")
        started = await http.post("/api/sessions", headers=alice, json={"task": "sign"})
        assert started.status_code == 201, started.text
        assert started.json()["owner"] == "user:alice@corp.example"
        base = f"/api/sessions/{started.json()['id']}"
        # The owner, however the proxy spells her, is one user.
        assert (await http.get(base, headers=as_user("alice@corp.example"))).status_code == 200
        assert (await http.get(base, headers=as_user("BOB@corp.example"))).status_code == 404
        shared = await http.post(f"{base}/shares", headers=alice,
                                 json={"with": "user:Bob@Corp.Example", "role": "viewer"})
        assert shared.status_code == 201, shared.text
        assert shared.json()["with"] == "user:bob@corp.example"
        seen = await http.get(base, headers=as_user("BOB@corp.example"))
        assert seen.status_code == 200 and seen.json()["access"] == "viewer"

        async def pending() -> str:
            got = (await http.get(base, headers=alice)).json()
            return str(got["pending"][0]["request_id"]) if got["pending"] else ""

        request_id = await until(pending)
        got = (await http.get(base, headers=alice)).json()
        assert got["pending"][0]["assignees"] == [ASSIGNEE]
        answer = f"{base}/requests/{request_id}"
        refused = await http.post(answer, headers=alice, json={"value": True})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
        inbox = await http.get("/api/requests", headers=as_user("Dave+Ops@corp.example"),
                               params={"status": "open"})
        mine = [i["request"]["request_id"] for i in inbox.json()["requests"]
                if i["session_id"] == started.json()["id"]]
        assert mine == [request_id]
        # The assignee answers over the socket, as the proxy spells him today.
        url = f"{hub.ws_url}/ws/sessions/{started.json()['id']}"
        async with websockets.connect(
            url, additional_headers=as_user("DAVE+ops@Corp.Example")
        ) as ws:
            await ws.send(json.dumps({"type": "confirm", "request_id": request_id,
                                      "value": True, "ref": "a"}))
            while (frame := json.loads(await ws.recv()))["type"] != "ack":
                assert frame["type"] != "error", frame
        events = (await http.get(f"{base}/events", headers=alice)).json()["events"]
        answered = [e["by"] for e in events if e["type"] == "request_answered"]
        assert answered == [ASSIGNEE]
