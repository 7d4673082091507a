"""Small frames go out at once: the server side of every accepted connection has
``TCP_NODELAY`` set, so Nagle's algorithm never holds a frame for the client's delayed
ACK (which cost each answer's round trip ~44 ms)."""

from __future__ import annotations

import asyncio
import socket

from pydantic import BaseModel

from tests.support.server import new_user, run_hub
from tether import Context, Hub
from tether.cli import bind
from tether.config import Settings
from tether.http_protocol import HeadTimeoutProtocol
from tether.socket_protocol import TetherWebSocketProtocol, _TurnWriter

hub_def = Hub()


class NoInputs(BaseModel):
    pass


@hub_def.task()
async def waits(ctx: Context, inputs: NoInputs) -> bool:
    return await ctx.confirm("Go?")


def _nodelay(transport: asyncio.BaseTransport) -> int:
    sock = transport.get_extra_info("socket")
    value: int = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    return value


async def test_a_session_socket_has_nodelay_whatever_socket_it_was_accepted_on() -> None:
    """The hub is served from a listening socket made with ``proto=0`` (the tests'
    ``listen``), on which asyncio itself leaves Nagle on; the session protocol sets it."""
    async with run_hub(Settings(static_dir=None), hub_def) as hub, new_user(hub) as user:
        session = await user.start("waits")
        await user.connect(session["id"])
        sockets = [p for p in hub.server.server_state.connections
                   if isinstance(p, TetherWebSocketProtocol)]
        assert len(sockets) == 1
        assert _nodelay(sockets[0].transport) != 0


async def test_an_http_connection_has_nodelay_and_one_write_per_turn() -> None:
    """HTTP answers go out at once too (their head and body in one write), on whatever
    socket the hub was served from; a connection that upgrades keeps that one writer."""
    async with run_hub(Settings(static_dir=None), hub_def) as hub, new_user(hub) as user:
        session = await user.start("waits")  # over the keep-alive connection new_user made
        http = [p for p in hub.server.server_state.connections
                if isinstance(p, HeadTimeoutProtocol)]
        assert http
        for protocol in http:
            assert isinstance(protocol.transport, _TurnWriter)
            assert _nodelay(protocol.transport) != 0
        await user.connect(session["id"])
        (socket_protocol,) = [p for p in hub.server.server_state.connections
                              if isinstance(p, TetherWebSocketProtocol)]
        writer = socket_protocol.transport
        assert isinstance(writer, _TurnWriter)
        assert not isinstance(writer._transport, _TurnWriter)  # not wrapped twice


async def test_connections_accepted_on_the_cli_socket_have_nodelay() -> None:
    """``tether serve``'s listening socket says it is TCP, so asyncio sets the option on
    every connection it accepts (HTTP ones too)."""
    listening = bind("127.0.0.1", 0)
    accepted: asyncio.Future[asyncio.BaseTransport] = asyncio.get_running_loop().create_future()

    class Accepted(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            accepted.set_result(transport)

    server = await asyncio.get_running_loop().create_server(Accepted, sock=listening)
    try:
        _, writer = await asyncio.open_connection(*listening.getsockname()[:2])
        transport = await asyncio.wait_for(accepted, 5)
        assert _nodelay(transport) != 0
        writer.close()
        transport.close()
    finally:
        server.close()
        await server.wait_closed()
