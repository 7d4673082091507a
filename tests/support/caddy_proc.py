"""The real Caddy, run with the project's own deploy/Caddyfile in front of hub processes.

The Caddyfile reads its upstreams and port from the environment ({$HUB_1}, {$HUB_2},
{$TETHER_PROXY_PORT}), so the file docker-compose.yml mounts is the file tested here.
"""

from __future__ import annotations

import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from tests.support.deploy_files import CADDYFILE
from tests.support.redis_proc import free_port
from tests.support.timing import MS


class CaddyProcess:
    """``caddy run`` on a free port, balancing over ``upstreams`` (``host:port`` each)."""

    def __init__(self, *upstreams: str) -> None:
        self.upstreams = upstreams
        self.port = 0
        self.proc: subprocess.Popen[str] | None = None
        self.log: list[str] = []
        self._home = tempfile.TemporaryDirectory(prefix="tether-caddy-")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://", 1)

    def start(self) -> CaddyProcess:
        self.port = free_port()
        home = self._home.name
        env = {
            "PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": home,
            "XDG_DATA_HOME": home, "XDG_CONFIG_HOME": home,
            "TETHER_PROXY_PORT": str(self.port),
            **{f"HUB_{n}": upstream for n, upstream in enumerate(self.upstreams, start=1)},
        }
        self.proc = subprocess.Popen(
            ["caddy", "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
            cwd=Path(home),
        )
        threading.Thread(target=self._read, daemon=True).start()
        self._wait_ready()
        return self

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.log.append(line.rstrip())

    def _wait_ready(self) -> None:
        """Until a request through the proxy reaches a ready hub."""
        deadline = time.monotonic() + 15000 * MS
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"{self.base_url}/readyz", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(20 * MS)  # poll interval while Caddy binds its port
        self.stop()
        raise RuntimeError("caddy did not start:\n" + "\n".join(self.log[-30:]))

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        self._home.cleanup()
