"""The wire: every message the hub and its clients exchange, as pydantic models.

This module is the one source of truth for the protocol's shapes: the hub builds its
events from these models, validates client frames with them, builds ``/openapi.json``
from them, and the browser app's TypeScript types are generated from their JSON Schema
(``python -m tether.schema``). Field names follow PROTOCOL.md exactly.

Stored events are numbered by the store, not here: a model is dumped without ``seq``
(:func:`event_body`) and the store splices the number in front when it appends
(:func:`frame_with_seq`), so a frame is encoded exactly once and the same text goes to the
log, to every hub and to every tab.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, TypeAdapter


def _omit_none(value: object) -> bool:
    return value is None


def Opt(**kwargs: Any) -> Any:
    """An optional field that is left out of the JSON when it is None."""
    return Field(None, exclude_if=_omit_none, **kwargs)


class Wire(BaseModel):
    model_config = ConfigDict(
        serialize_by_alias=True, validate_by_name=True, validate_by_alias=True, frozen=True
    )


Status = Literal["pending", "running", "waiting", "completed", "failed", "cancelled"]
TERMINAL_STATUSES: frozenset[str] = frozenset({"completed", "failed", "cancelled"})
RequestKind = Literal["input", "confirm", "retry"]
FieldType = Literal[
    "string", "text", "integer", "number", "boolean", "email", "password",
    "date", "datetime", "time", "string_list", "object", "list",
]


def dump_json(value: Any) -> str:
    """JSON for the store: compact, UTF-8 as is, and refused early when it cannot be stored.

    Raises:
        TypeError: the value is not JSON-serialisable, or holds text that is not valid
            Unicode (a lone surrogate, which JSON escapes can smuggle in).
    """
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        text.encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:
        raise TypeError(f"not storable as JSON: {exc}") from exc
    return text


def printable(text: str) -> str:
    """``text`` with anything that is not valid Unicode escaped, so it can always be sent."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def now_iso() -> str:
    """The current time as ISO-8601 UTC with milliseconds: ``2026-11-21T23:30:00.123Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- Building blocks ---------------------------------------------------------------------


class FieldSpec(Wire):
    """One field of a form, as a browser renders it.

    The bounds are JSON Schema's: ``minimum``/``maximum`` include the bound,
    ``exclusive_minimum``/``exclusive_maximum`` do not (pydantic's ``gt``/``lt``).
    ``min_length``/``max_length`` count the characters of text or the items of a list.
    A ``list`` holds values of ``item_type`` (``object`` for models; the request's
    ``schema`` describes them in full).
    """

    name: str
    description: str
    type: FieldType
    required: bool
    default: Any = Opt()
    enum: list[Any] | None = Opt()
    minimum: float | None = Opt()
    maximum: float | None = Opt()
    exclusive_minimum: float | None = Opt()
    exclusive_maximum: float | None = Opt()
    multiple_of: float | None = Opt()
    min_length: int | None = Opt()
    max_length: int | None = Opt()
    item_type: FieldType | None = Opt()


class Request(Wire):
    """An open question to a person: input, confirmation or retry."""

    request_id: str
    kind: RequestKind
    prompt: str
    fields: list[FieldSpec] | None = Opt()
    schema_: dict[str, Any] | None = Opt(alias="schema")
    details: str | None = Opt()
    error: str | None = Opt()
    attempt: int | None = Opt()
    created_at: str
    expires_at: str | None = Opt()
    initial: dict[str, Any] | None = Opt()   # values the form starts with


class ErrorInfo(Wire):
    type: str
    message: str
    traceback: str | None = Opt()   # only in what the session's owner is sent


class ProgressInfo(Wire):
    done: float
    total: float


class ForkOrigin(Wire):
    session_id: str
    at_seq: int


class Session(Wire):
    id: str
    task: str
    status: Status
    owner: str
    created_at: str
    updated_at: str
    inputs: dict[str, Any]
    state: dict[str, Any]
    pending: list[Request]
    result: Any
    error: ErrorInfo | None
    last_seq: int
    progress: dict[str, ProgressInfo] = Field(default_factory=dict)  # latest per label ("" = none)
    cancel_reason: str | None = None
    cancelled_by: str | None = None      # user id; None when the task cancelled itself
    forked_from: ForkOrigin | None = None


def seen_by(session: Session, user: str) -> Session:
    """``session`` as ``user`` may see it: the one place that decides what only its owner
    is sent (today the failure's traceback). Every Session the hub serves passes here."""
    if user == session.owner or session.error is None or session.error.traceback is None:
        return session
    return session.model_copy(
        update={"error": session.error.model_copy(update={"traceback": None})}
    )


# --- Stored events (numbered) ------------------------------------------------------------


class EventBase(Wire):
    seq: int
    ts: str


class StatusEvent(EventBase):
    type: Literal["status"] = "status"
    status: Status


class StreamEvent(EventBase):
    type: Literal["stream"] = "stream"
    content: str


class ProgressEvent(EventBase):
    type: Literal["progress"] = "progress"
    done: float
    total: float
    label: str | None = Opt()


class MarkdownEvent(EventBase):
    type: Literal["markdown"] = "markdown"
    content: str


class StateEvent(EventBase):
    type: Literal["state"] = "state"
    state: dict[str, Any]


class RequestUserInputEvent(EventBase):
    type: Literal["request_user_input"] = "request_user_input"
    request_id: str
    prompt: str
    fields: list[FieldSpec]
    schema_: dict[str, Any] = Field(alias="schema")
    expires_at: str | None = Opt()
    initial: dict[str, Any] | None = Opt()   # values the form starts with
    details: str | None = Opt()              # RequestUserInputEvent only (Request already has it)


class RequestConfirmationEvent(EventBase):
    type: Literal["request_confirmation"] = "request_confirmation"
    request_id: str
    prompt: str
    details: str | None = Opt()
    expires_at: str | None = Opt()


class TaskFailedEvent(EventBase):
    type: Literal["task_failed"] = "task_failed"
    error: str
    can_retry: bool
    attempt: int
    request_id: str | None = Opt()
    expires_at: str | None = Opt()
    error_type: str | None = Opt()       # the exception's class name
    step: str | None = Opt()             # the step whose attempt failed; None for the task itself


class RequestAnsweredEvent(EventBase):
    type: Literal["request_answered"] = "request_answered"
    request_id: str
    kind: RequestKind
    value: Any
    by: str


class RequestExpiredEvent(EventBase):
    type: Literal["request_expired"] = "request_expired"
    request_id: str


class TaskCompletedEvent(EventBase):
    type: Literal["task_completed"] = "task_completed"
    result: Any


class TaskCancelledEvent(EventBase):
    type: Literal["task_cancelled"] = "task_cancelled"
    reason: str
    by: str | None = Opt()


class SnapshotEvent(EventBase):
    type: Literal["snapshot"] = "snapshot"
    session: Session


Event = Annotated[
    StatusEvent | StreamEvent | ProgressEvent | MarkdownEvent | StateEvent
    | RequestUserInputEvent | RequestConfirmationEvent | TaskFailedEvent
    | RequestAnsweredEvent | RequestExpiredEvent | TaskCompletedEvent
    | TaskCancelledEvent | SnapshotEvent,
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def event_body(event: EventBase) -> str:
    """The event's JSON without its ``seq``, starting ``{"ts":`` (the store adds the seq)."""
    return event.model_dump_json(exclude={"seq"})


def frame_with_seq(seq: int, body: str) -> str:
    """Splice ``seq`` in front of an event body: the exact text every client receives."""
    return f'{{"seq":{seq},{body[1:]}'


def seq_of(frame: str) -> int:
    """Read the seq back from a frame made by :func:`frame_with_seq`, without parsing JSON."""
    return int(frame[7 : frame.index(",", 7)])


# --- Control frames (not stored, no seq) -------------------------------------------------


class ReplayStart(Wire):
    type: Literal["replay_start"] = "replay_start"
    after: int
    last_seq: int


class ReplayComplete(Wire):
    type: Literal["replay_complete"] = "replay_complete"
    last_seq: int


class Ack(Wire):
    type: Literal["ack"] = "ack"
    ref: str | None = None


class ErrorFrame(Wire):
    type: Literal["error"] = "error"
    code: str
    message: str
    ref: str | None = Opt()
    fields: dict[str, str] | None = Opt()


class Pong(Wire):
    type: Literal["pong"] = "pong"


ServerFrame = Annotated[
    ReplayStart | ReplayComplete | Ack | ErrorFrame | Pong, Field(discriminator="type")
]


# --- Client frames -----------------------------------------------------------------------


class ClientFrame(Wire):
    model_config = ConfigDict(extra="forbid", frozen=True)
    ref: str | None = Field(None, max_length=128)


class UserInputFrame(ClientFrame):
    type: Literal["user_input"]
    request_id: str | None = None
    values: dict[str, Any]


class ConfirmFrame(ClientFrame):
    type: Literal["confirm"]
    request_id: str | None = None
    value: StrictBool  # as over HTTP: "yes" or 1 is not an answer


class RetryFrame(ClientFrame):
    type: Literal["retry"]
    request_id: str | None = None
    value: StrictBool


class CancelFrame(ClientFrame):
    type: Literal["cancel"]


class PingFrame(ClientFrame):
    type: Literal["ping"]


ClientMessage = Annotated[
    UserInputFrame | ConfirmFrame | RetryFrame | CancelFrame | PingFrame,
    Field(discriminator="type"),
]
CLIENT_ADAPTER: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)
CLIENT_FRAME_TYPES: frozenset[str] = frozenset({"user_input", "confirm", "retry", "cancel", "ping"})


# --- HTTP bodies -------------------------------------------------------------------------


class TaskInfo(Wire):
    name: str
    title: str
    description: str
    input_schema: dict[str, Any]
    view: str | None = Opt()             # the app view that renders this task's sessions


class TaskList(Wire):
    tasks: list[TaskInfo]


class StartSession(Wire):
    model_config = ConfigDict(extra="forbid", frozen=True)
    task: str
    inputs: dict[str, Any] = Field(default_factory=dict)


class ForkSession(Wire):
    model_config = ConfigDict(extra="forbid", frozen=True)
    at_seq: int | None = Field(None, ge=1, description="Fork after this event (default: now)")


class Answer(Wire):
    model_config = ConfigDict(extra="forbid", frozen=True)
    value: Any


class Answered(Wire):
    request_id: str
    status: Literal["answered"] = "answered"


class SessionPage(Wire):
    sessions: list[Session]
    next: str | None


class EventPage(Wire):
    events: list[Event]
    last_seq: int


class ErrorDetail(Wire):
    code: str
    message: str
    fields: dict[str, str] | None = Opt()


class ErrorBody(Wire):
    error: ErrorDetail


# --- Accounts (PROTOCOL.md §3, "Identity") -----------------------------------------------

AuthModeName = Literal["anonymous", "accounts", "proxy"]


class LoginRequest(Wire):
    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str = Field(min_length=1, max_length=256)
    password: str = Field(min_length=1, max_length=4096)


class Me(Wire):
    """Who the caller is: ``GET /api/me`` and the answer to ``POST /api/login``."""

    id: str
    name: str
    roles: list[str]
    groups: list[str]
    mode: AuthModeName
