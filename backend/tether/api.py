"""The HTTP API of PROTOCOL.md section 3: translation only.

Handlers parse and check what the client sent, call the
:class:`~tether.sessions.SessionManager`, and render its answer. Every failure is a
:class:`~tether.errors.TetherError` rendered as ``{"error": {"code", "message",
"fields"?}}`` with its status; nothing a client sends can produce a bare 500.
"""

from __future__ import annotations

import json
import logging
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tether import inbox, jsontext
from tether.access import Level, seen_by
from tether.audit import Audit, Where
from tether.envelope import error_response, tether_error_response
from tether.errors import (
    Forbidden,
    InvalidJson,
    InvalidMessage,
    InvalidQuery,
    PayloadTooLarge,
    TetherError,
)
from tether.forms import field_errors
from tether.messages import (
    Answer,
    Answered,
    ForkSession,
    SnapshotEvent,
    StartSession,
    TaskInfo,
    TaskList,
    now_iso,
)
from tether.principal import Principal
from tether.quotas import Quotas
from tether.sessions import Grant, SessionManager
from tether.store.base import EVERYONE
from tether.tracing import trace_headers

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
MAX_PAGE_BYTES = 4 * 1024 * 1024
LIST_CHUNK = 10  # sessions read from the store at a time for GET /api/sessions
STATUSES = ("pending", "running", "waiting", "completed", "failed", "cancelled")
REQUEST_STATUSES = ("open",)
B = TypeVar("B", bound=BaseModel)


def json_response(body: BaseModel, status: int = 200) -> Response:
    return Response(body.model_dump_json(), status_code=status, media_type="application/json")


def session_response(grant: Grant, status: int = 200) -> Response:
    """A Session as its caller may see it (see :func:`tether.access.seen_by`)."""
    return json_response(seen_by(grant.record.session, grant.level), status)


async def tether_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TetherError)
    return tether_error_response(exc)


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    codes = {404: "not_found", 405: "method_not_allowed"}
    code = codes.get(exc.status_code, "http_error")
    return error_response(
        code, str(exc.detail), status=exc.status_code, headers=exc.headers
    )


async def unexpected_error_handler(request: Request, exc: Exception) -> Response:
    log.error("Unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response("internal_error", "The hub failed to answer this.", status=500)


async def read_body(request: Request, model: type[B], *, optional: bool = False) -> B:
    """Parse a JSON body into ``model``, with the protocol's errors for every failure.

    With ``optional``, an empty body means the model's defaults.
    """
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"The body is over {MAX_BODY_BYTES} bytes.")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"The body is over {MAX_BODY_BYTES} bytes.")
    if optional and not body.strip():
        return model()
    try:
        data = jsontext.parse(body)
    except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        raise InvalidJson(str(exc)) from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidMessage("The body does not fit.", fields=field_errors(exc)) from exc


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 19) or not low <= int(raw) <= high:
        raise InvalidQuery(
            f"{name!r} must be a whole number from {low} to {high}.", fields={name: raw}
        )
    return int(raw)


def manager_of(request: Request) -> SessionManager:
    manager: SessionManager = request.state.manager
    return manager


def _user(request: Request) -> str:
    user: str = request.state.user
    return user


def principal_of(request: Request) -> Principal:
    principal: Principal = request.state.principal
    return principal


def _flag(request: Request, name: str) -> bool:
    raw = request.query_params.get(name)
    if raw in (None, "", "0", "false"):
        return False
    if raw in ("1", "true"):
        return True
    raise InvalidQuery(f"{name!r} is 1 or 0.", fields={name: raw or ""})


def _audit(request: Request) -> Audit:
    audit: Audit = request.state.audit
    return audit


async def list_tasks(request: Request) -> Response:
    tasks = [
        TaskInfo(name=t.name, title=t.title, description=t.description,
                 input_schema=t.input_schema(), view=t.view)
        for t in manager_of(request).hub
    ]
    return json_response(TaskList(tasks=tasks))


async def start_session(request: Request) -> Response:
    body = await read_body(request, StartSession)
    key = request.headers.get("idempotency-key")
    if key is not None and not 0 < len(key) <= 200:
        raise InvalidQuery("Idempotency-Key must be 1 to 200 characters.")
    quotas: Quotas = request.state.quotas
    session, created = await manager_of(request).start(
        body.task, body.inputs, owner=_user(request), idempotency_key=key,
        trace_headers=trace_headers(request.headers),
        quota=quotas.for_start(),
    )
    level = Level.ADMIN if principal_of(request).is_admin else Level.OWNER
    return json_response(seen_by(session, level), 201 if created else 200)


async def list_sessions(request: Request) -> Response:
    """The caller's sessions; ``?shared=1`` those shared with them; ``?all=1`` (admins)
    every session."""
    status = request.query_params.get("status") or None
    if status is not None and status not in STATUSES:
        raise InvalidQuery(f"Unknown status {status!r}.", fields={"status": status})
    limit = int_param(request, "limit", 20, 1, 100)
    cursor = request.query_params.get("before") or None
    who = principal_of(request)
    shared, everyone = _flag(request, "shared"), _flag(request, "all")
    if shared and everyone:
        raise InvalidQuery("Ask for shared=1 or for all=1, not both.")
    if everyone and not who.is_admin:
        raise Forbidden("Only admins may list every session.")
    manager = manager_of(request)
    owner = EVERYONE if everyone else who.id
    own_level = Level.ADMIN if who.is_admin else Level.OWNER
    # Read in small chunks and stop at MAX_PAGE_BYTES: a page of sessions with large
    # inputs ends early (its `next` says where to go on), and the hub never holds more
    # than about a chunk beyond the budget, however large the inputs are.
    items: list[str] = []
    size = 0
    while len(items) < limit:
        chunk = min(LIST_CHUNK, limit - len(items))
        if shared:
            grants, after = await manager.list_shared(
                who, status=status, limit=chunk, before=cursor
            )
            seen = [seen_by(g.record.session, g.level) for g in grants]
        else:
            sessions, after = await manager.store.list_sessions(
                owner, status=status, limit=chunk, before=cursor
            )
            seen = [seen_by(session, own_level) for session in sessions]
        for index, session in enumerate(seen):
            item = session.model_dump_json()
            if items and size + len(item) > MAX_PAGE_BYTES:
                return _session_page(items, cursor)
            items.append(item)
            size += len(item) + 1
            cursor = session.id
            if index == len(seen) - 1:
                cursor = after
        if after is None:
            break
    return _session_page(items, cursor)


def _session_page(items: list[str], cursor: str | None) -> Response:
    """A SessionPage spliced from encoded items (see :class:`tether.messages.SessionPage`)."""
    body = f'{{"sessions":[{",".join(items)}],"next":{json.dumps(cursor)}}}'
    return Response(body, media_type="application/json")


async def get_session(request: Request) -> Response:
    session_id = request.path_params["session_id"]
    grant = await manager_of(request).get(session_id, who=principal_of(request))
    return session_response(grant)


async def list_events(request: Request) -> Response:
    manager = manager_of(request)
    session_id = request.path_params["session_id"]
    who = principal_of(request)
    after = int_param(request, "after", 0, 0, 2**62)
    limit = int_param(request, "limit", 1000, 1, 10_000)
    await manager.get(session_id, who=who)
    events = await manager.store.read_events(session_id, after=after, limit=limit)
    frames, last_seq = events.frames, events.last_seq
    if events.trimmed:
        # Events after `after` are gone: as on the socket, a snapshot stands in for them
        # (seq = just before the oldest kept event), then the kept ones; the snapshot
        # counts as one of the page's `limit` events.
        grant = await manager.get(session_id, who=who)
        session = seen_by(grant.record.session, grant.level)
        snapshot = SnapshotEvent(seq=events.gone_upto, ts=now_iso(), session=session)
        frames = [snapshot.model_dump_json(), *frames[: limit - 1]]
    frames = _within_budget(frames)
    # Frames are stored encoded: the page is spliced together, not re-serialised.
    epoch = f',"epoch":{json.dumps(events.epoch)}' if events.epoch is not None else ""
    body = f'{{"events":[{",".join(frames)}],"last_seq":{last_seq}{epoch}}}'
    return Response(body, media_type="application/json")


def _within_budget(frames: list[str]) -> list[str]:
    """The longest prefix of ``frames`` within MAX_PAGE_BYTES (at least one frame): a page
    of large events is cut short, and the client asks for the next one."""
    size = 0
    for index, frame in enumerate(frames):
        size += len(frame) + 1
        if size > MAX_PAGE_BYTES and index > 0:
            return frames[:index]
    return frames


async def cancel_session(request: Request) -> Response:
    who = principal_of(request)
    session_id = request.path_params["session_id"]
    entry = Audit.entry("cancel", user=who.id, where=Where.of(request.scope),
                        session=session_id, via="http")
    grant = await _audit(request).attempt(
        entry, lambda audit: manager_of(request).cancel(session_id, who=who, audit=audit)
    )
    return session_response(grant, 202)


async def answer_request(request: Request) -> Response:
    body = await read_body(request, Answer)
    who = principal_of(request)
    session_id = request.path_params["session_id"]
    entry = Audit.entry("answer", user=who.id, where=Where.of(request.scope), session=session_id,
                        request=request.path_params["request_id"], via="http")
    request_id = await _audit(request).attempt(entry, lambda audit: manager_of(request).answer(
        session_id, who=who, value=body.value, request_id=request.path_params["request_id"],
        audit=audit,
    ))
    return json_response(Answered(request_id=request_id))


async def fork_session(request: Request) -> Response:
    body = await read_body(request, ForkSession, optional=True)
    who = principal_of(request)
    session = await manager_of(request).fork(
        request.path_params["session_id"], who=who, at_seq=body.at_seq
    )
    level = Level.ADMIN if who.is_admin else Level.OWNER
    return json_response(seen_by(session, level), 201)


async def list_requests(request: Request) -> Response:
    """``GET /api/requests?status=open``: the caller's inbox (see :mod:`tether.inbox`)."""
    status = request.query_params.get("status") or "open"
    if status not in REQUEST_STATUSES:
        raise InvalidQuery(
            f"Unknown status {status!r}: only 'open' requests are listed.",
            fields={"status": status},
        )
    limit = int_param(request, "limit", 20, 1, 100)
    before = inbox.parse_cursor(request.query_params.get("before"))
    manager = manager_of(request)
    page = await inbox.open_requests(
        manager.store, manager.shares, manager.hub, principal_of(request),
        limit=limit, before=before,
    )
    return json_response(page)


async def api_not_found(request: Request) -> Response:
    return error_response("not_found", f"No API route {request.url.path}.", status=404)


def routes() -> list[Route]:
    sessions = "/api/sessions/{session_id}"
    return [
        Route("/api/tasks", list_tasks, methods=["GET"]),
        Route("/api/sessions", start_session, methods=["POST"]),
        Route("/api/sessions", list_sessions, methods=["GET"]),
        Route(sessions, get_session, methods=["GET"]),
        Route(f"{sessions}/events", list_events, methods=["GET"]),
        Route(f"{sessions}/cancel", cancel_session, methods=["POST"]),
        Route(f"{sessions}/fork", fork_session, methods=["POST"]),
        Route(f"{sessions}/requests/{{request_id}}", answer_request, methods=["POST"]),
        Route("/api/requests", list_requests, methods=["GET"]),
        Route("/api/{path:path}", api_not_found, methods=["GET", "POST", "PUT", "DELETE"]),
    ]


def exception_handlers() -> dict[Any, Any]:
    return {
        TetherError: tether_error_handler,
        HTTPException: http_error_handler,
        Exception: unexpected_error_handler,
    }
