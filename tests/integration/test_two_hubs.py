"""Two hubs on one Redis (and on a Redis Cluster), both live: whichever hub a person
reaches, they are the same person, and what they send reaches the task on the hub that
runs it.

Each hub is a whole app (its own store connections, feed, runners and lease keeper) in
this process; the e2e tests do the same with separate processes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from pydantic import BaseModel

from tests.support.follow import runner_of
from tests.support.server import RunningHub, new_user, run_hub, same_user_on
from tests.support.stores import redis_and_cluster
from tests.support.tabs import Tab, answer, get_session, wait_pending, wait_status
from tether import Context, Hub
from tether.config import Settings

COOKIE = "tether_user"
redis_url = redis_and_cluster


class Address(BaseModel):
    street: str
    zip_code: int


def build_hub() -> Hub:
    hub = Hub()

    @hub.task(title="Two answers", description="A confirmation, then a form, then a wait.")
    async def two_answers(ctx: Context) -> None:
        go = await ctx.confirm("Go on?")
        address = await ctx.ask(Address, prompt="Where to?")
        await ctx.stream(f"go={go} street={address.street} zip={address.zip_code}")
        await asyncio.Event().wait()  # until cancelled

    return hub


@contextlib.asynccontextmanager
async def hub_on(redis_url: str | None, hub_id: str) -> AsyncIterator[RunningHub]:
    """A hub with no TETHER_SECRET: it takes the one the store shares (or makes one)."""
    settings = Settings(redis_url=redis_url, static_dir=None, hub_id=hub_id, secret=None)
    async with run_hub(settings, build_hub()) as running:
        yield running


async def test_hubs_without_a_secret_share_the_one_generated_in_redis(redis_url: str) -> None:
    """Neither hub has TETHER_SECRET: the first one's generated secret is stored in Redis
    and the second signs with it, so a cookie from A is accepted by B as is (no new
    identity is issued) and the session started on A is the same person's on B. A hub on
    another store generates its own and does not accept the cookie."""
    async with hub_on(redis_url, "hub-a") as hub_a, hub_on(redis_url, "hub-b") as hub_b:
        async with new_user(hub_a) as user:
            signed = user.http.cookies[COOKIE]
            sid = (await user.start("two_answers"))["id"]
            async with same_user_on(hub_b, user) as on_b:
                response = await on_b.http.get("/api/tasks")
                assert response.status_code == 200
                assert COOKIE not in response.cookies, "B issued a new identity"
                assert (await get_session(on_b, sid))["owner"] == (
                    await get_session(user, sid)
                )["owner"]
                assert on_b.http.cookies[COOKIE] == signed
    async with hub_on(None, "hub-c") as hub_c, same_user_on(hub_c, user) as on_c:
        response = await on_c.http.get("/api/tasks")
        assert response.status_code == 200
        assert COOKIE in response.cookies, "a hub with another secret accepted the cookie"


async def test_answers_and_a_cancel_sent_through_b_reach_the_task_running_on_a(
    redis_url: str,
) -> None:
    """The task runs on A. A confirmation answered over a WebSocket on B, a form (a
    pydantic model B does not hold live) answered over HTTP on B, then a cancel over HTTP
    on B: A's task gets each, the store names A as the runner throughout, and the
    session ends cancelled."""
    async with hub_on(redis_url, "hub-a") as hub_a, hub_on(redis_url, "hub-b") as hub_b:
        async with new_user(hub_a) as user, same_user_on(hub_b, user) as on_b:
            sid = (await user.start("two_answers"))["id"]
            watcher = await Tab.open(user, sid)  # on A
            [confirm] = await wait_pending(on_b, sid, "confirm")
            tab_b = await Tab.open(on_b, sid)
            await tab_b.until("replay_complete")
            await tab_b.send(type="confirm", request_id=confirm["request_id"], value=True,
                             ref="c")
            assert (await tab_b.until("ack"))["ref"] == "c"
            [form] = await wait_pending(on_b, sid, "input")
            response = await answer(on_b, sid, form["request_id"],
                                    {"street": "Main St", "zip_code": "1234"})
            assert response.status_code == 200, response.text
            await watcher.until("stream", content="go=True street=Main St zip=1234")
            assert await runner_of(redis_url, sid) == "hub-a"

            response = await on_b.http.post(f"/api/sessions/{sid}/cancel")
            assert response.status_code == 202, response.text
            final = await wait_status(user, sid)
            assert final["status"] == "cancelled", final
            await watcher.seen_or_until("task_cancelled", reason="cancelled")
            assert await runner_of(redis_url, sid) == "hub-a"
