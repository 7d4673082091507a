"""``expense_approval``: a question assigned to other people (``group:finance``).

The person who files the expense waits; whoever is asked (a group or a user, as the
inputs say) finds the question in their inbox and approves or declines it there.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from tether.assignees import assignee_problem
from tether.context import Context
from tether.hub import Hub


class ExpenseInputs(BaseModel):
    description: str = Field("Team dinner", min_length=1, max_length=200,
                             description="What the money was spent on")
    amount: float = Field(120.0, gt=0, le=1_000_000, description="How much (EUR)")
    approver: str = Field("group:finance",
                          description="Who approves it: group:<name> or user:<name>")

    @field_validator("approver")
    @classmethod
    def _an_assignee(cls, value: str) -> str:
        problem = assignee_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value


def register(hub: Hub) -> None:
    @hub.task(
        title="Expense approval",
        description="Files an expense and waits for finance (or whoever you name) to "
                    "approve it from their inbox.",
    )
    async def expense_approval(ctx: Context, inputs: ExpenseInputs) -> dict[str, object]:
        await ctx.markdown(
            f"Filed **{inputs.description}**: {inputs.amount:.2f} EUR, "
            f"waiting for `{inputs.approver}`."
        )
        approved = await ctx.confirm(
            f"Approve {inputs.amount:.2f} EUR for {inputs.description}?",
            details=f"Filed by {ctx.user}.",
            assignees=[inputs.approver],
        )
        await ctx.markdown("**Approved.**" if approved else "**Declined.**")
        return {"approved": approved, "amount": inputs.amount}
