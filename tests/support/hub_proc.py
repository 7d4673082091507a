"""A hub as a real process (``python -m tether serve``), to kill -9, stop and restart."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.support.timing import MS

REPO = Path(__file__).resolve().parents[2]
_SERVING = re.compile(r"Tether serving \d+ tasks on (http://\S+)")


class HubProcess:
    """``tether serve SPECS --port 0 --redis URL`` in a subprocess; its log is kept."""

    def __init__(self, *specs: str, redis_url: str, hub_id: str, **env: str) -> None:
        self.specs = specs
        self.redis_url = redis_url
        self.hub_id = hub_id
        self.env = env
        self.proc: subprocess.Popen[str] | None = None
        self.base_url = ""
        self.log: list[str] = []
        self._reader: threading.Thread | None = None

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://", 1)

    def start(self) -> HubProcess:
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "TETHER_HUB_ID": self.hub_id,
            "TETHER_SECRET": "e2e-secret",  # every hub signs identities alike
            "TETHER_STATIC_DIR": str(REPO / "no-app"),
            **self.env,
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tether", "serve", *self.specs, "--port", "0",
             "--redis", self.redis_url],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO,
        )
        found = threading.Event()

        def read(stream: object) -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                self.log.append(line.rstrip())
                match = _SERVING.search(line)
                if match:
                    self.base_url = match.group(1)
                    found.set()

        self._reader = threading.Thread(target=read, args=(self.proc.stdout,), daemon=True)
        self._reader.start()
        if not found.wait(15000 * MS):
            self.kill()
            raise RuntimeError("hub did not start:\n" + "\n".join(self.log[-30:]))
        self._wait_healthy()
        return self

    def _wait_healthy(self) -> None:
        import urllib.request

        deadline = time.monotonic() + 10000 * MS
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.base_url}/healthz", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(10 * MS)
        raise RuntimeError("hub did not become healthy:\n" + "\n".join(self.log[-30:]))

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, leases are left to expire."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def terminate(self, timeout: float = 20.0) -> int:
        """SIGTERM and wait; returns the exit status."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        self.proc = None
        return code

    def restart(self) -> HubProcess:
        self.kill()
        return self.start()
