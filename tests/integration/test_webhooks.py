"""Webhooks on a real hub (memory store with a users file, and Redis) delivering to a real
receiver (tests/support/webhook_receiver.py), which checks every signature with the
Standard Webhooks algorithm on its own: only admins manage them, bad input is refused,
every event arrives signed, in order per session and once by id even when the first
deliveries fail, filters hold, and a delivery given up can be sent again."""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from tests.support.server import RunningHub, run_hub
from tests.support.timing import MS, eventually
from tests.support.webhook_receiver import Receiver, run_receiver
from tether import Context, Hub
from tether.accounts import open_directory
from tether.config import Settings
from tether.credentials import Passwords, new_token, token_digest
from tether.notifications import NOTIFICATION_TYPES
from tether.users import UserDirectory, UserRecord

ROOT_TOKEN = new_token()
ALICE_TOKEN = new_token()
PUBLIC = "https://tether.example.com"


class Deadline(BaseModel):
    timeout: float
    remind: float


def notifying_hub() -> Hub:
    hub = Hub()

    @hub.task(title="Lapse", description="Asks with a deadline and a reminder; no answer.")
    async def lapse(ctx: Context, inputs: Deadline) -> bool:
        return await ctx.confirm("Ship it?", timeout=inputs.timeout, default=False,
                                 remind_after=inputs.remind)

    @hub.task(title="Approve", description="Asks once, then ends.")
    async def approve(ctx: Context) -> bool:
        return await ctx.confirm("Ship it?")

    @hub.task(title="Explode", description="Fails at once.")
    async def explode(ctx: Context) -> None:
        raise RuntimeError("boom")

    return hub


@pytest.fixture
def settings(store_url: str | None, tmp_path: Path) -> Settings:
    return Settings(
        redis_url=store_url, users_file=None if store_url else tmp_path / "users.toml",
        static_dir=None, public_url=PUBLIC, webhook_retry_base=0.05, webhook_retry_cap=0.2,
    )


@pytest.fixture
async def directory(settings: Settings) -> AsyncIterator[UserDirectory]:
    users = open_directory(settings)
    hashed = Passwords().hash("correct horse battery")
    await users.add(UserRecord(name="root", admin=True, password_hash=hashed))
    await users.add(UserRecord(name="alice", password_hash=hashed))
    await users.add_token("root", token_digest(ROOT_TOKEN))
    await users.add_token("alice", token_digest(ALICE_TOKEN))
    yield users
    await users.close()


@pytest.fixture
async def hub(settings: Settings, directory: UserDirectory) -> AsyncIterator[RunningHub]:
    async with run_hub(settings, notifying_hub()) as running:
        yield running


def client(hub: RunningHub, token: str | None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(base_url=hub.base_url, headers=headers, timeout=10)


@pytest.fixture
async def root(hub: RunningHub) -> AsyncIterator[httpx.AsyncClient]:
    async with client(hub, ROOT_TOKEN) as http:
        yield http


@pytest.fixture
async def alice(hub: RunningHub) -> AsyncIterator[httpx.AsyncClient]:
    async with client(hub, ALICE_TOKEN) as http:
        yield http


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with run_receiver() as running:
        yield running


async def register(
    http: httpx.AsyncClient, receiver: Receiver, *, events: list[str] | None = None,
    tasks: list[str] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"url": receiver.url, "events": events or list(NOTIFICATION_TYPES)}
    if tasks is not None:
        body["tasks"] = tasks
    response = await http.post("/api/webhooks", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    receiver.secret = created["secret"]
    return created


async def start(
    http: httpx.AsyncClient, task: str, inputs: dict[str, Any] | None = None
) -> str:
    response = await http.post("/api/sessions", json={"task": task, "inputs": inputs or {}})
    assert response.status_code == 201, response.text
    session_id: str = response.json()["id"]
    return session_id


async def open_request(http: httpx.AsyncClient, session_id: str) -> str:
    found: list[str] = []

    async def opened() -> bool:
        session = (await http.get(f"/api/sessions/{session_id}")).json()
        found[:] = [r["request_id"] for r in session["pending"]]
        return bool(found)

    await eventually(opened, what="the request to open")
    return found[0]


async def deliveries(http: httpx.AsyncClient, webhook_id: str) -> list[dict[str, Any]]:
    """The whole delivery log, newest first, paging with ``next``."""
    records: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 3}
    while True:
        response = await http.get(f"/api/webhooks/{webhook_id}/deliveries", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        records += page["deliveries"]
        if page["next"] is None:
            return records
        params["before"] = page["next"]


# --- who may, and what is refused ---------------------------------------------------


async def test_only_admins_manage_webhooks(
    hub: RunningHub, root: httpx.AsyncClient, alice: httpx.AsyncClient, receiver: Receiver
) -> None:
    made = await register(root, receiver)
    base = f"/api/webhooks/{made['id']}"
    calls = [
        ("POST", "/api/webhooks", {"url": receiver.url, "events": ["request.created"]}),
        ("GET", "/api/webhooks", None), ("GET", base, None), ("DELETE", base, None),
        ("GET", f"{base}/deliveries", None), ("POST", f"{base}/deliveries/ntf_1/redeliver", None),
    ]
    async with client(hub, None) as nobody:
        for method, path, body in calls:
            refused = await alice.request(method, path, json=body)
            assert refused.status_code == 403, (method, path)
            assert refused.json()["error"]["code"] == "forbidden"
            assert (await nobody.request(method, path, json=body)).status_code == 401
    assert [w["id"] for w in (await root.get("/api/webhooks")).json()["webhooks"]] == [made["id"]]


@pytest.mark.parametrize("body", [
    {"url": "ftp://example.com/hook", "events": ["request.created"]},
    {"url": "http:///hook", "events": ["request.created"]},
    {"url": "https://user:pw@example.com/hook", "events": ["request.created"]},
    {"url": "https://example.com:99999/hook", "events": ["request.created"]},
    {"url": "https://example.com/" + "x" * 3000, "events": ["request.created"]},
    {"url": "https://example.com/hook", "events": []},
    {"url": "https://example.com/hook", "events": ["request.deleted"]},
    {"url": "https://example.com/hook", "events": ["request.created"], "tasks": ["no such!"]},
    {"url": "https://example.com/hook", "events": ["request.created"], "secret": "mine"},
    {"events": ["request.created"]},
    ["https://example.com/hook"],
])
async def test_a_bad_webhook_is_refused_with_the_field_named(
    root: httpx.AsyncClient, body: Any
) -> None:
    response = await root.post("/api/webhooks", json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_message" and error["fields"]
    assert (await root.get("/api/webhooks")).json() == {"webhooks": []}


async def test_unknown_webhooks_notifications_and_cursors(
    root: httpx.AsyncClient, receiver: Receiver
) -> None:
    for method, path in (("GET", "/api/webhooks/wh_nope"), ("DELETE", "/api/webhooks/wh_nope"),
                         ("GET", "/api/webhooks/wh_nope/deliveries")):
        response = await root.request(method, path)
        assert response.status_code == 404 and response.json()["error"]["code"] == "unknown_webhook"
    made = await register(root, receiver)
    response = await root.post(f"/api/webhooks/{made['id']}/deliveries/ntf_nope/redeliver")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_notification"
    for params in ({"before": "yesterday"}, {"limit": "0"}, {"limit": "many"}):
        response = await root.get(f"/api/webhooks/{made['id']}/deliveries", params=params)
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "invalid_query"
    assert (await root.post("/api/webhooks", content=b"{",
                            headers={"content-type": "application/json"})).status_code == 400


async def test_a_webhook_is_shown_without_its_secret_and_can_be_deleted(
    root: httpx.AsyncClient, receiver: Receiver
) -> None:
    made = await register(root, receiver, events=["session.completed", "session.completed"],
                          tasks=["approve"])
    assert re.fullmatch(r"wh_[0-9a-f]{16}", made["id"])
    assert made["secret"].startswith("whsec_")
    assert len(base64.b64decode(made["secret"].removeprefix("whsec_"))) == 24
    assert made["events"] == ["session.completed"] and made["tasks"] == ["approve"]
    shown = (await root.get(f"/api/webhooks/{made['id']}")).json()
    listed = (await root.get("/api/webhooks")).json()["webhooks"]
    assert listed == [shown]
    assert "secret" not in shown and made["secret"] not in str(listed)
    assert shown["created_by"] == "user:root" and shown["url"] == receiver.url
    assert (await root.delete(f"/api/webhooks/{made['id']}")).status_code == 204
    assert (await root.get(f"/api/webhooks/{made['id']}")).status_code == 404
    actions = [e["action"] for e in (await root.get("/api/audit")).json()["entries"]]
    assert actions[:2] == ["webhook.delete", "webhook.create"]


# --- delivery ----------------------------------------------------------------------


async def test_every_event_arrives_signed_in_order_per_session_after_failures(
    root: httpx.AsyncClient, alice: httpx.AsyncClient, receiver: Receiver
) -> None:
    """The first deliveries fail (HTTP 500); the hub retries, and once the receiver
    recovers every notification arrives once, verified, each session's in seq order,
    and nothing of a session was sent before what came before it was delivered."""
    made = await register(root, receiver)
    receiver.fail_first = 4
    sessions = [await start(alice, "approve") for _ in range(2)]
    for session_id in sessions:
        request_id = await open_request(alice, session_id)
        answered = await alice.post(f"/api/sessions/{session_id}/requests/{request_id}",
                                    json={"value": True})
        assert answered.status_code == 200, answered.text
    failed = await start(alice, "explode")
    cancelled = await start(alice, "approve")
    await open_request(alice, cancelled)
    assert (await alice.post(f"/api/sessions/{cancelled}/cancel")).status_code == 202

    expected = {
        **{s: ["request.created", "request.answered", "session.completed"] for s in sessions},
        failed: ["session.failed"], cancelled: ["request.created", "session.cancelled"],
    }

    def all_arrived() -> bool:
        got = receiver.by_session()
        return {s: [b["type"] for b in got.get(s, [])] for s in expected} == expected

    await eventually(all_arrived, timeout_ms=15000, what="every notification")
    assert receiver.bad_signatures == 0
    assert len(set(receiver.delivered_ids())) == len(receiver.delivered_ids())
    assert sum(a.status == 500 for a in receiver.attempts) == 4
    for bodies in receiver.by_session().values():
        assert [b["seq"] for b in bodies] == sorted(b["seq"] for b in bodies)
        assert all(b["task"] in ("approve", "explode") and b["owner"] == "user:alice"
                   for b in bodies)
    # in order: no attempt of a session's notification before its earlier ones arrived
    delivered: dict[str, set[int]] = {}
    for attempt in receiver.attempts:
        body = attempt.body
        earlier = {b["seq"] for b in receiver.by_session()[body["session_id"]]
                   if b["seq"] < body["seq"]}
        assert earlier <= delivered.setdefault(body["session_id"], set()), body["type"]
        if attempt.status == 200:
            delivered[body["session_id"]].add(body["seq"])
    created = receiver.by_session()[sessions[0]][0]
    assert created["request"]["prompt"] == "Ship it?"
    assert created["answer_url"] == f"{PUBLIC}/sessions/{sessions[0]}"
    assert receiver.by_session()[sessions[0]][1]["answered_by"] == "user:alice"
    log = await deliveries(root, made["id"])
    retried = [r for r in log if r["status"] == "retrying"]
    assert len(retried) == 4 and all(r["status_code"] == 500 and r["next_attempt_at"]
                                     for r in retried)
    assert sorted(r["notification_id"] for r in log if r["status"] == "delivered") == sorted(
        receiver.delivered_ids())
    assert [r["id"] for r in log] == sorted((r["id"] for r in log), key=lambda i: tuple(
        int(p) for p in i.split("-")), reverse=True)


@pytest.mark.parametrize("remind_ms", [200, 5000], ids=["reminded", "deadline-first"])
async def test_a_request_that_times_out_is_reminded_then_expires_with_its_default(
    root: httpx.AsyncClient, alice: httpx.AsyncClient, receiver: Receiver, remind_ms: int,
) -> None:
    """timeout + default + remind_after: unanswered, the question reminds (when that is
    due before the deadline), then expires; the task goes on with its default, and the
    webhook gets request.expired with the request, between the reminder and the end."""
    await register(root, receiver)
    inputs = {"timeout": 700 * MS, "remind": remind_ms * MS}
    session_id = await start(alice, "lapse", inputs)

    def ended() -> bool:
        return [b["type"] for b in receiver.by_session().get(session_id, [])][-1:] == [
            "session.completed"]

    await eventually(ended, timeout_ms=10000, what="the session's end to arrive")
    bodies = receiver.by_session()[session_id]
    reminded = ["request.reminder"] if remind_ms < 700 else []
    assert [b["type"] for b in bodies] == [
        "request.created", *reminded, "request.expired", "session.completed"]
    created, expired = bodies[0], bodies[-2]
    assert expired["request"]["request_id"] == created["request"]["request_id"]
    assert expired["request"]["prompt"] == "Ship it?" and expired["request"]["expires_at"]
    assert expired["answer_url"] == f"{PUBLIC}/sessions/{session_id}"
    assert expired["answered_by"] is None and expired["at"] >= expired["request"]["expires_at"]
    assert [b["seq"] for b in bodies] == sorted(b["seq"] for b in bodies)
    assert receiver.bad_signatures == 0
    session = (await alice.get(f"/api/sessions/{session_id}")).json()
    assert session["status"] == "completed" and session["result"] is False  # the default
    kinds = [e["type"] for e in (await alice.get(
        f"/api/sessions/{session_id}/events")).json()["events"]]
    assert kinds.count("request_expired") == 1
    assert kinds.count("request_reminder") == len(reminded)


async def test_a_webhook_gets_only_its_events_and_tasks(
    root: httpx.AsyncClient, alice: httpx.AsyncClient, receiver: Receiver
) -> None:
    await register(root, receiver, events=["session.completed", "session.failed"],
                   tasks=["approve"])
    exploded = await start(alice, "explode")
    approved = await start(alice, "approve")
    request_id = await open_request(alice, approved)
    await alice.post(f"/api/sessions/{approved}/requests/{request_id}", json={"value": False})
    await eventually(lambda: bool(receiver.delivered), what="the completion")
    session = (await alice.get(f"/api/sessions/{exploded}")).json()
    assert session["status"] == "failed"
    assert [(a.body["type"], a.body["session_id"]) for a in receiver.delivered] == [
        ("session.completed", approved)]


@pytest.fixture
def give_up_settings(settings: Settings) -> Settings:
    return settings.with_(webhook_retry_for=0.3)


async def test_a_delivery_is_given_up_after_retry_for_and_can_be_sent_again(
    give_up_settings: Settings, directory: UserDirectory
) -> None:
    async with run_hub(give_up_settings, notifying_hub()) as hub, \
            client(hub, ROOT_TOKEN) as root, client(hub, ALICE_TOKEN) as alice, \
            run_receiver(fail_first=10**6) as receiver:
        made = await register(root, receiver, events=["session.failed"])
        session_id = await start(alice, "explode")
        log: list[dict[str, Any]] = []

        async def given_up() -> bool:
            log[:] = await deliveries(root, made["id"])
            return any(r["status"] == "failed" for r in log)

        await eventually(given_up, timeout_ms=10000, what="the delivery to be given up")
        assert log[0]["status"] == "failed" and log[0]["next_attempt_at"] is None
        assert all(r["status"] == "retrying" for r in log[1:]) and len(log) >= 2
        assert log[0]["attempt"] == len(log) and log[0]["session_id"] == session_id
        receiver.fail_first = 0
        notification_id = log[0]["notification_id"]
        response = await root.post(
            f"/api/webhooks/{made['id']}/deliveries/{notification_id}/redeliver"
        )
        assert response.status_code == 200, response.text
        again = response.json()
        assert again["status"] == "delivered" and again["status_code"] == 200
        assert again["attempt"] == len(log) + 1
        assert receiver.delivered_ids() == [notification_id]  # the same webhook-id
        assert receiver.delivered[0].body["type"] == "session.failed"
        assert (await deliveries(root, made["id"]))[0] == again
