"""Input requests beyond the bare form: ``initial`` values, ``details`` markdown, and
answers to nested forms refused with errors on the sub-field, on both stores."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from tests.support.server import User
from tests.support.tabs import all_events, answer, wait_pending, wait_status
from tether import Context, Hub

hub_def = Hub()


class Line(BaseModel):
    sku: str
    qty: int = Field(gt=0)


class Order(BaseModel):
    customer: str
    lines: list[Line]
    nums: list[int] = []


@hub_def.task()
async def prefilled(ctx: Context) -> dict[str, Any]:
    """Asks for an order with values filled in and context above the form."""
    order = await ctx.ask(
        Order, prompt="Check the order",
        initial={"customer": "Ada", "lines": [{"sku": "tea", "qty": 2}]},
        details="**Why**: the customer called back.",
    )
    return order.model_dump()


@hub_def.task()
async def bad_initial(ctx: Context) -> None:
    """Passes an initial value JSON cannot hold."""
    await ctx.ask(Order, prompt="Never shown", initial={"customer": object()})


@hub_def.task()
async def misnamed_initial(ctx: Context) -> None:
    """Passes an initial value for a field the form does not have."""
    await ctx.ask(Order, prompt="Never shown", initial={"custmer": "Ada"})


async def test_initial_and_details_reach_the_event_and_the_pending_request(user: User) -> None:
    """``initial`` and ``details`` are in the request_user_input event and in
    Session.pending (what a reconnecting or late tab reads); the answer is still the
    person's, not the initial values."""
    session_id = (await user.start("prefilled"))["id"]
    [request] = await wait_pending(user, session_id, "input")
    initial = {"customer": "Ada", "lines": [{"sku": "tea", "qty": 2}]}
    details = "**Why**: the customer called back."
    assert (request["initial"], request["details"]) == (initial, details)
    [event] = [e for e in await all_events(user, session_id) if e["type"] == "request_user_input"]
    assert (event["initial"], event["details"]) == (initial, details)
    value = {"customer": "Grace", "lines": [{"sku": "tea", "qty": 3}]}
    response = await answer(user, session_id, request["request_id"], value)
    assert response.status_code == 200, response.text
    session = await wait_status(user, session_id)
    assert session["result"] == {**value, "nums": []}


async def test_a_nested_answer_is_refused_with_the_sub_fields_path(user: User) -> None:
    """An error inside a list of models names its path (``lines.1.qty``), so a form can
    show it on the sub-field; the request stays open."""
    session_id = (await user.start("prefilled"))["id"]
    [request] = await wait_pending(user, session_id, "input")
    value = {"customer": "Ada", "lines": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 0}],
             "nums": [1, "x"]}
    response = await answer(user, session_id, request["request_id"], value)
    assert response.status_code == 422, response.text
    assert set(response.json()["error"]["fields"]) == {"lines.1.qty", "nums.1"}
    assert len(await wait_pending(user, session_id, "input")) == 1


async def test_initial_that_json_cannot_hold_fails_the_task_clearly(user: User) -> None:
    session = await wait_status(user, (await user.start("bad_initial"))["id"])
    assert session["status"] == "failed"
    assert session["error"]["type"] == "TypeError"
    assert "initial= is not storable as JSON" in session["error"]["message"]


async def test_initial_naming_an_unknown_field_fails_the_task_clearly(user: User) -> None:
    session = await wait_status(user, (await user.start("misnamed_initial"))["id"])
    assert session["status"] == "failed"
    error = session["error"]
    assert (error["type"], error["message"]) == (
        "ValueError", "initial= names fields the form does not have: ['custmer']"
    )
    assert error["traceback"].rstrip().endswith(error["message"])
