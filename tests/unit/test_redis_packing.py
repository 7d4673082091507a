"""Commands packed by hiredis are byte for byte what redis-py's own packer makes."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from redis.asyncio.connection import Connection, SSLConnection, UnixDomainSocketConnection
from redis.exceptions import DataError

from tether.store.redis_packing import HiredisPacking, pack_with_hiredis

ARGS = (
    "EVALSHA", "a" * 40, 3, "tether:{s}:rec", "tether:{s}:pending", "tether:{s}:events",
    "2026-12-02T06:00:00.000Z", 10_000, 0.25, '{"b":"héllo \u2603 \U0001f600"}', b"\x00\xff",
    "", "CONFIG GET",
)


def test_the_bytes_are_those_of_redis_pys_python_packer() -> None:
    pool = aioredis.ConnectionPool.from_url("redis://127.0.0.1:1/0")
    pack_with_hiredis(pool)
    packed = pool.connection_class()
    assert isinstance(packed, HiredisPacking) and isinstance(packed, Connection)
    assert b"".join(packed.pack_command(*ARGS)) == b"".join(Connection().pack_command(*ARGS))
    commands = [ARGS, ("PING",), ("SET", "k", "v")]
    assert b"".join(packed.pack_commands(commands)) == b"".join(
        Connection().pack_commands(commands)
    )


def test_what_cannot_be_sent_is_refused_alike() -> None:
    pool = aioredis.ConnectionPool.from_url("redis://127.0.0.1:1/0")
    pack_with_hiredis(pool)
    packed = pool.connection_class()
    for bad in (None, True, ["list"]):
        with pytest.raises(DataError):
            Connection().pack_command("SET", "k", bad)
        with pytest.raises(DataError):
            packed.pack_command("SET", "k", bad)
    with pytest.raises(UnicodeEncodeError):
        packed.pack_command("SET", "k", "\ud800")  # a lone surrogate, as redis-py refuses


@pytest.mark.parametrize("url, kind", [
    ("redis://127.0.0.1:1/0", Connection),
    ("rediss://127.0.0.1:1/0", SSLConnection),
    ("unix:///tmp/none.sock", UnixDomainSocketConnection),
])
def test_each_kind_of_connection_keeps_its_class(url: str, kind: type[Connection]) -> None:
    pool = aioredis.ConnectionPool.from_url(url)
    pack_with_hiredis(pool)
    pack_with_hiredis(pool)  # twice: mixed in once
    assert issubclass(pool.connection_class, kind)
    assert pool.connection_class.__mro__.count(HiredisPacking) == 1
