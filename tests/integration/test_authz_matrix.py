"""The authorization matrix: every route of the hub's route table, ``/metrics`` and the
WebSocket, asked by every kind of caller, give exactly the answer docs/PROTOCOL.md ("Who
may do what" and the route table) and docs/SECURITY.md name.

One real hub on a real Redis serves the whole module. Its route table is read from the
app itself, so a route added without a row here fails
:func:`test_the_matrix_covers_every_route_of_the_hub`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
import redis
import websockets
from pydantic import BaseModel
from starlette.routing import Route

from tests.support.accounts import add_accounts
from tests.support.redis_proc import RedisProcess
from tests.support.server import RunningHub, run_hub
from tests.support.sharing import share_every_way
from tests.support.timing import until
from tether.app import HubApp
from tether.config import Settings
from tether.context import Context
from tether.credentials import new_token, token_digest
from tether.hub import Hub
from tether.sharing import ShareLink
from tether.store.redis_shares import RedisShares
from tether.users import UserRecord

pytestmark = pytest.mark.asyncio(loop_scope="module")

hub_def = Hub()


class NoInputs(BaseModel):
    pass


@hub_def.task(title="Two questions")
async def two_questions(ctx: Context, inputs: NoInputs) -> bool:
    # One unassigned question (the owner's, answerers') and one assigned to dave, open at
    # once; then one more, so that the session still runs when the matrix cancels it.
    first, second = await asyncio.gather(
        ctx.confirm("Go ahead?"), ctx.confirm("Sign?", assignees=["user:dave"])
    )
    return first and second and await ctx.confirm("Really?")


ADMIN = "root"
NAMES = ("alice", "bob", "carol", "dave", "erin", ADMIN)
TOKENS = {name: new_token() for name in NAMES}
PASSWORD = "correct horse battery staple"

# Who asks: an identity (bearer token or login cookie), a share link, or nobody.
BEARERS = {"owner": "alice", "viewer": "bob", "answerer": "carol", "assignee": "dave",
           "other user": "erin", "admin": ADMIN}
COOKIES = {"owner by cookie": "alice", "other user by cookie": "erin"}
LINKS = ("link", "link as bearer", "expired link", "revoked link")
CALLERS = (*BEARERS, *COOKIES, *LINKS, "anonymous")


@dataclass
class Fixture:
    hub: RunningHub
    expired: str  # the prefix of each session's expired link's token


@dataclass
class Shared:
    """A session of alice's with two open questions, shared every way there is."""

    id: str
    request_id: str  # unassigned
    assigned_id: str  # assigned to user:dave
    link: str  # a live link's token
    spare_link: str  # the id of a link a caller may revoke
    revoked: str  # the token of a revoked link
    webhook: str  # a webhook a caller may delete


def bearer(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[name]}"}


@pytest.fixture(scope="module")
def module_redis() -> Iterator[str]:
    proc = RedisProcess(appendonly=False)
    proc.start()
    client = redis.Redis.from_url(proc.url)
    client.flushall()
    client.close()
    yield proc.url
    proc.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fx(module_redis: str) -> AsyncIterator[Fixture]:
    settings = Settings(redis_url=module_redis, static_dir=None)
    accounts = [UserRecord(name=name, admin=name == ADMIN,
                           groups=frozenset({"finance"}) if name == "carol" else frozenset())
                for name in NAMES]
    await add_accounts(settings, accounts, password=PASSWORD, tokens=TOKENS)
    async with run_hub(settings, hub_def) as running:
        expired = "tl_expired-link-of-the-matrix"
        yield Fixture(running, expired)


async def webhook(http: httpx.AsyncClient) -> str:
    made = await http.post("/api/webhooks", headers=bearer(ADMIN), json={
        "url": "http://127.0.0.1:9/hook", "events": ["session.completed"],
        "tasks": ["no-such-task"]})
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def shared_session(fx: Fixture, http: httpx.AsyncClient) -> Shared:
    alice = bearer("alice")
    started = await http.post("/api/sessions", headers=alice, json={"task": "two_questions"})
    assert started.status_code == 201, started.text
    session_id = started.json()["id"]

    async def pending() -> dict[str, str]:
        got = (await http.get(f"/api/sessions/{session_id}", headers=alice)).json()
        ids = {"assigned" if r["assignees"] else "open": r["request_id"]
               for r in got["pending"]}
        return ids if len(ids) == 2 else {}

    ids = await until(pending)
    links = await share_every_way(http, session_id, alice, (
        ("user:bob", "viewer"), ("group:finance", "answerer"), ("user:erin2", "viewer"),
    ))
    # An expired link: links last a minute at least through the API, so this one is
    # written into the store with a moment to live, and waited out.
    shares = RedisShares(fx.hub.settings.redis_url or "")
    await shares.create_link(token_digest(fx.expired + session_id), ShareLink(
        id=f"x{session_id}", session_id=session_id, by="user:alice",
        created_at="2026-01-01T00:00:00Z", expires_at=time.time() + 0.2))
    await shares.close()

    async def expired() -> bool:
        got = await http.get(f"/api/sessions/{session_id}",
                             params={"link": fx.expired + session_id})
        return got.status_code == 404

    await until(expired)
    return Shared(session_id, ids["open"], ids["assigned"], links[0]["token"],
                  links[1]["id"], links[2]["token"], await webhook(http))


# (method, route path as the route table spells it) -> the request the matrix makes.
def requests_of(s: Shared) -> dict[tuple[str, str], tuple[str, Any]]:
    base = f"/api/sessions/{s.id}"
    hook = f"/api/webhooks/{s.webhook}"
    return {
        ("GET", "/api/tasks"): ("/api/tasks", None),
        ("POST", "/api/sessions"): ("/api/sessions", {"task": "two_questions"}),
        ("GET", "/api/sessions"): ("/api/sessions", None),
        ("GET", "/api/sessions/{session_id}"): (base, None),
        ("GET", "/api/sessions/{session_id}/events"): (f"{base}/events", None),
        ("GET", "/api/sessions/{session_id}/shares"): (f"{base}/shares", None),
        ("GET", "/api/sessions/{session_id}/links"): (f"{base}/links", None),
        ("POST", "/api/sessions/{session_id}/shares"): (
            f"{base}/shares", {"with": "user:erin3", "role": "viewer"}),
        ("DELETE", "/api/sessions/{session_id}/shares/{target:path}"): (
            f"{base}/shares/user:erin2", None),
        ("POST", "/api/sessions/{session_id}/links"): (f"{base}/links", {"expires_in": 3600}),
        ("DELETE", "/api/sessions/{session_id}/links/{link_id}"): (
            f"{base}/links/{s.spare_link}", None),
        ("POST", "/api/sessions/{session_id}/fork"): (f"{base}/fork", {}),
        ("POST", "/api/sessions/{session_id}/requests/{request_id}"): (
            f"{base}/requests/{s.request_id}", {"value": True}),
        ("POST", "assigned request"): (f"{base}/requests/{s.assigned_id}", {"value": True}),
        ("POST", "/api/sessions/{session_id}/cancel"): (f"{base}/cancel", None),
        ("GET", "/api/requests"): ("/api/requests", None),
        ("GET", "/api/audit"): ("/api/audit", None),
        ("GET", "/api/me"): ("/api/me", None),
        ("GET", "/api/auth"): ("/api/auth", None),
        # A name of its own: five failures for one name are refused with 429.
        ("POST", "/api/login"): ("/api/login", {"username": f"nobody-{s.id}",
                                                "password": "wrong"}),
        ("GET", "/login"): ("/login", None),
        ("GET", "/api/login/oidc"): ("/api/login/oidc", None),
        ("GET", "/api/login/oidc/callback"): ("/api/login/oidc/callback", None),
        ("POST", "/api/webhooks"): ("/api/webhooks", {
            "url": "http://127.0.0.1:9/x", "events": ["session.completed"],
            "tasks": ["no-such-task"]}),
        ("GET", "/api/webhooks"): ("/api/webhooks", None),
        ("GET", "/api/webhooks/{webhook_id}"): (hook, None),
        ("GET", "/api/webhooks/{webhook_id}/deliveries"): (f"{hook}/deliveries", None),
        ("POST", "/api/webhooks/{webhook_id}/deliveries/{notification_id}/redeliver"): (
            f"{hook}/deliveries/nope/redeliver", None),
        ("DELETE", "/api/webhooks/{webhook_id}"): (hook, None),
        ("GET", "/api/answer/{token}"): ("/api/answer/al_not-a-link", None),
        ("POST", "/api/answer/{token}"): ("/api/answer/al_not-a-link", {"value": True}),
        ("GET", "/metrics"): ("/metrics", None),
        ("GET", "/healthz"): ("/healthz", None),
        ("GET", "/readyz"): ("/readyz", None),
        ("GET", "/openapi.json"): ("/openapi.json", None),
        ("GET", "/api/{path:path}"): ("/api/no-such-route", None),
        ("POST", "/api/{path:path}"): ("/api/no-such-route", {}),
        ("PUT", "/api/{path:path}"): ("/api/no-such-route", {}),
        ("DELETE", "/api/{path:path}"): ("/api/no-such-route", None),
        ("GET", "/{path:path}"): ("/some/app/page", None),
        # Last: it ends a cookie caller's login.
        ("POST", "/api/logout"): ("/api/logout", None),
    }


ROUTES = tuple(requests_of(Shared("s", "r", "a", "l", "sl", "rv", "w")))
SESSION_ROUTES = tuple(r for r in ROUTES if r[1].startswith("/api/sessions/") or
                       r[1] == "assigned request")
SESSION_WRITES = ("shares_post", "shares_delete", "links_post", "links_delete", "fork",
                  "answer", "assigned", "cancel")


def row(**changes: int) -> dict[tuple[str, str], int]:
    """A caller's expected statuses: a member's with ``changes`` (keys: the names below)."""
    names = {
        "get": ("GET", "/api/sessions/{session_id}"),
        "events": ("GET", "/api/sessions/{session_id}/events"),
        "shares_get": ("GET", "/api/sessions/{session_id}/shares"),
        "links_get": ("GET", "/api/sessions/{session_id}/links"),
        "shares_post": ("POST", "/api/sessions/{session_id}/shares"),
        "shares_delete": ("DELETE", "/api/sessions/{session_id}/shares/{target:path}"),
        "links_post": ("POST", "/api/sessions/{session_id}/links"),
        "links_delete": ("DELETE", "/api/sessions/{session_id}/links/{link_id}"),
        "fork": ("POST", "/api/sessions/{session_id}/fork"),
        "answer": ("POST", "/api/sessions/{session_id}/requests/{request_id}"),
        "assigned": ("POST", "assigned request"),
        "cancel": ("POST", "/api/sessions/{session_id}/cancel"),
        "audit": ("GET", "/api/audit"),
        "metrics": ("GET", "/metrics"),
        "hook_post": ("POST", "/api/webhooks"),
        "hooks": ("GET", "/api/webhooks"),
        "hook": ("GET", "/api/webhooks/{webhook_id}"),
        "deliveries": ("GET", "/api/webhooks/{webhook_id}/deliveries"),
        "redeliver": ("POST",
                      "/api/webhooks/{webhook_id}/deliveries/{notification_id}/redeliver"),
        "hook_delete": ("DELETE", "/api/webhooks/{webhook_id}"),
    }
    # A member who may not see the session, on routes anybody with an identity may use.
    base: dict[tuple[str, str], int] = {route: 404 for route in SESSION_ROUTES}
    base.update({
        ("GET", "/api/tasks"): 200, ("POST", "/api/sessions"): 201,
        ("GET", "/api/sessions"): 200, ("GET", "/api/requests"): 200,
        ("GET", "/api/me"): 200, ("GET", "/api/auth"): 200,
        ("POST", "/api/login"): 401,  # invalid_credentials, whoever asks
        ("GET", "/login"): 200,
        ("GET", "/api/login/oidc"): 404, ("GET", "/api/login/oidc/callback"): 404,
        ("GET", "/api/answer/{token}"): 404, ("POST", "/api/answer/{token}"): 404,
        ("GET", "/healthz"): 200, ("GET", "/readyz"): 200, ("GET", "/openapi.json"): 200,
        ("GET", "/api/{path:path}"): 404, ("POST", "/api/{path:path}"): 404,
        ("PUT", "/api/{path:path}"): 404, ("DELETE", "/api/{path:path}"): 404,
        ("GET", "/{path:path}"): 200,  # the app (a placeholder page without its files)
        ("POST", "/api/logout"): 204,
    })
    for name in ("audit", "metrics", "hook_post", "hooks", "hook", "deliveries", "redeliver",
                 "hook_delete"):
        base[names[name]] = 403  # admins only
    for name, status in changes.items():
        base[names[name]] = status
    return base


# The session's list of links is the owner's and an admin's, like what a link may do.
READS = {"get": 200, "events": 200, "shares_get": 200, "links_get": 403}
VIEWER = {**READS, **{name: 403 for name in SESSION_WRITES}}
OWNER = {**READS, "links_get": 200, "shares_post": 201, "shares_delete": 204,
         "links_post": 201, "links_delete": 204, "fork": 201, "answer": 200,
         "assigned": 403, "cancel": 202}
ADMIN_ROW = {**OWNER, "assigned": 200, "audit": 200, "metrics": 200, "hook_post": 201,
             "hooks": 200, "hook": 200, "deliveries": 200, "redeliver": 404,
             "hook_delete": 204}
# A link shows its session's events and nothing else: not whom it is shared with.
LINK = {**VIEWER, "shares_get": 403}
# What needs no identity, and so answers the same with none.
OPEN_ROUTES = (("GET", "/api/auth"), ("POST", "/api/login"), ("POST", "/api/logout"),
               ("GET", "/api/answer/{token}"), ("POST", "/api/answer/{token}"),
               ("GET", "/api/login/oidc"), ("GET", "/api/login/oidc/callback"))


def anonymous_row(**session: int) -> dict[tuple[str, str], int]:
    """No identity: 401 on every /api/ route and /metrics but the open ones. ``?link=``
    is read on its session's routes only, so a link's row is this one but there."""
    got = {route: 401 if route[1].startswith("/api/") or route[1] in (
        "/metrics", "assigned request") else status for route, status in row().items()}
    for route in OPEN_ROUTES:
        got[route] = row()[route]
    got.update({route: status for route, status in row(**session).items()
                if route in SESSION_ROUTES})
    return got


def link_bearer_row() -> dict[tuple[str, str], int]:
    """A link's token as a bearer token: its session's reads; 403 `forbidden` on every
    other /api/ route and /metrics, even those that need no identity."""
    got = row(**LINK)
    for route in got:
        if (route[1].startswith("/api/") or route[1] == "/metrics") and \
                route not in SESSION_ROUTES:
            got[route] = 403
    return got


EXPECTED: dict[str, dict[tuple[str, str], int]] = {
    "owner": row(**OWNER),
    "owner by cookie": row(**OWNER),
    "admin": row(**ADMIN_ROW),
    "viewer": row(**VIEWER),
    "answerer": row(**{**VIEWER, "answer": 200}),
    "assignee": row(**{**VIEWER, "assigned": 200}),
    "other user": row(),
    "other user by cookie": row(),
    "link": anonymous_row(**LINK),
    "link as bearer": link_bearer_row(),
    "expired link": anonymous_row(),  # 404 on its session's routes: a missing session
    "revoked link": anonymous_row(),
    "anonymous": {route: 401 if route in SESSION_ROUTES else status
                  for route, status in anonymous_row().items()},
}


def route_table(running: RunningHub) -> set[tuple[str, str]]:
    app = running.server.config.app
    assert isinstance(app, HubApp)
    table = set()
    for route in app.routes:
        assert isinstance(route, Route), route
        for method in route.methods or ():
            if method != "HEAD":  # Starlette's own, with every GET
                table.add((method, route.path))
    return table | {("GET", "/metrics")}  # served in front of the route table


async def test_the_matrix_covers_every_route_of_the_hub(fx: Fixture) -> None:
    matrix = set(ROUTES) - {("POST", "assigned request")}
    assert route_table(fx.hub) == matrix
    assert all(set(expected) == set(ROUTES) for expected in EXPECTED.values())
    assert set(EXPECTED) == set(CALLERS)


async def login_cookie(http: httpx.AsyncClient, name: str) -> None:
    got = await http.post("/api/login", json={"username": name, "password": PASSWORD})
    assert got.status_code == 200, got.text


def credentials(caller: str, s: Shared, fx: Fixture) -> tuple[dict[str, str], dict[str, str]]:
    """(headers, query) that make a request come from ``caller``."""
    if caller in BEARERS:
        return bearer(BEARERS[caller]), {}
    if caller == "link":
        return {}, {"link": s.link}
    if caller == "link as bearer":
        return {"Authorization": f"Bearer {s.link}"}, {}
    if caller == "expired link":
        return {}, {"link": fx.expired + s.id}
    if caller == "revoked link":
        return {}, {"link": s.revoked}
    return {}, {}


CODES = {401: {"not_authenticated", "invalid_credentials"},
         403: {"forbidden"},
         404: {"unknown_session", "unknown_webhook", "unknown_notification", "unknown_link",
               "not_found", "oidc_disabled", "invalid_link"}}


@pytest.mark.parametrize("caller", CALLERS)
async def test_every_route_answers_each_caller_as_documented(fx: Fixture, caller: str) -> None:
    async with httpx.AsyncClient(base_url=fx.hub.base_url) as setup:
        s = await shared_session(fx, setup)
    async with httpx.AsyncClient(base_url=fx.hub.base_url,
                                 headers={"Origin": fx.hub.base_url}) as http:
        if caller in COOKIES:
            await login_cookie(http, COOKIES[caller])
        headers, params = credentials(caller, s, fx)
        got: dict[tuple[str, str], int] = {}
        for route, (path, body) in requests_of(s).items():
            response = await http.request(route[0], path, headers=headers, params=params,
                                          json=body, follow_redirects=False)
            got[route] = response.status_code
            if response.status_code in CODES:
                code = response.json()["error"]["code"]
                assert code in CODES[response.status_code], (route, response.text)
    differ = {r: (got[r], EXPECTED[caller][r]) for r in got if got[r] != EXPECTED[caller][r]}
    assert not differ, differ


async def frames_until(ws: websockets.ClientConnection, kind: str) -> dict[str, Any]:
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if frame["type"] in (kind, "error"):
            return dict(frame)


# caller -> (answer to the unassigned question, to dave's): "ack" or an error code; or the
# close code the socket gets at once.
SOCKET: dict[str, tuple[str, str] | int] = {
    "owner": ("ack", "forbidden"), "owner by cookie": ("ack", "forbidden"),
    "admin": ("ack", "ack"), "answerer": ("ack", "forbidden"),
    "assignee": ("forbidden", "ack"), "viewer": ("forbidden", "forbidden"),
    "link": ("forbidden", "forbidden"), "link as bearer": ("forbidden", "forbidden"),
    "other user": 4404, "other user by cookie": 4404, "expired link": 4404,
    "revoked link": 4404, "anonymous": 4401,
}


@pytest.mark.parametrize("caller", CALLERS)
async def test_the_websocket_admits_and_refuses_each_caller_as_documented(
    fx: Fixture, caller: str
) -> None:
    async with httpx.AsyncClient(base_url=fx.hub.base_url,
                                 headers={"Origin": fx.hub.base_url}) as http:
        s = await shared_session(fx, http)
        headers, params = credentials(caller, s, fx)
        if caller in COOKIES:
            await login_cookie(http, COOKIES[caller])
            jar = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
            headers = {"Cookie": jar}
    query = f"?link={params['link']}" if params else ""
    url = f"{fx.hub.ws_url}/ws/sessions/{s.id}{query}"
    outcome = SOCKET[caller]
    async with websockets.connect(url, additional_headers=headers,
                                  origin=fx.hub.base_url) as ws:  # type: ignore[arg-type]
        if isinstance(outcome, int):
            with pytest.raises(websockets.ConnectionClosed):
                await frames_until(ws, "replay_complete")
            assert ws.close_code == outcome
            return
        assert (await frames_until(ws, "replay_complete"))["type"] == "replay_complete"
        got = []
        for ref, request_id in (("a", s.request_id), ("b", s.assigned_id)):
            await ws.send(json.dumps({"type": "confirm", "request_id": request_id,
                                      "value": True, "ref": ref}))
            reply = await frames_until(ws, "ack")
            assert reply["ref"] == ref, reply
            got.append("ack" if reply["type"] == "ack" else reply["code"])
        # Cancelling is the owner's and an admin's; the others are told `forbidden`.
        await ws.send(json.dumps({"type": "cancel", "ref": "c"}))
        reply = await frames_until(ws, "ack")
        cancel_ok = caller in ("owner", "owner by cookie", "admin")
        assert (reply["type"] == "ack") == cancel_ok, reply
        if not cancel_ok:
            assert reply["code"] == "forbidden"
    assert tuple(got) == outcome
