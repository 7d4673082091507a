"""``HubMetrics``: what one hub process counts and times, for ``GET /metrics``.

Every metric lives in a :class:`~prometheus_client.CollectorRegistry` of the hub's own
(never the library's global default), so several hubs in one process (tests) count
apart. The components of a hub take the one object ``create_app`` makes and call it at
the places docs/METRICS.md names; this module does no I/O (but the process collector's reads
of ``/proc`` when scraped).

Labels stay few and bounded: a task name (the hub's fixed catalogue; any other name is
counted as ``other``), a request kind, an outcome or status from a fixed set, a close
code from :class:`~tether.closecodes.CloseCode`, a channel kind (``webhook``, ``email``).
Never a session, request, user or webhook id.

Cost on the hot paths: an event frame sent to a WebSocket adds one to a plain ``int``
(no lock; everything here runs on the event loop) that a collector reads at scrape time;
a batch of appended events is one counter increment, not one per event. Open sessions by
status are counted at scrape time from this hub's runners in memory (no store reads), on
the event loop; the exposition is then encoded in a worker thread.

Workers. ``tether serve --workers N`` runs N hub processes on one port, so a scrape lands
on whichever worker accepts it. Their supervisor puts prometheus_client in its
multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, a directory of its own, set before a
worker starts): every worker's counters, histograms and gauges live in files there, and
whichever worker answers ``GET /metrics`` exports the sum over all of them (a dead
worker's counters stay counted; its live gauges go with it). What the hot path counts in
plain ints, and the census of open sessions, reach those files every
:data:`SHARE_SECONDS` (:meth:`HubMetrics.share`) and at each scrape. ``tether_hub_info``
then has one series per worker (a ``pid`` label beside each worker's hub id). The
library's limits of that mode apply: no per-process collectors (process CPU, memory and
file descriptors are not exported with workers).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from tether.closecodes import CloseCode

OTHER_TASK = "other"
REQUEST_KINDS = ("input", "confirm", "retry")
FINISHED_STATUSES = ("completed", "failed", "cancelled")
OPEN_STATUSES = ("pending", "running", "waiting")
DELIVERY_OUTCOMES = ("delivered", "retrying", "failed")
CHANNEL_KINDS = ("webhook", "email")
MAIL_OUTCOMES = ("sent", "refused")

# People answer in seconds to days; the hub resumes in milliseconds; Redis answers in
# tenths of a millisecond.
WAIT_BUCKETS = (1, 5, 15, 30, 60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 86400,
                3 * 86400, 7 * 86400)
RESUME_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
REPLAY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
ROUND_TRIP_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                      0.1, 0.25, 0.5, 1)

MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's own switch
SHARE_SECONDS = 1.0  # how stale another worker's tallies and census may be in a scrape

# Open sessions of this hub, counted when scraped: ``{(task, status): count}``.
SessionCensus = Callable[[], Mapping[tuple[str, str], int]]


def channel_kind(channel_name: str) -> str:
    """``webhook:<id>`` -> ``webhook``; ``email`` -> ``email``; anything else ``other``
    (a webhook's id would make one series per webhook)."""
    kind = channel_name.partition(":")[0]
    return kind if kind in CHANNEL_KINDS else "other"


def epoch_of(iso: str) -> float | None:
    """Epoch seconds of an ISO-8601 time as the hub writes them (``...Z``); None when
    ``iso`` is not one."""
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except (ValueError, AttributeError):
        return None


def shared_metrics_dir() -> str | None:
    """The directory this process shares its metrics in (prometheus_client's multiprocess
    mode, which reads the variable once, on import: ``tether serve --workers N`` sets it
    before a worker starts), or None."""
    path = os.environ.get(MULTIPROCESS_DIR_ENV)
    return path if path and os.path.isdir(path) else None


class HubMetrics:
    """Every metric of one hub process. See the module docstring and docs/METRICS.md.

    Args:
        hub_id: this hub's id, shown once in ``tether_hub_info``.
        version: the hub's version, likewise.
        tasks: the task names this hub serves: the only values of a ``task`` label
            (with ``other``).
        process: also export the process's CPU, memory and file descriptors (off for
            throwaway instances, which would all describe the same process).
        shared_dir: the multiprocess directory of a worker (:func:`shared_metrics_dir`):
            export every worker's metrics from there (the module docstring).
    """

    def __init__(
        self, *, hub_id: str = "", version: str = "", tasks: Collection[str] = (),
        process: bool = False, shared_dir: str | None = None,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._tasks = frozenset(tasks)
        self._census: SessionCensus | None = None
        self._counted: Mapping[tuple[str, str], int] = {}  # the last census taken
        self._per_task: dict[str, TaskMetrics] = {}
        self._listening: Callable[[], bool] | None = None
        # The hot path's tally: a plain int, exported by _Tallies at scrape time (or, in a
        # worker, added to the shared counter by share()).
        self.events_delivered = 0
        self._shared: _SharedTallies | None = None
        self._exported = self.registry
        registry = self.registry
        if shared_dir is None:
            Info("tether_hub", "This hub process.", registry=registry).info(
                {"hub": hub_id, "version": version}
            )
        else:
            Gauge("tether_hub_info", "This hub process: one series per worker.",
                  ["hub", "version"],
                  registry=registry, multiprocess_mode="liveall").labels(
                hub=hub_id, version=version).set(1)
        self.sessions_started = Counter(
            "tether_sessions_started", "Sessions this hub created (started or forked).",
            ["task"], registry=registry,
        )
        self.sessions_finished = Counter(
            "tether_sessions_finished",
            "Sessions this hub's runners brought to a terminal status.",
            ["task", "status"], registry=registry,
        )
        self.session_resumes = Counter(
            "tether_session_resumes",
            "Sessions this hub resumed from their journal (adopted, reclaimed or forked).",
            ["task"], registry=registry,
        )
        self.sessions_parked = Counter(
            "tether_sessions_parked",
            "Waiting sessions whose runner this hub stopped to give its memory back "
            "(each runs again from its journal when answered, cancelled or due).",
            registry=registry,
        )
        self.events_appended = Counter(
            "tether_events_appended",
            "Events this hub wrote to session logs: its runners' events and the answers "
            "it recorded.",
            ["task"], registry=registry,
        )
        self.notifications_listening = Gauge(
            "tether_notifications_listening",
            "1 while this hub queues notifications (it has a mail channel, the store has a "
            "webhook, or it is not sure there is none), 0 while it skips them.",
            registry=registry, multiprocess_mode="livemax",
        )
        self.websockets_open = Gauge(
            "tether_websockets_open", "Session WebSockets open on this hub now.",
            registry=registry, multiprocess_mode="livesum",
        )
        self.websocket_closes = Counter(
            "tether_websocket_closes",
            "Session WebSockets this hub closed, by close code (4008: the client read "
            "too slowly).",
            ["code"], registry=registry,
        )
        self.replay_duration = Histogram(
            "tether_replay_duration_seconds",
            "How long a WebSocket's replay took, from its first read of the log to "
            "replay_complete (its _count is the number of replays).",
            buckets=REPLAY_BUCKETS, registry=registry,
        )
        self.events_replayed = Counter(
            "tether_events_replayed", "Events sent to WebSockets as part of a replay.",
            registry=registry,
        )
        self.request_wait = Histogram(
            "tether_request_wait_seconds",
            "How long requests waited for people: from being opened to being answered "
            "(on the hub that took the answer) or expiring (on the hub running the session).",
            ["task", "kind", "outcome"], buckets=WAIT_BUCKETS, registry=registry,
        )
        self.answer_resume = Histogram(
            "tether_answer_resume_seconds",
            "From an answer being recorded (on any hub) to the waiting task going on "
            "(on the hub running it).",
            ["task"], buckets=RESUME_BUCKETS, registry=registry,
        )
        self.store_round_trip = Histogram(
            "tether_store_round_trip_seconds",
            "A PING to the store and back, once per lease round (Redis; next to nothing "
            "for the memory store).",
            buckets=ROUND_TRIP_BUCKETS, registry=registry,
        )
        self.lease_takeovers = Counter(
            "tether_lease_takeovers",
            "Leases this hub claimed: sessions whose hub died, stopped or lost them, and "
            "its own after a restart.",
            registry=registry,
        )
        self.leases_lost = Counter(
            "tether_leases_lost",
            "Sessions another hub took over from this one (its runner stopped).",
            registry=registry,
        )
        self.deliveries = Counter(
            "tether_notification_deliveries",
            "Notification delivery attempts by channel kind and outcome: delivered, "
            "retrying (failed, tried again later) or failed (given up).",
            ["channel", "outcome"], registry=registry,
        )
        self.mails = Counter(
            "tether_mails",
            "Mails to people, by outcome: sent, or refused (the mail server refused the "
            "address for good; the notification still counts as delivered).",
            ["outcome"], registry=registry,
        )
        if shared_dir is None:
            registry.register(_Tallies(self))
            if process:
                ProcessCollector(registry=registry)
                PlatformCollector(registry=registry)
        else:
            self._shared = _SharedTallies(registry)
            # A scrape exports every worker's files, never this registry (whose metrics
            # are in those files too: both would export them twice).
            self._exported = CollectorRegistry(auto_describe=True)
            # (prometheus_client's multiprocess module has no type hints)
            MultiProcessCollector(self._exported, path=shared_dir)  # type: ignore[no-untyped-call]
            if process:
                PlatformCollector(registry=self._exported)  # the same in every worker
        self._zeroes()

    def _zeroes(self) -> None:
        """Make the series a dashboard divides or rates exist from the start, at 0."""
        for code in CloseCode:
            if code is not CloseCode.ABNORMAL_CLOSURE:  # never sent, by definition
                self.websocket_closes.labels(code=str(int(code)))
        for channel in CHANNEL_KINDS:
            for outcome in DELIVERY_OUTCOMES:
                self.deliveries.labels(channel=channel, outcome=outcome)
        for outcome in MAIL_OUTCOMES:
            self.mails.labels(outcome=outcome)
        for task in sorted(self._tasks):
            self.for_task(task)

    # --- wiring ------------------------------------------------------------------------

    @property
    def shared(self) -> bool:
        """This hub is one of several workers that export their metrics together."""
        return self._shared is not None

    def watch_audience(self, listening: Callable[[], bool]) -> None:
        """Where ``tether_notifications_listening`` comes from (the store's audience)."""
        if self._shared is None:
            self.notifications_listening.set_function(lambda: 1.0 if listening() else 0.0)
        else:  # a function's value stays in this process: share() writes it down
            self._listening = listening

    def count_sessions_with(self, census: SessionCensus) -> None:
        """Where ``tether_sessions`` comes from (the session manager's runners)."""
        self._census = census

    def take_census(self) -> None:
        """Count the open sessions now, for the next :meth:`encode` (in a worker, write
        them and the tallies down for every worker's scrapes). On the event loop's
        thread: the census walks the session manager's runners."""
        self._counted = dict(self._census()) if self._census is not None else {}
        shared = self._shared
        if shared is not None:
            shared.write(self._session_counts(), self.events_delivered)
            if self._listening is not None:
                self.notifications_listening.set(1.0 if self._listening() else 0.0)

    async def share(self) -> None:
        """In a worker: :meth:`take_census` every :data:`SHARE_SECONDS`, so a scrape that
        another worker answers is at most that old; until cancelled."""
        while True:
            self.take_census()
            await asyncio.sleep(SHARE_SECONDS)

    def _session_counts(self) -> dict[tuple[str, str], int]:
        """The last census by (task label, status), every open status of every task
        present (at 0 when none)."""
        counts = dict.fromkeys(
            ((task, status) for task in self._tasks for status in OPEN_STATUSES), 0
        )
        for (task, status), count in self._counted.items():
            key = (self.task_label(task), status)
            counts[key] = counts.get(key, 0) + count
        return counts

    def task_label(self, task: str) -> str:
        return task if task in self._tasks else OTHER_TASK

    def for_task(self, task: str) -> TaskMetrics:
        """The metrics of one task's sessions, made once per task label."""
        label = self.task_label(task)
        found = self._per_task.get(label)
        if found is None:
            found = self._per_task[label] = TaskMetrics(self, label)
        return found

    # --- observations that name no task ------------------------------------------------

    def closed(self, code: CloseCode) -> None:
        self.websocket_closes.labels(code=str(int(code))).inc()

    def replayed(self, seconds: float, events: int) -> None:
        self.replay_duration.observe(seconds)
        if events > 0:
            self.events_replayed.inc(events)

    def mailed(self, sent: bool) -> None:
        self.mails.labels(outcome="sent" if sent else "refused").inc()

    def delivery(self, channel_name: str, outcome: str) -> None:
        self.deliveries.labels(channel=channel_kind(channel_name), outcome=outcome).inc()

    # --- exposition --------------------------------------------------------------------

    def render(self, accept: str = "") -> tuple[bytes, str]:
        """:meth:`take_census`, then :meth:`encode`."""
        self.take_census()
        return self.encode(accept)

    def encode(self, accept: str = "") -> tuple[bytes, str]:
        """The exposition the ``Accept`` header asks for (Prometheus text by default,
        OpenMetrics on request), and its content type. Safe in another thread (a worker
        thread keeps a big exposition off the event loop): it reads the last census and
        prometheus_client's metrics, which take their own locks."""
        encode, content_type = choose_encoder(accept)
        return encode(self._exported), content_type


class TaskMetrics:
    """The labelled children of one task, looked up once (``labels()`` takes a lock and
    a dict lookup each time)."""

    __slots__ = (
        "_finished",
        "_resumed",
        "_resumes",
        "_started",
        "_wait",
        "_waits",
        "appended",
        "task",
    )

    def __init__(self, hub: HubMetrics, task: str) -> None:
        self.task = task
        self.appended = hub.events_appended.labels(task=task)
        self._started = hub.sessions_started.labels(task=task)
        self._resumes = hub.session_resumes.labels(task=task)
        self._resumed = hub.answer_resume.labels(task=task)
        self._finished = {
            status: hub.sessions_finished.labels(task=task, status=status)
            for status in FINISHED_STATUSES
        }
        self._wait = hub.request_wait
        self._waits: dict[tuple[str, str], Histogram] = {}

    def started(self) -> None:
        self._started.inc()

    def resumed_session(self) -> None:
        self._resumes.inc()

    def finished(self, status: str) -> None:
        counter = self._finished.get(status)
        if counter is not None:
            counter.inc()

    def waited(self, kind: str, outcome: str, seconds: float) -> None:
        """A request of ``kind`` closed (``answered`` or ``expired``) after ``seconds``."""
        key = (kind if kind in REQUEST_KINDS else "other", outcome)
        child = self._waits.get(key)
        if child is None:
            child = self._waits[key] = self._wait.labels(
                task=self.task, kind=key[0], outcome=outcome
            )
        child.observe(max(0.0, seconds))

    def answer_resumed(self, seconds: float) -> None:
        self._resumed.observe(max(0.0, seconds))


class _Tallies:
    """Exports what the hot paths count in plain ints, and the open sessions by status
    (counted from the census when scraped)."""

    def __init__(self, metrics: HubMetrics) -> None:
        self._metrics = metrics

    def describe(self) -> Iterable[Metric]:
        return [self._delivered(0), GaugeMetricFamily("tether_sessions", _SESSIONS_DOC,
                                                      labels=["task", "status"])]

    def collect(self) -> Iterable[Metric]:
        metrics = self._metrics
        yield self._delivered(metrics.events_delivered)
        sessions = GaugeMetricFamily("tether_sessions", _SESSIONS_DOC,
                                     labels=["task", "status"])
        for (task, status), count in sorted(metrics._session_counts().items()):
            sessions.add_metric([task, status], count)
        yield sessions

    @staticmethod
    def _delivered(value: int) -> CounterMetricFamily:
        return CounterMetricFamily("tether_events_delivered", _DELIVERED_DOC, value=value)


class _SharedTallies:
    """A worker's tallies and census as metrics of the multiprocess files (what
    :class:`_Tallies` computes at scrape time in a lone hub)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.delivered = Counter("tether_events_delivered", _DELIVERED_DOC, registry=registry)
        self._sessions = Gauge("tether_sessions", _SESSIONS_DOC, ["task", "status"],
                               registry=registry, multiprocess_mode="livesum")
        self._seen: set[tuple[str, str]] = set()
        self._delivered_written = 0  # how much of the tally the shared counter holds

    def write(self, counts: Mapping[tuple[str, str], int], delivered: int) -> None:
        """The census now, and the delivered tally's growth since the last write."""
        for task, status in self._seen - counts.keys():  # none left: 0, not the last count
            self._sessions.labels(task=task, status=status).set(0)
        for (task, status), count in counts.items():
            self._sessions.labels(task=task, status=status).set(count)
        self._seen |= counts.keys()
        self.delivered.inc(delivered - self._delivered_written)
        self._delivered_written = delivered


_DELIVERED_DOC = "Event frames this hub sent to WebSocket clients, live and replayed."


_SESSIONS_DOC = (
    "Open sessions this hub runs now, by task and status (pending, running, waiting); "
    "sum over hubs for the whole deployment."
)
