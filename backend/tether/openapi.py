"""``/openapi.json``: the HTTP API described from the same models the handlers use."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from tether.messages import (
    Answer,
    Answered,
    ErrorBody,
    EventPage,
    ForkSession,
    LoginRequest,
    Me,
    Session,
    SessionPage,
    StartSession,
    TaskList,
)

_REF = "#/components/schemas/{model}"


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": _REF.format(model=model.__name__)}


def _json(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(model)}}}


def _errors(*pairs: tuple[int, str]) -> dict[str, Any]:
    return {str(status): _json(ErrorBody, text) for status, text in pairs}


def _param(name: str, where: str, schema: dict[str, Any], text: str) -> dict[str, Any]:
    return {"name": name, "in": where, "required": where == "path", "schema": schema,
            "description": text}


SESSION_ID = _param("session_id", "path", {"type": "string"}, "The session's id.")


def build_openapi(version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the hub's HTTP API."""
    models: list[type[BaseModel]] = [
        TaskList, StartSession, Session, SessionPage, EventPage, Answer, Answered, ErrorBody,
        ForkSession, LoginRequest, Me,
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
                                      "same session (200) instead of starting another.")],
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
                    _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 100},
                           "Page size (default 20)."),
                    _param("before", "query", {"type": "string"}, "The previous page's next."),
                ],
                "responses": {"200": _json(SessionPage, "A page of sessions."),
                              **_errors((422, "invalid_query"))},
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
                          **_errors((404, "unknown_session"), (409, "already_finished"))},
        }},
        "/api/sessions/{session_id}/fork": {"post": {
            "summary": "Start a new session from this one's journal up to at_seq",
            "parameters": [SESSION_ID],
            "requestBody": {"required": False,
                            "content": {"application/json": {"schema": _ref(ForkSession)}}},
            "responses": {"201": _json(Session, "The new session."),
                          **_errors((404, "unknown_session"),
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
                **_errors((404, "unknown_session or unknown_request"),
                          (409, "already_answered or session_finished"),
                          (422, "invalid_value (with fields) or invalid_message")),
            },
        }},
        "/api/login": {"post": {
            "summary": "Log in with a user name and password (accounts mode)",
            "requestBody": {"required": True,
                            "content": {"application/json": {"schema": _ref(LoginRequest)}}},
            "responses": {
                "200": _json(Me, "Logged in; the response sets the session cookie."),
                **_errors((401, "invalid_credentials"), (404, "accounts_disabled"),
                          (422, "invalid_message"), (429, "too_many_attempts")),
            },
        }},
        "/api/logout": {"post": {
            "summary": "End this browser's login session",
            "responses": {"204": {"description": "Logged out; the cookie is cleared."}},
        }},
        "/api/me": {"get": {
            "summary": "Who the caller is",
            "responses": {"200": _json(Me, "The caller."), **_errors((401, "not_authenticated"))},
        }},
        "/healthz": {"get": {"summary": "The process is alive",
                             "responses": {"200": {"description": "Alive."}}}},
        "/readyz": {"get": {"summary": "The store answers",
                            "responses": {"200": {"description": "Ready."},
                                          "503": {"description": "The store is unreachable."}}}},
    }
    # Every write: the cross-site checks of csrf.py.
    for operations in paths.values():
        if "post" in operations:
            operations["post"]["responses"].update(_errors(
                (403, "cross_site_request"), (415, "unsupported_media_type")
            ))
    return {
        "openapi": "3.1.0",
        "info": {"title": "Tether", "version": version,
                 "description": "Long-running tasks with people in the loop. The WebSocket "
                                "protocol is described in PROTOCOL.md."},
        "paths": paths,
        "components": {"schemas": schemas.get("$defs", {})},
    }
