"""``tether serve --workers N``: N hub processes on one listening socket and one Redis.

The supervisor (the process ``tether serve`` started) binds the socket once and spawns N
worker processes that all accept on it, as uvicorn's and gunicorn's multiprocess
supervisors do: the kernel hands each new connection to whichever worker takes it first.
Each worker is a whole hub with its own hub id, ``<id>-1`` to ``<id>-N`` from the
configured (``TETHER_HUB_ID``) or generated id, so the workers share sessions exactly as
hubs on different machines do: a session runs on the worker that holds its lease, and a
WebSocket, an answer or a cancel that lands on another worker reaches it through Redis.

- **A worker that dies is started again** under the same hub id. Its lease keeper's first
  round claims the sessions still recorded under that id (``LeaseKeeper._reclaim``), so
  they resume at once instead of after their leases run out. A worker that dies within
  :data:`STABLE_SECONDS` of its start is started again after a growing pause (0.5 s,
  doubling to 30 s), so a hub that cannot start (Redis away) does not spin. A worker that
  exits by itself with an error (an exit code, not a signal) soon after its very first
  start stops the supervisor with that code instead: the configuration or the task code
  is broken (uvicorn exits 3 when the app's startup fails), and every restart would fail
  the same way.
- **SIGTERM or SIGINT** to the supervisor goes on to every worker as SIGTERM (never
  SIGINT: a worker that already got a terminal's Ctrl-C would read a second one as "stop
  at once"). Each stops as a single hub does: it stops accepting, closes its sockets, stops
  its runners and releases its leases. A worker still running :meth:`Supervisor.stop_timeout`
  seconds later is killed, and its leases run out as after a crash.
- **If the supervisor itself dies**, its workers notice their pipe to it closing and stop
  themselves the same way, rather than serving on unsupervised; one still running
  :meth:`Supervisor.stop_timeout` seconds later (nobody is left to kill it) kills itself.
- **A worker whose event loop hangs** (a task stuck in blocking code, a deadlock) is
  killed and started again: each worker's server sends a heartbeat down a pipe of its
  own every second from its event loop (uvicorn's ``callback_notify``), and the
  supervisor kills one that has sent none for ``TETHER_WORKER_TIMEOUT`` seconds (60 by
  default; 0: never). A hung worker still accepts connections on the shared socket and
  answers none, so waiting for its leases to run out is not enough. The clock starts at
  a worker's first heartbeat: starting up (importing the tasks, reaching Redis) is not
  timed.
- **Metrics** are the workers' together: the supervisor makes a fresh directory and sets
  ``PROMETHEUS_MULTIPROC_DIR`` to it before any worker starts, so each worker's
  prometheus_client keeps its values in files there and ``GET /metrics``, on whichever
  worker answers, exports them all (tether/metrics.py). A worker that exits has its live
  gauges removed (``mark_process_dead``); its counters stay counted. The directory goes
  when the supervisor stops.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import cast

from prometheus_client.multiprocess import mark_process_dead

from tether import logs
from tether.backoff import Backoff
from tether.config import Settings
from tether.hub import load_hub
from tether.logs import LogFormat
from tether.metrics import MULTIPROCESS_DIR_ENV
from tether.serving import hub_server

log = logging.getLogger(__name__)

# A fresh interpreter per worker, as uvicorn's supervisor uses: nothing of the supervisor's
# state (threads, an event loop, open connections) is copied into a worker.
SPAWN = multiprocessing.get_context("spawn")
STABLE_SECONDS = 30.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def stop_timeout(settings: Settings) -> float:
    """How long a worker may take to stop: uvicorn's graceful wait, then the runners'
    (each ``TETHER_SHUTDOWN_TIMEOUT``), and a margin for the rest of its lifespan."""
    return 2 * settings.shutdown_timeout + 10.0


def worker_hub_id(base: str, index: int) -> str:
    """The hub id of worker ``index`` (1-based): the same every time that worker starts,
    so a restarted worker reclaims its own sessions."""
    return f"{base}-{index}"


@dataclass(slots=True)
class Restarts:
    """When a dead worker starts again: at once after a long life, after a growing pause
    after a short one. Pure: the caller says how long the worker lived."""

    stable_after: float = STABLE_SECONDS
    backoff: Backoff = field(default_factory=lambda: Backoff(first=0.5, cap=30.0))

    def delay(self, lived: float) -> float:
        if lived >= self.stable_after:
            self.backoff.reset()
            return 0.0
        return self.backoff.delay()


def describe_exit(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


@dataclass(slots=True)
class _Slot:
    """Worker ``index`` and whichever process currently plays it."""

    index: int
    hub_id: str
    restarts: Restarts = field(default_factory=Restarts)
    process: BaseProcess | None = None
    lifeline: Connection | None = None  # our end of its pipe; it stops when this closes
    beats: Connection | None = None  # our end of its heartbeat pipe
    last_beat: float | None = None  # when its last heartbeat came (None: none yet)
    started_at: float = 0.0
    due: float | None = None  # when to start it again
    starts: int = 0


class Supervisor:
    """Spawns, watches and stops the workers of one ``tether serve --workers N``."""

    def __init__(self, settings: Settings, sock: socket.socket) -> None:
        self._settings = settings
        self._sock = sock
        self._slots = [_Slot(index=i, hub_id=worker_hub_id(settings.hub_id, i))
                       for i in range(1, settings.workers + 1)]
        self._stop_signal: int | None = None
        self._metrics_dir = ""  # the workers' shared metrics, while running
        self._failed = False  # a worker could not start: stopping, not asked to
        self._exit_code = 0

    @property
    def hub_ids(self) -> list[str]:
        return [slot.hub_id for slot in self._slots]

    @property
    def stop_timeout(self) -> float:
        return stop_timeout(self._settings)

    def run(self) -> int:
        """Run until SIGTERM/SIGINT; returns the exit code: 0 when every worker stopped
        in time, 1 when one had to be killed, or the exit code of a worker that could not
        start."""
        wake_r, wake_w = socket.socketpair()
        wake_r.setblocking(False)
        wake_w.setblocking(False)
        # A signal writes to wake_w, so the wait below returns at once; the handlers
        # themselves only record it (they run between two bytecodes of the loop).
        old_wakeup = signal.set_wakeup_fd(wake_w.fileno(), warn_on_full_buffer=False)
        old_handlers = {sig: signal.signal(sig, self._on_signal) for sig in STOP_SIGNALS}
        # Fresh for this run: values a directory kept from an earlier run would be added
        # to this one's. A spawned worker's environment is a copy of ours at its start.
        self._metrics_dir = tempfile.mkdtemp(prefix="tether-metrics-")
        old_metrics_dir = os.environ.get(MULTIPROCESS_DIR_ENV)
        os.environ[MULTIPROCESS_DIR_ENV] = self._metrics_dir
        try:
            for slot in self._slots:
                self._start(slot)
            while self._stop_signal is None:
                self._wait(wake_r)
                if self._stop_signal is None:
                    self._kill_hung()
                    self._reap()
                    self._start_due()
            return self._stop_all()
        finally:
            for sig, handler in old_handlers.items():
                signal.signal(sig, handler)
            signal.set_wakeup_fd(old_wakeup)
            wake_r.close()
            wake_w.close()
            if old_metrics_dir is None:
                os.environ.pop(MULTIPROCESS_DIR_ENV, None)
            else:
                os.environ[MULTIPROCESS_DIR_ENV] = old_metrics_dir
            shutil.rmtree(self._metrics_dir, ignore_errors=True)

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        if self._stop_signal is None:
            self._stop_signal = sig

    def _wait(self, wake: socket.socket) -> None:
        """Until a worker exits, a signal comes, a restart is due or a worker's heartbeat
        is overdue; heartbeats that came meanwhile are noted."""
        dues = [slot.due for slot in self._slots if slot.due is not None]
        dues += [deadline for slot in self._slots if (deadline := self._beat_due(slot))]
        timeout = max(0.0, min(dues) - time.monotonic()) if dues else None
        sentinels = [slot.process.sentinel for slot in self._slots if slot.process is not None]
        beats = [slot.beats for slot in self._slots if slot.beats is not None]
        ready = wait([*sentinels, *beats, wake], timeout)
        for slot in self._slots:
            if slot.beats is not None and slot.beats in ready:
                self._take_beats(slot)
        try:
            while wake.recv(64):
                pass
        except BlockingIOError:
            pass

    def _beat_due(self, slot: _Slot) -> float | None:
        """When ``slot``'s worker counts as hung unless it beats first (None: not timed)."""
        timeout = self._settings.worker_timeout
        if timeout <= 0 or slot.process is None or slot.last_beat is None:
            return None
        return slot.last_beat + timeout

    def _take_beats(self, slot: _Slot) -> None:
        assert slot.beats is not None
        try:
            while slot.beats.poll():
                slot.beats.recv_bytes()
                slot.last_beat = time.monotonic()
        except (EOFError, OSError):  # it exited: its sentinel says so, and _reap acts
            slot.beats.close()
            slot.beats = None

    def _kill_hung(self) -> None:
        """Kill every worker whose heartbeat is overdue; _reap starts it again."""
        now = time.monotonic()
        for slot in self._slots:
            due = self._beat_due(slot)
            if due is None or due > now:
                continue
            assert slot.process is not None
            log.error("Worker %d (hub %s, pid %s) sent no heartbeat for %.0f s (its event loop "
                      "hangs); killing it", slot.index, slot.hub_id, slot.process.pid,
                      now - (slot.last_beat or now))
            slot.process.kill()
            slot.last_beat = None  # once: its sentinel fires when it has gone

    def _start(self, slot: _Slot) -> None:
        settings = self._settings.with_(hub_id=slot.hub_id)
        theirs, ours = SPAWN.Pipe(duplex=False)  # (receiving end, sending end)
        beats, beating = SPAWN.Pipe(duplex=False)
        process = SPAWN.Process(
            target=run_worker, args=(settings, self._sock, theirs, beating),
            name=f"tether-worker-{slot.index}",
        )
        process.start()
        theirs.close()  # only the worker holds its end now: ours closing is its EOF
        beating.close()
        slot.process, slot.lifeline, slot.beats, slot.last_beat = process, ours, beats, None
        slot.started_at, slot.due = time.monotonic(), None
        slot.starts += 1
        log.info("Worker %d (hub %s) started, pid %s", slot.index, slot.hub_id, process.pid)

    def _reap(self) -> None:
        """Note the workers that exited and when each starts again."""
        for slot in self._slots:
            process = slot.process
            if process is None or process.is_alive():
                continue
            process.join()
            code = process.exitcode
            self._forget(slot)
            lived = time.monotonic() - slot.started_at
            if slot.starts == 1 and code is not None and code > 0 and lived < STABLE_SECONDS:
                log.error("Worker %d (hub %s) could not start (exit code %d); stopping",
                          slot.index, slot.hub_id, code)
                self._failed, self._exit_code = True, code
                self._stop_signal = signal.SIGTERM
                return
            delay = slot.restarts.delay(lived)
            slot.due = time.monotonic() + delay
            log.warning("Worker %d (hub %s, pid %s) stopped after %.1f s (%s); starting it "
                        "again%s", slot.index, slot.hub_id, process.pid, lived,
                        describe_exit(code), f" in {delay:.1f} s" if delay else "")

    def _start_due(self) -> None:
        now = time.monotonic()
        for slot in self._slots:
            if slot.process is None and slot.due is not None and slot.due <= now:
                self._start(slot)

    def _forget(self, slot: _Slot) -> None:
        """The worker's process has exited: close its pipe, drop its live gauges."""
        if slot.lifeline is not None:
            slot.lifeline.close()
        if slot.beats is not None:
            slot.beats.close()
        slot.beats, slot.last_beat = None, None
        if slot.process is not None and slot.process.pid is not None and self._metrics_dir:
            mark_process_dead(slot.process.pid, self._metrics_dir)  # type: ignore[no-untyped-call]
        slot.process, slot.lifeline = None, None

    def _stop_all(self) -> int:
        running = [slot for slot in self._slots if slot.process is not None]
        if self._stop_signal is not None and not self._failed:
            log.info("Received %s: stopping %d workers", signal.Signals(self._stop_signal).name,
                     len(running))
        for slot in running:
            assert slot.process is not None and slot.process.pid is not None
            if slot.process.is_alive():
                os.kill(slot.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        while any(slot.process.is_alive() for slot in running if slot.process is not None):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            wait([slot.process.sentinel for slot in running if slot.process is not None], left)
        for slot in running:
            assert slot.process is not None
            if slot.process.is_alive():
                log.error("Worker %d (hub %s) did not stop within %.0f s; killing it",
                          slot.index, slot.hub_id, self.stop_timeout)
                slot.process.kill()
                self._exit_code = self._exit_code or 1
            slot.process.join()
            code = slot.process.exitcode
            if code in (0, -signal.SIGTERM):  # uvicorn re-raises the signal it stopped on
                log.info("Worker %d (hub %s) stopped", slot.index, slot.hub_id)
            else:
                log.warning("Worker %d (hub %s) stopped (%s)", slot.index, slot.hub_id,
                            describe_exit(code))
            self._forget(slot)
        return self._exit_code


def run_worker(
    settings: Settings, sock: socket.socket, lifeline: Connection, beats: Connection
) -> None:
    """A worker process: one hub (``settings.hub_id`` is its own) accepting on ``sock``.

    Runs in a fresh interpreter, so it loads the task modules itself and sets up its own
    logging; ``lifeline`` is the supervisor's pipe, which closes when the supervisor goes;
    ``beats`` is where its event loop sends a heartbeat every second.
    """
    logs.configure(level=settings.log_level, fmt=cast(LogFormat, settings.log_format),
                   hub_id=settings.hub_id, tag_text=True)
    threading.Thread(target=_stop_with_supervisor, args=(lifeline, stop_timeout(settings)),
                     daemon=True, name="tether-lifeline").start()
    os.set_blocking(beats.fileno(), False)

    async def heartbeat() -> None:
        # Never waits: a supervisor too busy to read loses beats, not this loop's time.
        with contextlib.suppress(BlockingIOError, BrokenPipeError):
            beats.send_bytes(b".")

    server = hub_server(settings, load_hub(settings.task_specs), heartbeat=heartbeat)
    server.run(sockets=[sock])


def _stop_with_supervisor(lifeline: Connection, timeout: float) -> None:
    """Block until the supervisor's end of the pipe closes (it never writes), then stop
    this worker as SIGTERM would; if that has not ended it ``timeout`` seconds later,
    end it as the supervisor would have (a daemon thread: a worker that exits in time
    takes it along)."""
    try:
        lifeline.recv()
    except (EOFError, OSError):
        pass
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(timeout)
    log.error("This worker did not stop within %.0f s of its supervisor's end; killing it",
              timeout)
    os.kill(os.getpid(), signal.SIGKILL)
