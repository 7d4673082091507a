"""Every demo flow end to end, over WebSocket and over HTTP alone, on both stores.

A real uvicorn serves the demo hub; the WebSocket tabs check every frame's numbering as
they read (see :class:`tests.support.tabs.Tab`).
"""

from __future__ import annotations

from typing import Any

from tests.support.server import User
from tests.support.tabs import (
    Tab,
    all_events,
    answer,
    get_session,
    wait_pending,
    wait_status,
)
from tether.demos import build_demo_hub

EMAIL = {"subject": "Hello", "body": "It works.", "to_address": "ana@example.com"}
BAD_EMAIL = {**EMAIL, "to_address": "not-an-email"}

hub_def = build_demo_hub()  # served by the `hub` fixture (tests/integration/conftest.py)


def streams(events: list[dict[str, Any]]) -> list[str]:
    return [e["content"] for e in events if e["type"] == "stream"]


def assert_consecutive(events: list[dict[str, Any]]) -> None:
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))


# --- email_demo --------------------------------------------------------------------


async def email_demo_until_retry(tab: Tab) -> dict[str, Any]:
    """Drive email_demo over ``tab`` to its retry offer; return the task_failed event."""
    ask = await tab.until("request_user_input")
    assert "Task started!" in streams(tab.events)
    assert {f["name"] for f in ask["fields"]} == {"subject", "body", "to_address"}

    await tab.send(type="user_input", request_id=ask["request_id"], values=BAD_EMAIL, ref="r1")
    error = await tab.until("error")
    assert error["code"] == "invalid_value" and error["ref"] == "r1"
    assert "to_address" in error["fields"]

    await tab.send(type="user_input", request_id=ask["request_id"], values=EMAIL, ref="r2")
    failed = await tab.until("task_failed")
    assert await_ack(tab, "r2")
    assert [s for s in streams(tab.events) if s.startswith("Processing")] == [
        f"Processing email step {i}/5..." for i in range(1, 6)
    ]
    progress = tab.of_type("progress")
    assert [(p["done"], p["total"]) for p in progress] == [(i, 5) for i in range(1, 6)]
    assert failed["can_retry"] is True and failed["attempt"] == 1 and failed["request_id"]
    return failed


def await_ack(tab: Tab, ref: str) -> bool:
    return any(c["type"] == "ack" and c.get("ref") == ref for c in tab.controls)


async def test_email_demo_over_websocket(user: User) -> None:
    """email_demo over one socket: bad email refused with a field error and the request
    stays open; steps stream; retry offered; confirm completes with the submitted values."""
    session = await user.start("email_demo", {"step_seconds": 0})
    tab = await Tab.open(user, session["id"])
    failed = await email_demo_until_retry(tab)

    await tab.send(type="retry", request_id=failed["request_id"], value=True)
    confirm = await tab.until("request_confirmation")
    assert "ana@example.com" in confirm["details"]
    await tab.send(type="confirm", value=True)  # the only open confirm: no request_id
    done = await tab.until("task_completed")
    assert done["result"] == EMAIL

    final = await wait_status(user, session["id"])
    assert final["status"] == "completed" and final["result"] == EMAIL
    assert final["pending"] == []
    answered = tab.of_type("request_answered")
    assert [a["kind"] for a in answered] == ["input", "retry", "confirm"]
    assert all(a["by"] == final["owner"] for a in answered)
    assert_consecutive(tab.events)


async def test_email_demo_declining_retry_fails_the_session(user: User) -> None:
    """Answering the retry offer with false ends the session failed, can_retry false."""
    session = await user.start("email_demo", {"step_seconds": 0})
    tab = await Tab.open(user, session["id"])
    failed = await email_demo_until_retry(tab)
    await tab.send(type="retry", request_id=failed["request_id"], value=False)
    last = await tab.until("task_failed", can_retry=False)
    assert "Simulated task failure" in last["error"]
    final = await wait_status(user, session["id"])
    assert final["status"] == "failed"
    assert final["error"]["message"] == "Simulated task failure"


async def test_email_demo_declining_confirmation_cancels(user: User) -> None:
    """Answering the confirmation with false ends the session cancelled, reason declined."""
    session = await user.start("email_demo", {"step_seconds": 0})
    tab = await Tab.open(user, session["id"])
    failed = await email_demo_until_retry(tab)
    await tab.send(type="retry", request_id=failed["request_id"], value=True)
    confirm = await tab.until("request_confirmation")
    await tab.send(type="confirm", request_id=confirm["request_id"], value=False)
    cancelled = await tab.until("task_cancelled")
    assert cancelled["reason"] == "declined"
    assert (await wait_status(user, session["id"]))["status"] == "cancelled"


async def test_email_demo_over_http_alone(user: User) -> None:
    """email_demo driven only by polling GET /api/sessions/{id} and POSTing answers."""
    session = await user.start("email_demo", {"step_seconds": 0})
    sid = session["id"]
    assert session["status"] in ("pending", "running", "waiting")

    (ask,) = await wait_pending(user, sid, "input")
    refused = await answer(user, sid, ask["request_id"], BAD_EMAIL)
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "invalid_value"
    assert "to_address" in refused.json()["error"]["fields"]
    still = await get_session(user, sid)
    assert [r["request_id"] for r in still["pending"]] == [ask["request_id"]]
    assert still["status"] == "waiting"

    ok = await answer(user, sid, ask["request_id"], EMAIL)
    assert ok.status_code == 200
    assert ok.json() == {"request_id": ask["request_id"], "status": "answered"}

    (retry,) = await wait_pending(user, sid, "retry")
    assert retry["attempt"] == 1 and retry["error"] == "Simulated task failure"
    assert (await answer(user, sid, retry["request_id"], True)).status_code == 200
    (confirm,) = await wait_pending(user, sid, "confirm")
    assert (await answer(user, sid, confirm["request_id"], True)).status_code == 200

    final = await wait_status(user, sid)
    assert final["status"] == "completed" and final["result"] == EMAIL

    events = await all_events(user, sid)
    assert_consecutive(events)
    assert streams(events)[0] == "Task started!"
    failed = [e for e in events if e["type"] == "task_failed"]
    assert failed[0]["can_retry"] is True and failed[0]["request_id"] == retry["request_id"]
    (completed,) = [e for e in events if e["type"] == "task_completed"]
    assert completed["result"] == EMAIL
    assert events[-1] == {**events[-1], "type": "status", "status": "completed"}
    # The events endpoint pages with after=.
    tail = await all_events(user, sid, after=len(events) - 2)
    assert [e["seq"] for e in tail] == [len(events) - 1, len(events)]


# --- email_assistant ---------------------------------------------------------------

ASSISTANT_INPUTS = {
    "email_to_respond": "Can we meet on Friday?\n\nBest, Ana",
    "response_instructions": "reply something",
}


async def test_the_catalogue_names_the_email_assistants_view(user: User) -> None:
    """The app draws the email assistant with its own view because the catalogue says so;
    a task that names none has no `view` at all."""
    tasks = {t["name"]: t for t in (await user.http.get("/api/tasks")).json()["tasks"]}
    assert tasks["email_assistant"]["view"] == "email_assistant"
    assert "view" not in tasks["email_demo"]


async def test_email_assistant_over_websocket(user: User) -> None:
    """Vague instructions get clarifying questions; feedback makes a second draft;
    empty feedback completes with the final draft, all of it in the state."""
    session = await user.start("email_assistant", ASSISTANT_INPUTS)
    tab = await Tab.open(user, session["id"])
    questions = await tab.until("request_user_input")
    names = [f["name"] for f in questions["fields"]]
    assert len(names) >= 2  # vague + a question in the email
    await tab.send(
        type="user_input", request_id=questions["request_id"],
        values={n: f"answer {n}" for n in names},
    )
    first = await tab.until("request_user_input", where=lambda f: f["prompt"].startswith("Feed"))
    state = tab.of_type("state")[-1]["state"]
    assert len(state["drafts"]) == 1 and state["next_step"] == "process_feedback"
    assert "Hi Ana," in state["drafts"][0] and "answer q0." in state["drafts"][0]

    await tab.send(type="user_input", request_id=first["request_id"],
                   values={"feedback": "shorter please"})
    second = await tab.until(
        "request_user_input", where=lambda f: f["request_id"] != first["request_id"]
    )
    state = tab.of_type("state")[-1]["state"]
    assert len(state["drafts"]) == 2 and state["feedback_history"] == ["shorter please"]
    assert "(Revision 1: shorter please)" in state["drafts"][1]

    await tab.send(type="user_input", request_id=second["request_id"], values={"feedback": ""})
    done = await tab.until("task_completed")
    final = await get_session(user, session["id"])
    assert final["status"] == "completed"
    state = final["state"]
    assert done["result"] == {"final_draft": state["drafts"][1]}
    assert state["final_draft"] == state["drafts"][1] and state["next_step"] == "done"
    assert state["questions"] == [f["description"] for f in questions["fields"]]
    assert set(state["answers"]) == set(state["questions"])
    assert state["feedback_history"] == ["shorter please"]


async def test_email_assistant_over_http_alone(user: User) -> None:
    """The assistant flow by polling and POSTing answers; the state tells the whole story."""
    session = await user.start("email_assistant", ASSISTANT_INPUTS)
    sid = session["id"]
    (questions,) = await wait_pending(user, sid, "input")
    names = [f["name"] for f in questions["fields"]]
    response = await answer(user, sid, questions["request_id"], {n: "yes" for n in names})
    assert response.status_code == 200

    async def next_feedback(previous: str) -> dict[str, Any]:
        pending = await wait_pending(user, sid, "input")
        while pending[0]["request_id"] == previous:
            pending = await wait_pending(user, sid, "input")
        return pending[0]

    feedback = await next_feedback(questions["request_id"])
    assert (await answer(user, sid, feedback["request_id"], {"feedback": "warmer"})).is_success
    feedback2 = await next_feedback(feedback["request_id"])
    assert (await answer(user, sid, feedback2["request_id"], {})).is_success  # default ""
    final = await wait_status(user, sid)
    assert final["status"] == "completed"
    state = final["state"]
    assert set(state) >= {
        "questions", "answers", "drafts", "feedback_history", "final_draft", "next_step"
    }
    assert len(state["drafts"]) == 2 and state["feedback_history"] == ["warmer"]
    assert final["result"] == {"final_draft": state["final_draft"]} and state["final_draft"]


# --- calculator and ticker ---------------------------------------------------------


async def test_calculator_over_websocket(user: User) -> None:
    """20 jobs fan out: a markdown per job, progress up to the total, ordered results."""
    session = await user.start(
        "calculator", {"tasks": 20, "max_seconds": 0.02, "concurrency": 8}
    )
    tab = await Tab.open(user, session["id"])
    done = await tab.until("task_completed")
    assert [r["job"] for r in done["result"]] == list(range(20))
    assert all(r["value"] == r["job"] ** 2 for r in done["result"])
    results = [e["content"] for e in tab.of_type("markdown") if "have results" in e["content"]]
    assert len(results) == 20
    progress = tab.of_type("progress")
    assert progress[-1]["done"] == 20 and all(p["total"] == 20 for p in progress)
    assert [p["done"] for p in progress] == sorted(p["done"] for p in progress)
    assert_consecutive(tab.events)


async def test_calculator_over_http_alone(user: User) -> None:
    """Polling to the end gives the same ordered list of 20 job records."""
    session = await user.start("calculator", {"tasks": 20, "max_seconds": 0.02})
    final = await wait_status(user, session["id"])
    assert final["status"] == "completed"
    assert [r["job"] for r in final["result"]] == list(range(20))
    events = await all_events(user, session["id"])
    assert_consecutive(events)
    assert sum("have results" in e.get("content", "") for e in events) == 20
    assert max(e["done"] for e in events if e["type"] == "progress") == 20


async def test_ticker_streams_count_lines_of_size(user: User) -> None:
    """ticker emits exactly `count` stream events of `size` characters, in order."""
    session = await user.start("ticker", {"count": 300, "size": 64})
    tab = await Tab.open(user, session["id"])
    done = await tab.until("task_completed")
    assert done["result"] == {"count": 300}
    lines = streams(tab.events)
    assert len(lines) == 300 and all(len(line) == 64 for line in lines)
    assert [int(line[:8]) for line in lines] == list(range(300))
    http_lines = streams(await all_events(user, session["id"]))
    assert http_lines == lines
