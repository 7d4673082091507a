"""Reminders and escalation on a real hub (memory store and Redis): a question assigned
to bob reminds him, then escalates to the finance group, whose member answers it from
her inbox; one answered in time neither reminds nor escalates."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from tests.support.server import RunningHub, run_hub
from tests.support.smtp_server import smtp_server
from tests.support.timing import MS, until
from tests.support.webhook_receiver import Receiver, run_receiver
from tether.accounts import open_directory
from tether.config import Settings
from tether.context import Context
from tether.credentials import new_token, token_digest
from tether.hub import Hub
from tether.users import UserRecord

hub_def = Hub()
TOKENS = {name: new_token() for name in ("alice", "bob", "carol", "root")}


class Times(BaseModel):
    remind: float
    escalate: float


@hub_def.task(title="Nudged")
async def nudged(ctx: Context, inputs: Times) -> bool:
    return await ctx.confirm(
        "Approve?", assignees=["user:bob"], remind_after=inputs.remind,
        escalate_after=inputs.escalate, escalate_to=["group:finance"],
    )


def bearer(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[name]}"}


def hub_settings(store_url: str | None, tmp_path: Path, **more: Any) -> Settings:
    return Settings(
        redis_url=store_url, users_file=None if store_url else tmp_path / "users.toml",
        static_dir=None, webhook_retry_base=0.05, webhook_retry_cap=0.2, **more,
    )


async def add_users(settings: Settings, *, emails: bool = False) -> None:
    directory = open_directory(settings)
    for name in TOKENS:
        groups = frozenset({"finance"}) if name == "carol" else frozenset()
        email = f"{name}@example.com" if emails else None
        await directory.add(UserRecord(name=name, groups=groups, admin=name == "root",
                                       email=email))
        await directory.add_token(name, token_digest(TOKENS[name]))
    await directory.close()


@pytest.fixture
async def hub(store_url: str | None, tmp_path: Path) -> AsyncIterator[RunningHub]:
    settings = hub_settings(store_url, tmp_path)
    await add_users(settings)
    async with run_hub(settings, hub_def) as running:
        yield running




@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with run_receiver() as running:
        yield running


async def test_a_question_reminds_then_escalates_and_the_new_assignee_answers(
    hub: RunningHub, receiver: Receiver,
) -> None:
    async with httpx.AsyncClient(base_url=hub.base_url) as http:
        hook = await http.post("/api/webhooks", headers=bearer("root"), json={
            "url": receiver.url, "events": ["request.reminder", "request.escalated"],
        })
        assert hook.status_code == 201, hook.text
        receiver.secret = hook.json()["secret"]
        times = {"remind": 300 * MS, "escalate": 700 * MS}
        started = await http.post("/api/sessions", headers=bearer("alice"),
                                  json={"task": "nudged", "inputs": times})
        session_id = started.json()["id"]

        async def events() -> list[dict[str, Any]]:
            got = await http.get(f"/api/sessions/{session_id}/events", headers=bearer("alice"))
            return list(got.json()["events"])

        async def inbox(name: str) -> list[str]:
            page = await http.get("/api/requests", headers=bearer(name))
            return [i["session_id"] for i in page.json()["requests"]]

        async def of_type(kind: str) -> list[dict[str, Any]]:
            return [e for e in await events() if e["type"] == kind]

        [opened] = await until(lambda: of_type("request_confirmation"))
        assert await inbox("bob") == [session_id] and await inbox("carol") == []
        early = await http.post(f"/api/sessions/{session_id}/requests/{opened['request_id']}",
                                headers=bearer("carol"), json={"value": True})
        assert early.status_code == 404  # not hers yet: she may not even see it
        [reminder] = await until(lambda: of_type("request_reminder"))
        assert reminder["assignees"] == ["user:bob"]
        [escalation] = await until(lambda: of_type("request_escalated"))
        assert escalation["assignees"] == ["user:bob", "group:finance"]
        assert escalation["added"] == ["group:finance"]
        assert await inbox("carol") == [session_id] and await inbox("bob") == [session_id]
        session = (await http.get(f"/api/sessions/{session_id}", headers=bearer("carol"))).json()
        [pending] = session["pending"]
        assert pending["reminded_at"] and pending["escalated_at"]
        assert pending["assignees"] == ["user:bob", "group:finance"]
        answered = await http.post(
            f"/api/sessions/{session_id}/requests/{opened['request_id']}",
            headers=bearer("carol"), json={"value": True},
        )
        assert answered.status_code == 200, answered.text
        assert await until(lambda: of_type("task_completed"))
        assert await inbox("carol") == [] and await inbox("bob") == []

        # Both follow-ups reached the webhook, signed, in order, with the request as it
        # was then (whom it waited for).
        async def two_delivered() -> bool:
            return len(receiver.delivered) >= 2

        await until(two_delivered)
        bodies = [a.body for a in receiver.delivered]
        assert [b["type"] for b in bodies] == ["request.reminder", "request.escalated"]
        assert bodies[0]["request"]["assignees"] == ["user:bob"]
        assert bodies[1]["request"]["assignees"] == ["user:bob", "group:finance"]
        assert bodies[1]["added"] == ["group:finance"] and bodies[0]["added"] is None
        assert bodies[0]["seq"] < bodies[1]["seq"]


async def test_a_question_answered_in_time_is_never_followed_up(hub: RunningHub) -> None:
    async with httpx.AsyncClient(base_url=hub.base_url) as http:
        times = {"remind": 400 * MS, "escalate": 800 * MS}
        started_at = time.time()
        started = await http.post("/api/sessions", headers=bearer("alice"),
                                  json={"task": "nudged", "inputs": times})
        session_id = started.json()["id"]

        async def pending() -> str | None:
            got = await http.get(f"/api/sessions/{session_id}", headers=bearer("bob"))
            items = got.json()["pending"] if got.status_code == 200 else []
            return items[0]["request_id"] if items else None

        request_id = await until(pending)
        answered = await http.post(f"/api/sessions/{session_id}/requests/{request_id}",
                                   headers=bearer("bob"), json={"value": False})
        assert answered.status_code == 200
        # Past both times: the finished session has neither a reminder nor an escalation.
        due = started_at + times["escalate"] + 200 * MS

        async def past_due() -> bool:
            return time.time() >= due

        await until(past_due)
        log = (await http.get(f"/api/sessions/{session_id}/events",
                              headers=bearer("alice"))).json()["events"]
        kinds = [e["type"] for e in log]
        assert "request_reminder" not in kinds and "request_escalated" not in kinds
        assert "task_completed" in kinds


async def test_an_escalation_mails_the_people_it_adds_and_not_those_already_mailed(
    store_url: str | None, tmp_path: Path,
) -> None:
    """Bob is mailed when the question opens and at its reminder; the escalation to the
    finance group mails carol, and bob gets no third mail for it (the webhook still
    carries everyone it waits for)."""
    async with smtp_server() as smtp:
        settings = hub_settings(store_url, tmp_path, smtp_url=f"smtp://127.0.0.1:{smtp.port}",
                                mail_from="tether@hub.example")
        await add_users(settings, emails=True)
        async with run_hub(settings, hub_def) as hub, \
                httpx.AsyncClient(base_url=hub.base_url) as http:
            times = {"remind": 300 * MS, "escalate": 700 * MS}
            started = await http.post("/api/sessions", headers=bearer("alice"),
                                      json={"task": "nudged", "inputs": times})
            assert started.status_code == 201, started.text

            async def carols() -> bool:
                return any(m.recipients == ["carol@example.com"] for m in smtp.mails)

            await until(carols, what="carol's mail")
            # One notification's mails go out in one SMTP session, by name: a repeat to
            # bob for the escalation would have come before carol's.
            sent = [(m.recipients, m.message["Subject"].split(":")[0]) for m in smtp.mails]
            assert sent == [
                (["bob@example.com"], "Nudged"),
                (["bob@example.com"], "Reminder"),
                (["carol@example.com"], "Escalated"),
            ]
            session_id = started.json()["id"]
            [pending] = (await http.get(f"/api/sessions/{session_id}",
                                        headers=bearer("carol"))).json()["pending"]
            assert pending["assignees"] == ["user:bob", "group:finance"]
