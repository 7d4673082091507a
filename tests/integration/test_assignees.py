"""Assigned requests on a real hub in accounts mode (memory store with a users file, and
Redis): who may answer (HTTP and WebSocket), who may see the session, the inbox of
``GET /api/requests`` with its pages, and a resumed session that keeps its assignees."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from tests.support.accounts import accounts_settings, add_accounts, logged_in
from tests.support.server import RunningHub, User, run_hub
from tests.support.tabs import (
    Tab,
    all_events,
    answer,
    close_code,
    connect_raw,
    get_session,
    wait_pending,
    wait_status,
)
from tether import Context, Hub, Retry
from tether.config import Settings
from tether.users import UserRecord

hub_def = Hub()


class To(BaseModel):
    assignees: list[str] = []
    label: str = ""


@hub_def.task()
async def ask_assigned(ctx: Context, inputs: To) -> dict[str, Any]:
    """One form, asked of ``inputs.assignees``."""
    fields = [{"name": "note", "description": "A note", "type": "string", "required": True}]
    return await ctx.ask(fields, prompt=f"Note {inputs.label}?", assignees=inputs.assignees)


@hub_def.task()
async def confirm_assigned(ctx: Context, inputs: To) -> bool:
    return await ctx.confirm(f"Go {inputs.label}?", assignees=inputs.assignees)


@hub_def.task()
async def retry_assigned(ctx: Context, inputs: To) -> str:
    """Fails once; whether to try again is asked of ``inputs.assignees``."""

    def flaky() -> str:
        if ctx.attempt == 1:
            raise RuntimeError("the first attempt fails")
        return "second time lucky"

    return await ctx.step(
        "flaky", flaky, retry=Retry(attempts=2, ask=True, assignees=inputs.assignees)
    )


@hub_def.task()
async def bad_assignee(ctx: Context) -> bool:
    return await ctx.confirm("Go?", assignees=["bob"])


@pytest.fixture
def settings(store_url: str | None, tmp_path: Path) -> Settings:
    return accounts_settings(store_url, tmp_path, secret="shared", hub_id="hub-a",
                             lease_seconds=30)


ACCOUNTS = (
    UserRecord(name="alice"), UserRecord(name="bob"),
    UserRecord(name="carol", groups=frozenset({"finance"})),
    UserRecord(name="dave", groups=frozenset({"sales"})), UserRecord(name="root", admin=True),
)


@pytest.fixture
async def hub(settings: Settings) -> AsyncIterator[RunningHub]:
    await add_accounts(settings, ACCOUNTS)
    async with run_hub(settings, hub_def) as running:
        yield running


@pytest.fixture
async def people(hub: RunningHub) -> AsyncIterator[dict[str, User]]:
    async with contextlib.AsyncExitStack() as stack:
        yield {name: await stack.enter_async_context(logged_in(hub, name))
               for name in ("alice", "bob", "carol", "dave", "root")}


async def inbox(user: User, **params: Any) -> dict[str, Any]:
    response = await user.http.get("/api/requests", params={"status": "open", **params})
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


async def test_only_the_assignee_answers_and_it_may_see_the_session(
    people: dict[str, User],
) -> None:
    alice, bob, dave = people["alice"], people["bob"], people["dave"]
    sid = (await alice.start("ask_assigned", {"assignees": ["user:bob"]}))["id"]
    [request] = await wait_pending(alice, sid, "input")
    assert request["assignees"] == ["user:bob"]
    rid = request["request_id"]

    refused = await answer(alice, sid, rid, {"note": "mine"})
    assert refused.status_code == 403 and error_code(refused) == "forbidden"
    stranger = await answer(dave, sid, rid, {"note": "theirs"})
    assert stranger.status_code == 404 and error_code(stranger) == "unknown_session"
    assert (await dave.http.get(f"/api/sessions/{sid}")).status_code == 404

    seen = await get_session(bob, sid)  # an assignee sees what it answers
    assert seen["owner"] == "user:alice" and seen["pending"][0]["request_id"] == rid
    assert (await bob.http.get(f"/api/sessions/{sid}/events")).status_code == 200
    assert (await answer(bob, sid, rid, {"note": "approved"})).status_code == 200
    done = await wait_status(alice, sid)
    assert (done["status"], done["result"]) == ("completed", {"note": "approved"})
    [answered] = [e for e in await all_events(alice, sid) if e["type"] == "request_answered"]
    assert answered["by"] == "user:bob"
    opened = [e for e in await all_events(bob, sid) if e["type"] == "request_user_input"]
    assert opened[0]["assignees"] == ["user:bob"]  # a past assignee still sees the session

    for path in ("cancel", "fork"):  # an assignee answers; the session stays alice's
        response = await bob.http.post(f"/api/sessions/{sid}/{path}", json={})
        assert response.status_code == 403 and error_code(response) == "forbidden", path


async def test_a_group_assignee_or_an_admin_answers_and_nobody_else(
    people: dict[str, User],
) -> None:
    alice, bob, carol, root = people["alice"], people["bob"], people["carol"], people["root"]
    to_finance = {"assignees": ["group:finance"]}
    first = (await alice.start("confirm_assigned", to_finance))["id"]
    second = (await alice.start("confirm_assigned", to_finance))["id"]
    for sid, who in ((first, carol), (second, root)):
        [request] = await wait_pending(alice, sid, "confirm")
        rid = request["request_id"]
        assert (await answer(bob, sid, rid, True)).status_code == 404  # not in finance
        assert (await answer(alice, sid, rid, True)).status_code == 403
        assert (await answer(who, sid, rid, True)).status_code == 200
        assert (await wait_status(alice, sid))["result"] is True


async def test_websocket_answers_are_checked_like_http(people: dict[str, User]) -> None:
    alice, bob, dave = people["alice"], people["bob"], people["dave"]
    sid = (await alice.start("confirm_assigned", {"assignees": ["user:bob"]}))["id"]
    [request] = await wait_pending(alice, sid, "confirm")
    owner_tab = await Tab.open(alice, sid)
    await owner_tab.send(type="confirm", request_id=request["request_id"], value=True, ref="a1")
    error = await owner_tab.until("error")
    assert (error["code"], error["ref"]) == ("forbidden", "a1")

    assert await close_code(await connect_raw(dave, sid, "?after=0")) == 4404
    bob_tab = await Tab.open(bob, sid)
    await bob_tab.send(type="confirm", request_id=request["request_id"], value=True, ref="b1")
    assert (await bob_tab.until("ack"))["ref"] == "b1"
    answered = await owner_tab.until("request_answered")
    assert answered["by"] == "user:bob"
    await bob_tab.send(type="cancel", ref="b2")
    assert (await bob_tab.until("error"))["code"] in ("forbidden", "session_finished")


async def test_a_retry_offer_waits_for_its_assignees(people: dict[str, User]) -> None:
    alice, bob = people["alice"], people["bob"]
    sid = (await alice.start("retry_assigned", {"assignees": ["user:bob"]}))["id"]
    [request] = await wait_pending(alice, sid, "retry")
    assert request["assignees"] == ["user:bob"]
    offer = [e for e in await all_events(alice, sid) if e["type"] == "task_failed"]
    assert offer[0]["can_retry"] and offer[0]["assignees"] == ["user:bob"]
    assert (await answer(alice, sid, request["request_id"], True)).status_code == 403
    assert (await answer(bob, sid, request["request_id"], True)).status_code == 200
    assert (await wait_status(alice, sid))["result"] == "second time lucky"


async def test_a_bad_assignee_fails_the_task_naming_it(people: dict[str, User]) -> None:
    alice = people["alice"]
    sid = (await alice.start("bad_assignee"))["id"]
    failed = await wait_status(alice, sid)
    assert failed["status"] == "failed" and failed["error"]["type"] == "ValueError"
    assert "'bob'" in failed["error"]["message"] and "user:<name>" in failed["error"]["message"]


async def test_the_inbox_lists_what_each_caller_may_answer_newest_first_in_pages(
    people: dict[str, User],
) -> None:
    alice, bob, carol, dave = people["alice"], people["bob"], people["carol"], people["dave"]
    to_bob = []
    for n in range(3):
        inputs = {"assignees": ["user:bob"], "label": str(n)}
        sid = (await alice.start("ask_assigned", inputs))["id"]
        await wait_pending(alice, sid, "input")
        to_bob.append(sid)
    both = (await alice.start("confirm_assigned",
                              {"assignees": ["group:finance", "user:bob"]}))["id"]
    await wait_pending(alice, both, "confirm")
    alices = (await alice.start("confirm_assigned", {"label": "own"}))["id"]
    await wait_pending(alice, alices, "confirm")

    page = await inbox(bob)
    assert [item["session_id"] for item in page["requests"]] == [both, *reversed(to_bob)]
    assert page["next"] is None
    first = page["requests"][1]
    assert first["task"] == "ask_assigned" and first["owner"] == "user:alice"
    assert first["title"] and first["summary"] == "label: 2"
    assert first["request"]["kind"] == "input" and first["request"]["prompt"] == "Note 2?"
    assert first["request"]["assignees"] == ["user:bob"] and first["request"]["fields"]
    assert first["opened_at"] == first["request"]["created_at"]

    paged: list[str] = []
    cursor: str | None = None
    for _ in range(5):
        params = {"limit": 2} | ({"before": cursor} if cursor else {})
        step = await inbox(bob, **params)
        paged += [item["session_id"] for item in step["requests"]]
        cursor = step["next"]
        if cursor is None:
            break
    assert paged == [both, *reversed(to_bob)]

    assert [i["session_id"] for i in (await inbox(carol))["requests"]] == [both]
    assert [i["session_id"] for i in (await inbox(alice))["requests"]] == [alices]
    assert (await inbox(dave))["requests"] == []

    rid = page["requests"][0]["request"]["request_id"]
    assert (await answer(carol, both, rid, True)).status_code == 200
    assert [i["session_id"] for i in (await inbox(bob))["requests"]] == list(reversed(to_bob))
    assert (await inbox(carol))["requests"] == []

    for params in ({"status": "answered"}, {"limit": "0"}, {"before": "nonsense"}):
        response = await bob.http.get("/api/requests", params=params)
        assert response.status_code == 422 and error_code(response) == "invalid_query", params


async def test_a_resumed_session_reopens_the_same_request_for_the_same_assignees(
    redis_url: str,
) -> None:
    def settings(hub_id: str) -> Settings:
        return Settings(redis_url=redis_url, static_dir=None, secret="shared",
                        hub_id=hub_id, lease_seconds=30)

    await add_accounts(settings("setup"), ACCOUNTS)
    async with run_hub(settings("hub-a"), hub_def) as hub_a, logged_in(hub_a, "alice") as alice:
        sid = (await alice.start("ask_assigned", {"assignees": ["group:finance"]}))["id"]
        [before] = await wait_pending(alice, sid, "input")
    async with run_hub(settings("hub-b"), hub_def) as hub_b:
        async with logged_in(hub_b, "alice") as alice, logged_in(hub_b, "carol") as carol:
            [after] = await wait_pending(alice, sid, "input")
            assert after == before and after["assignees"] == ["group:finance"]
            listed = (await inbox(carol))["requests"]
            assert [(i["session_id"], i["request"]["request_id"]) for i in listed] == [
                (sid, before["request_id"])
            ]
            refused = await answer(alice, sid, before["request_id"], {"note": "x"})
            assert refused.status_code == 403
            response = await answer(carol, sid, before["request_id"], {"note": "resumed"})
            assert response.status_code == 200, response.text
            assert (await wait_status(alice, sid))["result"] == {"note": "resumed"}
            opened = [e for e in await all_events(alice, sid) if e["type"] == "request_user_input"]
            assert len(opened) == 1, "the resumed run asked nothing again"
