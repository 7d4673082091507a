"""``GET /api/sessions``: the caller's sessions, newest first, a page at a time through the
``before=`` cursor (PROTOCOL.md §2), on both stores."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.support.server import User
from tests.support.tabs import wait_pending, wait_status
from tether import Context, Hub

hub_def = Hub()  # served by the `hub` fixture (tests/integration/conftest.py)


@hub_def.task()
async def done_at_once(ctx: Context) -> str:
    """Completes straight away."""
    return "done"


@hub_def.task()
async def asks(ctx: Context) -> bool:
    """Waits for one confirmation."""
    return await ctx.confirm("Go on?")


async def pages(user: User, **params: Any) -> list[list[str]]:
    """Every page of the listing, following ``next`` into ``before=`` until it is null."""
    out: list[list[str]] = []
    before: str | None = None
    while True:
        query = {**params, **({"before": before} if before is not None else {})}
        response = await user.http.get("/api/sessions", params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        out.append([s["id"] for s in body["sessions"]])
        before = body["next"]
        if before is None:
            return out
        assert len(out) < 50, "the cursor never ran out"


async def test_before_pages_through_every_session_once_newest_first(user: User) -> None:
    """Five sessions in pages of two: 2, 2, 1, each session once, in the order of the
    one-page listing (newest first), and the last page's ``next`` is null."""
    started = [(await user.start("done_at_once"))["id"] for _ in range(5)]
    for sid in started:
        await wait_status(user, sid)
    whole = (await user.http.get("/api/sessions", params={"limit": 100})).json()
    assert whole["next"] is None
    newest_first = [s["id"] for s in whole["sessions"]]
    assert sorted(newest_first) == sorted(started)
    assert newest_first == started[::-1]
    paged = await pages(user, limit=2)
    assert [len(page) for page in paged] == [2, 2, 1]
    assert [sid for page in paged for sid in page] == newest_first


async def test_before_pages_within_a_status_filter(user: User) -> None:
    """With ``status=``, the pages hold only the matching sessions, each once."""
    waiting = []
    for index in range(6):
        sid = (await user.start("asks" if index % 2 else "done_at_once"))["id"]
        if index % 2:
            waiting.append(sid)
    await asyncio.gather(*(wait_pending(user, sid, "confirm") for sid in waiting))
    paged = await pages(user, limit=2, status="waiting")
    assert [sid for page in paged for sid in page] == waiting[::-1]
    assert all(len(page) <= 2 for page in paged)
