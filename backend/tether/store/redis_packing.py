"""Commands packed by hiredis: redis-py's asyncio connections do it in Python.

redis-py's synchronous connections hand a command's arguments to ``hiredis.pack_command``
(C) when hiredis is installed; its asyncio connections always pack them in Python, one
``isinstance`` and ``encode`` at a time. A session's Lua calls carry 15 to 20 keys and a
dozen arguments each: packing them was the largest single cost of a Redis round trip in
the hub's profile (about 60 µs of CPU a call, against 7 µs with hiredis). The bytes sent
are the same (both encode text as UTF-8, strictly); only who makes them changes.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio.connection import AbstractConnection, ConnectionPool
from redis.connection import HiredisRespSerializer
from redis.utils import HIREDIS_AVAILABLE

_PACKER = HiredisRespSerializer()


class HiredisPacking:
    """Mixed in before a redis-py asyncio connection class: hiredis packs commands."""

    def pack_command(self, *args: Any) -> list[bytes]:
        packed: list[bytes] = _PACKER.pack(*args)
        return packed


_classes: dict[type[AbstractConnection], type[AbstractConnection]] = {}


def packing_class(base: type[AbstractConnection]) -> type[AbstractConnection]:
    """``base`` (TCP, TLS, Unix socket) made to pack with hiredis, when it is installed."""
    if not HIREDIS_AVAILABLE or issubclass(base, HiredisPacking):
        return base
    packed = _classes.get(base)
    if packed is None:
        packed = type(f"Hiredis{base.__name__}", (HiredisPacking, base), {})
        _classes[base] = packed
    return packed


def pack_with_hiredis(pool: ConnectionPool) -> None:
    """Make the connections ``pool`` opens from now on pack with hiredis (when it is
    installed), whatever their class (TCP, TLS, Unix socket)."""
    pool.connection_class = packing_class(pool.connection_class)
