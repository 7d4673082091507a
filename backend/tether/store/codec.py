"""What both stores share: how a session is laid out as strings, and the rules that
need no atomicity of their own (the Redis store's Lua scripts repeat only what must run
inside Redis: numbering, status, leases, first-answer-wins)."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping

from tether.epochs import new_epoch
from tether.messages import ErrorInfo, ForkOrigin, ProgressInfo, Session
from tether.notifications import Notification
from tether.store.base import (
    DeliveryState,
    NewSession,
    OutboxItem,
    PendingRequest,
    RecordedAnswer,
    Seed,
    SessionRecord,
)


def fields_for_new(new: NewSession) -> dict[str, str]:
    """The record fields of a freshly created session (its first event is seq 1)."""
    fields = {
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
        "epoch": new_epoch(),  # the log's epoch (epochs.py)
    }
    if new.trace is not None:  # only traced sessions carry it
        fields["trace"] = new.trace
    return fields


def new_record(new: NewSession) -> SessionRecord:
    """The record :meth:`~tether.store.base.Store.create_session` writes for ``new``,
    exactly as ``get_session`` reads it back at once: a start need not read it."""
    return record_from_fields(fields_for_new(new), {}, {})


def cancelled_fields(reason: str, by: str | None) -> dict[str, str]:
    """The record fields a ``cancelled`` outcome sets (``Entry.set``)."""
    return {"status": "cancelled", "cancel_reason": json.dumps(reason, ensure_ascii=False),
            "cancelled_by": json.dumps(by, ensure_ascii=False)}


def open_requests(requests: Mapping[str, PendingRequest]) -> dict[str, PendingRequest]:
    """Open requests, oldest first (hash order is not reliable in Redis)."""
    ordered = sorted(requests.values(), key=lambda p: (p.request.created_at,
                                                        p.request.request_id))
    return {p.request.request_id: p for p in ordered}


def decode_requests(raw: Mapping[str, str]) -> dict[str, PendingRequest]:
    return {rid: PendingRequest.model_validate_json(text) for rid, text in raw.items()}


def decode_progress(raw: Mapping[str, str]) -> dict[str, ProgressInfo]:
    return {label: ProgressInfo.model_validate_json(text) for label, text in raw.items()}


def decode_answers(raw: Mapping[str, str]) -> dict[str, RecordedAnswer]:
    return {rid: RecordedAnswer.from_json(text) for rid, text in raw.items()}


def seed_upto(
    journal: Mapping[str, str],
    answers: Mapping[str, RecordedAnswer],
    marks: Mapping[str, str | int],
    at_seq: int,
) -> Seed:
    """A fork's seed: what was journaled and answered while ``at_seq`` was the last event
    (``marks``: ``"j:<key>"`` / ``"a:<request id>"`` -> the seq current when it was)."""
    return Seed(
        journal={k: v for k, v in journal.items() if int(marks.get(f"j:{k}", 0)) <= at_seq},
        answers={k: v for k, v in answers.items() if int(marks.get(f"a:{k}", 0)) <= at_seq},
    )


def page_of(sessions: list[Session], limit: int) -> tuple[list[Session], str | None]:
    """The first ``limit`` of up to ``limit + 1`` sessions read, and the cursor of the
    next page (the id of the last one shown) if there was one more."""
    shown = sessions[:limit]
    return shown, (shown[-1].id if len(sessions) > limit else None)


def record_from_fields(
    fields: Mapping[str, str],
    requests: Mapping[str, PendingRequest],
    progress: Mapping[str, ProgressInfo],
    *,
    assignees: Collection[str] = (),
) -> SessionRecord:
    """A record from its stored fields, open requests, progress per label and the
    assignees its requests ever had.

    Fields added after a session was stored (``forked_from``, ``cancel_reason``, …) may be
    missing from it: they read as their defaults.
    """
    error = json.loads(fields["error"])
    ordered = open_requests(requests)
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
        pending=[p.request for p in ordered.values()],
        result=json.loads(fields["result"]),
        error=ErrorInfo.model_validate(error) if error else None,
        last_seq=int(fields["last_seq"]),
        progress=dict(sorted(progress.items())),
        cancel_reason=json.loads(fields.get("cancel_reason", "null")),
        cancelled_by=json.loads(fields.get("cancelled_by", "null")),
        forked_from=ForkOrigin.model_validate(forked_from) if forked_from else None,
    )
    return SessionRecord(
        session=session,
        version=fields["version"],
        runner=fields["runner"],
        cancel_requested=fields["cancel"] == "1",
        requests=ordered,
        cancel_by=fields.get("cancel_by") or None,
        assignees=frozenset(assignees),
        trace=fields.get("trace") or None,
    )


def outbox_items(queued: list[str], states: Mapping[str, str]) -> list[OutboxItem]:
    """Queued notifications (their JSON) with their delivery states (by
    :func:`~tether.store.base.delivery_field`)."""
    items: list[OutboxItem] = []
    for raw in queued:
        notification = Notification.model_validate_json(raw)
        prefix = f"{notification.id} "
        deliveries = {
            key[len(prefix):]: DeliveryState.from_json(value)
            for key, value in states.items() if key.startswith(prefix)
        }
        items.append(OutboxItem(notification, deliveries))
    return items
