"""``GET /metrics`` of real hubs (memory store and a real Redis), scraped and parsed with
prometheus_client's own parser after real sessions: ask and answer, streamed events, open
WebSockets, a reconnect with replay, an expiry, a 4008 close, a lease taken over by a
second hub, and notifications delivered to a real webhook receiver and a real SMTP
server. Each value is checked against what the clients themselves saw."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import BaseModel

from tests.support.scrape import Scrape, scrape
from tests.support.server import RunningHub, User, new_user, run_hub, same_user_on
from tests.support.smtp_server import smtp_server
from tests.support.tabs import (
    Tab,
    all_events,
    close_code,
    connect_raw,
    slow_tab_closed_4008,
    wait_status,
)
from tests.support.timing import MS, eventually, until
from tests.support.webhook_receiver import run_receiver
from tether import Context, Hub
from tether.accounts import open_directory
from tether.config import Settings
from tether.credentials import new_token, token_digest
from tether.users import UserRecord

hub_def = Hub()
TASK = "lines_then_confirm"


class Lines(BaseModel):
    count: int = 30


@hub_def.task()
async def lines_then_confirm(ctx: Context, inputs: Lines) -> str:
    """Streams ``count`` lines, waits for "Go on?", streams one more line."""
    for i in range(inputs.count):
        await ctx.stream(f"line {i}")
    await ctx.confirm("Go on?")
    await ctx.stream("after the answer")
    return "done"


@hub_def.task()
async def quick_question(ctx: Context) -> bool:
    """A question nobody answers in time: it expires into its default."""
    return await ctx.confirm("Quick?", timeout=300 * MS, default=False)


@hub_def.task()
async def burst(ctx: Context, inputs: Lines) -> int:
    """After "Go?", ``count`` lines of 16 KiB, two per batch: more than a tab that
    stops reading takes into its socket buffers and its send queue together."""
    await ctx.confirm("Go?")
    padding = "x" * 16384
    for i in range(inputs.count):
        await ctx.stream(f"burst {i} {padding}")
        if i % 2 == 1:  # stored in small batches, each of them within the send queue
            await ctx.step("stored", lambda: None)
    return inputs.count


async def metrics_of(user: User) -> Scrape:
    return await scrape(user.http)


def replayed_by(tab: Tab) -> int:
    """How many events ``tab``'s replay brought it up to date by."""
    [complete] = [c for c in tab.controls if c["type"] == "replay_complete"]
    return int(complete["last_seq"]) - tab.after


async def test_a_session_through_ask_stream_replay_and_answer_moves_every_count(
    hub: RunningHub, user: User
) -> None:
    """Sessions by status, open sockets, events appended and delivered, replays, the
    request's wait and the answer-to-resume latency, each as the clients saw them."""
    session = await user.start(TASK, {"count": 30})
    sid = session["id"]
    first = await Tab.open(user, sid)
    confirm = await first.until("request_confirmation")
    await first.seen_or_until("status", status="waiting")  # the last event before the answer
    if not first.replay_done:
        await first.until("replay_complete")

    async def waiting() -> Scrape | None:
        found = await metrics_of(user)
        return found if found.value("tether_sessions", task=TASK, status="waiting") == 1 else None

    during = await until(waiting, what="the session counted as waiting")
    assert during.value("tether_sessions", task=TASK, status="running") == 0
    assert during.value("tether_sessions_started_total", task=TASK) == 1
    assert during.value("tether_websockets_open") == 1
    [info] = during.families["tether_hub_info"].samples
    assert info.value == 1 and info.labels["hub"] and info.labels["version"]

    await first.ws.close()
    await eventually(lambda: _open_sockets(user, 0), what="the closed socket uncounted")

    again = await Tab.open(user, sid, after=10)
    await again.until("replay_complete")
    await again.send(type="confirm", request_id=confirm["request_id"], value=True, ref="go")
    await again.until("task_completed")
    final = await wait_status(user, sid)
    if again.last_seq < final["last_seq"]:
        await again.until("status", status="completed")
    assert again.last_seq == final["last_seq"]

    after = await metrics_of(user)
    events = await all_events(user, sid)
    # Every event but the status changes (which the store derives) was written by the hub.
    written = [e for e in events if e["type"] != "status"]
    assert after.value("tether_events_appended_total", task=TASK) == len(written)
    # Each event frame the tabs read was counted once, replayed or live.
    assert after.value("tether_events_delivered_total") == len(first.events) + len(again.events)
    assert after.value("tether_replay_duration_seconds_count") == 2
    assert 0 < after.value("tether_replay_duration_seconds_sum") < 30
    assert after.value("tether_events_replayed_total") == replayed_by(first) + replayed_by(again)
    waited = {"task": TASK, "kind": "confirm", "outcome": "answered"}
    assert after.value("tether_request_wait_seconds_count", **waited) == 1
    assert 0 <= after.value("tether_request_wait_seconds_sum", **waited) < 60
    assert after.value("tether_answer_resume_seconds_count", task=TASK) == 1
    assert 0 <= after.value("tether_answer_resume_seconds_sum", task=TASK) < 30
    assert after.value("tether_sessions_finished_total", task=TASK, status="completed") == 1
    assert after.value("tether_sessions", task=TASK) == 0
    assert after.value("tether_websockets_open") == 1
    assert after.value("tether_store_round_trip_seconds_count") >= 1  # the first lease round
    assert after.value("tether_websocket_closes_total") == 0  # the client closed, not the hub


async def _open_sockets(user: User, count: int) -> bool:
    return (await metrics_of(user)).value("tether_websockets_open") == count


async def test_an_expired_request_is_timed_as_expired(hub: RunningHub, user: User) -> None:
    session = await user.start("quick_question")
    assert (await wait_status(user, session["id"]))["result"] is False
    found = await metrics_of(user)
    expired = {"task": "quick_question", "kind": "confirm", "outcome": "expired"}
    assert found.value("tether_request_wait_seconds_count", **expired) == 1
    assert found.value("tether_request_wait_seconds_sum", **expired) >= 0.3 * 1000 * MS * 0.9
    assert found.value("tether_request_wait_seconds_count", outcome="answered") == 0


@pytest.fixture
async def small_queue_hub() -> AsyncIterator[RunningHub]:
    """A send queue of 4 frames: a batch of 40 events overflows any tab's."""
    async with run_hub(Settings(static_dir=None, send_queue=4), hub_def) as running:
        yield running


async def test_closes_are_counted_by_code_4008_among_them(small_queue_hub: RunningHub) -> None:
    async with new_user(small_queue_hub) as user:
        sid = (await user.start("burst", {"count": 200}))["id"]
        # A tab that reads nothing while the burst runs: its send queue overflows, and
        # the hub closes it.
        tab = await slow_tab_closed_4008(user, sid)
        await wait_status(user, sid)  # the burst went out while the tab read nothing
        assert await tab.closed_with(timeout=30) == 4008
        unknown = await connect_raw(user, "0" * 28, "?after=0")
        assert await close_code(unknown) == 4404
        await wait_status(user, sid)
        found = await metrics_of(user)
        assert found.value("tether_websocket_closes_total", code="4008") == 1
        assert found.value("tether_websocket_closes_total", code="4404") == 1
        assert found.value("tether_websocket_closes_total") == 2
        assert found.value("tether_websockets_open") == 0


async def test_a_hub_that_takes_over_a_released_session_counts_the_takeover(
    redis_url: str,
) -> None:
    """Hub A stops with a session waiting; hub B (same Redis) takes its lease and resumes
    it, and counts one takeover, one resume and the waiting session as its own."""
    settings = Settings(redis_url=redis_url, static_dir=None, lease_seconds=1.0,
                        secret="metrics-test-secret")
    async with run_hub(settings.with_(hub_id="hub-a"), hub_def) as hub_a, \
            run_hub(settings.with_(hub_id="hub-b"), hub_def) as hub_b, \
            new_user(hub_a) as on_a, same_user_on(hub_b, on_a) as on_b:
        sid = (await on_a.start(TASK, {"count": 3}))["id"]
        await wait_status(on_a, sid, ("waiting",))
        assert (await metrics_of(on_b)).value("tether_lease_takeovers_total") == 0
        await hub_a.stop()

        async def resumed_on_b() -> Scrape | None:
            found = await metrics_of(on_b)
            waiting = found.value("tether_sessions", task=TASK, status="waiting")
            return found if waiting == 1 else None

        found = await until(resumed_on_b, what="hub B running the session, waiting again")
        assert found.value("tether_lease_takeovers_total") == 1
        assert found.value("tether_session_resumes_total", task=TASK) == 1
        assert found.value("tether_sessions_started_total", task=TASK) == 0


ROOT_TOKEN = new_token()


async def test_webhook_and_mail_deliveries_and_failures_are_counted(tmp_path: Path) -> None:
    """A webhook that fails once, then takes every notification; a question assigned to
    two people, one of whom the mail server refuses for good."""
    async with run_receiver(fail_first=1) as receiver, smtp_server() as smtp:
        smtp.refuse("bob@example.com")
        settings = Settings(
            users_file=tmp_path / "users.toml", static_dir=None,
            webhook_retry_base=0.05, webhook_retry_cap=0.2,
            smtp_url=f"smtp://127.0.0.1:{smtp.port}", mail_from="tether@hub.example",
        )
        directory = open_directory(settings)
        await directory.add(UserRecord(name="root", admin=True))
        await directory.add_token("root", token_digest(ROOT_TOKEN))
        await directory.add(UserRecord(name="alice", email="alice@example.com"))
        await directory.add(UserRecord(name="bob", email="bob@example.com"))
        await directory.close()
        notifying = Hub()

        @notifying.task()
        async def ship(ctx: Context) -> bool:
            return await ctx.confirm("Ship it?", assignees=["user:alice", "user:bob"])

        async with run_hub(settings, notifying) as running, httpx.AsyncClient(
            base_url=running.base_url, timeout=10,
            headers={"Authorization": f"Bearer {ROOT_TOKEN}"},
        ) as root:
            made = await root.post("/api/webhooks", json={
                "url": receiver.url, "events": ["request.created"]})
            assert made.status_code == 201, made.text
            receiver.secret = made.json()["secret"]
            started = await root.post("/api/sessions", json={"task": "ship", "inputs": {}})
            assert started.status_code == 201, started.text
            await smtp.wait_for(1)

            async def delivered() -> Scrape | None:
                found = await scrape(root)
                done = found.value("tether_notification_deliveries_total", outcome="delivered")
                return found if done == 2 else None  # the webhook's and the mail's

            found = await until(delivered, what="both channels delivering")
            hook = {"channel": "webhook"}
            assert len(receiver.attempts) == 2
            assert found.value("tether_notification_deliveries_total", **hook,
                               outcome="retrying") == 1
            assert found.value("tether_notification_deliveries_total", **hook,
                               outcome="delivered") == 1
            assert found.value("tether_notification_deliveries_total", channel="email",
                               outcome="delivered") == 1
            assert found.value("tether_notification_deliveries_total", outcome="failed") == 0
            assert found.value("tether_mails_total", outcome="sent") == len(smtp.mails) == 1
            assert found.value("tether_mails_total", outcome="refused") == 1
