"""``email_demo``: the interactive email task, every kind of request in one flow."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, EmailStr, Field

from tether.context import Context, Retry
from tether.hub import Hub


class EmailDemoInputs(BaseModel):
    step_seconds: float = Field(
        0.8, ge=0, le=60, description="Seconds each processing step takes"
    )


class Email(BaseModel):
    subject: str = Field(min_length=1, description="Subject of the email")
    body: str = Field(
        min_length=1, description="Body of the email", json_schema_extra={"format": "textarea"}
    )
    to_address: EmailStr = Field(description="Recipient email address")


DESCRIPTION = """
Compose an email, watch it being processed, and decide what happens when sending fails.

1. You fill in **subject**, **body** and **recipient**.
2. Five processing steps stream by.
3. The first attempt to send fails on purpose: choose to retry (or give up).
4. Confirm, and the task completes with what you submitted.
"""


def register(hub: Hub) -> None:
    @hub.task(title="Email demo", description=DESCRIPTION)
    async def email_demo(ctx: Context, inputs: EmailDemoInputs) -> dict[str, Any]:
        await ctx.stream("Task started!")
        email = await ctx.ask(Email, prompt="Compose the email to send")
        for step in range(1, 6):
            await ctx.stream(f"Processing email step {step}/5...")
            await ctx.progress(step, 5, label="Processing")
            await ctx.sleep(inputs.step_seconds)  # journaled: a resumed session waits less

        def send() -> dict[str, int]:
            # ctx.attempt, not a counter of our own: a resumed session knows that
            # attempt 1 already failed and goes on with attempt 2.
            if ctx.attempt == 1:
                raise RuntimeError("Simulated task failure")
            return {"attempts": ctx.attempt}

        await ctx.step("send", send, retry=Retry(attempts=3, ask=True))
        confirmed = await ctx.confirm(
            "Send this email?",
            details=f"To: {email.to_address}\nSubject: {email.subject}\n\n{email.body}",
        )
        if not confirmed:
            await ctx.stream("Task cancelled by user.")
            ctx.cancel("declined")
        await ctx.stream("Email sent.")
        return email.model_dump(mode="json")
