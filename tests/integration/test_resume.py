"""Resume in one process: hub A stops gracefully mid-session (its leases released), hub B
on the same Redis adopts the session and replays it. Fast, in-process counterparts of the
kill -9 tests in tests/e2e, aimed at what replay must get exactly right."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

from tests.support.follow import journal_keys
from tests.support.server import RunningHub, new_user, run_hub, same_user_on
from tests.support.tabs import all_events, answer, wait_pending, wait_status
from tests.support.timing import eventually
from tether import Context, Hub
from tether.config import Settings
from tether.demos import build_demo_hub


def mapped_hub(calls: Counter[str]) -> Hub:
    hub = Hub()

    @hub.task(title="Mapped", description="Items report through the enclosing context.")
    async def mapped(ctx: Context) -> list[int]:
        async def item(item_ctx: Context, index: int) -> int:
            calls[f"item{index}"] += 1
            # The enclosing ctx, not item_ctx: counted per item all the same.
            await ctx.progress(index + 1, 4, label=f"item {index}")
            if not await item_ctx.confirm(f"Keep item {index}?"):
                return 0
            await ctx.markdown(f"kept {index}")
            return index * 10

        values = await ctx.map(item, range(4), concurrency=4)
        await ctx.markdown("all done")
        return values

    return hub


@contextlib.asynccontextmanager
async def hub_on(redis_url: str, hub: Hub, hub_id: str) -> AsyncIterator[RunningHub]:
    settings = Settings(
        redis_url=redis_url, static_dir=None, hub_id=hub_id, secret="shared", lease_seconds=30
    )
    async with run_hub(settings, hub) as running:
        yield running


def signature(event: dict[str, Any]) -> tuple[Any, ...]:
    """What makes an event itself, whatever its seq and time."""
    return tuple(sorted((k, str(v)) for k, v in event.items() if k not in ("seq", "ts")))


async def items_recorded(redis_url: str, session_id: str, count: int) -> bool:
    """``count`` ctx.map items have their result in the journal."""
    keys = await journal_keys(redis_url, session_id)
    return sum(key.endswith("]") for key in keys) == count


def item_of(request: dict[str, Any]) -> int:
    return int(request["prompt"].removeprefix("Keep item ").removesuffix("?"))


async def test_calls_on_an_enclosing_context_inside_map_items_replay_exactly(
    redis_url: str,
) -> None:
    """Items that stream through the task's own ctx are replayed without a lost or a
    doubled event, even though items interleave differently on every run."""
    calls: Counter[str] = Counter()
    async with hub_on(redis_url, mapped_hub(calls), "hub-a") as hub_a:
        async with new_user(hub_a) as user:
            sid = (await user.start("mapped"))["id"]
            opened = await wait_pending(user, sid, "confirm", count=4)
            for request in opened[:2]:
                assert (await answer(user, sid, request["request_id"], True)).status_code == 200
            await wait_pending(user, sid, "confirm", count=2)
            await eventually(lambda: items_recorded(redis_url, sid, 2), what="2 items recorded")
            assert calls == {f"item{i}": 1 for i in range(4)}
            async with hub_on(redis_url, mapped_hub(calls), "hub-b") as hub_b:
                await hub_a.stop()  # graceful: runners stopped, leases released
                async with same_user_on(hub_b, user) as user_b:
                    left = await wait_pending(user_b, sid, "confirm", count=2)
                    assert {r["request_id"] for r in left} == {
                        r["request_id"] for r in opened[2:]
                    }
                    for request in left:
                        response = await answer(user_b, sid, request["request_id"], False)
                        assert response.status_code == 200
                    final = await wait_status(user_b, sid)
                    events = await all_events(user_b, sid)
    assert final["status"] == "completed"
    expected = [0] * 4
    for request in opened[:2]:
        expected[item_of(request)] = item_of(request) * 10
    assert final["result"] == expected
    # The items that had returned on A are not run again on B; the two still asking
    # were running when A stopped, so their bodies ran once more to reach the question.
    answered_on_a = {item_of(r) for r in opened[:2]}
    assert calls == {f"item{i}": 1 if i in answered_on_a else 2 for i in range(4)}
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    signatures = [signature(e) for e in events if e["type"] != "status"]
    assert len(signatures) == len(set(signatures)), "an event was emitted twice"
    assert sum(e["type"] == "progress" for e in events) == 4
    assert sum(e["type"] == "request_confirmation" for e in events) == 4
    assert [e["content"] for e in events if e["type"] == "markdown"][-1] == "all done"


async def test_email_demo_resumed_at_its_retry_offer_succeeds_on_the_retry(
    redis_url: str,
) -> None:
    """The demo's send fails on attempt 1 only (ctx.attempt): a session resumed while the
    retry offer is open goes on with attempt 2, which succeeds — no second failure."""
    inputs = {"step_seconds": 0}
    email = {"subject": "Hi", "body": "Body", "to_address": "ana@example.com"}
    async with hub_on(redis_url, build_demo_hub(), "hub-a") as hub_a:
        async with new_user(hub_a) as user:
            sid = (await user.start("email_demo", inputs))["id"]
            ask = (await wait_pending(user, sid, "input"))[0]
            assert (await answer(user, sid, ask["request_id"], email)).status_code == 200
            retry = (await wait_pending(user, sid, "retry"))[0]
            async with hub_on(redis_url, build_demo_hub(), "hub-b") as hub_b:
                await hub_a.stop()
                async with same_user_on(hub_b, user) as user_b:
                    again = (await wait_pending(user_b, sid, "retry"))[0]
                    assert again["request_id"] == retry["request_id"]
                    response = await answer(user_b, sid, retry["request_id"], True)
                    assert response.status_code == 200
                    confirm = (await wait_pending(user_b, sid, "confirm"))[0]
                    response = await answer(user_b, sid, confirm["request_id"], True)
                    assert response.status_code == 200
                    final = await wait_status(user_b, sid)
                    events = await all_events(user_b, sid)
    assert final["status"] == "completed" and final["result"] == email
    assert sum(e["type"] == "task_failed" for e in events) == 1
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
