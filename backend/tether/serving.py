"""One hub process's uvicorn server: ``create_app`` under the protocols, limits and
shutdown order Tether needs.

``tether serve`` runs one such server in its own process, or, with ``--workers N``, one in
each worker process (:mod:`tether.workers`); both build it here so that a worker is the
same hub a single process is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import FrameType

import uvicorn

from tether.app import create_app
from tether.config import Settings
from tether.gcpolicy import tune_for_serving
from tether.http_protocol import http_protocol
from tether.hub import Hub
from tether.socket_protocol import TetherWebSocketProtocol


class HubServer(uvicorn.Server):
    """uvicorn's server, telling the hub as soon as a signal asks it to stop."""

    draining = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.draining = True
        super().handle_exit(sig, frame)


HEARTBEAT_SECONDS = 1.0


def hub_server(
    settings: Settings, hub: Hub, *, heartbeat: Callable[[], Awaitable[None]] | None = None
) -> uvicorn.Server:
    """The uvicorn server of a hub serving ``hub``'s tasks; run it on a bound socket with
    ``server.run(sockets=[sock])``. On SIGTERM or SIGINT it stops accepting, closes its
    connections, and its lifespan hands its sessions over (see :mod:`tether.app`).

    ``heartbeat``: awaited every :data:`HEARTBEAT_SECONDS` from the server's own loop
    while it serves (uvicorn's ``callback_notify``, as its gunicorn worker uses it): a
    loop that hangs stops calling it.
    """
    server: HubServer
    config = uvicorn.Config(
        create_app(settings, hub, draining=lambda: server.draining),
        ws=TetherWebSocketProtocol,
        http=http_protocol(settings.header_timeout),
        timeout_keep_alive=settings.keepalive_timeout,  # type: ignore[arg-type]
        ws_max_size=settings.max_frame_bytes,
        ws_ping_interval=settings.ping_interval,
        ws_ping_timeout=settings.ping_interval,
        ws_per_message_deflate=False,  # compression costs ~64 KiB per idle socket
        timeout_graceful_shutdown=int(settings.shutdown_timeout),
        log_level=settings.log_level,
        log_config=None,  # logs.configure set the handlers: keep them
        access_log=settings.access_log,
        lifespan="on",
        callback_notify=heartbeat,
        timeout_notify=int(HEARTBEAT_SECONDS),
    )
    server = HubServer(config)
    tune_for_serving()  # after everything start-up makes, before the first request
    return server
