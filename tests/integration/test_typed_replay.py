"""A resumed run sees the same types as the live run: step and map results rebuilt from
the functions' return annotations, recorded failures re-raised as the class they were
raised as. Hub A stops mid-session, hub B on the same Redis replays it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from tests.integration.test_resume import hub_on
from tests.support.server import new_user, same_user_on
from tests.support.tabs import answer, wait_pending, wait_status
from tether import Context, Hub, Retry


class Quote(BaseModel):
    amount: int
    currency: str


@dataclass
class Receipt:
    number: str
    total: float


class OutOfStock(Exception):
    """Takes another argument than it passes on: rebuilt from args and attributes."""

    def __init__(self, item: str) -> None:
        super().__init__(f"{item} is out of stock")
        self.item = item


async def price(amount: int) -> Quote:
    return Quote(amount=amount, currency="EUR")


def receipt(quote: Quote) -> Receipt:
    return Receipt(number="r-1", total=quote.amount * 1.5)


async def scored(index: int) -> Quote:
    return Quote(amount=index * 10, currency="EUR")


def reserve() -> None:
    raise OutOfStock("widget")


def lookup() -> None:
    raise KeyError("missing-key")


def typed_hub() -> Hub:
    hub = Hub()

    @hub.task(title="Typed", description="Results and failures keep their types.")
    async def typed(ctx: Context) -> dict[str, Any]:
        quote = await ctx.step("price", price, 3)
        slip = await ctx.step("receipt", receipt, quote)
        quotes = await ctx.map(scored, [1, 2])
        caught: list[str] = []
        try:
            await ctx.step("reserve", reserve)
        except OutOfStock as exc:
            caught.append(f"OutOfStock:{exc.item}:{exc}")
        try:
            await ctx.step("lookup", lookup, retry=Retry(attempts=1))
        except KeyError as exc:
            caught.append(f"KeyError:{exc.args[0]}")
        await ctx.confirm("Go on?")  # the session is resumed on another hub here
        return {
            "quote": [type(quote).__name__, quote.amount, quote.currency],
            "receipt": [type(slip).__name__, slip.number, slip.total],
            "quotes": [[type(q).__name__, q.amount] for q in quotes],
            "caught": caught,
        }

    return hub


EXPECTED = {
    "quote": ["Quote", 3, "EUR"],
    "receipt": ["Receipt", "r-1", 4.5],
    "quotes": [["Quote", 10], ["Quote", 20]],
    "caught": ["OutOfStock:widget:widget is out of stock", "KeyError:missing-key"],
}


async def test_a_resumed_run_sees_the_live_types(redis_url: str) -> None:
    async with hub_on(redis_url, typed_hub(), "hub-a") as hub_a, new_user(hub_a) as user:
        sid = (await user.start("typed"))["id"]
        confirm = (await wait_pending(user, sid, "confirm"))[0]
        async with hub_on(redis_url, typed_hub(), "hub-b") as hub_b:
            await hub_a.stop()  # graceful: leases released, hub B replays the journal
            async with same_user_on(hub_b, user) as user_b:
                again = (await wait_pending(user_b, sid, "confirm"))[0]
                assert again["request_id"] == confirm["request_id"]
                assert (await answer(user_b, sid, again["request_id"], True)).status_code == 200
                final = await wait_status(user_b, sid)
    assert final["status"] == "completed", final["error"]
    assert final["result"] == EXPECTED


async def test_the_live_run_sees_the_same_types(redis_url: str) -> None:
    async with hub_on(redis_url, typed_hub(), "hub-a") as hub_a, new_user(hub_a) as user:
        sid = (await user.start("typed"))["id"]
        confirm = (await wait_pending(user, sid, "confirm"))[0]
        assert (await answer(user, sid, confirm["request_id"], True)).status_code == 200
        final = await wait_status(user, sid)
    assert final["status"] == "completed", final["error"]
    assert final["result"] == EXPECTED
