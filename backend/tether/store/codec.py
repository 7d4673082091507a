"""How a session record is laid out as flat string fields, shared by both stores."""

from __future__ import annotations

import json
from collections.abc import Mapping

from tether.messages import ErrorInfo, Request, Session
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
    }


def pending_requests(pending_raw: Mapping[str, str]) -> list[Request]:
    """Open requests, oldest first (hash order is not reliable in Redis)."""
    requests = [PendingRequest.model_validate_json(raw).request for raw in pending_raw.values()]
    requests.sort(key=lambda r: (r.created_at, r.request_id))
    return requests


def record_from_fields(fields: Mapping[str, str], pending_raw: Mapping[str, str]) -> SessionRecord:
    error = json.loads(fields["error"])
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
    )
    return SessionRecord(
        session=session,
        version=fields["version"],
        runner=fields["runner"],
        cancel_requested=fields["cancel"] == "1",
        pending_raw=dict(pending_raw),
    )
