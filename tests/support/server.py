"""A real hub for tests: uvicorn on port 0 in the test's event loop, and clients for it."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
import websockets
from opentelemetry.trace import TracerProvider
from websockets.asyncio.client import ClientConnection

from tests.support.timing import MS
from tether.app import create_app
from tether.config import Settings
from tether.http_protocol import http_protocol
from tether.hub import Hub
from tether.socket_protocol import TetherWebSocketProtocol


@dataclass
class RunningHub:
    base_url: str
    settings: Settings
    server: uvicorn.Server
    task: asyncio.Task[None]

    async def stop(self) -> None:
        """Shut the hub down gracefully (as on SIGTERM) and wait until it has."""
        self.server.should_exit = True
        await self.task

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://", 1)


def uvicorn_config(app: Any, settings: Settings) -> uvicorn.Config:
    """The same uvicorn settings as ``tether serve`` (cli.serve)."""
    return uvicorn.Config(
        app,
        ws=TetherWebSocketProtocol,
        http=http_protocol(settings.header_timeout),
        timeout_keep_alive=settings.keepalive_timeout,  # type: ignore[arg-type]
        ws_max_size=settings.max_frame_bytes,
        ws_ping_interval=settings.ping_interval,
        ws_ping_timeout=settings.ping_interval,
        ws_per_message_deflate=False,
        timeout_graceful_shutdown=int(settings.shutdown_timeout),
        log_level="info" if settings.access_log else "warning",
        access_log=settings.access_log,
        lifespan="on",
    )


async def listen(port: int = 0, *, timeout: float = 10.0) -> socket.socket:
    """A listening socket on 127.0.0.1:``port`` (0: a free one). A given port that is
    still taken (a hub that just stopped) is tried again until ``timeout`` runs out."""
    deadline = time.monotonic() + timeout
    while True:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            sock.close()
            if port == 0 or exc.errno != errno.EADDRINUSE or time.monotonic() > deadline:
                raise
            await asyncio.sleep(50 * MS)  # poll interval of a deadline-bound wait
            continue
        sock.listen(2048)
        return sock


@contextlib.asynccontextmanager
async def run_hub(
    settings: Settings, hub: Hub, *, port: int = 0, tracer_provider: TracerProvider | None = None
) -> AsyncIterator[RunningHub]:
    """Serve ``hub`` until the block exits, on ``port`` (0: a free one; a fixed one
    serves a hub restarted where its clients expect it), its spans to ``tracer_provider``
    (default: as ``settings`` say)."""
    sock = await listen(port)
    port = sock.getsockname()[1]
    app = create_app(settings, hub, tracer_provider=tracer_provider)
    server = uvicorn.Server(uvicorn_config(app, settings))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(5 * MS)  # poll interval: the server sets `started` itself
    try:
        yield RunningHub(f"http://127.0.0.1:{port}", settings, server, task)
    finally:
        server.should_exit = True
        await task
        sock.close()


@dataclass
class User:
    """One browser's identity: an HTTP client with its cookie, and WebSockets with it."""

    hub: RunningHub
    http: httpx.AsyncClient
    sockets: list[ClientConnection] = field(default_factory=list)

    @property
    def cookie_header(self) -> dict[str, str]:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.http.cookies.items())}

    async def start(self, task: str, inputs: dict[str, Any] | None = None) -> dict[str, Any]:
        body = {"task": task, "inputs": inputs or {}}
        response = await self.http.post("/api/sessions", json=body)
        assert response.status_code == 201, response.text
        session: dict[str, Any] = response.json()
        return session

    async def connect(self, session_id: str, after: int = 0, **kwargs: Any) -> ClientConnection:
        ws = await websockets.connect(
            f"{self.hub.ws_url}/ws/sessions/{session_id}?after={after}",
            additional_headers=self.cookie_header, **kwargs,
        )
        self.sockets.append(ws)
        return ws

    async def close(self) -> None:
        for ws in self.sockets:
            await ws.close()
        await self.http.aclose()


@contextlib.asynccontextmanager
async def new_user(hub: RunningHub) -> AsyncIterator[User]:
    """A user whose cookie the hub issued on a first request."""
    http = httpx.AsyncClient(base_url=hub.base_url, timeout=10)
    response = await http.get("/api/tasks")
    assert response.status_code == 200
    user = User(hub, http)
    try:
        yield user
    finally:
        await user.close()


@contextlib.asynccontextmanager
async def same_user_on(hub: RunningHub, user: User) -> AsyncIterator[User]:
    """``user`` (their cookie) on another hub: hubs of one store share identities."""
    http = httpx.AsyncClient(base_url=hub.base_url, cookies=user.http.cookies, timeout=10)
    other = User(hub, http)
    try:
        yield other
    finally:
        await other.close()


async def recv_json(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    raw = await asyncio.wait_for(ws.recv(), timeout)
    data: dict[str, Any] = json.loads(raw)
    return data


async def recv_until(
    ws: ClientConnection, type_: str, *, timeout: float = 5.0, **match: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Read frames until one of ``type_`` (matching ``match``); return it and all read."""
    seen: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        frame = await recv_json(ws, max(0.01, deadline - loop.time()))
        seen.append(frame)
        if frame.get("type") == type_ and all(frame.get(k) == v for k, v in match.items()):
            return frame, seen
