"""Several tabs on one session, and users who may not touch each other's sessions."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.support.server import RunningHub, User, new_user
from tests.support.tabs import Tab, answer, close_code, get_session, wait_pending, wait_status
from tether import Context, Hub

hub_def = Hub()


@hub_def.task()
async def two_questions(ctx: Context) -> dict[str, bool]:
    """Asks twice, so a test can answer over WebSocket first and over HTTP second."""
    first = await ctx.confirm("First?")
    second = await ctx.confirm("Second?")
    return {"first": first, "second": second}


async def test_three_tabs_see_one_answer_and_a_second_is_refused(user: User) -> None:
    """One tab answers; all three tabs see request_answered with `by`; a second answer
    over the socket gets already_answered, and over HTTP 409 already_answered."""
    session = await user.start("two_questions")
    sid = session["id"]
    tabs = [await Tab.open(user, sid) for _ in range(3)]
    asks = [await tab.until("request_confirmation") for tab in tabs]
    rid = asks[0]["request_id"]
    assert {a["request_id"] for a in asks} == {rid}

    await tabs[1].send(type="confirm", request_id=rid, value=True, ref="win")
    seen = [await tab.until("request_answered", request_id=rid) for tab in tabs]
    owner = (await get_session(user, sid))["owner"]
    for event in seen:
        assert event["by"] == owner and event["value"] is True and event["kind"] == "confirm"
    assert len({e["seq"] for e in seen}) == 1  # the same numbered event everywhere

    await tabs[2].send(type="confirm", request_id=rid, value=False, ref="late")
    error = await tabs[2].until("error")
    assert error["code"] == "already_answered" and error["ref"] == "late"

    late_http = await answer(user, sid, rid, False)
    assert late_http.status_code == 409
    assert late_http.json()["error"]["code"] == "already_answered"

    # The second question is answered over HTTP; every tab sees that answer too.
    second = await tabs[0].until("request_confirmation")
    assert (await answer(user, sid, second["request_id"], False)).status_code == 200
    done = [await tab.until("task_completed") for tab in tabs]
    assert all(d["result"] == {"first": True, "second": False} for d in done)
    # Every tab saw the same numbered sequence.
    sequences = [[(e["seq"], e["type"]) for e in tab.events] for tab in tabs]
    assert sequences[0] == sequences[1] == sequences[2]


async def test_concurrent_answers_from_tabs_one_wins(user: User) -> None:
    """Three tabs answer the same request at once: exactly one ack, two already_answered."""
    session = await user.start("two_questions")
    tabs = [await Tab.open(user, session["id"]) for _ in range(3)]
    rid = (await tabs[0].until("request_confirmation"))["request_id"]
    await asyncio.gather(
        *(tab.send(type="confirm", request_id=rid, value=i == 0, ref=f"t{i}")
          for i, tab in enumerate(tabs))
    )
    outcomes = [await _ack_or_error(tab, f"t{i}") for i, tab in enumerate(tabs)]
    assert sorted(f["type"] for f in outcomes) == ["ack", "error", "error"]
    assert all(f["code"] == "already_answered" for f in outcomes if f["type"] == "error")
    for tab in tabs:  # the next question comes after the answer event
        await tab.seen_or_until("request_confirmation", where=lambda f: f["request_id"] != rid)
    answered = [e for tab in tabs for e in tab.of_type("request_answered")]
    assert len(answered) == 3 and {a["request_id"] for a in answered} == {rid}
    winner = outcomes.index(next(f for f in outcomes if f["type"] == "ack"))
    assert all(a["value"] is (winner == 0) for a in answered)


async def _ack_or_error(tab: Tab, ref: str) -> dict[str, Any]:
    while True:
        frame = await tab.read()
        if frame.get("type") in ("ack", "error") and frame.get("ref") == ref:
            return frame


async def test_another_users_session_is_invisible(hub: RunningHub, user: User) -> None:
    """Someone else's session: WS closes 4404; HTTP get, events, answer, cancel 404."""
    session = await user.start("two_questions")
    sid = session["id"]
    (ask,) = await wait_pending(user, sid, "confirm")
    async with new_user(hub) as stranger:
        ws = await stranger.connect(sid)
        assert await close_code(ws) == 4404
        for response in (
            await stranger.http.get(f"/api/sessions/{sid}"),
            await stranger.http.get(f"/api/sessions/{sid}/events"),
            await answer(stranger, sid, ask["request_id"], True),
            await stranger.http.post(f"/api/sessions/{sid}/cancel"),
        ):
            assert response.status_code == 404, response.text
            assert response.json()["error"]["code"] == "unknown_session"
        listed = (await stranger.http.get("/api/sessions")).json()
        assert listed["sessions"] == []
    # Nothing the stranger did reached the session.
    still = await get_session(user, sid)
    assert still["status"] == "waiting" and [r["request_id"] for r in still["pending"]] == [
        ask["request_id"]
    ]
    assert (await user.http.post(f"/api/sessions/{sid}/cancel")).status_code == 202
    assert (await wait_status(user, sid))["status"] == "cancelled"
