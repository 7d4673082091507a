"""A real single-node Ray cluster for tests: ``ray start --head --block`` on free ports.

Everything Ray would put at a default place is moved: every port is a free one picked
here (workers: the OS picks), the temp dir is this run's own (not /tmp/ray), and the node
stays on loopback. ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` is what makes Ray keep
127.0.0.1 as the node's address instead of swapping in the machine's network address;
processes that join (the hubs) need it too, so :meth:`env` hands it out with the address.
A hub joins either through the GCS address (``host:port``: it becomes a driver of the
cluster itself) or through the Ray Client server the head runs (``ray://host:port``:
``env(client=True)``).

Stopped with SIGTERM to ``ray start --block``, which drains and stops the processes it
started (never ``ray stop``, which stops every Ray on the machine); the process group
is killed afterwards as a backstop. If the test run itself dies, the kernel sends that
SIGTERM (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.support.redis_proc import free_port
from tests.support.timing import MS

REPO = Path(__file__).resolve().parents[2]
_PORT_FLAGS = (
    "port", "object-manager-port", "node-manager-port", "ray-client-server-port",
    "dashboard-agent-listen-port", "dashboard-agent-grpc-port", "runtime-env-agent-port",
    "metrics-export-port", "dashboard-port",
)
LOOPBACK_ONLY = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _stop_with_parent() -> None:
    """In the child, before exec: SIGTERM when the test run dies without its teardown
    (killed, timed out), so the cluster stops with it instead of outliving it."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class RayHead:
    """``ray start --head`` with 2 CPUs and a small object store, in a temp dir of its
    own (short: Ray's socket paths inside it must stay under the 107-byte limit)."""

    def __init__(self, *, num_cpus: int = 2) -> None:
        self.temp_dir = Path(tempfile.mkdtemp(prefix="tray"))
        self.num_cpus = num_cpus
        self.ports = {flag: free_port() for flag in _PORT_FLAGS}
        self.address = f"127.0.0.1:{self.ports['port']}"
        self.client_address = f"ray://127.0.0.1:{self.ports['ray-client-server-port']}"
        self.log_path = self.temp_dir / "ray-start.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def env(self, *, client: bool = False) -> dict[str, str]:
        """What a process that joins this cluster (a hub) needs in its environment: the
        GCS address, or with ``client`` the Ray Client one (``ray://``)."""
        address = self.client_address if client else self.address
        return {"TETHER_RAY_ADDRESS": address, **LOOPBACK_ONLY}

    def start(self) -> RayHead:
        ray = Path(sys.executable).parent / "ray"
        if not ray.exists():
            raise RuntimeError(f"{ray} is missing: the tests need backend[dev,ray] (make test)")
        args = [
            str(ray), "start", "--head", "--block", "--node-ip-address=127.0.0.1",
            f"--num-cpus={self.num_cpus}", "--num-gpus=0",
            f"--object-store-memory={150 * 1024 * 1024}", "--include-dashboard=false",
            "--include-log-monitor=false", "--disable-usage-stats",
            f"--temp-dir={self.temp_dir}",
            "--min-worker-port=0", "--max-worker-port=0",
            *(f"--{flag}={port}" for flag, port in self.ports.items()),
        ]
        env = {
            **os.environ, **LOOPBACK_ONLY,
            # The workers import the tests' task modules (tests.e2e.ray_tasks).
            "PYTHONPATH": str(REPO),
            "RAY_USAGE_STATS_ENABLED": "0",
        }
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO,
                start_new_session=True,  # its own process group, killed as one at the end
                preexec_fn=_stop_with_parent,
            )
        self._wait_started()
        return self

    def _wait_started(self) -> None:
        deadline = time.monotonic() + 180_000 * MS  # slow on a loaded 2-core machine
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"ray start exited:\n{self.log()}")
            if "block forever" in self.log():
                return
            time.sleep(50 * MS)
        self.stop()
        raise RuntimeError(f"ray start did not come up:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def client_server_log(self, tail: int = 40) -> str:
        """The last lines of the Ray Client server's logs: the proxy, and the server it
        starts per connected client (``ray_client_server_PORT.err``)."""
        logs = sorted((self.temp_dir / "session_latest" / "logs").glob("ray_client_server*.err"))
        return "\n".join(
            f"== {path.name}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-tail:])
            for path in logs
        )

    def client_server_pids(self) -> list[int]:
        """The processes the Ray Client server started for its clients (hubs), oldest
        first, as its log names them."""
        log = self.temp_dir / "session_latest" / "logs" / "ray_client_server.err"
        text = log.read_text(errors="replace") if log.exists() else ""
        return [int(pid) for pid in re.findall(r"SpecificServer started on port: \d+ "
                                               r"with PID: (\d+)", text)]

    def stop(self) -> None:
        if self.proc is None:
            return
        pgid = self.proc.pid
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60_000 * MS)
            except subprocess.TimeoutExpired:
                pass
        try:  # whatever of its process group is still there
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.proc = None
        shutil.rmtree(self.temp_dir, ignore_errors=True)
