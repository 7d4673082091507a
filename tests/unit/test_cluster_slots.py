"""Reading a Redis Cluster's slot map out of CLUSTER SHARDS (tether.store.cluster_slots)."""

from __future__ import annotations

from tether.store.cluster_slots import SLOTS, parse_shards


def node(port: int, role: str, health: str = "online", **more: object) -> dict[str, object]:
    return {"id": f"n{port}", "port": port, "ip": "10.0.0.1", "endpoint": "10.0.0.1",
            "role": role, "replication-offset": 0, "health": health, **more}


def test_every_slot_goes_to_its_shards_online_primary() -> None:
    reply = [
        {"slots": [0, 5460], "nodes": [node(7000, "master"), node(7003, "replica")]},
        {"slots": [5461, 10000, 10002, 10922], "nodes": [node(7004, "replica"),
                                                         node(7001, "master")]},
        {"slots": [10001, 10001, 10923, 16383], "nodes": [node(7002, "master")]},
    ]
    owners = parse_shards(reply)
    assert len(owners) == SLOTS
    assert owners[0] == owners[5460] == ("10.0.0.1", 7000)
    assert owners[5461] == owners[10000] == owners[10922] == ("10.0.0.1", 7001)
    assert owners[10001] == owners[16383] == ("10.0.0.1", 7002)


def test_a_failed_primary_owns_nothing_until_its_replica_is_promoted() -> None:
    during = [{"slots": [0, 16383], "nodes": [node(7000, "master", "failed"),
                                              node(7003, "replica")]}]
    assert set(parse_shards(during)) == {None}
    after = [{"slots": [0, 16383], "nodes": [node(7000, "master", "failed"),
                                             node(7003, "master")]}]
    assert set(parse_shards(after)) == {("10.0.0.1", 7003)}


def test_resp2_flat_lists_bytes_hostnames_and_tls_ports() -> None:
    flat = [[b"slots", [0, 16383], b"nodes", [[
        b"id", b"x", b"port", 7000, b"tls-port", 7100, b"ip", b"10.0.0.9",
        b"endpoint", b"redis-0.example", b"role", b"master", b"health", b"online",
    ]]]]
    assert parse_shards(flat)[5] == ("redis-0.example", 7000)  # undecoded replies too
    assert parse_shards(flat, tls=True)[5] == ("redis-0.example", 7100)
    unknown = [{"slots": [0, 16383], "nodes": [node(7000, "master", endpoint="?")]}]
    assert parse_shards(unknown)[0] == ("10.0.0.1", 7000)
    tls = [{"slots": [0, 16383], "nodes": [node(7000, "master", **{"tls-port": 7100})]}]
    assert parse_shards(tls, tls=True)[0] == ("10.0.0.1", 7100)
    assert parse_shards(tls)[0] == ("10.0.0.1", 7000)
