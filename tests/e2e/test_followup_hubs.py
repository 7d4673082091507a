"""Reminders and escalation across hub processes on one real Redis, told to a real
webhook receiver that checks every signature on its own:

- two hubs running at once: each question's reminder and escalation happen once (one
  event each in the log, one notification each, delivered once);
- a hub killed with SIGKILL while a question waits for its reminder: another hub adopts
  the session, and the reminder and the escalation still go out, once, as webhooks.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime
from typing import Any

from tests.e2e.test_webhook_failover import (
    FAST,
    TASKS,
    StartHub,
    add_root,
    open_request,
    outbox_empty,
    register,
    root_of,
)
from tests.support.hub_proc import HubProcess
from tests.support.timing import MS, eventually
from tests.support.webhook_receiver import Receiver, run_receiver

FOLLOW_UPS = ("request.reminder", "request.escalated")


async def start_nudged(hub: HubProcess, remind: float, escalate: float) -> str:
    async with root_of(hub) as root:
        made = await root.post("/api/sessions", json={
            "task": "nudged", "inputs": {"remind": remind, "escalate": escalate}})
    assert made.status_code == 201, made.text
    session_id: str = made.json()["id"]
    return session_id


async def events(hub: HubProcess, session_id: str) -> list[dict[str, Any]]:
    async with root_of(hub) as root:
        response = await root.get(f"/api/sessions/{session_id}/events")
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["events"]
    return found


def follow_ups(receiver: Receiver, session_id: str) -> list[dict[str, Any]]:
    return [b for b in receiver.by_session().get(session_id, []) if b["type"] in FOLLOW_UPS]


def epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


async def test_two_hubs_at_once_remind_and_escalate_each_question_once(
    hub_procs: StartHub, redis_url: str
) -> None:
    await add_root(redis_url)
    async with run_receiver() as receiver:
        hubs = [hub_procs(TASKS, redis_url=redis_url, hub_id=f"hub-{n}", **FAST)
                for n in ("a", "b")]
        receiver.secret = await register(hubs[0], receiver.url)
        sessions = [await start_nudged(hub, 600 * MS, 1200 * MS)
                    for _ in range(3) for hub in hubs]

        def all_followed_up() -> bool:
            return all(len(follow_ups(receiver, s)) >= 2 for s in sessions)

        await eventually(all_followed_up, timeout_ms=20000, what="every follow-up")
        await eventually(lambda: outbox_empty(redis_url), what="every outbox released")
        counts = Counter(receiver.delivered_ids())
        assert set(counts.values()) == {1}, counts  # each notification delivered once
        assert receiver.bad_signatures == 0
        for session_id in sessions:
            assert [b["type"] for b in follow_ups(receiver, session_id)] == list(FOLLOW_UPS)
            for hub in hubs:  # both hubs read the one log: one event of each
                kinds = Counter(e["type"] for e in await events(hub, session_id))
                assert kinds["request_reminder"] == 1 and kinds["request_escalated"] == 1
        # Answered through the hub that does not run it: the session ends.
        async with root_of(hubs[1]) as root:
            request_id = await open_request(root, sessions[0])
            answered = await root.post(f"/api/sessions/{sessions[0]}/requests/{request_id}",
                                       json={"value": True})
            assert answered.status_code == 200, answered.text


async def test_a_reminder_due_while_its_hub_is_dead_goes_out_from_the_hub_that_adopts_it(
    hub_procs: StartHub, redis_url: str
) -> None:
    await add_root(redis_url)
    async with run_receiver() as receiver:
        hub_a = hub_procs(TASKS, redis_url=redis_url, hub_id="hub-a", **FAST)
        receiver.secret = await register(hub_a, receiver.url)
        remind, escalate = 1500 * MS, 3000 * MS
        session_id = await start_nudged(hub_a, remind, escalate)

        def created() -> bool:
            return [b["type"] for b in receiver.by_session().get(session_id, [])] == [
                "request.created"]

        await eventually(created, what="request.created")
        opened = epoch(receiver.by_session()[session_id][0]["request"]["created_at"])
        hub_a.kill()
        await eventually(lambda: time.time() - opened >= remind, timeout_ms=remind * 2 / MS)
        hub_b = hub_procs(TASKS, redis_url=redis_url, hub_id="hub-b", **FAST)

        def followed_up() -> bool:
            return len(follow_ups(receiver, session_id)) >= 2

        await eventually(followed_up, timeout_ms=escalate * 6 / MS, what="both follow-ups")
        await eventually(lambda: outbox_empty(redis_url), what="the outbox released")
        reminder, escalation = follow_ups(receiver, session_id)
        assert (reminder["type"], escalation["type"]) == FOLLOW_UPS
        assert reminder["request"]["reminded_at"] and escalation["added"] == ["user:bob"]
        assert escalation["request"]["assignees"] == ["user:root", "user:bob"]
        assert epoch(reminder["at"]) >= opened + remind
        assert epoch(escalation["at"]) >= opened + escalate
        # Each follow-up once (request.created may come again from hub-b, by its id:
        # the kill may have cut hub-a before it recorded that delivery).
        ids = Counter(a.id for a in receiver.delivered if a.body["type"] in FOLLOW_UPS)
        assert len(ids) == 2 and set(ids.values()) == {1}, ids
        assert receiver.bad_signatures == 0
        kinds = Counter(e["type"] for e in await events(hub_b, session_id))
        assert kinds["request_reminder"] == 1 and kinds["request_escalated"] == 1
        log_b = "\n".join(hub_b.log)
        assert "Traceback" not in log_b, log_b
