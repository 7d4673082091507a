"""``python -m tether.schema``: the JSON Schema of every wire message, for code generators.

The browser app's TypeScript types are generated from this output
(``frontend/scripts/gen-protocol.mjs``), so the protocol is written down once, in
``messages.py``; the WebSocket close codes of ``closecodes.py`` ride along under
``x-close-codes`` (name → code), as JSON Schema has no place for named constants.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from pydantic import TypeAdapter

from tether.closecodes import CloseCode
from tether.messages import (
    AnswerLinkInfo,
    AuthInfo,
    ClientMessage,
    ErrorBody,
    Event,
    EventPage,
    InboxPage,
    LinkCreated,
    LinkList,
    Me,
    ServerFrame,
    Session,
    SessionPage,
    ShareList,
    TaskList,
)


def wire_schema() -> dict[str, Any]:
    """One schema whose ``$defs`` hold every message, plus the unions by name."""
    unions: dict[str, Any] = {
        "Event": Event,
        "ServerFrame": ServerFrame,
        "ClientMessage": ClientMessage,
    }
    models = {
        "Session": Session,
        "TaskList": TaskList,
        "SessionPage": SessionPage,
        "EventPage": EventPage,
        "ErrorBody": ErrorBody,
        "Me": Me,
        "ShareList": ShareList,
        "LinkCreated": LinkCreated,
        "LinkList": LinkList,
        "AuthInfo": AuthInfo,
        "InboxPage": InboxPage,
        "AnswerLinkInfo": AnswerLinkInfo,
    }
    defs: dict[str, Any] = {}
    for name, tp in {**unions, **models}.items():
        schema = TypeAdapter(tp).json_schema(
            mode="serialization", ref_template="#/$defs/{model}"
        )
        defs.update(schema.pop("$defs", {}))
        defs.setdefault(name, schema)
    for definition in defs.values():
        _fix_required(definition)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "TetherProtocol",
        "$defs": defs,
        "x-close-codes": {code.name: int(code) for code in CloseCode},
    }


def _fix_required(definition: dict[str, Any]) -> None:
    """Say what a reader of the JSON may rely on: a field is present unless it has a
    default (optional fields are left out when empty), and a ``type`` tag always is."""
    properties = definition.get("properties")
    if not properties:
        return
    definition["required"] = [
        name for name, prop in properties.items() if "default" not in prop or "const" in prop
    ]


def main() -> int:
    json.dump(wire_schema(), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
