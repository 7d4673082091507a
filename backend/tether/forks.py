"""What a fork carries forward besides its past: the source's later answers as hints.

A fork replays the source's journal up to its fork point and asks again every question
the source was asked after it. Re-asked, a form starts with the answer the source had
given there, so the person changes what they came to change instead of typing it all
again. The hints travel in the fork's seed as journal entries beside the key of the
question they belong to (``ask2`` → ``ask2.prefill``: ``{"kind": "prefill", "values"}``);
the request opened at that key starts with them as ``initial`` unless the task passed
its own. A hint is only a suggestion: it is never an answer, never replayed, and a
changed form keeps only the values of fields it still has.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tether.forms import Form
from tether.messages import dump_json
from tether.store.base import RecordedAnswer, Seed

_SUFFIX = ".prefill"


def hint_key(key: str) -> str:
    """The journal key of the hint for the question asked at ``key``."""
    return f"{key}{_SUFFIX}"


def with_hints(
    seed: Seed, journal: Mapping[str, str], answers: Mapping[str, RecordedAnswer]
) -> Seed:
    """``seed`` plus a hint for each input question of the source (its whole ``journal``
    and ``answers``) that the fork will ask again: those not answered in its past."""
    hints: dict[str, str] = {}
    for key, raw in journal.items():
        entry = json.loads(raw)
        if entry.get("kind") != "input" or entry.get("request_id") in seed.answers:
            continue
        answer = answers.get(str(entry.get("request_id")))
        value = answer.value if answer is not None else None
        if isinstance(value, dict):  # expired requests have no value to offer
            hints[hint_key(key)] = dump_json({"kind": "prefill", "values": value})
    return Seed(journal={**seed.journal, **hints}, answers=seed.answers)


def hint_for(entries: dict[str, dict[str, Any]], key: str, form: Form) -> dict[str, Any] | None:
    """The values to pre-fill the form asked at ``key`` with, from a fork's hint.

    Secrets are never offered again: a password field starts empty.
    """
    entry = entries.get(hint_key(key))
    if entry is None or entry.get("kind") != "prefill" or not isinstance(entry.get("values"), dict):
        return None
    offered = {f.name for f in form.fields if f.type != "password"}
    kept = {name: v for name, v in entry["values"].items() if name in offered}
    return kept or None
