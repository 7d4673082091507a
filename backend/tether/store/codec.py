"""How a session record is laid out as flat string fields, shared by both stores."""

from __future__ import annotations

import json
from collections.abc import Mapping

from tether.messages import ErrorInfo, ForkOrigin, ProgressInfo, Request, Session
from tether.store.base import NewSession, PendingRequest, SessionRecord


def fields_for_new(new: NewSession) -> dict[str, str]:
    """The record fields of a freshly created session (its first event is seq 1)."""
    return {
        "id": new.id,
        "task": new.task,
        "owner": new.owner,
        "status": "pending",
        "created_at": new.created_at,
        "updated_at": new.created_at,
        "inputs": new.inputs_json,
        "state": "{}",
        "result": "null",
        "error": "null",
        "last_seq": "1",
        "version": new.version,
        "runner": new.runner,
        "cancel": "0",
        "forked_from": new.forked_from.model_dump_json() if new.forked_from else "null",
    }


def cancelled_fields(reason: str, by: str | None) -> dict[str, str]:
    """The record fields a ``cancelled`` outcome sets (``Entry.set``)."""
    return {"status": "cancelled", "cancel_reason": json.dumps(reason, ensure_ascii=False),
            "cancelled_by": json.dumps(by, ensure_ascii=False)}


def pending_requests(pending_raw: Mapping[str, str]) -> list[Request]:
    """Open requests, oldest first (hash order is not reliable in Redis)."""
    requests = [PendingRequest.model_validate_json(raw).request for raw in pending_raw.values()]
    requests.sort(key=lambda r: (r.created_at, r.request_id))
    return requests


def record_from_fields(
    fields: Mapping[str, str],
    pending_raw: Mapping[str, str],
    progress_raw: Mapping[str, str],
) -> SessionRecord:
    """A record from its stored fields, open requests and progress (label -> JSON).

    Fields added after a session was stored (``forked_from``, ``cancel_reason``, …) may be
    missing from it: they read as their defaults.
    """
    error = json.loads(fields["error"])
    forked_from = json.loads(fields.get("forked_from", "null"))
    session = Session(
        id=fields["id"],
        task=fields["task"],
        status=fields["status"],  # validated by pydantic
        owner=fields["owner"],
        created_at=fields["created_at"],
        updated_at=fields["updated_at"],
        inputs=json.loads(fields["inputs"]),
        state=json.loads(fields["state"]),
        pending=pending_requests(pending_raw),
        result=json.loads(fields["result"]),
        error=ErrorInfo.model_validate(error) if error else None,
        last_seq=int(fields["last_seq"]),
        progress={
            label: ProgressInfo.model_validate_json(raw)
            for label, raw in sorted(progress_raw.items())
        },
        cancel_reason=json.loads(fields.get("cancel_reason", "null")),
        cancelled_by=json.loads(fields.get("cancelled_by", "null")),
        forked_from=ForkOrigin.model_validate(forked_from) if forked_from else None,
    )
    return SessionRecord(
        session=session,
        version=fields["version"],
        runner=fields["runner"],
        cancel_requested=fields["cancel"] == "1",
        pending_raw=dict(pending_raw),
        cancel_by=fields.get("cancel_by") or None,
    )
