"""A real local Redis Cluster on free ports: three primaries with one replica each.

Six ``redis-server --cluster-enabled yes`` processes, each in its own directory under one
temporary root (AOF on, as the durability tests use), joined by ``redis-cli --cluster
create --cluster-replicas 1``. Tuned so that a dead primary is noticed within a second
(``cluster-node-timeout``) and its replica promoted a moment later.

What tests do with it:

* :meth:`LocalCluster.flush` empties every primary between tests;
* :meth:`LocalCluster.kill_primary_of` SIGKILLs the primary serving a slot and returns once
  its replica is promoted and every live node says ``cluster_state:ok``;
* :meth:`LocalCluster.restart` brings a killed node back; it rejoins as a replica (its
  ``nodes.conf`` says where it was, the others' newer config epoch demotes it);
* :meth:`LocalCluster.move_slots` migrates slots, keys and all, to another primary the way
  ``redis-cli --cluster reshard`` does (``SETSLOT IMPORTING/MIGRATING``, ``MIGRATE ...
  KEYS``, ``SETSLOT NODE``), so clients keep working and follow ``ASK``/``MOVED``.

Every wait is on a condition with a deadline.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from tests.support.redis_proc import free_ports, redis_answers
from tests.support.timing import MS

NODE_TIMEOUT_MS = 1000  # how soon a silent node is flagged failing (then its replica acts)
SLOTS = 16384
MIGRATE_BATCH = 100  # keys per MIGRATE
MIGRATE_TIMEOUT_MS = 5000


@dataclass
class ClusterNode:
    """One redis-server of the cluster; its ports and directory stay across restarts."""

    port: int
    bus_port: int
    dir: Path
    node_id: str = ""
    proc: subprocess.Popen[bytes] | None = None
    frozen: bool = False  # SIGSTOPped: its sockets stay open, it answers nothing

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        """Running and answering (not killed, not frozen)."""
        return self.proc is not None and not self.frozen

    def start(self, binary: str, *, appendonly: bool) -> None:
        args = [
            binary, "--port", str(self.port), "--cluster-port", str(self.bus_port),
            "--bind", "127.0.0.1", "--dir", str(self.dir), "--daemonize", "no",
            "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
            # A replica takes over however long its link was down (a test may kill twice).
            "--cluster-replica-validity-factor", "0",
            # Keep the topology the tests made: no replica wanders to an orphaned primary,
            # and a primary whose slots all moved away stays a primary.
            "--cluster-allow-replica-migration", "no",
            "--save", "", "--appendonly", "yes" if appendonly else "no",
            "--appendfsync", "always", "--loglevel", "warning",
        ]
        self.proc = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=self.dir,
        )
        if not redis_answers(self.port, self.proc, timeout=10_000 * MS):
            self.kill()
            raise RuntimeError(f"redis-server on {self.port} did not start")

    def kill(self) -> None:
        """SIGKILL: what a crash looks like."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            self.frozen = False

    def freeze(self, frozen: bool) -> None:
        """SIGSTOP / SIGCONT: a hung server, whose peers see no error, only silence."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGSTOP if frozen else signal.SIGCONT)
            self.frozen = frozen

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, decode_responses=True, socket_timeout=5)


@dataclass(frozen=True)
class NodeView:
    """One line of ``CLUSTER NODES`` as some node sees it."""

    node_id: str
    port: int
    flags: frozenset[str]
    master_id: str  # "-" for a primary
    slots: frozenset[int]

    @property
    def is_primary(self) -> bool:
        return "master" in self.flags

    @property
    def failing(self) -> bool:
        return bool(self.flags & {"fail", "fail?", "noaddr"})


@dataclass
class LocalCluster:
    """Three primaries + three replicas; see the module docstring."""

    appendonly: bool = True
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="tether-cluster-")))
    nodes: list[ClusterNode] = field(default_factory=list)
    failovers: int = 0

    # --- addresses ------------------------------------------------------------------

    @property
    def startup_nodes(self) -> list[tuple[str, int]]:
        """Every node's (host, port): a client may start from any of them."""
        return [("127.0.0.1", node.port) for node in self.nodes]

    @property
    def url(self) -> str:
        """``TETHER_REDIS_URL`` for a hub: two startup nodes (a client learns the rest)."""
        hosts = ",".join(node.address for node in self.nodes[:2])
        return f"redis+cluster://{hosts}/"

    def node(self, port: int) -> ClusterNode:
        return next(n for n in self.nodes if n.port == port)

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> LocalCluster:
        binary = shutil.which("redis-server")
        cli = shutil.which("redis-cli")
        if binary is None or cli is None:
            raise RuntimeError("redis-server/redis-cli are not installed (make test installs them)")
        self._binary = binary
        ports = free_ports(12)
        for i in range(6):
            node_dir = self.root / f"node{i}"
            node_dir.mkdir()
            self.nodes.append(ClusterNode(ports[i], ports[6 + i], node_dir))
        try:
            for node in self.nodes:
                node.start(binary, appendonly=self.appendonly)
            subprocess.run(
                [cli, "--cluster", "create", *(n.address for n in self.nodes),
                 "--cluster-replicas", "1", "--cluster-yes"],
                check=True, capture_output=True, timeout=60,
            )
            for node in self.nodes:
                with node.client() as client:
                    node.node_id = str(client.execute_command("CLUSTER MYID"))
            self.wait_healthy()
        except BaseException:
            self.stop()  # no stray servers or directories when the start fails
            raise
        return self

    def stop(self) -> None:
        for node in self.nodes:
            node.kill()
        shutil.rmtree(self.root, ignore_errors=True)

    # --- what the cluster looks like -------------------------------------------------

    def view(self, node: ClusterNode | None = None) -> dict[str, NodeView]:
        """``CLUSTER NODES`` as ``node`` (default: the first live one) sees it, by id."""
        source = node or next(n for n in self.nodes if n.alive)
        with source.client() as client:
            text = _raw(client, "CLUSTER", "NODES")
        return _parse_nodes(text)

    def primaries(self) -> list[ClusterNode]:
        """The live primaries that serve slots, as the cluster sees them now."""
        view = self.view()
        return [n for n in self.nodes if n.alive and n.node_id in view
                and view[n.node_id].is_primary and not view[n.node_id].failing
                and view[n.node_id].slots]

    def primary_of(self, slot: int) -> ClusterNode:
        for node_id, line in self.view().items():
            if slot in line.slots and line.is_primary:
                return next(n for n in self.nodes if n.node_id == node_id)
        raise RuntimeError(f"no node serves slot {slot}")

    def replica_of(self, primary: ClusterNode) -> ClusterNode:
        view = self.view()
        for line in view.values():
            if line.master_id == primary.node_id and not line.failing:
                return next(n for n in self.nodes if n.node_id == line.node_id)
        raise RuntimeError(f"the primary on {primary.port} has no live replica")

    def slots_of(self, primary: ClusterNode) -> frozenset[int]:
        return self.view()[primary.node_id].slots

    def healthy(self) -> bool:
        """Every live node says ``cluster_state:ok`` and sees the same primaries covering
        every slot, each live replica's link to its primary is up, and no node is flagged
        failing by any live node."""
        live = [n for n in self.nodes if n.alive]
        try:
            owners: set[tuple[tuple[str, int, int], ...]] = set()
            for node in live:
                with node.client() as client:
                    if "cluster_state:ok" not in _raw(client, "CLUSTER", "INFO"):
                        return False
                    replication: Any = client.info("replication")
                view = self.view(node)
                me = view[node.node_id]
                if not me.is_primary and replication.get("master_link_status") != "up":
                    return False
                if any(line.failing for line in view.values()
                       if line.node_id in {n.node_id for n in live}):
                    return False
                owners.add(_ranges(view))
        except (redis.RedisError, KeyError, StopIteration):
            return False
        if len(owners) != 1:
            return False
        covered = sum(hi - lo + 1 for _, lo, hi in next(iter(owners)))
        return covered == SLOTS

    def wait_healthy(self, timeout: float = 30_000 * MS) -> None:
        _wait(self.healthy, timeout, "the cluster to become healthy", self.describe)

    def describe(self) -> str:
        lines = []
        for node in self.nodes:
            if not node.alive:
                lines.append(f"{node.port}: {'frozen' if node.frozen else 'down'}")
                continue
            try:
                with node.client() as client:
                    lines.append(f"{node.port}:\n{_raw(client, 'CLUSTER', 'NODES')}")
            except redis.RedisError as exc:
                lines.append(f"{node.port}: {exc}")
        return "\n".join(lines)

    # --- between tests ---------------------------------------------------------------

    def flush(self) -> None:
        """FLUSHALL on every primary (replicas follow)."""
        for node in self.primaries():
            with node.client() as client:
                client.flushall()

    def reset(self) -> None:
        """Whole and empty for the next test: every killed node restarted (as a replica),
        the cluster healthy, every primary flushed. Slots a test moved stay where they
        are, and a failed-over shard keeps its new primary."""
        for node in self.nodes:
            if node.frozen:
                self.thaw(node)
            if not node.alive:
                self.restart(node)
        self.wait_healthy()
        self.flush()

    # --- faults ----------------------------------------------------------------------

    def kill_primary_of(self, slot: int, timeout: float = 30_000 * MS) -> ClusterNode:
        """SIGKILL the primary serving ``slot``; return it once its replica serves the slot
        and the cluster is healthy again (one primary fewer until :meth:`restart`)."""
        old = self.primary_of(slot)
        heir = self.replica_of(old)
        old.kill()

        def promoted() -> bool:
            try:
                with heir.client() as client:
                    role: Any = client.execute_command("ROLE")
                if role[0] != "master":
                    return False
                return self.primary_of(slot).node_id == heir.node_id and self.healthy()
            except (redis.RedisError, RuntimeError):
                return False

        _wait(promoted, timeout, f"a replica to take over slot {slot}", self.describe)
        self.failovers += 1
        return old

    def freeze_primary_of(self, slot: int, timeout: float = 30_000 * MS) -> ClusterNode:
        """SIGSTOP the primary serving ``slot`` (a hang, not a crash: connections to it
        stay open and silent); return it once its replica took over. :meth:`thaw` it."""
        old = self.primary_of(slot)
        heir = self.replica_of(old)
        old.freeze(True)

        def promoted() -> bool:
            try:
                with heir.client() as client:
                    role: Any = client.execute_command("ROLE")
                if role[0] != "master":
                    return False
                for node in (n for n in self.nodes if n.alive):
                    with node.client() as client:
                        if "cluster_state:ok" not in _raw(client, "CLUSTER", "INFO"):
                            return False
                return True
            except redis.RedisError:
                return False

        _wait(promoted, timeout, f"a replica to take over slot {slot}", self.describe)
        self.failovers += 1
        return old

    def thaw(self, node: ClusterNode, timeout: float = 30_000 * MS) -> None:
        """SIGCONT a frozen node; return once it is a replica in sync (it learns it was
        replaced) and the cluster is healthy."""
        node.freeze(False)
        self._wait_replica(node, timeout)

    def restart(self, node: ClusterNode, timeout: float = 30_000 * MS) -> None:
        """Start a killed node again; return once it is a replica in sync and the cluster
        is healthy."""
        if node.proc is not None:
            raise RuntimeError(f"the node on {node.port} is running (or frozen)")
        node.start(self._binary, appendonly=self.appendonly)
        self._wait_replica(node, timeout)

    def _wait_replica(self, node: ClusterNode, timeout: float) -> None:
        def rejoined() -> bool:
            try:
                with node.client() as client:
                    role: Any = client.execute_command("ROLE")
                return role[0] == "slave" and role[3] == "connected" and self.healthy()
            except redis.RedisError:
                return False

        _wait(rejoined, timeout, f"the node on {node.port} to rejoin", self.describe)

    # --- resharding ------------------------------------------------------------------

    def move_slots(self, slots: Iterable[int], to_node: ClusterNode, *,
                   keys_moved: Callable[[int], None] | None = None,
                   timeout: float = 30_000 * MS) -> None:
        """Migrate ``slots`` with their keys to the primary ``to_node``, one slot at a
        time as ``redis-cli --cluster reshard`` does; clients keep working (a key already
        moved answers ``ASK`` until the slot's owner changes, then ``MOVED``). Returns
        once every live node agrees on the new owners.

        ``keys_moved(slot)`` is called when a slot's keys are on ``to_node`` but the slot
        still belongs to its old owner: the moment a client is sent on with ``ASK``. Run
        this in a thread (``asyncio.to_thread``) to let an event loop's clients work on."""
        wanted = sorted(set(slots))
        masters = self.primaries()
        if to_node not in masters:
            raise RuntimeError(f"the node on {to_node.port} is not a serving primary")
        with _clients(masters) as clients:
            dst = clients[to_node.port]
            for slot in wanted:
                source = self.primary_of(slot)
                if source is to_node:
                    continue
                src = clients[source.port]
                dst.execute_command("CLUSTER SETSLOT", slot, "IMPORTING", source.node_id)
                src.execute_command("CLUSTER SETSLOT", slot, "MIGRATING", to_node.node_id)
                while True:
                    keys: Any = src.execute_command("CLUSTER GETKEYSINSLOT", slot, MIGRATE_BATCH)
                    if not keys:
                        break
                    src.execute_command(
                        "MIGRATE", "127.0.0.1", to_node.port, "", 0, MIGRATE_TIMEOUT_MS,
                        "REPLACE", "KEYS", *keys,
                    )
                if keys_moved is not None:
                    keys_moved(slot)
                # The new owner first, so a client sent there by the old one is served.
                for node in [to_node, source, *(m for m in masters if m not in (to_node, source))]:
                    clients[node.port].execute_command(
                        "CLUSTER SETSLOT", slot, "NODE", to_node.node_id
                    )

        def agreed() -> bool:
            try:
                for node in (n for n in self.nodes if n.alive):
                    owner = self.view(node)
                    if any(slot not in owner[to_node.node_id].slots for slot in wanted):
                        return False
                return self.healthy()
            except (redis.RedisError, KeyError):
                return False

        _wait(agreed, timeout, f"every node to see slots moved to {to_node.port}", self.describe)


# --- helpers ---------------------------------------------------------------------------


def _raw(client: redis.Redis, *args: str) -> str:
    """A command's reply as the server sent it (no redis-py response callback)."""
    conn = client.connection_pool.get_connection()
    try:
        conn.send_command(*args)
        return str(conn.read_response())
    finally:
        client.connection_pool.release(conn)


def _parse_nodes(text: str) -> dict[str, NodeView]:
    views: dict[str, NodeView] = {}
    for line in text.strip().splitlines():
        parts = line.split()
        node_id, addr, flags, master = parts[0], parts[1], parts[2], parts[3]
        slots: set[int] = set()
        for spec in parts[8:]:
            if spec.startswith("["):  # a slot being imported or migrated
                continue
            lo, _, hi = spec.partition("-")
            slots.update(range(int(lo), int(hi or lo) + 1))
        port = int(addr.split("@")[0].rsplit(":", 1)[1] or 0)
        views[node_id] = NodeView(node_id, port, frozenset(flags.split(",")), master,
                                  frozenset(slots))
    return views


def _ranges(view: dict[str, NodeView]) -> tuple[tuple[str, int, int], ...]:
    """Who serves which slots, as sorted (owner id, first, last) runs."""
    owner_of = {s: line.node_id for line in view.values() if line.is_primary
                for s in line.slots}
    runs: list[tuple[str, int, int]] = []
    for slot in sorted(owner_of):
        owner = owner_of[slot]
        if runs and runs[-1][0] == owner and runs[-1][2] == slot - 1:
            runs[-1] = (owner, runs[-1][1], slot)
        else:
            runs.append((owner, slot, slot))
    return tuple(runs)


@contextmanager
def _clients(nodes: Iterable[ClusterNode]) -> Iterator[dict[int, redis.Redis]]:
    clients = {node.port: node.client() for node in nodes}
    try:
        yield clients
    finally:
        for client in clients.values():
            client.close()


def _wait(check: Callable[[], bool], timeout: float, what: str,
          describe: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(20 * MS)
    raise RuntimeError(f"timed out waiting for {what}:\n{describe()}")
