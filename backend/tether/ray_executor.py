"""The Ray executor: ``executor="ray"`` calls run as Ray tasks on ``TETHER_RAY_ADDRESS``.

This is the only module that touches Ray, and it imports it at the first call that uses
it (``import ray`` takes seconds, and the package is the optional ``tether[ray]``). Ray's
types are partial: the module object is held as ``Any`` here and nowhere else.

How a call runs. The hub is a Ray driver (``ray.init(address=...)`` in a thread, once).
A call is submitted as one task of the module-level :func:`run_call`, which imports the
function by reference on the worker, runs it (an ``async def`` under ``asyncio.run``) and
returns its result; the hub awaits the task's ``ObjectRef`` on its event loop.

- **Retries** are Tether's: tasks go out with ``max_retries=0`` (unless ``ray_options``
  say otherwise), so a worker that dies is a step failure (:class:`WorkerDied`) that the
  step's ``Retry`` handles like any other.
- **Failures**: an exception the function raised comes back as that exception (Ray's
  ``RayTaskError`` is its ``__cause__``, with the worker's traceback); every other
  ``RayError`` (worker killed, node died, out of memory) is :class:`WorkerDied`.
- **Cancel**: cancelling the awaiting task (a cancelled session, a failed sibling in
  ``ctx.map``, hub shutdown) calls ``ray.cancel`` — Python code on the worker gets
  ``KeyboardInterrupt`` — and waits up to ``cancel_grace`` seconds for the task to end
  before force-killing its worker.
- **Reports** (``tether.worker``): the hub starts one relay actor (``num_cpus=0``, owned by
  the hub, so it dies with it). A worker pushes each report to it without waiting, numbered
  per call, and waits for its pushes to land before it returns; the hub's drain loop
  long-polls the actor, puts each call's reports back in order (:mod:`tether.relay`) and
  hands them to the call, whose pump emits them as session events. A call returns only
  once its end marker has been pumped, so its reports come before whatever the task does
  next. One actor per hub rather than per session: an actor is a process.

Ray Client (``ray://``). The same code runs either way, with what Ray Client needs:

- A result is awaited through the ``concurrent.futures.Future`` of ``ref.future()``, in
  a way that a cancelled wait never cancels that future (:func:`_result`): Ray
  Client's data thread completes it later in any case, and completing a cancelled future
  raises in that thread (its "Callback error" log), leaves the callback registered, and
  breaks its shutdown, which fails every pending callback and stops at the first raise.
- ``ray.cancel`` is a round trip to the head's client server, run in a thread, off the
  event loop; so is ``ray.shutdown``.
- The connection can end for good (the head's server for this hub dies, or an outage
  outlasts the reconnect grace), and Ray does not connect again by itself. Calls that were
  waiting fail with :class:`WorkerDied` (their tasks are lost with their owner), the drain
  loop stops, and the next call disconnects what is left and connects anew. The link
  counts as lost from the first ``ConnectionError`` any call or the drain loop sees:
  ``ray.is_initialized()`` goes on saying true for a while after Ray Client's data channel
  has shut down (that flag is the worker's, the channel's is its own), and a task submitted
  in that window is refused with a ``ConnectionError`` before anything is sent, so such a
  submission goes out once more on a new connection.
- Connecting can fail on the head's side: its proxy starts a client server per
  connection, and on a busy head that start can time out ("Initialization failure from
  server"). ``ray.init`` is tried up to :data:`CONNECT_ATTEMPTS` times for that failure.
- The hub's tasks and the relay actor are owned by the client server's process for this
  hub, on the head. When the hub dies, they outlive it for Ray Client's reconnect grace
  period (``RAY_CLIENT_RECONNECT_GRACE_PERIOD`` in the hub's environment, 30 s by
  default; 0 stops them as soon as the connection drops, but then the connection does
  not survive a network hiccup either).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import importlib
import inspect
import logging
import socket
import time
import uuid
from collections.abc import Mapping
from typing import Any

from tether.backoff import Backoff
from tether.errors import ExecutorUnavailable, WorkerDied
from tether.executors import RemoteCall, Report
from tether.relay import CallReports, to_event
from tether.worker import Message, Reporter, reporting

__all__ = ["RayExecutor", "run_call"]

log = logging.getLogger(__name__)

DRAIN_WAIT = 1.0  # seconds one drain call waits on the relay for a first report
FLUSH_SECONDS = 10.0  # how long a worker waits for its reports to reach the relay
CONNECT_TIMEOUT = 5.0  # seconds to reach the cluster's port before ray.init
CONNECT_ATTEMPTS = 3  # ray.init tries when the head cannot start a client server


class RayExecutor:
    """Runs calls on the Ray cluster at ``address`` (``auto``, ``host:port`` or
    ``ray://host:port``). Connects at the first call; :meth:`close` disconnects.

    Args:
        cancel_grace: seconds a cancelled task has to end before its worker is killed.
        flush_timeout: seconds to wait, once a call's result is in, for the rest of its
            reports (they were sent before it returned; this only bounds a lost relay).
    """

    def __init__(
        self, address: str, *, cancel_grace: float = 5.0, flush_timeout: float = 10.0
    ) -> None:
        self._address = address
        self._cancel_grace = cancel_grace
        self._flush_timeout = flush_timeout
        self._lock = asyncio.Lock()
        self._connecting: asyncio.Future[Any] | None = None
        self._link: _Link | None = None

    async def run(self, call: RemoteCall, report: Report) -> Any:
        link = await self._connected()
        call_id = uuid.uuid4().hex
        inbox = link.open(call_id)
        pump = asyncio.create_task(inbox.pump(report), name=f"ray-reports-{call_id}")
        try:
            try:
                ref = link.submit(call, call_id)
            except ConnectionError:
                # Refused before it was sent (see the module docstring): nothing runs
                # twice if it goes out again, on the connection that replaces this one.
                link.close(call_id)
                link = await self._connected()
                link.adopt(call_id, inbox)
                ref = link.submit(call, call_id)
            try:
                result = await link.outcome(ref)
            except asyncio.CancelledError:
                await link.stop(ref, self._cancel_grace)
                raise
            except WorkerDied:
                inbox.finish()  # no end marker will come: show what arrived, then stop
                await _settle(pump, self._flush_timeout)
                raise
            except BaseException:
                await _settle(pump, self._flush_timeout)  # what it reported before raising
                raise
            await _settle(pump, self._flush_timeout)
            return result
        finally:
            link.close(call_id)
            pump.cancel()

    async def _connected(self) -> _Link:
        async with self._lock:  # one ray.init, whatever number of calls wait for it
            if self._link is not None and not self._link.alive():
                # Ray Client's connection is gone for good (the head's server for this hub
                # died, or the network was out for longer than the reconnect grace): Ray
                # never connects again by itself, so this call starts a new connection.
                log.warning("The connection to the Ray cluster at %r was lost; connecting "
                            "again", self._address)
                link, self._link = self._link, None
                await link.close_all()
            if self._link is not None:
                return self._link
            if self._connecting is None:
                # Its own task, shielded: a call cancelled while ray.init runs (in a thread
                # nothing can stop) leaves it to the next call instead of starting another.
                self._connecting = asyncio.ensure_future(
                    asyncio.to_thread(_connect, self._address)
                )
            try:
                ray = await asyncio.shield(self._connecting)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._connecting = None  # the next call tries again
                raise ExecutorUnavailable(
                    "ray", f"cannot connect to the Ray cluster at {self._address!r} "
                    f"(TETHER_RAY_ADDRESS): {type(exc).__name__}: {exc}"
                ) from exc
            self._connecting = None
            self._link = _Link(ray)
            return self._link

    async def close(self) -> None:
        """Stop draining and disconnect from the cluster (its tasks owned by this hub end
        with it, as Ray's ownership has it)."""
        link, self._link = self._link, None
        if link is not None:
            await link.close_all()


class _Inbox:
    """One call's reports on the hub: ordered by :class:`CallReports`, queued for the
    call's own pump task, so one slow session never holds up the drain loop."""

    _END = None

    def __init__(self) -> None:
        self.reports = CallReports()
        self._queue: asyncio.Queue[Mapping[str, Any] | None] = asyncio.Queue()

    def add(self, seq: int, message: Mapping[str, Any]) -> None:
        for due in self.reports.add(seq, message):
            self._queue.put_nowait(due)
        if self.reports.ended or self.reports.overflowed:
            self._queue.put_nowait(self._END)

    def finish(self) -> None:
        """No more reports will come (the worker died): the pump stops after those
        already due."""
        self._queue.put_nowait(self._END)

    async def pump(self, report: Report) -> None:
        """Emit reports in order until the end marker."""
        while (message := await self._queue.get()) is not self._END:
            event = to_event(message)
            if event is None:
                log.warning("A Ray task sent a report that is not one: %.200r", message)
                continue
            await report(event)


class _Link:
    """A live connection: the task function, the relay actor and its drain loop."""

    def __init__(self, ray: Any) -> None:
        self._ray = ray
        self._task = ray.remote(run_call)
        self._relay_class = ray.remote(num_cpus=0, max_restarts=0)(_Relay)
        self._relay = self._relay_class.remote()
        self._inboxes: dict[str, _Inbox] = {}
        self._lost = False
        self._drainer = asyncio.create_task(self._drain(), name="ray-relay-drain")

    def alive(self) -> bool:
        """False once Ray Client's connection has ended (as a driver, the hub stays
        connected for as long as it lives)."""
        return not self._lost and bool(self._ray.is_initialized())

    def open(self, call_id: str) -> _Inbox:
        inbox = self._inboxes[call_id] = _Inbox()
        return inbox

    def adopt(self, call_id: str, inbox: _Inbox) -> None:
        """Take over a call's inbox from a link that was lost before the call was sent."""
        self._inboxes[call_id] = inbox

    def close(self, call_id: str) -> None:
        self._inboxes.pop(call_id, None)

    def submit(self, call: RemoteCall, call_id: str) -> Any:
        options = {"max_retries": 0, **call.options}
        try:
            return self._task.options(**options).remote(
                call.function, call.args, dict(call.kwargs), self._relay, call_id
            )
        except ConnectionError:
            self._lost = True
            raise

    async def outcome(self, ref: Any) -> Any:
        """The task's result, or what it raised (see the module docstring)."""
        errors = self._ray.exceptions
        try:
            return await _result(ref)
        except errors.RayTaskError as exc:
            cause = exc.cause
            if isinstance(cause, Exception) and not isinstance(cause, errors.RayError):
                raise cause from exc
            if isinstance(cause, errors.RayError):
                raise WorkerDied(f"The Ray task ended: {type(cause).__name__}: {cause}") from exc
            raise
        except errors.RayError as exc:
            raise WorkerDied(f"The Ray task died: {type(exc).__name__}: {exc}") from exc
        except ConnectionError as exc:
            # Not the function's own (that one comes as a RayTaskError): Ray Client's
            # connection ended with the task running, and the server that owned it on the
            # head is gone or gives it up, so it is as lost as with a dead worker.
            self._lost = True
            raise WorkerDied(
                f"The connection to the Ray cluster was lost: {type(exc).__name__}: {exc}"
            ) from exc

    async def stop(self, ref: Any, grace: float) -> None:
        """Cancel the task and wait up to ``grace`` s for it to end; then kill its worker."""
        await self._cancel(ref, force=False)
        ended = asyncio.ensure_future(_result(ref))
        done, _ = await asyncio.wait({ended}, timeout=grace)
        if done:
            ended.exception()  # retrieved: it ended as cancelled, or with its own outcome
        else:
            log.warning("A cancelled Ray task did not stop within %.0f s; killing its worker",
                        grace)
            ended.cancel()  # only this wait: Ray's own future is left to Ray (_result)
            await self._cancel(ref, force=True)

    async def _cancel(self, ref: Any, *, force: bool) -> None:
        # In a thread: through Ray Client, a cancel is a round trip to the head. One that
        # cannot be sent (the connection is gone, and the task with its owner) must not
        # turn the caller's cancellation into another error.
        try:
            await asyncio.to_thread(self._ray.cancel, ref, force=force)
        except Exception as exc:
            log.warning("Cancelling a Ray task failed: %s: %s", type(exc).__name__, exc)

    async def _drain(self) -> None:
        """Long-poll the relay for ever (until :meth:`close_all`); nothing ends it but a
        cancel, so no call waits on reports that nobody collects, or the end of Ray
        Client's connection, which fails the calls that wait (:meth:`outcome`)."""
        backoff = Backoff(cap=5.0)
        while self.alive():  # else Ray Client's connection is gone: the next call connects
            try:
                batch = await _result(self._relay.drain.remote(DRAIN_WAIT))
                for call_id, seq, message in batch:
                    inbox = self._inboxes.get(call_id)
                    if inbox is not None:  # else: a call that ended (cancelled, failed)
                        inbox.add(int(seq), message)
            except self._ray.exceptions.RayActorError as exc:
                # The relay died: calls running now lose their reports (their end markers
                # would never come: they wait flush_timeout); new calls get a new relay.
                log.error("The Ray report relay died; starting a new one", exc_info=exc)
                await backoff.wait()
                self._relay = self._relay_class.remote()
                continue
            except ConnectionError as exc:  # Ray Client's connection ended
                log.warning("Draining the Ray report relay failed: %s", exc)
                self._lost = True
                break
            except Exception as exc:
                log.error("Draining the Ray report relay failed", exc_info=exc)
                await backoff.wait()
                continue
            backoff.reset()

    async def close_all(self) -> None:
        self._drainer.cancel()
        await asyncio.gather(self._drainer, return_exceptions=True)
        await asyncio.to_thread(self._ray.shutdown)


async def _result(ref: Any) -> Any:
    """What ``ref`` (an ``ObjectRef``, or Ray Client's ``ClientObjectRef``) resolves to.

    Awaited through a future of this loop's own, fed from Ray's: cancelling the wait
    cancels only that one. Ray's (``ref.future()``) is left for Ray to set whenever the
    object is ready or the connection ends; Ray Client's data thread raises when it finds
    it cancelled (see the module docstring).
    """
    loop = asyncio.get_running_loop()
    mine: asyncio.Future[Any] = loop.create_future()

    def arrived(theirs: concurrent.futures.Future[Any]) -> None:  # in Ray's thread
        try:
            loop.call_soon_threadsafe(_copy, theirs, mine)
        except RuntimeError:
            pass  # the loop is closed: nobody waits any more

    ref.future().add_done_callback(arrived)
    return await mine


def _copy(theirs: concurrent.futures.Future[Any], mine: asyncio.Future[Any]) -> None:
    if mine.cancelled():
        return  # the wait was cancelled: the outcome goes unseen
    error = theirs.exception()
    if error is not None:
        mine.set_exception(error)
    else:
        mine.set_result(theirs.result())


async def _settle(pump: asyncio.Task[None], timeout: float) -> None:
    """Wait for a call's pump to emit its last report; re-raise what emitting raised."""
    done, _ = await asyncio.wait({pump}, timeout=timeout)
    if done:
        pump.result()
    else:
        log.warning("A Ray task's reports did not all arrive within %.0f s", timeout)


def _connect(address: str) -> Any:
    """Import Ray and join the cluster (blocking: run in a thread)."""
    _check_reachable(address)
    ray: Any = importlib.import_module("ray")
    for attempt in range(1, CONNECT_ATTEMPTS + 1):
        if ray.is_initialized():
            break
        try:
            ray.init(
                address=address, namespace="tether", log_to_driver=False,
                logging_level=logging.WARNING,
            )
        except ConnectionAbortedError as exc:
            # Ray Client's proxy on the head answered but could not start the server it
            # runs for each connection ("Initialization failure from server"): the head's
            # failure, and one that passes (a busy head's start-up outran its timeout).
            if attempt == CONNECT_ATTEMPTS:
                raise
            log.warning("The Ray head could not start a client server for this hub; "
                        "trying again (%d of %d): %s", attempt + 1, CONNECT_ATTEMPTS,
                        str(exc).splitlines()[0])
            with contextlib.suppress(Exception):
                ray.shutdown()  # what the failed attempt left of a connection
            time.sleep(attempt)  # in the connecting thread, off the event loop
    return ray


def _check_reachable(address: str) -> None:
    """Fail fast when nothing listens at ``address``: ``ray.init`` would retry for minutes
    (in a thread no one can cancel) before giving up.

    Raises:
        ConnectionError: the cluster's port does not accept a connection.
    """
    if address == "auto":
        return  # Ray finds the local cluster itself, and says at once when there is none
    client = address.startswith("ray://")
    target = address.removeprefix("ray://")
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        # No port: the default of Ray Client's server, or of the head's GCS.
        host, port = target, "10001" if client else "6379"
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT).close()
    except OSError as exc:
        raise ConnectionError(f"nothing accepts connections at {host}:{port} ({exc})") from exc


# --- on the cluster ---------------------------------------------------------------------


class _Relay:
    """The relay actor (async, one per hub): reports in, batches out."""

    def __init__(self) -> None:
        self._items: list[tuple[str, int, Message]] = []
        self._ready = asyncio.Event()

    async def push(self, call_id: str, seq: int, message: Message) -> None:
        self._items.append((call_id, seq, message))
        self._ready.set()

    async def drain(self, wait: float) -> list[tuple[str, int, Message]]:
        if not self._items:
            # Not wait_for: on Python 3.11 a cancel that comes with the wake-up is lost.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._ready.wait()
        items, self._items = self._items, []
        self._ready.clear()
        return items


def run_call(
    function: str, args: tuple[Any, ...], kwargs: dict[str, Any], relay: Any, call_id: str
) -> Any:
    """The Ray task every call runs as (on a worker): resolve ``function``, run it with
    ``tether.worker`` reporting to ``relay``, and return its result."""
    ray: Any = importlib.import_module("ray")
    pushes: list[Any] = []

    def send(seq: int, message: Message) -> None:
        pushes.append(relay.push.remote(call_id, seq, message))

    try:
        with reporting(Reporter(send)):
            fn = _resolve(function)
            result = fn(*args, **kwargs)
            if inspect.isawaitable(result):
                result = asyncio.run(_wait(result))
    except KeyboardInterrupt:  # ray.cancel: nobody waits for the reports any more
        raise
    except BaseException:
        ray.wait(pushes, num_returns=len(pushes), timeout=FLUSH_SECONDS)
        raise
    # Landed before the result is returned: the hub can wait for the end marker knowing
    # it is on its way.
    ray.wait(pushes, num_returns=len(pushes), timeout=FLUSH_SECONDS)
    return result


async def _wait(awaitable: Any) -> Any:
    return await awaitable


def _resolve(function: str) -> Any:
    module_name, _, qualname = function.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportError(
            f"{function} cannot be imported on this Ray worker: {exc}. The cluster's "
            "workers need the task's module (and tether) installed or on their PYTHONPATH."
        ) from exc
    fn = getattr(module, qualname, None)
    if not callable(fn):
        raise ImportError(f"{module_name} has no function {qualname} on this Ray worker")
    return fn
