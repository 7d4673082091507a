"""A session socket sends the writes of one event-loop turn as one write, in order; a
close sends what is pending first, an abort drops it."""

from __future__ import annotations

import asyncio

from tether.socket_protocol import _TurnWriter


class RecordingTransport(asyncio.Transport):
    """An asyncio transport that keeps what it was given (stands in for the socket)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def get_write_buffer_size(self) -> int:
        return 7


async def _next_turn() -> None:
    await asyncio.sleep(0)


async def test_the_writes_of_one_turn_go_out_as_one_write_at_its_end() -> None:
    transport = RecordingTransport()
    writer = _TurnWriter(transport)
    for frame in (b"a", b"", b"bb", b"ccc"):
        writer.write(frame)
    assert transport.writes == []  # not yet: the turn is not over
    await _next_turn()
    assert transport.writes == [b"abbccc"]
    writer.write(b"d")
    await _next_turn()
    assert transport.writes == [b"abbccc", b"d"]


async def test_close_sends_what_is_pending_first_and_abort_drops_it() -> None:
    transport = RecordingTransport()
    writer = _TurnWriter(transport)
    writer.write(b"close frame")
    writer.close()
    assert transport.writes == [b"close frame"] and transport.closed
    await _next_turn()
    assert transport.writes == [b"close frame"]  # nothing twice, nothing after the close

    other = RecordingTransport()
    writer = _TurnWriter(other)
    writer.write(b"lost")
    writer.abort()
    await _next_turn()
    assert other.writes == [] and other.aborted


async def test_everything_else_is_the_transport_s_own() -> None:
    writer = _TurnWriter(RecordingTransport())
    assert writer.get_write_buffer_size() == 7
    assert writer.is_closing() is False
