"""The processes under test: ``redis-server``, a Tether hub, the bare websockets peer.

Each is a real subprocess on a free loopback port, registered with a :class:`Processes`
group that terminates (then kills) all of them on exit, whatever the exit. Their logs go
to ``bench/results/logs/`` so a failed run can be read afterwards.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO

from tests.support.redis_proc import free_port, redis_answers

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
LOGS = RESULTS / "logs"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
PR_SET_PDEATHSIG = 1

NO_QUOTAS = {
    "TETHER_MAX_OPEN_SESSIONS": "0", "TETHER_STARTS_PER_MINUTE": "0",
    "TETHER_MAX_SOCKETS_PER_USER": "0",
}
_TETHER_LINE = re.compile(r"Tether serving .* on (http://[\d.]+:(\d+))")
_PEER_LINE = re.compile(r"Peer serving on (http://[\d.]+:(\d+))")


def raise_nofile_limit() -> int:
    """Raise this process's open-file limit to the hard limit (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def rss_kib(pid: int) -> int:
    """``VmRSS`` of ``pid`` in KiB, from ``/proc/PID/status``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far, from ``/proc/PID/stat``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds a set of processes spend between two points (contention-proof)."""

    def __init__(self, *pids: int) -> None:
        self._pids = pids
        self._start = [cpu_seconds(pid) for pid in pids]

    def us_per(self, units: int) -> list[float]:
        """CPU microseconds per unit of work since the meter was made, one per pid.

        The kernel counts in clock ticks (10 ms at ``SC_CLK_TCK`` = 100): spans well under
        a second are coarse.
        """
        return [(cpu_seconds(pid) - start) * 1e6 / units
                for pid, start in zip(self._pids, self._start, strict=True)]


class Server:
    """A started subprocess with the URL it printed (and, for a hub started with
    ``--workers N``, each worker's hub id and pid)."""

    def __init__(self, name: str, proc: subprocess.Popen[str], url: str) -> None:
        self.name = name
        self.proc = proc
        self.url = url
        self.port = int(url.rsplit(":", 1)[1])
        self.workers: dict[str, int] = {}

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1)

    def alive(self) -> bool:
        return self.proc.poll() is None


class Processes:
    """Every subprocess the bench starts; ``with Processes() as procs`` stops them all."""

    def __init__(self) -> None:
        self.redis_pids: dict[str, int] = {}
        self._procs: list[subprocess.Popen[str]] = []
        self._dirs: list[Path] = []
        LOGS.mkdir(parents=True, exist_ok=True)

    def __enter__(self) -> Processes:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_all()

    def stop(self, proc: subprocess.Popen[str], timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds."""
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc in self._procs:
            self._procs.remove(proc)

    def stop_all(self) -> None:
        for proc in reversed(list(self._procs)):  # hubs before the Redis they use
            self.stop(proc)
        for path in self._dirs:
            shutil.rmtree(path, ignore_errors=True)
        self._dirs.clear()

    def _spawn(
        self, name: str, argv: list[str], *, stdout: int | IO[str],
        env: dict[str, str] | None = None,
    ) -> subprocess.Popen[str]:
        log = (LOGS / f"{name}.log").open("w")
        try:
            proc = subprocess.Popen(
                argv, cwd=ROOT, stdout=stdout, stderr=log, text=True, stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
                preexec_fn=_die_with_parent,
            )
        finally:
            log.close()  # the child has its own descriptor
        self._procs.append(proc)
        return proc

    # --- redis-server ----------------------------------------------------------------

    def redis(self, name: str = "redis", *, replica_of: str | None = None) -> str:
        """A fresh ``redis-server`` (no persistence) on a free port; returns its URL.
        ``replica_of``: the URL of a primary this one replicates (returned once in sync)."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (make bench installs it)")
        workdir = Path(tempfile.mkdtemp(prefix="tether-bench-redis-"))
        self._dirs.append(workdir)
        for _ in range(10):
            port = free_port()
            proc = self._spawn(name, [
                binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir),
                "--save", "", "--appendonly", "no", "--daemonize", "no",
                "--loglevel", "warning", "--maxclients", "1000",
                *(["--replicaof", "127.0.0.1", replica_of.rsplit(":", 1)[1].split("/")[0]]
                  if replica_of else []),
            ], stdout=subprocess.DEVNULL)
            if redis_answers(port, proc):
                url = f"redis://127.0.0.1:{port}/0"
                self.redis_pids[url] = proc.pid
                if replica_of:
                    _wait_in_sync(url)
                return url
            self.stop(proc)  # lost the port to someone else: try another
        raise RuntimeError("redis-server did not start")

    # --- servers that print their URL ------------------------------------------------

    def hub(
        self, redis_url: str | None, name: str = "hub", *, workers: int = 1, **env: str
    ) -> Server:
        """``python -m tether serve bench.tasks:hub --port 0 [--redis URL] [--workers N]``,
        as ``tether serve``; without ``redis_url`` the hub keeps everything in memory.
        ``env``: more ``TETHER_*`` settings. With ``workers`` above 1 this returns once
        every worker has started (their hub ids are ``<name>-1`` ...)."""
        argv = [sys.executable, "-m", "tether", "serve", "bench.tasks:hub",
                "--host", "127.0.0.1", "--port", "0"]
        if redis_url:
            argv += ["--redis", redis_url]
        if workers > 1:
            argv += ["--workers", str(workers)]
            env = {"TETHER_HUB_ID": name, **env}
        # One bench user starts and watches thousands of sessions: no per-user quotas.
        server = self._server(name, argv, _TETHER_LINE, env={**NO_QUOTAS, **env})
        if workers > 1:
            hub_ids = [f"{name}-{i}" for i in range(1, workers + 1)]
            server.workers = self._wait_workers(server, hub_ids)
        return server

    def _wait_workers(self, server: Server, hub_ids: list[str]) -> dict[str, int]:
        """Each worker's pid, once its log line says it serves (the supervisor prints its
        own line before the workers have loaded the app)."""
        log = LOGS / f"{server.name}.log"
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            text = log.read_text()
            if all(f"Tether hub {hub_id} serving" in text for hub_id in hub_ids):
                pids = {}
                for hub_id in hub_ids:  # the supervisor's line for the worker's latest start
                    started = re.findall(rf"\(hub {re.escape(hub_id)}\) started, pid (\d+)",
                                         text)
                    pids[hub_id] = int(started[-1])
                return pids
            if not server.alive():
                break
            time.sleep(0.1)
        self.stop(server.proc)
        raise RuntimeError(f"{server.name}'s workers did not start; see {log}")

    def peer(self, name: str = "peer") -> Server:
        """The bare websockets server of :mod:`bench.peer`."""
        return self._server(name, [sys.executable, "-m", "bench.peer", "--port", "0"], _PEER_LINE)

    def sio_peer(self, redis_url: str, name: str = "sio-peer") -> Server:
        """The python-socketio server of :mod:`bench.sio_peer`, its rooms on ``redis_url``."""
        return self._server(name, [sys.executable, "-m", "bench.sio_peer", "--redis", redis_url,
                                   "--port", "0"], _PEER_LINE)

    def start_peer(self, redis_url: str, name: str = "start-peer") -> Server:
        """The minimal Starlette start endpoint of :mod:`bench.startpeer`."""
        return self._server(name, [sys.executable, "-m", "bench.startpeer", "--redis",
                                   redis_url, "--port", "0"], _PEER_LINE)

    def _server(
        self, name: str, argv: list[str], line: re.Pattern[str], env: dict[str, str] | None = None
    ) -> Server:
        proc = self._spawn(name, argv, stdout=subprocess.PIPE, env=env)
        assert proc.stdout is not None
        found: list[str] = []
        ready = threading.Event()
        stdout = proc.stdout

        def pump() -> None:
            # Reads the ready line, then drains stdout so the child never blocks on it.
            with (LOGS / f"{name}.out").open("w") as out:
                for text in stdout:
                    out.write(text)
                    out.flush()
                    if not found:
                        match = line.search(text)
                        if match:
                            found.append(match.group(1))
                            ready.set()
            ready.set()

        threading.Thread(target=pump, name=f"{name}-stdout", daemon=True).start()
        if not ready.wait(START_TIMEOUT) or not found:
            self.stop(proc)
            raise RuntimeError(f"{name} did not start; see {LOGS / name}.log")
        return Server(name, proc, found[0])


def _wait_in_sync(replica_url: str, timeout: float = 30.0) -> None:
    """Until the replica at ``replica_url`` has its primary's data and follows it."""
    import redis

    deadline = time.monotonic() + timeout
    with redis.Redis.from_url(replica_url, decode_responses=True) as client:
        while time.monotonic() < deadline:
            info = client.info("replication")
            if info.get("master_link_status") == "up" and not info.get("master_sync_in_progress"):
                return
            time.sleep(0.05)
    raise RuntimeError(f"the replica {replica_url} did not catch up")


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM it if the bench dies (even by SIGKILL)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


async def settled_rss_kib(pid: int, *, timeout: float = 15.0, interval: float = 0.25) -> int:
    """VmRSS once it stops moving: four readings in a row within 64 KiB of each other.

    Waiting here is the point: the server finishes its work (and its collector runs)
    while nothing else happens, and this process's event loop keeps answering pings.
    Bounded by ``timeout``; the last reading is returned.
    """
    readings = [rss_kib(pid)]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await asyncio.sleep(interval)
        readings.append(rss_kib(pid))
        recent = readings[-4:]
        if len(recent) == 4 and max(recent) - min(recent) <= 64:
            break
    return readings[-1]
