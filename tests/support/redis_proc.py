"""A real ``redis-server`` on a free port, which tests may kill and restart."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.support.timing import MS


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def redis_answers(port: int, proc: subprocess.Popen[Any], timeout: float = 5000 * MS) -> bool:
    """Wait until the redis-server ``proc`` answers PING on ``port``; False if it exits
    (the port was taken) or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith((b"+PONG", b"-NOAUTH")):  # up (NOAUTH: a password)
                    return True
        except OSError:
            pass
        time.sleep(10 * MS)
    return False


class RedisProcess:
    """``redis-server`` in a temporary directory, AOF on so a restart keeps the data."""

    def __init__(self, *, appendonly: bool = True, password: str | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (make test installs it)")
        self.binary = binary
        self.dir = Path(tempfile.mkdtemp(prefix="tether-redis-"))
        self.appendonly = appendonly
        self.password = password  # requirepass: clients must AUTH
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start on the same port as before, or on a free one the first time."""
        for _ in range(20):
            port = self.port or free_port()
            proc = subprocess.Popen(
                [self.binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(self.dir),
                 "--save", "", "--appendonly", "yes" if self.appendonly else "no",
                 "--appendfsync", "always", "--daemonize", "no", "--loglevel", "warning",
                 *(["--requirepass", self.password] if self.password else [])],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )
            if redis_answers(port, proc):
                self.port, self.proc = port, proc
                return
            proc.kill()
            proc.wait()
            if self.port:  # the port we must reuse is still taken: wait and retry
                time.sleep(50 * MS)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        """SIGKILL: what a crash looks like."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait()
            self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)


def free_ports(count: int) -> list[int]:
    """``count`` distinct free ports (held together while picked, so none repeats)."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [s.getsockname()[1] for s in socks]
    finally:
        for sock in socks:
            sock.close()
