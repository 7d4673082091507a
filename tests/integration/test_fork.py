"""``POST /api/sessions/{id}/fork``: a new session whose past is the source's up to a seq.

The task here asks two questions around two recorded steps and counts every step body
call, so a test can tell a recorded result from a re-run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support.server import RunningHub, User, new_user, run_hub
from tests.support.tabs import all_events, answer, get_session, wait_pending, wait_status
from tether import Context, Hub
from tether.config import Settings

WHO = [{"name": "name", "description": "Your name", "type": "string", "required": True}]
MOOD = [{"name": "mood", "description": "How you are", "type": "string", "required": True}]


def build_hub(calls: Counter[str]) -> Hub:
    hub = Hub()

    def prepare() -> str:
        calls["prepare"] += 1
        return "Hello"

    def compose(greeting: str, name: str, mood: str) -> str:
        calls["compose"] += 1
        return f"{greeting} {name}, glad you are {mood}."

    @hub.task(title="Interview", description="Two questions between two recorded steps.")
    async def interview(ctx: Context) -> dict[str, Any]:
        greeting = await ctx.step("prepare", prepare)
        who = await ctx.ask(WHO, prompt="Who are you?")
        mood = await ctx.ask(MOOD, prompt="How are you?")
        line = await ctx.step("compose", compose, greeting, who["name"], mood["mood"])
        return {"line": line}

    return hub


@pytest.fixture(params=["memory", "redis"])
async def setup(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[RunningHub, Counter[str]]]:
    url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    calls: Counter[str] = Counter()
    async with run_hub(Settings(redis_url=url, static_dir=None), build_hub(calls)) as running:
        yield running, calls


@pytest.fixture
async def user(setup: tuple[RunningHub, Counter[str]]) -> AsyncIterator[User]:
    async with new_user(setup[0]) as u:
        yield u


async def answer_open(user: User, session_id: str, prompt: str, value: dict[str, str]) -> None:
    """Wait for the one open input request, check its prompt, answer it."""
    [request] = await wait_pending(user, session_id, "input")
    assert request["prompt"] == prompt, request
    response = await answer(user, session_id, request["request_id"], value)
    assert response.status_code == 200, response.text


async def completed_interview(user: User) -> tuple[str, list[dict[str, Any]]]:
    """Run the interview to the end (Ada, well); return its id and its log."""
    session_id = (await user.start("interview"))["id"]
    await answer_open(user, session_id, "Who are you?", {"name": "Ada"})
    await answer_open(user, session_id, "How are you?", {"mood": "well"})
    session = await wait_status(user, session_id)
    assert session["result"] == {"line": "Hello Ada, glad you are well."}
    return session_id, await all_events(user, session_id)


def asked(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in log if e["type"] == "request_user_input"]


async def fork(user: User, session_id: str, body: dict[str, Any] | None = None) -> Any:
    return await user.http.post(f"/api/sessions/{session_id}/fork", json=body)


async def test_fork_at_the_first_request_asks_it_again_and_keeps_earlier_steps(
    setup: tuple[RunningHub, Counter[str]], user: User
) -> None:
    """Forked at the first question: that question is asked again (same kind and prompt),
    the step before it is not re-run, and a different answer changes the result."""
    _, calls = setup
    source, log = await completed_interview(user)
    first = asked(log)[0]
    response = await fork(user, source, {"at_seq": first["seq"]})
    assert response.status_code == 201, response.text
    forked = response.json()
    assert forked["id"] != source and forked["task"] == "interview"
    origin = {"session_id": source, "at_seq": first["seq"]}
    assert forked["forked_from"] == origin
    assert (await get_session(user, forked["id"]))["forked_from"] == origin
    assert (await get_session(user, source))["forked_from"] is None

    await answer_open(user, forked["id"], first["prompt"], {"name": "Grace"})
    await answer_open(user, forked["id"], "How are you?", {"mood": "curious"})
    session = await wait_status(user, forked["id"])
    assert session["status"] == "completed"
    assert session["result"] == {"line": "Hello Grace, glad you are curious."}
    assert calls == {"prepare": 1, "compose": 2}
    again = asked(await all_events(user, forked["id"]))
    assert [(e["prompt"], e["fields"]) for e in again] == [
        (e["prompt"], e["fields"]) for e in asked(log)
    ]


async def test_fork_at_the_second_request_keeps_the_first_answer(
    setup: tuple[RunningHub, Counter[str]], user: User
) -> None:
    """Forked at the second question: the first answer stands (not asked again), only
    the second question is open."""
    _, calls = setup
    source, log = await completed_interview(user)
    second = asked(log)[1]
    forked = (await fork(user, source, {"at_seq": second["seq"]})).json()
    await answer_open(user, forked["id"], "How are you?", {"mood": "tired"})
    session = await wait_status(user, forked["id"])
    assert session["result"] == {"line": "Hello Ada, glad you are tired."}
    assert calls == {"prepare": 1, "compose": 2}
    forked_log = await all_events(user, forked["id"])
    answered_by_fork = [e for e in forked_log if e["type"] == "request_answered"]
    assert [a["value"] for a in answered_by_fork] == [{"name": "Ada"}, {"mood": "tired"}]


async def test_fork_now_of_a_finished_session_replays_to_the_same_result(
    setup: tuple[RunningHub, Counter[str]], user: User
) -> None:
    """A fork without a body (= now) of a completed session completes with the same
    result, asks nothing and re-runs no step; its log shows each recorded exchange."""
    _, calls = setup
    source, _ = await completed_interview(user)
    response = await user.http.post(f"/api/sessions/{source}/fork")
    assert response.status_code == 201, response.text
    session = await wait_status(user, response.json()["id"])
    assert session["status"] == "completed", session
    assert session["result"] == {"line": "Hello Ada, glad you are well."}
    assert calls == {"prepare": 1, "compose": 1}
    forked_log = await all_events(user, session["id"])
    kinds = [e["type"] for e in forked_log]
    shown = asked(forked_log)
    assert [e["prompt"] for e in shown] == ["Who are you?", "How are you?"], kinds
    for request in shown:  # each question shown with its recorded answer next
        index = forked_log.index(request)
        assert forked_log[index + 1]["type"] == "request_answered"
        assert forked_log[index + 1]["request_id"] == request["request_id"]
    answers = [e["value"] for e in forked_log if e["type"] == "request_answered"]
    assert answers == [{"name": "Ada"}, {"mood": "well"}]
    assert "waiting" not in [e.get("status") for e in forked_log], kinds


async def test_a_re_asked_question_starts_with_the_answer_the_source_gave(
    setup: tuple[RunningHub, Counter[str]], user: User
) -> None:
    """Forked at the first question, each question asked again starts pre-filled
    (``initial``) with the source's answer at that point, in the event and in
    Session.pending; the answer the fork gets is still the person's."""
    source, log = await completed_interview(user)
    forked = (await fork(user, source, {"at_seq": asked(log)[0]["seq"]})).json()
    [who] = await wait_pending(user, forked["id"], "input")
    assert (who["prompt"], who.get("initial")) == ("Who are you?", {"name": "Ada"})
    await answer(user, forked["id"], who["request_id"], {"name": "Grace"})
    [mood] = await wait_pending(user, forked["id"], "input")
    assert (mood["prompt"], mood.get("initial")) == ("How are you?", {"mood": "well"})
    await answer(user, forked["id"], mood["request_id"], {"mood": "well"})
    session = await wait_status(user, forked["id"])
    assert session["result"] == {"line": "Hello Grace, glad you are well."}
    events = asked(await all_events(user, forked["id"]))
    assert [e.get("initial") for e in events] == [{"name": "Ada"}, {"mood": "well"}]
    # A fork of the fork at its first question offers the fork's answer, not the source's.
    again = (await fork(user, forked["id"], {"at_seq": events[0]["seq"]})).json()
    [who_again] = await wait_pending(user, again["id"], "input")
    assert who_again.get("initial") == {"name": "Grace"}


async def test_fork_of_another_users_session_is_404(
    setup: tuple[RunningHub, Counter[str]], user: User
) -> None:
    """Nobody can fork a session that is not theirs: 404 unknown_session, as if absent."""
    source, _ = await completed_interview(user)
    async with new_user(setup[0]) as stranger:
        response = await fork(stranger, source, {"at_seq": 1})
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "unknown_session"
        listed = (await stranger.http.get("/api/sessions")).json()["sessions"]
        assert listed == []


@pytest.mark.parametrize("where", ["zero", "past_last_seq"])
async def test_fork_at_a_seq_out_of_range_is_422(
    setup: tuple[RunningHub, Counter[str]], user: User, where: str
) -> None:
    """at_seq must name an event of the source (1..last_seq): 0 or last_seq + 1 is 422
    and creates nothing."""
    source, log = await completed_interview(user)
    at_seq = 0 if where == "zero" else log[-1]["seq"] + 1
    response = await fork(user, source, {"at_seq": at_seq})
    assert response.status_code == 422, response.text
    assert "at_seq" in response.json()["error"].get("fields", {}), response.text
    mine = (await user.http.get("/api/sessions")).json()["sessions"]
    assert [s["id"] for s in mine] == [source], "no session was created"
