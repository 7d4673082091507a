"""``Client``: start sessions on a hub, follow them and answer them, from a program.

It speaks PROTOCOL.md §3 over httpx and §4 over ``websockets``, and hands back the same
pydantic models the hub sends (``tether.messages``), so a field the protocol names has
the same name and type on both sides.

Identity: with ``token`` every request and socket carries ``Authorization: Bearer``
(accounts mode). Without one the hub is taken to be in single-person mode: the client
gets a ``tether_user`` cookie on its first request and keeps it for its own lifetime,
so the sessions it starts are visible to it, and to nobody else, until it is closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from opentelemetry import propagate
from pydantic import BaseModel

from tether.client._errors import HubUnreachable, error_from_response
from tether.client._events import EventStream
from tether.messages import (
    TERMINAL_STATUSES,
    Answered,
    InboxItem,
    InboxPage,
    Session,
    TaskInfo,
    TaskList,
)

MAX_INBOX_PAGE = 100  # GET /api/requests takes at most this many per page


class Client:
    """A program's connection to one hub.

    Use it as ``async with Client(url, token=...) as client:`` (or call :meth:`aclose`).
    Every method raises a :class:`~tether.client.TetherClientError` subclass when the hub
    refuses (carrying its ``code``, ``message``, ``fields`` and ``status``) and
    :class:`~tether.client.HubUnreachable` when it does not answer.

    Args:
        url: the hub's base URL, ``http://127.0.0.1:8000`` (``https://`` too; a path
            prefix is kept).
        token: an API token (``tether users token NAME``); None for a single-person hub.
        headers: more headers for every request and socket upgrade (``X-Tether-User``
            behind an authenticating proxy, say).
        timeout: seconds for each HTTP request.
    """

    def __init__(
        self, url: str, token: str | None = None, *,
        headers: Mapping[str, str] | None = None, timeout: float = 10.0,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"url must be http(s)://host[:port][/path], not {url!r}")
        self.url = url.rstrip("/")
        self._ws_base = ("wss" if parts.scheme == "https" else "ws") + self.url[len(parts.scheme):]
        self._token = token
        self._headers = dict(headers or {})
        if token is not None:
            self._headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.AsyncClient(base_url=self.url, headers=self._headers, timeout=timeout)
        self._identified = token is not None
        self._identify_lock = asyncio.Lock()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connections (event streams close on their own, or with theirs)."""
        await self._http.aclose()

    # --- sessions ------------------------------------------------------------------------

    async def tasks(self) -> list[TaskInfo]:
        """The hub's catalogue (``GET /api/tasks``)."""
        return TaskList.model_validate_json(await self._call("GET", "/api/tasks")).tasks

    async def start(
        self, task: str, inputs: Mapping[str, Any] | BaseModel | None = None,
        idempotency_key: str | None = None,
    ) -> Session:
        """Start a session of ``task``.

        Args:
            task: the task's name, as ``tasks()`` lists it.
            inputs: what the start form would hold (a mapping or a model instance).
            idempotency_key: the same key again (1 to 200 characters) gets the session the
                first call started, not a second one: safe to retry after a timeout.

        The current OpenTelemetry context travels as ``traceparent`` (the API's global
        propagator), so the session's spans continue the caller's trace.

        Raises:
            UnknownTask, InvalidInputs (with ``fields``), TooManyRequests.
        """
        headers = {} if idempotency_key is None else {"Idempotency-Key": idempotency_key}
        propagate.inject(headers)  # nothing without a current span
        body = {"task": task, "inputs": _jsonable(inputs) if inputs is not None else {}}
        raw = await self._call("POST", "/api/sessions", json=body, headers=headers)
        return Session.model_validate_json(raw)

    async def get(self, session_id: str) -> Session:
        """The session now. Raises UnknownSession."""
        return Session.model_validate_json(await self._call("GET", _session_path(session_id)))

    def events(
        self, session_id: str, after: int = 0, *, epoch: str | None = None,
        give_up_after: float | None = None,
    ) -> EventStream:
        """The session's events after seq ``after``, live, as an async iterator.

        It reconnects by itself (with ``after=`` the last seq it handed out and ``epoch=``
        the log's epoch) and stops after the terminal ``status`` event; see
        :class:`~tether.client.EventStream`. ``epoch``: the epoch ``after`` counts in,
        from an earlier stream's :attr:`~tether.client.EventStream.epoch` (None: unknown).
        ``give_up_after``: seconds without a connection before it raises HubUnreachable
        (None: keep trying, as a hub that restarts comes back).
        """
        return EventStream(
            self, session_id, after=after, epoch=epoch, give_up_after=give_up_after
        )

    async def answer(self, session_id: str, request_id: str, value: Any) -> Answered:
        """Answer an open request: a mapping (or model) for an input request, a bool for
        a confirmation or a retry offer.

        Raises:
            InvalidValue (with ``fields``; the request stays open), AlreadyAnswered,
            UnknownRequest, Forbidden, UnknownSession.
        """
        raw = await self._call(
            "POST", f"{_session_path(session_id)}/requests/{quote(request_id, safe='')}",
            json={"value": _jsonable(value)},
        )
        return Answered.model_validate_json(raw)

    async def cancel(self, session_id: str) -> Session:
        """Ask the hub to cancel the session (it ends ``cancelled`` soon after; asking
        again is harmless). Raises AlreadyFinished, Forbidden, UnknownSession."""
        raw = await self._call("POST", f"{_session_path(session_id)}/cancel")
        return Session.model_validate_json(raw)

    async def wait(self, session_id: str, *, give_up_after: float | None = None) -> Session:
        """Follow the session until it has finished; the finished session.

        Events are read from the session's current ``last_seq`` on, so a long history is
        not replayed."""
        session = await self.get(session_id)
        if session.status in TERMINAL_STATUSES:
            return session
        async with self.events(
            session_id, after=session.last_seq, give_up_after=give_up_after
        ) as stream:
            async for _ in stream:
                pass
        return await self.get(session_id)

    async def requests(
        self, status: str = "open", *, limit: int | None = None,
        page_size: int = MAX_INBOX_PAGE,
    ) -> list[InboxItem]:
        """The caller's inbox (``GET /api/requests``): every open request it may answer,
        newest first, read page by page until the end or ``limit`` items."""
        if not 1 <= page_size <= MAX_INBOX_PAGE:
            raise ValueError(f"page_size must be 1 to {MAX_INBOX_PAGE}")
        items: list[InboxItem] = []
        before: str | None = None
        while limit is None or len(items) < limit:
            want = page_size if limit is None else min(page_size, limit - len(items))
            params: dict[str, str | int] = {"status": status, "limit": want}
            if before is not None:
                params["before"] = before
            page = InboxPage.model_validate_json(
                await self._call("GET", "/api/requests", params=params)
            )
            items.extend(page.requests)
            before = page.next
            if before is None or not page.requests:
                break
        return items if limit is None else items[:limit]

    # --- what an EventStream asks of its client ------------------------------------------

    def socket_url(self, session_id: str, after: int, epoch: str | None = None) -> str:
        url = f"{self._ws_base}/ws/sessions/{quote(session_id, safe='')}?after={after}"
        return url if epoch is None else f"{url}&epoch={quote(epoch, safe='')}"

    async def socket_headers(self) -> dict[str, str]:
        """The upgrade's headers: the token, or the identity cookie this client holds."""
        await self._identify()
        headers = dict(self._headers)
        cookies = "; ".join(f"{name}={value}" for name, value in self._http.cookies.items())
        if cookies:
            headers["Cookie"] = cookies
        return headers

    # --- HTTP ----------------------------------------------------------------------------

    async def _identify(self) -> None:
        """Without a token: one GET first, so a single-person hub issues this client its
        identity cookie before anything that needs it (a write or a socket). In accounts
        mode the GET is refused and the refusal comes with the real call."""
        if self._identified:
            return
        async with self._identify_lock:
            if not self._identified:
                await self._send("GET", "/api/me")
                self._identified = True

    async def _call(self, method: str, path: str, **kwargs: Any) -> bytes:
        """One request; the body of a 2xx answer, else the error it maps to."""
        await self._identify()
        response = await self._send(method, path, **kwargs)
        if response.status_code >= 400:
            raise error_from_response(
                response.status_code, response.content, dict(response.headers)
            )
        return response.content

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise HubUnreachable(
                "hub_unreachable", f"{method} {path}: {type(exc).__name__}: {exc}"
            ) from exc


def _session_path(session_id: str) -> str:
    return f"/api/sessions/{quote(session_id, safe='')}"


def _jsonable(value: Any) -> Any:
    """A model instance as its JSON-mode dump; anything else as given."""
    return value.model_dump(mode="json") if isinstance(value, BaseModel) else value
