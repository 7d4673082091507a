"""``email_assistant``: clarifying questions, drafts, feedback rounds, a final draft.

The task keeps everything a UI needs in its state (``questions``, ``answers``,
``drafts``, ``feedback_history``, ``final_draft``, ``next_step``), so a page can be drawn
from the state alone. Drafting goes through a :class:`Drafter`; the demo ships an
offline, deterministic one, and a real model plugs in with
``register_email_assistant(hub, MyModelDrafter())``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol

from pydantic import BaseModel, Field

from tether.context import Context
from tether.hub import Hub


class Drafter(Protocol):
    """What the assistant needs from a language model."""

    async def questions(self, email: str, instructions: str) -> list[str]:
        """Questions to ask before drafting; empty when the instructions suffice."""
        ...

    async def draft(
        self, email: str, instructions: str, answers: dict[str, str], feedback: Sequence[str]
    ) -> str:
        """A reply to ``email``, taking every answer and all feedback so far into account."""
        ...


VAGUE = {"something", "whatever", "anything", "reply", "respond", "answer", "idk", "stuff"}


class OfflineDrafter:
    """A deterministic stand-in for a model: same inputs, same drafts, no network."""

    async def questions(self, email: str, instructions: str) -> list[str]:
        words = re.findall(r"[a-z']+", instructions.lower())
        questions: list[str] = []
        if len(words) < 6 or VAGUE & set(words):
            questions.append("What outcome do you want from this reply?")
            questions.append("What tone should it have (formal, friendly, brief)?")
        if "?" in email:
            questions.append("The email asks a question: what is your answer to it?")
        return questions

    async def draft(
        self, email: str, instructions: str, answers: dict[str, str], feedback: Sequence[str]
    ) -> str:
        sender = _sender_name(email)
        lines = [f"Hi {sender}," if sender else "Hello,", "", "Thank you for your email."]
        lines.append(f"In short: {instructions.strip().rstrip('.')}.")
        for answer in answers.values():
            if answer.strip():
                lines.append(answer.strip().rstrip(".") + ".")
        for round_no, note in enumerate(feedback, start=1):
            lines.append(f"(Revision {round_no}: {note.strip()})")
        lines += ["", "Best regards"]
        return "\n".join(lines)


def _sender_name(email: str) -> str | None:
    """The name after a sign-off such as 'Best, Ana' or 'Thanks,\\nAna'."""
    match = re.search(
        r"(?:regards|thanks|best|cheers|sincerely)[,!]?\s+([A-Z][a-z]+)", email, re.IGNORECASE
    )
    return match.group(1) if match else None


class AssistantInputs(BaseModel):
    email_to_respond: str = Field(
        min_length=1, description="The email you received",
        json_schema_extra={"format": "textarea"},
    )
    response_instructions: str = Field(
        min_length=1, description="How you want to respond",
        json_schema_extra={"format": "textarea"},
    )


FEEDBACK_FIELDS = [
    {
        "name": "feedback",
        "description": "What should change? Leave empty to accept the draft.",
        "type": "text",
        "required": False,
        "default": "",
    }
]


def register_email_assistant(hub: Hub, drafter: Drafter) -> None:
    """Register ``email_assistant`` on ``hub``, drafting with ``drafter``."""

    @hub.task(
        title="Email assistant",
        description="Drafts a reply with you: it asks what it needs to know, then revises "
        "until you leave the feedback empty.",
        view="email_assistant",  # the app's drafts-and-questions view (frontend/src/views)
    )
    async def email_assistant(ctx: Context, inputs: AssistantInputs) -> dict[str, Any]:
        email, instructions = inputs.email_to_respond, inputs.response_instructions
        await ctx.set_state(
            questions=[], answers={}, drafts=[], feedback_history=[], final_draft=None,
            next_step="clarify_instructions",
        )
        questions = await ctx.step("questions", drafter.questions, email, instructions)
        answers: dict[str, str] = {}
        if questions:
            await ctx.set_state(questions=questions)
            fields = [
                {"name": f"q{i}", "description": q, "type": "text", "required": True}
                for i, q in enumerate(questions)
            ]
            reply = await ctx.ask(fields, prompt="A few questions before the first draft")
            answers = {questions[i]: str(reply[f"q{i}"]) for i in range(len(questions))}
            await ctx.set_state(answers=answers)
        feedback: list[str] = []
        drafts: list[str] = []
        while True:
            await ctx.set_state(next_step="draft")
            draft = await ctx.step("draft", drafter.draft, email, instructions, answers, feedback)
            drafts.append(draft)
            await ctx.set_state(drafts=drafts, next_step="process_feedback")
            reply = await ctx.ask(FEEDBACK_FIELDS, prompt="Feedback on the draft")
            note = str(reply.get("feedback") or "").strip()
            if not note:
                break
            feedback.append(note)
            await ctx.set_state(feedback_history=feedback)
        await ctx.set_state(final_draft=drafts[-1], next_step="done")
        return {"final_draft": drafts[-1]}
