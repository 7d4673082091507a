"""``/openapi.json``: the HTTP API described from the same models the handlers use.

Every status a route can answer is listed: its own, and those every route of a kind
shares, added by :func:`_shared_statuses` from the middleware that gives them (identity:
400 in proxy mode, 401 under ``/api/``, 503 when the store is down; the cross-site checks
on writes: 403, 415; reading a JSON body: 400, 413, 422).
``tests/integration/test_openapi_fuzz.py`` holds a live hub to this document.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from tether.audit import MAX_LIMIT, AuditPage
from tether.messages import (
    Answer,
    Answered,
    AnswerLinkInfo,
    AuthInfo,
    ErrorBody,
    EventPage,
    ForkSession,
    InboxPage,
    LinkCreated,
    LinkList,
    LoginRequest,
    Me,
    NewLink,
    NewShare,
    Session,
    SessionPage,
    ShareInfo,
    ShareList,
    StartSession,
    TaskList,
)
from tether.webhooks import (
    DeliveryPage,
    DeliveryRecord,
    NewWebhook,
    WebhookCreated,
    WebhookInfo,
    WebhookList,
)

_REF = "#/components/schemas/{model}"


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": _REF.format(model=model.__name__)}


def _json(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(model)}}}


def _errors(*pairs: tuple[int, str]) -> dict[str, Any]:
    return {str(status): _json(ErrorBody, text) for status, text in pairs}


def _add_error(responses: dict[str, Any], status: int, text: str) -> None:
    """Document one more way to get ``status``: a new error response, or the text added to
    the one already there."""
    known = responses.get(str(status))
    if known is None:
        responses[str(status)] = _json(ErrorBody, text)
    elif text not in known["description"]:
        known["description"] = f"{known['description']}; {text}"


def _shared_statuses(paths: dict[str, Any]) -> None:
    """The statuses that come from the middleware and body parsing, on every route they
    apply to (see the module docstring)."""
    for path, operations in paths.items():
        for method, operation in operations.items():
            responses = operation["responses"]
            _add_error(responses, 400, "invalid_header or invalid_host (proxy mode)")
            if path.startswith("/api/"):
                _add_error(responses, 401, "not_authenticated")
            if method in ("post", "delete") and path.startswith("/api/"):
                _add_error(responses, 403, "cross_site_request")
                _add_error(responses, 415, "unsupported_media_type")
            if "requestBody" in operation:
                _add_error(responses, 400, "invalid_json")
                _add_error(responses, 413, "payload_too_large")
                _add_error(responses, 422, "invalid_message")
            _add_error(responses, 503, "store_unavailable")


def _param(name: str, where: str, schema: dict[str, Any], text: str) -> dict[str, Any]:
    return {"name": name, "in": where, "required": where == "path", "schema": schema,
            "description": text}


SESSION_ID = _param("session_id", "path", {"type": "string"}, "The session's id.")
LINK = _param("link", "query", {"type": "string"},
              "A share link's token: read-only access to this one session.")


def _body(model: type[BaseModel], required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": _ref(model)}}}


def _sharing_paths() -> dict[str, Any]:
    """Shares and share links (sharing_api.py): the owner's or an admin's to change."""
    no_access = (404, "unknown_session (also when the caller may not see it)")
    not_owner = (403, "forbidden: only the owner or an admin shares a session")
    base = "/api/sessions/{session_id}"
    return {
        f"{base}/shares": {
            "get": {"summary": "Whom the session is shared with",
                    "parameters": [SESSION_ID],
                    "responses": {"200": _json(ShareList, "The shares, oldest first."),
                                  **_errors(no_access, (403, "forbidden (a share link)"))}},
            "post": {"summary": "Share the session with a user or a group",
                     "parameters": [SESSION_ID], "requestBody": _body(NewShare),
                     "responses": {"201": _json(ShareInfo, "The new share."),
                                   "200": _json(ShareInfo, "The share's role changed."),
                                   **_errors(no_access, not_owner, (400, "invalid_json"),
                                             (422, "invalid_message"))}},
        },
        f"{base}/shares/{{target}}": {"delete": {
            "summary": "Stop sharing with a user or group",
            "parameters": [SESSION_ID, _param("target", "path", {"type": "string"},
                                              "user:NAME or group:NAME")],
            "responses": {"204": {"description": "No longer shared."},
                          **_errors((404, "unknown_session or unknown_share"), not_owner)},
        }},
        f"{base}/links": {
            "get": {"summary": "The session's live share links (without their tokens)",
                    "parameters": [SESSION_ID],
                    "responses": {"200": _json(LinkList, "Live links, oldest first."),
                                  **_errors(no_access, not_owner)}},
            "post": {"summary": "Make a read-only share link",
                     "parameters": [SESSION_ID], "requestBody": _body(NewLink, False),
                     "responses": {"201": _json(LinkCreated, "The link; its token is shown "
                                                             "this once."),
                                   **_errors(no_access, not_owner, (400, "invalid_json"),
                                             (422, "invalid_message"))}},
        },
        f"{base}/links/{{link_id}}": {"delete": {
            "summary": "Revoke a share link",
            "parameters": [SESSION_ID, _param("link_id", "path", {"type": "string"},
                                              "The link's id")],
            "responses": {"204": {"description": "Revoked."},
                          **_errors((404, "unknown_session or unknown_link"), not_owner)},
        }},
    }
def _answer_link_paths() -> dict[str, Any]:
    """Answering by a mailed link (answer_api.py): the token is the credential."""
    token = _param("token", "path", {"type": "string"}, "The answer link's token.")
    closed = [
        (404, "unknown_link (not a valid token; or its account is gone), unknown_session or "
              "unknown_request (expired unanswered)"),
        (409, "link_used, already_answered (by anyone) or session_finished"),
        (410, "link_expired"),
        (403, "forbidden (the person may no longer answer it)"),
    ]
    return {"/api/answer/{token}": {
        "get": {"summary": "The request an answer link answers (answers nothing; needs no "
                           "login)",
                "parameters": [token],
                "responses": {"200": _json(AnswerLinkInfo, "The open request and its "
                                                           "session."),
                              **_errors(*closed)}},
        "post": {"summary": "Answer as the link's person, once (needs no login)",
                 "parameters": [token], "requestBody": _body(Answer),
                 "responses": {"200": _json(Answered, "The answer was recorded."),
                               **_errors(*closed, (422, "invalid_value (with fields)"))}},
    }}


HEALTH = {"type": "object", "properties": {"status": {"type": "string"}},
          "required": ["status"]}
FILTER = {"type": "string", "maxLength": 200}


def _webhook_paths() -> dict[str, Any]:
    """The webhooks API (webhooks_api.py): admins only."""
    admin = (403, "forbidden (not an admin)")
    hook_id = _param("webhook_id", "path", {"type": "string"}, "The webhook's id.")
    return {
        "/api/webhooks": {
            "post": {"summary": "Register a webhook (its secret is shown this once)",
                     "requestBody": _body(NewWebhook),
                     "responses": {"201": _json(WebhookCreated, "The new webhook."),
                                   **_errors(admin, (422, "invalid_message"))}},
            "get": {"summary": "The webhooks, without their secrets",
                    "responses": {"200": _json(WebhookList, "Every webhook."),
                                  **_errors(admin)}},
        },
        "/api/webhooks/{webhook_id}": {
            "get": {"summary": "One webhook", "parameters": [hook_id],
                    "responses": {"200": _json(WebhookInfo, "The webhook."),
                                  **_errors(admin, (404, "unknown_webhook"))}},
            "delete": {"summary": "Remove a webhook", "parameters": [hook_id],
                       "responses": {"204": {"description": "Removed."},
                                     **_errors(admin, (404, "unknown_webhook"))}},
        },
        "/api/webhooks/{webhook_id}/deliveries": {"get": {
            "summary": "The webhook's delivery log, newest first",
            "parameters": [
                hook_id,
                _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 500},
                       "Page size (default 50)."),
                _param("before", "query", {"type": "string"}, "The previous page's next."),
            ],
            "responses": {"200": _json(DeliveryPage, "A page of deliveries."),
                          **_errors(admin, (404, "unknown_webhook"), (422, "invalid_query"))},
        }},
        "/api/webhooks/{webhook_id}/deliveries/{notification_id}/redeliver": {"post": {
            "summary": "Send a finished delivery again, with the same webhook-id",
            "parameters": [hook_id, _param("notification_id", "path", {"type": "string"},
                                           "The notification's id.")],
            "responses": {"200": _json(DeliveryRecord, "The new attempt."),
                          **_errors(admin, (404, "unknown_webhook or unknown_notification"))},
        }},
    }


def build_openapi(version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the hub's HTTP API."""
    models: list[type[BaseModel]] = [
        TaskList, StartSession, Session, SessionPage, EventPage, Answer, Answered, ErrorBody,
        ForkSession, LoginRequest, Me, AuditPage, AuthInfo, InboxPage, NewShare, ShareInfo,
        ShareList, NewLink, LinkCreated, LinkList, AnswerLinkInfo, NewWebhook, WebhookCreated,
        WebhookInfo, WebhookList, DeliveryPage, DeliveryRecord,
    ]
    _, schemas = models_json_schema(
        [(m, "serialization") for m in models], ref_template=_REF
    )
    paths: dict[str, Any] = {
        "/api/tasks": {"get": {
            "summary": "The task catalogue",
            "responses": {"200": _json(TaskList, "Every task with its input schema.")},
        }},
        "/api/sessions": {
            "post": {
                "summary": "Start a session",
                "parameters": [_param("Idempotency-Key", "header", {"type": "string"},
                                      "Repeating a request with the same key returns the "
                                      "same session (200) instead of starting another."),
                               _param("traceparent", "header", {"type": "string"},
                                      "W3C Trace Context: the session's spans continue this "
                                      "trace (with tracestate; a malformed one is ignored)."),
                               _param("tracestate", "header", {"type": "string"},
                                      "W3C Trace Context vendor state, with traceparent.")],
                "requestBody": {"required": True,
                                "content": {"application/json": {"schema": _ref(StartSession)}}},
                "responses": {
                    "201": _json(Session, "The new session."),
                    "200": _json(Session, "The session this Idempotency-Key started."),
                    **_errors((400, "invalid_json"), (404, "unknown_task"),
                              (422, "invalid_inputs, invalid_message or idempotency_key_reused"),
                              (429, "too_many_starts (with Retry-After) or "
                                    "too_many_open_sessions")),
                },
            },
            "get": {
                "summary": "The caller's sessions, newest first",
                "parameters": [
                    _param("status", "query", {"type": "string"}, "Only this status."),
                    _param("shared", "query", {"type": "string", "enum": ["0", "1"]},
                           "1: the sessions shared with the caller or its groups instead."),
                    _param("all", "query", {"type": "string", "enum": ["0", "1"]},
                           "1: every user's sessions (admins only)."),
                    _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 100},
                           "Page size (default 20)."),
                    _param("before", "query", {"type": "string"}, "The previous page's next."),
                ],
                "responses": {"200": _json(SessionPage, "A page of sessions."),
                              **_errors((422, "invalid_query"),
                                        (403, "forbidden (all=1 by a non-admin)"))},
            },
        },
        "/api/sessions/{session_id}": {"get": {
            "summary": "One session",
            "parameters": [SESSION_ID],
            "responses": {"200": _json(Session, "The session."),
                          **_errors((404, "unknown_session"))},
        }},
        "/api/sessions/{session_id}/events": {"get": {
            "summary": "Events with seq > after, oldest first",
            "parameters": [
                SESSION_ID,
                _param("after", "query", {"type": "integer", "minimum": 0}, "Default 0."),
                _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 10000},
                       "Default 1000."),
            ],
            "responses": {"200": _json(EventPage, "Events; a snapshot first if trimmed."),
                          **_errors((404, "unknown_session"), (422, "invalid_query"))},
        }},
        "/api/sessions/{session_id}/cancel": {"post": {
            "summary": "Cancel a session (idempotent)",
            "parameters": [SESSION_ID],
            "responses": {"202": _json(Session, "Cancellation is under way."),
                          **_errors((403, "forbidden (not the owner)"),
                                    (404, "unknown_session"), (409, "already_finished"))},
        }},
        "/api/sessions/{session_id}/fork": {"post": {
            "summary": "Start a new session from this one's journal up to at_seq",
            "parameters": [SESSION_ID],
            "requestBody": {"required": False,
                            "content": {"application/json": {"schema": _ref(ForkSession)}}},
            "responses": {"201": _json(Session, "The new session."),
                          **_errors((403, "forbidden (not the owner)"), (404, "unknown_session"),
                                    (422, "invalid_message (at_seq out of range)"))},
        }},
        "/api/sessions/{session_id}/requests/{request_id}": {"post": {
            "summary": "Answer an open request",
            "parameters": [SESSION_ID, _param("request_id", "path", {"type": "string"},
                                              "The request's id.")],
            "requestBody": {"required": True,
                            "content": {"application/json": {"schema": _ref(Answer)}}},
            "responses": {
                "200": _json(Answered, "The answer was recorded."),
                **_errors((403, "forbidden (assigned to others)"),
                          (404, "unknown_session or unknown_request"),
                          (409, "already_answered or session_finished"),
                          (422, "invalid_value (with fields)")),
            },
        }},
        "/api/requests": {"get": {
            "summary": "The caller's inbox: open requests it may answer, newest first",
            "parameters": [
                _param("status", "query", {"type": "string", "enum": ["open"]},
                       "Only open requests are listed (the default)."),
                _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 100},
                       "Page size (default 20)."),
                _param("before", "query", {"type": "string"}, "The previous page's next."),
            ],
            "responses": {"200": _json(InboxPage, "A page of open requests."),
                          **_errors((422, "invalid_query"))},
        }},
        "/api/login": {"post": {
            "summary": "Log in with a user name and password (accounts mode)",
            "requestBody": {"required": True,
                            "content": {"application/json": {"schema": _ref(LoginRequest)}}},
            "responses": {
                "200": _json(Me, "Logged in; the response sets the session cookie."),
                **_errors((401, "invalid_credentials"), (404, "accounts_disabled"),
                          (429, "too_many_attempts (with Retry-After)")),
            },
        }},
        "/api/logout": {"post": {
            "summary": "End this browser's login session",
            "responses": {"204": {"description": "Logged out; the cookie is cleared."}},
        }},
        "/api/auth": {"get": {
            "summary": "How to log in to this hub (needs no identity)",
            "responses": {"200": _json(AuthInfo, "The mode and the ways to log in.")},
        }},
        "/api/login/oidc": {"get": {
            "summary": "Start an OpenID Connect login: a redirect to the provider",
            "parameters": [_param("next", "query", {"type": "string"},
                                  "A path of this hub to land on afterwards (default /).")],
            "responses": {
                "303": {"description": "To the provider; sets the login-state cookie."},
                **_errors((404, "oidc_disabled"), (422, "invalid_query")),
            },
        }},
        "/api/login/oidc/callback": {"get": {
            "summary": "The provider's answer (redirect URI of the client registration)",
            "responses": {"303": {"description": (
                "Logged in: to `next` with the session cookie. Refused: to "
                "`/login?oidc_error=REASON` (state, provider, token, account, unavailable)."
            )}, **_errors((404, "oidc_disabled"))},
        }},
        "/api/me": {"get": {
            "summary": "Who the caller is",
            "responses": {"200": _json(Me, "The caller."), **_errors((401, "not_authenticated"))},
        }},
        "/api/audit": {"get": {
            "summary": "The audit log, newest first (admins only)",
            "parameters": [
                _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
                       "Page size (default 50)."),
                _param("before", "query", {"type": "string", "pattern": "^[0-9]+-[0-9]+$"},
                       "The previous page's next."),
                _param("action", "query", FILTER, "Only this action (login, answer, ...)."),
                _param("session", "query", FILTER, "Only entries about this session."),
                _param("user", "query", FILTER, "Only this principal id (user:NAME)."),
            ],
            "responses": {"200": _json(AuditPage, "A page of entries."),
                          **_errors((403, "forbidden (not an admin)"), (422, "invalid_query"))},
        }},
        "/login": {"get": {
            "summary": "Spend a one-time login link (with token), or the app's login page",
            "parameters": [_param("token", "query", {"type": "string"},
                                  "The link's token; without one, the login page.")],
            "responses": {
                "200": {"description": "The app's login page.",
                        "content": {"text/html": {"schema": {"type": "string"}}}},
                "303": {"description": "Logged in: the response sets the session cookie and "
                                       "sends the browser to /."},
                **_errors((404, "invalid_link (unknown or already used)"),
                          (429, "too_many_attempts (too many wrong tokens from this address; "
                                "with Retry-After)")),
            },
        }},
        "/healthz": {"get": {"summary": "The process is alive",
                             "responses": {"200": {
                                 "description": "Alive.",
                                 "content": {"application/json": {"schema": HEALTH}}}}}},
        "/metrics": {"get": {
            "summary": "This hub's metrics, Prometheus text format (docs/METRICS.md)",
            "description": (
                "With TETHER_METRICS_TOKEN set: `Authorization: Bearer <that token>` or an "
                "admin. Without it: anyone in single-person mode, admins otherwise. "
                "`Accept: application/openmetrics-text` gets OpenMetrics."
            ),
            "responses": {
                "200": {"description": "The metrics.", "content": {
                    "text/plain": {"schema": {"type": "string"}},
                    "application/openmetrics-text": {"schema": {"type": "string"}},
                }},
                **_errors((400, "invalid_header (two Authorization headers)"),
                          (401, "not_authenticated"),
                          (403, "forbidden (neither the metrics token nor an admin)")),
            },
        }},
        "/readyz": {"get": {"summary": "The store answers",
                            "responses": {
                                "200": {"description": "Ready.",
                                        "content": {"application/json": {"schema": HEALTH}}},
                                "503": {"description": "The store is unreachable.",
                                        "content": {"application/json": {"schema": {
                                            "anyOf": [HEALTH, _ref(ErrorBody)]}}}}}}},
    }
    paths.update(_sharing_paths())
    paths.update(_webhook_paths())
    paths.update(_answer_link_paths())
    # Session routes: a share link (?link=) reads; a level too low for a write is 403.
    for path, operations in paths.items():
        if path.startswith("/api/sessions/{session_id}"):
            for method, operation in operations.items():
                if method == "get":
                    operation["parameters"] = [*operation["parameters"], LINK]
                else:
                    _add_error(operation["responses"], 403,
                               "forbidden: the caller's access does not allow this")
    _shared_statuses(paths)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Tether", "version": version,
                 "description": "Long-running tasks with people in the loop. The WebSocket "
                                "protocol is described in PROTOCOL.md."},
        "paths": paths,
        "components": {"schemas": schemas.get("$defs", {})},
    }
