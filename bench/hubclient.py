"""The HTTP side of a Tether hub for the benchmarks: an identity, sessions, waiting.

One :class:`HubUser` is one browser: the hub issues its ``tether_user`` cookie on the first
request, and every WebSocket of that user sends it back as a ``Cookie`` header.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from bench import wsclient
from bench.procs import Server

START_ATTEMPTS = 3


class HubUser:
    def __init__(self, hub: Server, *, connections: int = 64, identify: bool = True) -> None:
        """``identify=False``: a server that is not a hub (a peer) issues no cookie."""
        self.hub = hub
        self._identify = identify
        self.retries = 0
        self.http = httpx.AsyncClient(
            base_url=hub.url, timeout=60,
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )

    async def __aenter__(self) -> HubUser:
        if not self._identify:
            return self
        response = await self.http.get("/api/tasks")
        response.raise_for_status()
        if "tether_user" not in self.http.cookies:
            raise RuntimeError("the hub issued no tether_user cookie")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    @property
    def cookie(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.http.cookies.items())

    async def start(self, task: str, inputs: dict[str, Any] | None = None) -> str:
        """``POST /api/sessions``; returns the new session's id.

        A request whose connection failed is sent again with the same ``Idempotency-Key``
        (a keep-alive connection may be closed by the server as it is reused), so a retry
        never starts a second session.
        """
        body = {"task": task, "inputs": inputs or {}}
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        for attempt in range(START_ATTEMPTS):
            try:
                response = await self.http.post("/api/sessions", json=body, headers=headers)
                break
            except httpx.TransportError:
                if attempt == START_ATTEMPTS - 1:
                    raise
                self.retries += 1
        if response.status_code not in (200, 201):
            raise RuntimeError(f"starting {task}: {response.status_code} {response.text}")
        session_id: str = response.json()["id"]
        return session_id

    async def start_many(
        self, task: str, count: int, *, concurrency: int = 64,
        inputs: dict[str, Any] | None = None,
        each: Callable[[int], dict[str, Any]] | None = None,
    ) -> list[str]:
        """``count`` sessions of ``task``, ``concurrency`` requests in flight; the ``i``-th
        with ``inputs`` and what ``each(i)`` adds."""
        ids: list[str] = []
        pending = iter(range(count))

        async def worker() -> None:
            for i in pending:
                own = inputs if each is None else {**(inputs or {}), **each(i)}
                ids.append(await self.start(task, own))

        await asyncio.gather(*(worker() for _ in range(min(concurrency, count))))
        return ids

    async def session(self, session_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/api/sessions/{session_id}")
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    async def wait_status(
        self, session_id: str, statuses: tuple[str, ...], *, timeout: float
    ) -> dict[str, Any]:
        """Poll the session until its status is one of ``statuses`` (bounded)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            session = await self.session(session_id)
            if session["status"] in statuses:
                return session
            if loop.time() > deadline:
                raise TimeoutError(f"session {session_id} still {session['status']}")
            await asyncio.sleep(0.1)

    async def connect(
        self, session_id: str, *, after: int = 0, stream_goal: int = 0
    ) -> wsclient.Tab:
        return await wsclient.connect(
            f"{self.hub.ws_url}/ws/sessions/{session_id}?after={after}",
            cookie=self.cookie, stream_goal=stream_goal,
        )
