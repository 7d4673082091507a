"""Lone UTF-16 surrogates (``"\\ud800"`` in JSON) cannot be encoded as UTF-8, so nothing
that carries one may reach a frame, the store or a response: the hub refuses them where
they come in, with ``invalid_message``, and the connection keeps going."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import BaseModel

from tests.support.server import RunningHub, User, run_hub
from tests.support.tabs import Tab
from tether import Context, Hub
from tether.config import Settings

hub_def = Hub()


class Note(BaseModel):
    text: str


@hub_def.task()
async def take_note(ctx: Context) -> dict[str, Any]:
    """Asks for free text once."""
    note = await ctx.ask(Note, prompt="A note")
    return {"text": note.text}


@pytest.fixture
async def hub(store_url: str | None) -> AsyncIterator[RunningHub]:
    async with run_hub(Settings(redis_url=store_url, static_dir=None), hub_def) as running:
        yield running


LONE = "\\ud800"  # as the JSON text carries it: an escape of half a surrogate pair


async def test_lone_surrogate_in_ref_is_refused_and_the_socket_stays_open(user: User) -> None:
    session = await user.start("take_note")
    tab = await Tab.open(user, session["id"])
    await tab.until("request_user_input")
    for frame in (
        f'{{"type": "ping", "ref": "a{LONE}"}}',
        f'{{"type": "cancel", "ref": "{LONE}"}}',
        f'{{"type": "launch", "ref": "{LONE}"}}',
    ):
        await tab.ws.send(frame)
        error = await tab.until("error")
        assert error["code"] == "invalid_message", error
        assert "ref" not in error or error["ref"] is None
        assert "surrogate" in error["message"]
        await tab.ping_pong()
    # A pair that is whole is one character, and is echoed as sent.
    await tab.ws.send('{"type": "ping", "ref": "\\ud83d\\ude00"}')
    await tab.ping_pong()
    await tab.send(type="cancel", ref="\N{GRINNING FACE}")
    ack = await tab.until("ack")
    assert ack["ref"] == "\N{GRINNING FACE}"


async def test_lone_surrogate_in_an_answer_is_refused(user: User) -> None:
    session = await user.start("take_note")
    tab = await Tab.open(user, session["id"])
    ask = await tab.until("request_user_input")
    rid = ask["request_id"]
    await tab.ws.send(
        f'{{"type": "user_input", "request_id": "{rid}", "values": {{"text": "x{LONE}"}}}}'
    )
    error = await tab.until("error")
    assert error["code"] == "invalid_message", error
    await tab.ping_pong()
    # Over HTTP too, and the request stays open for a valid answer.
    response = await user.http.post(
        f"/api/sessions/{session['id']}/requests/{rid}",
        content=f'{{"value": {{"text": "{LONE}"}}}}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_message"
    await tab.send(type="user_input", request_id=rid, values={"text": "fine"})
    done = await tab.until("task_completed")
    assert done["result"] == {"text": "fine"}


async def test_lone_surrogate_in_inputs_or_a_key_is_refused(user: User) -> None:
    for body in (
        f'{{"task": "take_note", "inputs": {{"{LONE}": 1}}}}',
        f'{{"task": "take{LONE}", "inputs": {{}}}}',
    ):
        response = await user.http.post(
            "/api/sessions", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "invalid_message"
