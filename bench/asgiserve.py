"""Serve an ASGI peer on uvicorn on a free port, announced as the bench reads it.

The peers built on uvicorn (:mod:`bench.sio_peer`, :mod:`bench.startpeer`) bind their own
socket (so ``--port 0`` works), print ``Peer serving on http://127.0.0.1:PORT`` once
uvicorn has started, and serve until SIGTERM (uvicorn's own handler).
"""

from __future__ import annotations

import socket
from typing import Any

import uvicorn


class _Announcing(uvicorn.Server):
    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if sockets:
            print(f"Peer serving on http://127.0.0.1:{sockets[0].getsockname()[1]}", flush=True)


async def serve(app: Any, port: int, **config: Any) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    server = _Announcing(uvicorn.Config(app, loop="asyncio", log_level="warning",
                                        lifespan="off", backlog=2048, **config))
    await server.serve(sockets=[sock])
