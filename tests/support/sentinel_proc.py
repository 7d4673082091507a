"""A real Redis Sentinel deployment on free ports: a primary, a replica and three sentinels
(``redis-server --sentinel``), every node with a password, in one temporary directory.

Sentinel is tuned to notice a dead primary within a second (``down-after-milliseconds``)
so a failover takes a few seconds. :meth:`SentinelCluster.fail_over` kills the primary
with SIGKILL, waits until the sentinels name a promoted replica, and restarts the killed
node, which the sentinels turn into a replica of the new primary: the deployment is whole
again for the next failover.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from tests.support.redis_proc import free_ports, redis_answers
from tests.support.timing import MS

SERVICE = "tether"
PASSWORD = "data-pass"  # the primary's and replicas' requirepass / masterauth
SENTINEL_PASSWORD = "sentinel-pass"  # the sentinels' own requirepass
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 4000


@dataclass
class Node:
    """One redis-server of the deployment (its port stays across restarts)."""

    port: int
    dir: Path
    args: list[str]
    proc: subprocess.Popen[bytes] | None = None

    def start(self, binary: str) -> None:
        self.proc = subprocess.Popen(
            [binary, *self.args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            cwd=self.dir,
        )
        if not redis_answers(self.port, self.proc, timeout=10_000 * MS):
            raise RuntimeError(f"redis-server on {self.port} did not start")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def client(self, password: str = PASSWORD) -> redis.Redis:
        return redis.Redis(port=self.port, password=password, decode_responses=True,
                           socket_timeout=5)


@dataclass
class SentinelCluster:
    """Primary + replica + three sentinels; see the module docstring."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="tether-sentinel-")))
    nodes: list[Node] = field(default_factory=list)
    sentinels: list[Node] = field(default_factory=list)
    failovers: int = 0

    @property
    def url(self) -> str:
        """``TETHER_REDIS_URL`` for a hub: every sentinel, the service, db 0, both
        passwords."""
        return self.url_of([f"127.0.0.1:{s.port}" for s in self.sentinels])

    @staticmethod
    def url_of(hosts: list[str]) -> str:
        """The URL of :attr:`url` naming the sentinels at ``hosts`` (``host:port``)."""
        return (f"redis+sentinel://:{PASSWORD}@{','.join(hosts)}/{SERVICE}/0"
                f"?sentinel_password={SENTINEL_PASSWORD}")

    def start(self) -> SentinelCluster:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (make test installs it)")
        ports = free_ports(5)
        primary_port = ports[0]
        for i, port in enumerate(ports[:2]):
            replica_of = primary_port if i else None
            self.nodes.append(data_node(port, self.root / f"node{i}", replica_of))
        for i, port in enumerate(ports[2:]):
            self.sentinels.append(sentinel_node(port, self.root / f"sentinel{i}",
                                                primary_port, quorum=2))
        for node in [*self.nodes, *self.sentinels]:
            node.start(binary)
        self._binary = binary
        self.wait_healthy()
        return self

    def sentinel_client(self, index: int = 0) -> redis.Redis:
        return self.sentinels[index].client(SENTINEL_PASSWORD)

    def primary_port(self) -> int | None:
        """Where a majority of the sentinels say the primary is (None while they differ)."""
        seen: list[int] = []
        for index in range(len(self.sentinels)):
            try:
                with self.sentinel_client(index) as client:
                    addr: Any = client.sentinel_get_master_addr_by_name(SERVICE)
            except redis.RedisError:
                continue
            if addr:
                seen.append(int(addr[1]))
        for port in set(seen):
            if seen.count(port) >= 2:
                return port
        return None

    def primary(self) -> Node:
        port = self.primary_port()
        found = [n for n in self.nodes if n.port == port]
        if not found:
            raise RuntimeError(f"the sentinels name no known primary ({port})")
        return found[0]

    def primary_url(self) -> str:
        """A plain URL of the current primary, for tests that read Redis directly."""
        return f"redis://:{PASSWORD}@127.0.0.1:{self.primary().port}/0"

    def wait_healthy(self, timeout: float = 30_000 * MS) -> None:
        """Until every sentinel knows the other two and the replica, the primary is the one
        they agree on, and the replica is in sync with it: a failover can happen now."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._healthy():
                return
            time.sleep(50 * MS)
        raise RuntimeError("the Sentinel deployment did not become healthy:\n" + self.describe())

    def _healthy(self) -> bool:
        port = self.primary_port()
        if port is None:
            return False
        try:
            for index in range(len(self.sentinels)):
                with self.sentinel_client(index) as client:
                    state: Any = client.sentinel_master(SERVICE)
                    replicas: Any = client.sentinel_slaves(SERVICE)
                if state["num-other-sentinels"] < 2 or state["flags"] != "master":
                    return False
                up = [r for r in replicas if r["flags"] == "slave"
                      and r.get("master-link-status") == "ok"]
                if not up:
                    return False
            with next(n for n in self.nodes if n.port == port).client() as primary:
                info: Any = primary.info("replication")
        except (redis.RedisError, StopIteration, KeyError):
            return False
        links = [v for k, v in info.items() if k.startswith("slave") and isinstance(v, dict)]
        return info.get("role") == "master" and any(
            link.get("state") == "online" for link in links
        )

    def fail_over(self, timeout: float = 30_000 * MS) -> float:
        """SIGKILL the primary, wait until the sentinels name another node, and restart the
        killed one (Sentinel makes it a replica of the new primary; :meth:`wait_healthy`
        waits until it is in sync). Returns the seconds from the kill until the sentinels
        named the new primary."""
        old = self.primary()
        old.kill()
        killed = time.monotonic()
        deadline = killed + timeout
        while time.monotonic() < deadline:
            port = self.primary_port()
            if port is not None and port != old.port:
                break
            time.sleep(20 * MS)
        else:
            raise RuntimeError("no replica was promoted:\n" + self.describe())
        promoted_after = time.monotonic() - killed
        self.failovers += 1
        old.start(self._binary)  # as a primary of nothing, until Sentinel demotes it
        return promoted_after

    def describe(self) -> str:
        lines = []
        for index, sentinel in enumerate(self.sentinels):
            try:
                with self.sentinel_client(index) as client:
                    lines.append(f"sentinel {sentinel.port}: {client.sentinel_master(SERVICE)}")
            except redis.RedisError as exc:
                lines.append(f"sentinel {sentinel.port}: {exc}")
        return "\n".join(lines)

    def stop(self) -> None:
        for node in [*self.sentinels, *self.nodes]:
            node.kill()
        shutil.rmtree(self.root, ignore_errors=True)


def data_node(port: int, node_dir: Path, replica_of: int | None = None) -> Node:
    """A redis-server with the deployment's password, a replica of ``replica_of`` if given."""
    node_dir.mkdir()
    args = ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(node_dir),
            "--save", "", "--appendonly", "no", "--loglevel", "warning",
            "--requirepass", PASSWORD, "--masterauth", PASSWORD]
    if replica_of is not None:
        args += ["--replicaof", "127.0.0.1", str(replica_of)]
    return Node(port, node_dir, args)


def sentinel_node(port: int, node_dir: Path, primary_port: int, *, quorum: int) -> Node:
    """A sentinel monitoring the primary on ``primary_port`` as :data:`SERVICE`."""
    node_dir.mkdir()
    conf = node_dir / "sentinel.conf"  # Sentinel rewrites its own file
    conf.write_text("\n".join([
        f"port {port}", "bind 127.0.0.1", f"dir {node_dir}", "loglevel warning",
        f"requirepass {SENTINEL_PASSWORD}",
        f"sentinel sentinel-pass {SENTINEL_PASSWORD}",
        f"sentinel monitor {SERVICE} 127.0.0.1 {primary_port} {quorum}",
        f"sentinel auth-pass {SERVICE} {PASSWORD}",
        f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}",
        f"sentinel failover-timeout {SERVICE} {FAILOVER_TIMEOUT_MS}",
        f"sentinel parallel-syncs {SERVICE} 1", "",
    ]))
    return Node(port, node_dir, [str(conf), "--sentinel"])


@dataclass
class StraySentinel:
    """A sentinel that names another primary for :data:`SERVICE` than the deployment's
    sentinels do, with that primary (an empty redis-server): what a sentinel that has not
    yet heard of a promotion looks like to a client, held still for a test."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="tether-stray-")))
    primary: Node | None = None
    sentinel: Node | None = None

    @property
    def address(self) -> str:
        assert self.sentinel is not None
        return f"127.0.0.1:{self.sentinel.port}"

    def start(self) -> StraySentinel:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (make test installs it)")
        primary_port, sentinel_port = free_ports(2)
        self.primary = data_node(primary_port, self.root / "node")
        self.sentinel = sentinel_node(sentinel_port, self.root / "sentinel", primary_port,
                                      quorum=1)
        self.primary.start(binary)
        self.sentinel.start(binary)
        return self

    def stop(self) -> None:
        for node in (self.sentinel, self.primary):
            if node is not None:
                node.kill()
        shutil.rmtree(self.root, ignore_errors=True)
