"""Per-user quotas, each refused clearly: starts per minute (429 ``too_many_starts`` with
``Retry-After``, shared by the hubs of a store), open sessions (429
``too_many_open_sessions``), WebSockets per user on a hub (close 1013), and the byte budget
of a ``GET /api/sessions`` page (it ends early; ``next`` goes on)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from pydantic import BaseModel

from tests.support.server import RunningHub, User, new_user, run_hub
from tests.support.tabs import Tab, close_code, wait_status
from tether import Context, Hub
from tether.api import MAX_PAGE_BYTES
from tether.config import Settings

hub_def = Hub()


class Payload(BaseModel):
    blob: str = ""


@hub_def.task()
async def hold(ctx: Context, inputs: Payload) -> None:
    """Stays open until answered or cancelled."""
    await ctx.confirm("Done?")


def assert_429(response: httpx.Response, code: str) -> dict[str, Any]:
    assert response.status_code == 429, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code and error["message"]
    return error


async def start(user: User, blob: str = "") -> httpx.Response:
    return await user.http.post("/api/sessions", json={"task": "hold", "inputs": {"blob": blob}})


@contextlib.asynccontextmanager
async def hub_with(store_url: str | None, **changes: Any) -> AsyncIterator[RunningHub]:
    async with run_hub(Settings(redis_url=store_url, static_dir=None, **changes), hub_def) as hub:
        yield hub


async def test_starts_per_minute_are_limited_with_retry_after(store_url: str | None) -> None:
    async with hub_with(store_url, starts_per_minute=3, max_open_sessions=0) as hub, \
            new_user(hub) as user, new_user(hub) as other:
        for _ in range(3):
            assert (await start(user)).status_code == 201
        refused = await start(user)
        assert_429(refused, "too_many_starts")
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert (await start(other)).status_code == 201  # a quota per user


async def test_the_start_quota_is_shared_by_the_hubs_of_a_store(redis_url: str) -> None:
    async with hub_with(redis_url, starts_per_minute=3, max_open_sessions=0) as a, \
            hub_with(redis_url, starts_per_minute=3, max_open_sessions=0) as b, \
            new_user(a) as on_a:
        on_b = User(b, httpx.AsyncClient(base_url=b.base_url, cookies=on_a.http.cookies))
        try:
            assert (await start(on_a)).status_code == 201
            assert (await start(on_b)).status_code == 201
            assert (await start(on_a)).status_code == 201
            assert_429(await start(on_b), "too_many_starts")
        finally:
            await on_b.close()


async def test_open_sessions_are_capped_until_one_finishes(store_url: str | None) -> None:
    async with hub_with(store_url, max_open_sessions=2) as hub, new_user(hub) as user:
        first = (await start(user)).json()
        assert (await start(user)).status_code == 201
        assert_429(await start(user), "too_many_open_sessions")
        cancel = await user.http.post(f"/api/sessions/{first['id']}/cancel")
        assert cancel.status_code == 202
        await wait_status(user, first["id"], "cancelled")
        assert (await start(user)).status_code == 201


async def test_websockets_per_user_are_capped_per_hub(store_url: str | None) -> None:
    async with hub_with(store_url, max_sockets_per_user=2) as hub, \
            new_user(hub) as user, new_user(hub) as other:
        session_id = (await start(user)).json()["id"]
        first = await Tab.open(user, session_id)
        await Tab.open(user, session_id)
        third = await user.connect(session_id)
        assert await close_code(third) == 1013
        assert third.close_reason is not None and "Too many open connections" in third.close_reason
        await first.ws.close()
        # The freed place is taken at once by a new socket.
        again = await Tab.open(user, session_id)
        await again.ping_pong()
        # Other users have their own count: another user's session socket opens (and is
        # refused only for not being theirs, 4404, not for the count).
        assert await close_code(await other.connect(session_id)) == 4404


async def test_a_page_of_large_sessions_ends_early_and_next_goes_on(
    store_url: str | None,
) -> None:
    big = "x" * 700_000  # 700 kB inputs: a page of 20 would be 14 MB
    async with hub_with(store_url, max_open_sessions=0, starts_per_minute=0) as hub, \
            new_user(hub) as user:
        started = [(await start(user, big)).json()["id"] for _ in range(12)]
        seen: list[str] = []
        cursor: str | None = None
        pages = 0
        while True:
            params = {"limit": "100", **({"before": cursor} if cursor else {})}
            response = await user.http.get("/api/sessions", params=params)
            assert response.status_code == 200
            assert len(response.content) <= MAX_PAGE_BYTES + 800_000
            page = response.json()
            seen += [s["id"] for s in page["sessions"]]
            pages += 1
            cursor = page["next"]
            if cursor is None:
                break
        assert seen == started[::-1]  # every session once, newest first
        assert pages >= 3


async def test_the_demo_ticker_is_bounded() -> None:
    """The benchmark demo streams at most 100,000 lines of at most 4 KiB."""
    from tether.demos import build_demo_hub

    async with run_hub(Settings(static_dir=None), build_demo_hub()) as hub, \
            new_user(hub) as user:
        for inputs in ({"count": 100_001}, {"size": 4097}, {"count": 0}):
            response = await user.http.post(
                "/api/sessions", json={"task": "ticker", "inputs": inputs}
            )
            assert response.status_code == 422, (inputs, response.text)
            assert response.json()["error"]["code"] == "invalid_inputs"
