"""A real webhook receiver for tests: uvicorn on a free port in the test's event loop.

It checks every request's signature with the Standard Webhooks algorithm written out
here (HMAC-SHA256 over ``"{webhook-id}.{webhook-timestamp}.{body}"`` with the secret's
base64-decoded bytes, compared with each ``v1,`` entry of ``webhook-signature``), not
with the hub's code or library, so a signing bug cannot hide behind itself. It can fail
the first deliveries on purpose, or hold them until a test lets them go.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.server import listen
from tests.support.timing import MS

TOLERANCE = 300  # seconds a timestamp may be off, as the spec's libraries allow


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The spec's check, independently of the hub."""
    msg_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    if not msg_id or not stamp.isdigit() or abs(time.time() - int(stamp)) > TOLERANCE:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{stamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for entry in headers.get("webhook-signature", "").split(" "):
        version, _, signature = entry.partition(",")
        if version == "v1" and hmac.compare_digest(signature, expected):
            return True
    return False


@dataclass
class Attempt:
    """One request the receiver got: its id, parsed body and what it answered."""

    id: str
    body: dict[str, Any]
    status: int


@dataclass
class Receiver:
    url: str = ""
    secret: str = ""
    fail_first: int = 0  # answer 500 to this many requests, then 200
    hold: asyncio.Event | None = None  # while set to an unset event, requests wait on it
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    attempts: list[Attempt] = field(default_factory=list)
    bad_signatures: int = 0

    @property
    def delivered(self) -> list[Attempt]:
        return [a for a in self.attempts if a.status == 200]

    def delivered_ids(self) -> list[str]:
        return [a.id for a in self.delivered]

    def by_session(self) -> dict[str, list[dict[str, Any]]]:
        """Delivered bodies per session, in the order they arrived."""
        out: dict[str, list[dict[str, Any]]] = {}
        for attempt in self.delivered:
            out.setdefault(attempt.body["session_id"], []).append(attempt.body)
        return out

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        if not verify(self.secret, headers, body):
            self.bad_signatures += 1
            return Response(status_code=401)
        self.arrived.set()
        if self.hold is not None:
            await self.hold.wait()
        status = 500 if self.fail_first > 0 else 200
        self.fail_first = max(0, self.fail_first - 1)
        self.attempts.append(Attempt(headers["webhook-id"], json.loads(body), status))
        return Response(status_code=status)


@contextlib.asynccontextmanager
async def run_receiver(**options: Any) -> AsyncIterator[Receiver]:
    receiver = Receiver(**options)
    app = Starlette(routes=[Route("/hook", receiver.handle, methods=["POST"])])
    sock = await listen()
    receiver.url = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(5 * MS)  # poll interval: the server sets `started` itself
    try:
        yield receiver
    finally:
        if receiver.hold is not None:
            receiver.hold.set()
        server.should_exit = True
        await task
        sock.close()
