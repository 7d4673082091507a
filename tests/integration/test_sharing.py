"""Who may do what with a session, on a real hub (memory store and Redis): the owner,
an admin, a viewer share, an answerer share through a group, another user, nobody, and
share links (as ``?link=`` and as a bearer token; revoked and expired) — every session
route and the WebSocket give exactly the answer docs/PROTOCOL.md names."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from pydantic import BaseModel

from tests.support.accounts import accounts_settings, add_accounts
from tests.support.server import RunningHub, run_hub
from tests.support.sharing import share_every_way
from tests.support.timing import until
from tether.context import Context
from tether.credentials import new_token, token_digest
from tether.hub import Hub
from tether.sharing import ShareLink
from tether.users import UserRecord

hub_def = Hub()


class NoInputs(BaseModel):
    pass


@hub_def.task(title="Approve")
async def approve(ctx: Context, inputs: NoInputs) -> bool:
    # Two questions: a caller who answers the first still finds the session running.
    return await ctx.confirm("Go ahead?") and await ctx.confirm("Really?")


@hub_def.task(title="Assigned")
async def assigned(ctx: Context, inputs: NoInputs) -> bool:
    return await ctx.confirm("Sign?", assignees=["user:erin"]) and await ctx.confirm(
        "Sure?", assignees=["user:erin"]
    )


NAMES = ("alice", "bob", "carol", "mallory", "root", "erin")
TOKENS = {name: new_token() for name in NAMES}
ROUTES = ("get", "events", "shares", "links", "share", "unshare", "link", "unlink",
          "fork", "answer", "cancel")
OWNER_ROW = (200, 200, 200, 200, 201, 204, 201, 204, 201, 200, 202)
VIEWER_ROW = (200, 200, 200, 403, 403, 403, 403, 403, 403, 403, 403)
EXPECTED: dict[str, tuple[int, ...]] = {
    "owner": OWNER_ROW,
    "admin": OWNER_ROW,
    "viewer": VIEWER_ROW,
    "answerer": (200, 200, 200, 403, 403, 403, 403, 403, 403, 200, 403),
    "other user": (404,) * len(ROUTES),
    "nobody": (401,) * len(ROUTES),
    "link": (200, 200) + (403,) * (len(ROUTES) - 2),
    "link as bearer": (200, 200) + (403,) * (len(ROUTES) - 2),
    "revoked link": (404,) * len(ROUTES),
}
CALLERS = {"owner": "alice", "admin": "root", "viewer": "bob", "answerer": "carol",
           "other user": "mallory"}


def bearer(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[name]}"}


@pytest.fixture
async def hub(store_url: str | None, tmp_path: Path) -> AsyncIterator[RunningHub]:
    settings = accounts_settings(store_url, tmp_path)
    accounts = [UserRecord(name=name, admin=name == "root",
                           groups=frozenset({"finance"}) if name == "carol" else frozenset())
                for name in NAMES]
    await add_accounts(settings, accounts, password=None, tokens=TOKENS)
    async with run_hub(settings, hub_def) as running:
        yield running


@dataclass
class Shared:
    """A session of alice's, waiting for a confirmation, shared every way there is."""

    id: str
    request_id: str
    link: str  # a live link's token
    spare_link: str  # the id of a link a caller may revoke
    revoked: str  # the token of a revoked link




async def shared_session(http: httpx.AsyncClient) -> Shared:
    alice = bearer("alice")
    started = await http.post("/api/sessions", headers=alice, json={"task": "approve"})
    assert started.status_code == 201, started.text
    session_id = started.json()["id"]

    async def pending() -> str | None:
        session = (await http.get(f"/api/sessions/{session_id}", headers=alice)).json()
        return session["pending"][0]["request_id"] if session["pending"] else None

    request_id = await until(pending)
    links = await share_every_way(http, session_id, alice, (
        ("user:bob", "viewer"), ("group:finance", "answerer"), ("user:dave", "viewer"),
    ))
    return Shared(session_id, request_id, links[0]["token"], links[1]["id"], links[2]["token"])


async def call(http: httpx.AsyncClient, route: str, s: Shared,
               headers: dict[str, str], params: dict[str, str]) -> int:
    base = f"/api/sessions/{s.id}"
    method, path, body = {
        "get": ("GET", base, None),
        "events": ("GET", f"{base}/events", None),
        "shares": ("GET", f"{base}/shares", None),
        "links": ("GET", f"{base}/links", None),
        "share": ("POST", f"{base}/shares", {"with": "user:erin", "role": "viewer"}),
        "unshare": ("DELETE", f"{base}/shares/user:dave", None),
        "link": ("POST", f"{base}/links", {"expires_in": 3600}),
        "unlink": ("DELETE", f"{base}/links/{s.spare_link}", None),
        "fork": ("POST", f"{base}/fork", {}),
        "answer": ("POST", f"{base}/requests/{s.request_id}", {"value": True}),
        "cancel": ("POST", f"{base}/cancel", None),
    }[route]
    response = await http.request(method, path, headers=headers, params=params, json=body)
    if response.status_code >= 400:
        code = response.json()["error"]["code"]
        expected_code = {401: "not_authenticated", 403: "forbidden",
                         404: "unknown_session"}[response.status_code]
        assert code == expected_code, (route, response.text)
    return response.status_code


def credentials(caller: str, s: Shared) -> tuple[dict[str, str], dict[str, str]]:
    """(headers, query) that make a request come from ``caller``."""
    if caller in CALLERS:
        return bearer(CALLERS[caller]), {}
    if caller == "link":
        return {}, {"link": s.link}
    if caller == "link as bearer":
        return {"Authorization": f"Bearer {s.link}"}, {}
    if caller == "revoked link":
        return {}, {"link": s.revoked}
    return {}, {}


@pytest.mark.parametrize("caller", list(EXPECTED))
async def test_every_session_route_answers_each_caller_as_documented(
    hub: RunningHub, caller: str
) -> None:
    async with httpx.AsyncClient(base_url=hub.base_url) as http:
        s = await shared_session(http)
        headers, params = credentials(caller, s)
        got = tuple([await call(http, route, s, headers, params) for route in ROUTES])
    assert dict(zip(ROUTES, got, strict=True)) == dict(
        zip(ROUTES, EXPECTED[caller], strict=True)
    )


async def frames_until(ws: websockets.ClientConnection, kind: str) -> dict[str, Any]:
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if frame["type"] == kind:
            return dict(frame)


@pytest.mark.parametrize(
    ("caller", "outcome"),
    [("viewer", "forbidden"), ("answerer", "ack"), ("link", "forbidden"),
     ("link as bearer", "forbidden"), ("other user", 4404), ("revoked link", 4404),
     ("nobody", 4401)],
)
async def test_the_websocket_admits_and_refuses_as_the_routes_do(
    hub: RunningHub, caller: str, outcome: str | int
) -> None:
    async with httpx.AsyncClient(base_url=hub.base_url) as http:
        s = await shared_session(http)
    headers, params = credentials(caller, s)
    query = f"?link={params['link']}" if params else ""
    url = f"{hub.ws_url}/ws/sessions/{s.id}{query}"
    async with websockets.connect(url, additional_headers=headers) as ws:
        if isinstance(outcome, int):
            with pytest.raises(websockets.ConnectionClosed):
                await frames_until(ws, "replay_complete")
            assert ws.close_code == outcome
            return
        await frames_until(ws, "replay_complete")
        for frame in ({"type": "cancel", "ref": "c"},
                      {"type": "confirm", "request_id": s.request_id, "value": True,
                       "ref": "a"}):
            await ws.send(json.dumps(frame))
            reply = await frames_until(ws, "error" if frame["type"] == "cancel" else outcome
                                       if outcome == "ack" else "error")
            if frame["type"] == "cancel":
                assert reply["code"] == "forbidden" and reply["ref"] == "c"
            elif outcome == "ack":
                assert reply["ref"] == "a"
                # The answer's event may come before or after the ack.
                async with httpx.AsyncClient(base_url=hub.base_url) as http:
                    events = (await http.get(f"/api/sessions/{s.id}/events",
                                             headers=bearer("alice"))).json()["events"]
                answered = [e for e in events if e["type"] == "request_answered"]
                assert [e["by"] for e in answered] == ["user:carol"]
            else:
                assert reply["code"] == "forbidden" and reply["ref"] == "a"


async def test_each_caller_is_told_its_access_and_lists_what_is_shared_with_it(
    hub: RunningHub,
) -> None:
    async with httpx.AsyncClient(base_url=hub.base_url) as http:
        s = await shared_session(http)
        for name, access in (("alice", "owner"), ("root", "admin"), ("bob", "viewer"),
                             ("carol", "answerer")):
            got = (await http.get(f"/api/sessions/{s.id}", headers=bearer(name))).json()
            assert got["access"] == access, name
        by_link = await http.get(f"/api/sessions/{s.id}", params={"link": s.link})
        assert by_link.json()["access"] == "viewer"

        async def listed(name: str, **params: str) -> list[str]:
            page = await http.get("/api/sessions", headers=bearer(name), params=params)
            assert page.status_code == 200, page.text
            return [item["id"] for item in page.json()["sessions"]]

        assert await listed("alice") == [s.id]
        assert await listed("bob") == []
        assert await listed("bob", shared="1") == [s.id]
        assert await listed("carol", shared="1") == [s.id]  # through group:finance
        assert await listed("mallory", shared="1") == []
        assert await listed("root", all="1") == [s.id]
        refused = await http.get("/api/sessions", headers=bearer("alice"), params={"all": "1"})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
        # A link shows its session and nothing else.
        for path in ("/api/sessions", "/api/tasks", "/api/me"):
            other = await http.get(path, headers={"Authorization": f"Bearer {s.link}"})
            assert other.status_code == 403, path
        # Unsharing takes the session off bob's list and out of his reach.
        gone = await http.delete(f"/api/sessions/{s.id}/shares/user:bob", headers=bearer("alice"))
        assert gone.status_code == 204
        assert await listed("bob", shared="1") == []
        assert (await http.get(f"/api/sessions/{s.id}", headers=bearer("bob"))).status_code == 404


async def test_shares_and_links_refuse_bad_input(hub: RunningHub) -> None:
    async with httpx.AsyncClient(base_url=hub.base_url) as http:
        s = await shared_session(http)
        base, alice = f"/api/sessions/{s.id}", bearer("alice")
        for body in ({"with": "bob", "role": "viewer"}, {"with": "user:bob", "role": "owner"},
                     {"with": "team:x", "role": "viewer"}, {"with": "user:alice",
                                                            "role": "viewer"},
                     {"with": 3, "role": "viewer"}, {"role": "viewer"}):
            refused = await http.post(f"{base}/shares", headers=alice, json=body)
            assert refused.status_code == 422, body
            assert refused.json()["error"]["code"] == "invalid_message"
        for seconds in (0, 59, 30 * 86400 + 1, "soon"):
            refused = await http.post(f"{base}/links", headers=alice,
                                      json={"expires_in": seconds})
            assert refused.status_code == 422, seconds
        again = await http.post(f"{base}/shares", headers=alice,
                                json={"with": "User:Bob", "role": "answerer"})
        assert again.status_code == 200 and again.json()["with"] == "user:bob"
        shares = (await http.get(f"{base}/shares", headers=alice)).json()["shares"]
        assert {x["with"]: x["role"] for x in shares}["user:bob"] == "answerer"
        missing = await http.delete(f"{base}/shares/user:nobody", headers=alice)
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "unknown_share"
        unlink = await http.delete(f"{base}/links/nope", headers=alice)
        assert unlink.status_code == 404 and unlink.json()["error"]["code"] == "unknown_link"
        listed = (await http.get(f"{base}/links", headers=alice)).json()["links"]
        assert len(listed) == 2 and all("token" not in link for link in listed)
        # A link is only good for its own session.
        other = (await http.post("/api/sessions", headers=alice, json={"task": "approve"}))
        wrong = await http.get(f"/api/sessions/{other.json()['id']}", params={"link": s.link})
        assert wrong.status_code == 404


@pytest.mark.parametrize("store_url", ["redis"], indirect=True)
async def test_an_expired_link_is_a_missing_session(hub: RunningHub, store_url: str) -> None:
    """Links last at least a minute through the API; this one is written straight into
    the store with a moment to live."""
    from tether.store.redis_shares import RedisShares

    async with httpx.AsyncClient(base_url=hub.base_url) as http:
        s = await shared_session(http)
        shares = RedisShares(store_url)
        token = "tl_expiring-token-for-the-test"
        link = ShareLink(id="short", session_id=s.id, by="user:alice",
                         created_at="2026-01-01T00:00:00Z", expires_at=time.time() + 0.3)
        await shares.create_link(token_digest(token), link)
        await shares.close()
        path = f"/api/sessions/{s.id}"
        assert (await http.get(path, params={"link": token})).status_code == 200

        async def expired() -> bool:
            return (await http.get(path, params={"link": token})).status_code == 404

        await until(expired)
        async with websockets.connect(f"{hub.ws_url}/ws/sessions/{s.id}?link={token}") as ws:
            with pytest.raises(websockets.ConnectionClosed):
                await ws.recv()
            assert ws.close_code == 4404
        # A socket opened while the link lived is closed when it expires.
        token = "tl_another-expiring-token"
        link = ShareLink(id="short2", session_id=s.id, by="user:alice",
                         created_at="2026-01-01T00:00:00Z", expires_at=time.time() + 1.0)
        shares = RedisShares(store_url)
        await shares.create_link(token_digest(token), link)
        await shares.close()
        async with websockets.connect(f"{hub.ws_url}/ws/sessions/{s.id}?link={token}") as ws:
            await frames_until(ws, "replay_complete")
            with pytest.raises(websockets.ConnectionClosed):
                await frames_until(ws, "never")
            assert ws.close_code == 4404


async def test_sharing_is_in_the_audit_log_without_link_tokens(hub: RunningHub) -> None:
    async with httpx.AsyncClient(base_url=hub.base_url) as http:
        s = await shared_session(http)
        page = await http.get("/api/audit", headers=bearer("root"),
                              params={"session": s.id})
        assert page.status_code == 200, page.text
        entries = page.json()["entries"]
    got = sorted((e["action"], e.get("target", "")) for e in entries)
    assert [a for a, _ in got] == ["link.create"] * 3 + ["link.revoke"] + ["share.add"] * 3
    assert ("share.add", "group:finance as answerer") in got
    assert all(e["user"] == "user:alice" for e in entries)
    assert s.link not in page.text and s.revoked not in page.text


async def test_unsharing_and_revoking_close_the_sockets_they_opened(hub: RunningHub) -> None:
    async with httpx.AsyncClient(base_url=hub.base_url) as http:
        s = await shared_session(http)
        base, alice = f"/api/sessions/{s.id}", bearer("alice")
        url = f"{hub.ws_url}/ws/sessions/{s.id}"
        async with websockets.connect(url, additional_headers=bearer("bob")) as bob, \
                websockets.connect(f"{url}?link={s.link}") as link, \
                websockets.connect(url, additional_headers=bearer("carol")) as carol:
            for ws in (bob, link, carol):
                await frames_until(ws, "replay_complete")
            assert (await http.delete(f"{base}/shares/user:bob", headers=alice)).status_code == 204
            with pytest.raises(websockets.ConnectionClosed):
                await frames_until(bob, "never")
            assert bob.close_code == 4404
            links = (await http.get(f"{base}/links", headers=alice)).json()["links"]
            live = [x["id"] for x in links if x["id"] != s.spare_link]
            assert (await http.delete(f"{base}/links/{live[0]}", headers=alice)).status_code == 204
            with pytest.raises(websockets.ConnectionClosed):
                await frames_until(link, "never")
            assert link.close_code == 4404
            # carol's share stands: her socket still answers.
            await carol.send(json.dumps({"type": "ping"}))
            assert (await frames_until(carol, "pong"))["type"] == "pong"


async def test_an_answerer_share_brings_the_sessions_questions_to_the_inbox(
    hub: RunningHub,
) -> None:
    async with httpx.AsyncClient(base_url=hub.base_url) as http:
        s = await shared_session(http)

        async def inbox(name: str) -> list[tuple[str, str]]:
            page = await http.get("/api/requests", headers=bearer(name),
                                  params={"status": "open"})
            assert page.status_code == 200, page.text
            return [(i["session_id"], i["request"]["request_id"])
                    for i in page.json()["requests"]]

        assert await inbox("alice") == [(s.id, s.request_id)]
        assert await inbox("carol") == [(s.id, s.request_id)]  # answerer via group:finance
        assert await inbox("bob") == []  # a viewer may not answer
        assert await inbox("mallory") == []
        answered = await http.post(f"/api/sessions/{s.id}/requests/{s.request_id}",
                                   headers=bearer("carol"), json={"value": True})
        assert answered.status_code == 200

        async def next_question() -> list[tuple[str, str]]:
            found = await inbox("carol")
            return found if found and found[0][1] != s.request_id else []

        (session_id, _), = await until(next_question)
        assert session_id == s.id
        gone = await http.delete(f"/api/sessions/{s.id}/shares/group:finance",
                                 headers=bearer("alice"))
        assert gone.status_code == 204
        assert await inbox("carol") == []


async def test_an_assignee_reads_the_session_and_answers_only_its_question(
    hub: RunningHub,
) -> None:
    """The matrix's assignee row: erin, assigned a question of alice's session and
    nothing else, may read it and answer that question; the owner may not answer it."""
    async with httpx.AsyncClient(base_url=hub.base_url) as http:
        alice = bearer("alice")
        started = await http.post("/api/sessions", headers=alice, json={"task": "assigned"})
        session_id = started.json()["id"]

        async def pending() -> str | None:
            got = (await http.get(f"/api/sessions/{session_id}", headers=alice)).json()
            return got["pending"][0]["request_id"] if got["pending"] else None

        request_id = await until(pending)
        base = f"/api/sessions/{session_id}"
        links = [(await http.post(f"{base}/links", headers=alice, json={})).json()
                 for _ in range(2)]
        await http.post(f"{base}/shares", headers=alice,
                        json={"with": "user:dave", "role": "viewer"})
        refused = await http.post(f"{base}/requests/{request_id}", headers=alice,
                                  json={"value": True})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
        s = Shared(session_id, request_id, links[0]["token"], links[1]["id"], "unused")
        got = tuple([await call(http, route, s, bearer("erin"), {}) for route in ROUTES])
        erin = (200, 200, 200, 403, 403, 403, 403, 403, 403, 200, 403)
        assert dict(zip(ROUTES, got, strict=True)) == dict(zip(ROUTES, erin, strict=True))
        assert (await http.get(base, headers=bearer("erin"))).json()["access"] == "viewer"
