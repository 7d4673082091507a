"""Secret answers (``SecretStr`` fields, ``password`` fields) reach the task in clear, on
the live run and after a resume on another hub, and appear in clear nowhere else: not in
an event, an HTTP answer, a log line, or anything the store holds."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import redis.asyncio as aioredis
from pydantic import BaseModel, SecretStr

from tests.integration.test_resume import hub_on
from tests.support.server import new_user, same_user_on
from tests.support.tabs import all_events, answer, wait_pending, wait_status
from tether import Context, Hub

SECRET = "hunter2-correct-horse"


class Login(BaseModel):
    account: str
    password: SecretStr


def secret_hub() -> Hub:
    hub = Hub()

    @hub.task(title="Sign in", description="Asks for a password.")
    async def sign_in(ctx: Context) -> dict[str, Any]:
        login = await ctx.ask(Login, prompt="Sign in")
        pin = {"name": "pin", "description": "PIN", "type": "password", "required": True}
        fields = await ctx.ask([pin], prompt="PIN")
        await ctx.confirm("Go on?")  # resumed on another hub here
        return {
            "model": isinstance(login.password, SecretStr)
            and login.password.get_secret_value() == SECRET,
            "field": fields["pin"] == SECRET[::-1],
            "account": login.account,
        }

    return hub


async def stored_text(redis_url: str) -> str:
    """Every value Redis holds, as one text."""
    client = aioredis.from_url(redis_url, decode_responses=True)
    parts: list[str] = []
    try:
        async for key in client.scan_iter():
            kind = await client.type(key)
            if kind == "string":
                parts.append(str(await client.get(key)))
            elif kind == "hash":
                parts.append(repr(await client.hgetall(key)))
            elif kind == "list":
                parts.append(repr(await client.lrange(key, 0, -1)))
            elif kind == "zset":
                parts.append(repr(await client.zrange(key, 0, -1)))
            elif kind == "stream":
                parts.append(repr(await client.xrange(key)))
            elif kind == "set":
                parts.append(repr(await client.smembers(key)))
    finally:
        await client.aclose()
    return "\n".join(parts)


async def test_secret_fields_reach_the_task_and_nothing_else(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with hub_on(redis_url, secret_hub(), "hub-a") as hub_a, new_user(hub_a) as user:
        sid = (await user.start("sign_in"))["id"]
        ask = (await wait_pending(user, sid, "input"))[0]
        login = {"account": "ada", "password": SECRET}
        response = await answer(user, sid, ask["request_id"], login)
        assert response.status_code == 200 and SECRET not in response.text
        pin = (await wait_pending(user, sid, "input"))[0]
        assert (await answer(user, sid, pin["request_id"], {"pin": SECRET[::-1]})).status_code \
            == 200
        await wait_pending(user, sid, "confirm")
        async with hub_on(redis_url, secret_hub(), "hub-b") as hub_b:
            await hub_a.stop()  # hub B replays both answers from the journal
            async with same_user_on(hub_b, user) as user_b:
                confirm = (await wait_pending(user_b, sid, "confirm"))[0]
                assert (await answer(user_b, sid, confirm["request_id"], True)).status_code \
                    == 200
                final = await wait_status(user_b, sid)
                events = await all_events(user_b, sid)
                session_text = (await user_b.http.get(f"/api/sessions/{sid}")).text
    assert final["status"] == "completed", final["error"]
    assert final["result"] == {"model": True, "field": True, "account": "ada"}
    answered = [e for e in events if e["type"] == "request_answered"]
    assert answered[0]["value"] == {"account": "ada", "password": "**********"}
    assert answered[1]["value"] == {"pin": "**********"}
    for secret in (SECRET, SECRET[::-1]):
        assert secret not in str(events)
        assert secret not in session_text
        assert secret not in caplog.text
        assert secret not in await stored_text(redis_url)
