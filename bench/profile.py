"""``--profile``: sample a server with py-spy while a benchmark measures it.

``py-spy record --pid P --format raw`` writes collapsed stacks (one line per distinct
stack, ``frame;frame;… count``); :func:`top` turns them into the functions that hold the
most samples, by their own time and by time including what they call. The raw file goes
to ``bench/results/logs/<name>.pyspy.txt``, so a flame graph can be drawn from it
afterwards (``flamegraph.pl``, speedscope). py-spy is in the ``[dev]`` extra; without it,
or where the kernel refuses ``ptrace``, the benchmark runs unprofiled and says so.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from bench.procs import LOGS

RATE = 250  # samples per second: enough for a few seconds' run, cheap for the target
STOP_TIMEOUT = 30.0


@dataclass(frozen=True)
class Row:
    function: str
    own: float  # share of the samples with this function on top
    total: float  # share of the samples with this function anywhere in the stack


def top(collapsed: str, *, limit: int = 15, skip_idle: bool = True) -> tuple[list[Row], int]:
    """The ``limit`` functions with the most own samples, and the sample count.

    ``skip_idle``: leave out samples whose top frame is the event loop waiting in
    ``select``/``epoll`` (the server had nothing to do), so shares are of busy time.
    """
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = [_short(frame) for frame in stack.split(";") if frame]
        if not frames:
            continue
        if skip_idle and frames[-1].startswith(("select (selectors", "poll (selectors")):
            continue
        count = int(count_text)
        samples += count
        own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count
    if not samples:
        return [], 0
    rows = [Row(name, n / samples, total[name] / samples) for name, n in own.most_common(limit)]
    return rows, samples


def _short(frame: str) -> str:
    """``send (websockets/protocol.py:123)`` -> ``send (websockets/protocol.py)``: a line
    number splits one function into many rows."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "lib/python3", "backend/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            if marker == "lib/python3":
                path = "stdlib" + path[path.find("/"):]
            break
    return f"{name} ({path})"


def format_rows(rows: list[Row], samples: int) -> str:
    lines = [f"    {samples:,} busy samples; own% total% function"]
    lines += [f"    {r.own * 100:5.1f} {r.total * 100:6.1f}  {r.function}" for r in rows]
    return "\n".join(lines)


class Profiler:
    """``with Profiler(pid, "many-hub"):`` samples ``pid`` for the block's duration."""

    def __init__(self, pid: int, name: str, *, enabled: bool = True) -> None:
        self.path = LOGS / f"{name}.pyspy.txt"
        self._pid = pid
        self._name = name
        self._enabled = enabled
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Profiler:
        if not self._enabled:
            return self
        binary = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if not Path(binary).exists():
            print("  profile: py-spy is not installed (pip install -e 'backend[dev]')")
            return self
        LOGS.mkdir(parents=True, exist_ok=True)
        self._proc = subprocess.Popen(
            [binary, "record", "--pid", str(self._pid), "--format", "raw", "--rate", str(RATE),
             "--output", str(self.path), "--nonblocking"],
            stdout=subprocess.DEVNULL, stderr=(LOGS / f"{self._name}.pyspy.log").open("w"),
        )
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        proc = self._proc
        if proc is None:
            return
        proc.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if exc_type is not None:
            return
        if not self.path.exists():
            print(f"  profile: py-spy wrote nothing; see {LOGS / self._name}.pyspy.log")
            return
        rows, samples = top(self.path.read_text())
        print(f"  profile of {self._name} ({self.path}):\n{format_rows(rows, samples)}",
              flush=True)
