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
import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, TypeAdapter
from pydantic_core import to_json


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


class _MillisecondClock:
    """:func:`now_iso`: the text is made once per millisecond. A busy hub stamps
    thousands of events a second, many in the same millisecond, and formatting a
    datetime each time was a measurable share of an event's cost."""

    __slots__ = ("_ms", "_text")

    def __init__(self) -> None:
        self._ms = -1
        self._text = ""

    def __call__(self) -> str:
        ms = time.time_ns() // 1_000_000
        if ms != self._ms:
            seconds, millis = divmod(ms, 1000)
            self._text = f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(seconds))}.{millis:03d}Z"
            self._ms = ms
        return self._text


_clock = _MillisecondClock()


def now_iso() -> str:
    """The current time as ISO-8601 UTC with milliseconds: ``2026-11-21T23:30:00.123Z``."""
    return _clock()


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
    # who may answer ("user:<name>", "group:<name>"); empty: the session's owner
    assignees: list[str] = []
    # Reminders and escalation (ctx.ask/confirm remind_after=, escalate_after=): when
    # each is due, and when it happened (None: not yet).
    remind_at: str | None = Opt()
    reminded_at: str | None = Opt()
    escalate_at: str | None = Opt()
    escalate_to: list[str] | None = Opt()
    escalated_at: str | None = Opt()


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


AccessName = Literal["viewer", "answerer", "owner", "admin"]


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
    # What the caller may do with it (access.py); set per caller, never stored.
    access: AccessName | None = None


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
    assignees: list[str] = []  # as Request.assignees


class RequestConfirmationEvent(EventBase):
    type: Literal["request_confirmation"] = "request_confirmation"
    request_id: str
    prompt: str
    details: str | None = Opt()
    expires_at: str | None = Opt()
    assignees: list[str] = []  # as Request.assignees


class TaskFailedEvent(EventBase):
    type: Literal["task_failed"] = "task_failed"
    error: str
    can_retry: bool
    attempt: int
    request_id: str | None = Opt()
    expires_at: str | None = Opt()
    error_type: str | None = Opt()       # the exception's class name
    step: str | None = Opt()             # the step whose attempt failed; None for the task itself
    assignees: list[str] | None = Opt()  # a retry offer's (as Request.assignees)


class RequestAnsweredEvent(EventBase):
    type: Literal["request_answered"] = "request_answered"
    request_id: str
    kind: RequestKind
    value: Any
    by: str


class RequestExpiredEvent(EventBase):
    type: Literal["request_expired"] = "request_expired"
    request_id: str


class RequestReminderEvent(EventBase):
    """An open request's assignees (or owner) were reminded that it waits for them."""

    type: Literal["request_reminder"] = "request_reminder"
    request_id: str
    assignees: list[str] = []  # whom the reminder went to (empty: the session's owner)


class RequestEscalatedEvent(EventBase):
    """An open request unanswered for too long: ``added`` may answer it now too."""

    type: Literal["request_escalated"] = "request_escalated"
    request_id: str
    assignees: list[str]  # everyone it now waits for
    added: list[str]


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
    | RequestAnsweredEvent | RequestExpiredEvent | RequestReminderEvent
    | RequestEscalatedEvent | TaskCompletedEvent
    | TaskCancelledEvent | SnapshotEvent,
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def event_body(event: EventBase) -> str:
    """The event's JSON without its ``seq``, starting ``{"ts":`` (the store adds the seq)."""
    return event.model_dump_json(exclude={"seq"})


def text_event_body(kind: Literal["stream", "markdown"], ts: str, content: str) -> str:
    """``event_body(StreamEvent(seq=0, ts=ts, content=content))`` (or ``MarkdownEvent``)
    without making the model: the same text, character for character, and the same error
    for text JSON cannot hold (pydantic's serializer makes both). ``ctx.stream`` is the
    hottest path a busy hub has, and the model cost more than the rest of an emit."""
    return f'{{"ts":{to_json(ts).decode()},"type":"{kind}","content":{to_json(content).decode()}}}'


def frame_with_seq(seq: int, body: str) -> str:
    """Splice ``seq`` in front of an event body: the exact text every client receives."""
    return f'{{"seq":{seq},{body[1:]}'


def seq_of(frame: str) -> int:
    """Read the seq back from a frame made by :func:`frame_with_seq`, without parsing JSON."""
    return int(frame[7 : frame.index(",", 7)])


# --- Control frames (not stored, no seq) -------------------------------------------------


class ReplayStart(Wire):
    """What the replay that follows holds: the events after ``after`` up to ``last_seq``
    of the log whose epoch is ``epoch`` (PROTOCOL.md §4). ``reset``: the client's view is
    void (the log lost events it was shown, or it holds another epoch's); ``after`` is 0
    then, and the client starts again from what follows."""

    type: Literal["replay_start"] = "replay_start"
    after: int
    last_seq: int
    epoch: str | None = Opt()
    reset: bool = False


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


ShareRoleName = Literal["viewer", "answerer"]
LINK_MIN_SECONDS = 60
LINK_MAX_SECONDS = 30 * 86400
LINK_DEFAULT_SECONDS = 7 * 86400


class NewShare(Wire):
    """``POST /api/sessions/{id}/shares``: ``with`` is ``user:NAME`` or ``group:NAME``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    target: str = Field(alias="with", max_length=200)
    role: ShareRoleName


class ShareInfo(Wire):
    model_config = ConfigDict(frozen=True, populate_by_name=True, serialize_by_alias=True)
    target: str = Field(alias="with")
    role: ShareRoleName
    by: str
    at: str


class ShareList(Wire):
    shares: list[ShareInfo]


class NewLink(Wire):
    """``POST /api/sessions/{id}/links``: how long the link works, in seconds."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    expires_in: int = Field(LINK_DEFAULT_SECONDS, ge=LINK_MIN_SECONDS, le=LINK_MAX_SECONDS)


class LinkInfo(Wire):
    id: str
    by: str
    created_at: str
    expires_at: str


class LinkCreated(LinkInfo):
    token: str
    url: str  # the app's page for the session, carrying the token (relative to the hub)


class LinkList(Wire):
    links: list[LinkInfo]


class SessionPage(Wire):
    sessions: list[Session]
    next: str | None


class InboxItem(Wire):
    """One open request the caller may answer, with what says where it comes from."""

    session_id: str
    task: str
    title: str                           # the task's title (its name if this hub lacks it)
    owner: str                           # who asked: the session's owner
    summary: str | None = Opt()          # the session's inputs, shortened
    request: Request
    opened_at: str


class InboxPage(Wire):
    requests: list[InboxItem]
    next: str | None


class AnswerLinkInfo(Wire):
    """``GET /api/answer/{token}``: the request an answer link answers, for whom, and
    until when (the link's own expiry, ISO-8601 UTC)."""

    session_id: str
    task: str
    title: str                           # the task's title (its name if this hub lacks it)
    owner: str                           # who is waiting: the session's owner
    person: str                          # whom the link answers as (``user:NAME``)
    request: Request
    link_expires_at: str
    # TETHER_ANSWER_LINK_LOGIN=required: the link answers only for ``person`` signed in;
    # ``signed_in_as``: the caller's account (None: nobody is signed in), told only then.
    login_required: bool = False
    signed_in_as: str | None = None


class EventPage(Wire):
    events: list[Event]
    last_seq: int
    epoch: str | None = Opt()  # the log's epoch (PROTOCOL.md §4, "Epochs")


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


class OidcInfo(Wire):
    """The OpenID provider a login page offers: ``GET /api/login/oidc`` goes to it."""

    name: str
    login_url: str


class AuthInfo(Wire):
    """How one logs in to this hub: ``GET /api/auth``, which needs no identity."""

    mode: AuthModeName
    password: bool  # POST /api/login takes a user name and a password
    oidc: OidcInfo | None = None
