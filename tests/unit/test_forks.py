"""A fork's hints: the source's later answers, offered as the re-asked forms' initial values."""

from __future__ import annotations

import json
from typing import Any

from tether.forks import hint_for, hint_key, with_hints
from tether.forms import form_for
from tether.store.base import RecordedAnswer, Seed

FIELDS: list[dict[str, Any]] = [
    {"name": "name", "description": "Name", "type": "string", "required": True},
    {"name": "pin", "description": "PIN", "type": "password", "required": True},
]


def entry(kind: str, request_id: str) -> str:
    return json.dumps({"kind": kind, "request_id": request_id})


def answered(value: Any) -> RecordedAnswer:
    return RecordedAnswer(expired=False, value=value, by="u", at="t")


SOURCE_JOURNAL = {
    "ask1": entry("input", "r1"),     # answered before the fork point
    "ask2": entry("input", "r2"),     # opened before, answered after
    "ask3": entry("input", "r3"),     # opened and answered after
    "ask4": entry("input", "r4"),     # expired
    "confirm1": entry("confirm", "c1"),
    "step1": json.dumps({"kind": "step", "name": "s", "result": 1}),
}
SOURCE_ANSWERS = {
    "r1": answered({"name": "Ada"}),
    "r2": answered({"name": "Bea"}),
    "r3": answered({"name": "Cy", "pin": "1234"}),
    "r4": RecordedAnswer(expired=True, at="t"),
    "c1": answered(True),
}


def test_hints_are_the_answers_to_input_questions_the_fork_asks_again() -> None:
    seed = Seed(journal={"ask1": SOURCE_JOURNAL["ask1"], "ask2": SOURCE_JOURNAL["ask2"]},
                answers={"r1": SOURCE_ANSWERS["r1"]})
    hinted = with_hints(seed, SOURCE_JOURNAL, SOURCE_ANSWERS)
    assert hinted.answers == seed.answers
    hints = {k: json.loads(v) for k, v in hinted.journal.items() if k not in seed.journal}
    assert hints == {
        "ask2.prefill": {"kind": "prefill", "values": {"name": "Bea"}},
        "ask3.prefill": {"kind": "prefill", "values": {"name": "Cy", "pin": "1234"}},
    }


def test_a_hint_offers_only_fields_the_form_still_has_and_never_a_password() -> None:
    form = form_for(FIELDS)
    values = {"name": "Cy", "pin": "1234", "gone": "x"}
    entries = {hint_key("ask3"): {"kind": "prefill", "values": values}}
    assert hint_for(entries, "ask3", form) == {"name": "Cy"}
    assert hint_for(entries, "ask2", form) is None
    assert hint_for({hint_key("ask3"): {"kind": "step"}}, "ask3", form) is None
