"""The Redis store: sessions that outlive hub processes and are shared between hubs.

Every key and channel is named by a :class:`~tether.store.keys.Layout` (keys.py lists
them). A session's channel carries "E" + frames joined by newlines, or "C" + a command
("cancel" or "cancel:<user id>", see base.cancel_command).

Every write is one Lua script (``lua/*.lua``), which numbers events, keeps the status in
step with the open requests and publishes the new frames in the same atomic step. Appends
go through an :class:`~tether.store.appends.AppendBatcher`: the appends of one event-loop
turn, from every session, are one ``append_many`` call (on a cluster, one per bucket,
pipelined: one round trip per node).

One feed per process reads every subscribed channel: a :class:`~tether.store.feed.RedisFeed`
over a single connection, or on a cluster a ``ClusterFeed`` with one connection per
primary (sharded Pub/Sub): watching 10,000 sessions costs a connection per node, not
10,000.

On a cluster (docs/CLUSTER.md) indexes across sessions are split in buckets: their
readers read every bucket and merge (store/buckets.py), batch writes run once per bucket,
and start quotas are reserved in the owner's home bucket (store/start_quota.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace
from importlib import resources
from typing import Any, cast

from redis.exceptions import RedisError, ResponseError

from tether.audit import AuditEntry
from tether.config import redacted
from tether.epochs import new_epoch
from tether.errors import (
    LeaseLost,
    StoreUnavailable,
    TooManyOpenSessions,
    TooManyStarts,
    UnknownSession,
)
from tether.messages import TERMINAL_STATUSES, Session, now_iso, seq_of
from tether.notifications import Audience, Notification, outbox_body
from tether.store.appends import Append, AppendBatcher, Outcome
from tether.store.base import (
    EVERYONE,
    OPEN_STATUSES,
    OUTBOX,
    RELEASES,
    CancelOutcome,
    ClaimOutcome,
    Entry,
    EventRange,
    InboxEntry,
    NewSession,
    PendingRequest,
    RecordedAnswer,
    ResolveOutcome,
    Seed,
    SessionListener,
    SessionRecord,
    StartQuota,
    UpdateOutcome,
    newest_first,
    opened_ms,
    starts_key,
)
from tether.store.buckets import DescendingMerge, spread
from tether.store.cluster_feed import ClusterFeed
from tether.store.codec import (
    decode_answers,
    decode_progress,
    decode_requests,
    fields_for_new,
    page_of,
    record_from_fields,
    seed_upto,
)
from tether.store.connect import Client, close_client, cluster_of, redis_client
from tether.store.feed import RedisFeed
from tether.store.keys import BATCH_KEY_NAMES, Layout, layout_for
from tether.store.redis_audit import RedisAudit
from tether.store.redis_outbox import RedisOutbox
from tether.store.redis_packing import pack_with_hiredis
from tether.store.scripts import Call, ScriptRunner
from tether.store.start_quota import ClusterStarts

log = logging.getLogger(__name__)

IDEMPOTENCY_TTL = 24 * 3600
LEASE_BATCH = 500  # sessions per renew/release call: bounded script runs


def _load(name: str, *shared: str) -> str:
    """``lua/<name>.lua``, after the ``shared`` files it uses (common, audit)."""
    lua = resources.files("tether.store").joinpath("lua")
    return "".join(lua.joinpath(f"{part}.lua").read_text() for part in (*shared, name))


def _entry_json(entry: Entry, notify: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if entry.body is not None:
        out["b"] = entry.body
        if entry.emit_scope is not None:
            out["s"] = entry.emit_scope
    if entry.set:
        out["set"] = entry.set
    if entry.pending_add:
        out["padd"] = {rid: p.model_dump_json() for rid, p in entry.pending_add.items()}
        out["ix"] = [  # where common.lua lists each (the score a string: no float format)
            [rid, str(opened_ms(p)), list(p.request.assignees)]
            for rid, p in entry.pending_add.items()
        ]
    if entry.pending_del:
        out["pdel"] = list(entry.pending_del)
    if entry.journal:
        out["j"] = entry.journal
    if entry.progress:
        out["p"] = {label: p.model_dump_json() for label, p in entry.progress.items()}
    if notify and entry.notify and entry.body is not None:
        out["n"] = [outbox_body(n) for n in entry.notify]
    return out


def _must_last(entry: Entry) -> bool:
    """A write the hub waits for replicas on (``WAIT``): a journal entry, a request opened,
    a session's outcome (docs/DURABILITY.md, "Failover")."""
    return bool(entry.journal or entry.pending_add) or entry.set.get("status") in TERMINAL_STATUSES


def _append_outcome(session_id: str, reply: Any) -> Outcome:
    if isinstance(reply, int):
        return reply
    if reply == "lease_lost":
        return LeaseLost(session_id)
    if reply == "unknown_session":
        return UnknownSession(session_id)
    return ResponseError(f"append_many: unexpected reply {reply!r}")


class RedisStore(RedisOutbox, RedisAudit):
    """Sessions in Redis. See :class:`tether.store.base.Store` and the module docstring;
    the outbox and the audit log are its parts in ``redis_outbox.py`` and
    ``redis_audit.py``, what they all stand on in ``redis_base.py``."""

    def __init__(
        self,
        url: str,
        *,
        history_cap: int = 10_000,
        finished_ttl: int = 7 * 86400,
        lease_seconds: float = 10.0,
        max_connections: int = 64,
        client_name: str = "tether",
        audit_max: int = 100_000,
        wait_replicas: int = 0,
        wait_timeout: float = 0.25,
    ) -> None:
        """``wait_replicas``: after a write that must not be lost (an answer, a journal
        entry, a session's creation, cancel or outcome), wait up to ``wait_timeout`` seconds until
        that many replicas have it (Redis ``WAIT``); 0: don't (docs/DURABILITY.md).

        On a cluster ``audit_max`` caps each bucket's part of the audit log: the newest
        ``audit_max`` entries are always kept (docs/CLUSTER.md)."""
        self._url = url
        self.audience = Audience()
        self._layout: Layout = layout_for(url)
        self._audit_max = audit_max
        self._lease_ms = int(lease_seconds * 1000)
        self._history_cap = history_cap
        self._finished_ttl = finished_ttl
        # A blocking pool: a burst of requests waits for a free connection instead of
        # failing with "Too many connections" (redis-py's default pool raises). A Sentinel
        # URL gives a pool that finds the primary through the sentinels, a Cluster URL a
        # client of every node (connect.py).
        self._redis: Client = redis_client(
            url, client_name=client_name, max_connections=max_connections,
            blocking_timeout=20, health_check_interval=15,
        )
        cluster = cluster_of(self._redis)
        if cluster is None:
            # The hot path: every session write is a Lua call, packed by hiredis (a
            # cluster's connections are made so in connect.py).
            pack_with_hiredis(self._redis.connection_pool)
        self._scripts = ScriptRunner(
            self._redis, wait_replicas=wait_replicas, wait_ms=max(1, int(wait_timeout * 1000))
        )
        register = self._redis.register_script
        self._append_script = register(_load("append_many", "common"))
        self._appends = AppendBatcher(self._append_many)
        self._resolve = register(_load("resolve", "common", "audit"))
        self._followup = register(_load("followup", "common"))
        self._create = register(_load("create"))
        self._cancel = register(_load("cancel", "audit"))
        self._audit_add = register(_load("audit_add", "audit"))
        self._claim = register(_load("claim"))
        self._renew = register(_load("renew"))
        self._release = register(_load("release"))
        self._orphans = register(_load("orphans"))
        self._owned = register(_load("owned"))
        self._outbox_add = register(_load("outbox_add"))
        self._outbox_claim = register(_load("outbox_claim"))
        self._outbox_renew = register(_load("outbox_renew"))
        self._outbox_save = register(_load("outbox_save"))
        self._outbox_release = register(_load("outbox_release"))
        self._epoch = register(_load("epoch"))
        self._starts: ClusterStarts | None = None
        self._feed: RedisFeed | ClusterFeed
        if cluster is None:
            self._feed = RedisFeed(self._redis, channel_prefix=self._layout.channel_prefix)
        else:
            self._feed = ClusterFeed(cluster, channel_of=self._channels_of)
            self._starts = ClusterStarts(
                self._layout, self._scripts,
                {name: register(_load(name)) for name in ("reserve", "fill_open", "unreserve")},
                statuses=self._statuses, open_ids=self._open_ids, open_hash=self._open_hash,
            )

    @property
    def url(self) -> str:
        return self._url

    @property
    def layout(self) -> Layout:
        """The names of this store's keys (for tools that read Redis directly)."""
        return self._layout

    # --- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Check that Redis answers, then start the process's one reader."""
        try:
            await self._redis.ping()
        except RedisError as exc:
            raise StoreUnavailable(
                f"Redis at {redacted(self._url)} does not answer: {exc}"
            ) from exc
        await self._feed.start()

    async def close(self) -> None:
        await self._appends.close()
        await self._feed.close()
        await self._scripts.close()
        await close_client(self._redis)

    async def shared_secret(self, candidate: str) -> str:
        secret = self._layout.secret
        try:
            await self._redis.set(secret, candidate, nx=True)
            return str(await self._redis.get(secret))
        except RedisError as exc:
            raise StoreUnavailable(f"Redis is unavailable: {exc}") from exc

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except RedisError:
            return False

    # --- sessions --------------------------------------------------------------------

    def session_id_for(self, candidate: str, *, owner: str, idempotency_key: str | None) -> str:
        """``candidate``, or on a cluster with ``idempotency_key`` the id like it whose
        bucket holds the key, so that create.lua checks and sets the key in the step that
        creates the session."""
        if not idempotency_key or not self._layout.is_cluster:
            return candidate
        bucket = self._layout.bucket_of(_idempotency_digest(owner, idempotency_key))
        return self._layout.id_in_bucket(candidate, bucket)

    async def create_session(
        self,
        new: NewSession,
        *,
        idempotency_key: str | None = None,
        fingerprint: str = "",
        seed: Seed | None = None,
        quota: StartQuota | None = None,
    ) -> tuple[str, bool, str]:
        layout = self._layout
        quota = quota or StartQuota()
        idem: list[str] = []
        if idempotency_key:
            idem = [layout.idempotency(_idempotency_digest(new.owner, idempotency_key))]
            fitted = self.session_id_for(new.id, owner=new.owner, idempotency_key=idempotency_key)
            if fitted != new.id:  # made without session_id_for: the returned id is the one
                new = replace(new, id=fitted)
        if self._starts is None:
            return await self._create_here(new, idem, fingerprint, seed, quota)
        # A cluster: the key's session, if there is one, costs no start (create.lua checks
        # the key again, atomically, for a start racing with this one).
        if idem:
            known = await self._get(idem[0])
            if known is not None:
                session_id, _, original = known.partition("\n")
                return session_id, False, original
        counted = await self._starts.reserve(new.owner, new.id, quota)
        found = await self._create_here(new, idem, fingerprint, seed, StartQuota())
        if not found[1]:
            await self._starts.give_back(new.owner, new.id, counted=counted)
        return found

    async def _create_here(
        self, new: NewSession, idem: list[str], fingerprint: str, seed: Seed | None,
        quota: StartQuota,
    ) -> tuple[str, bool, str]:
        """create.lua: on one Redis with the owner's counter and open sessions (the
        quota checked in the same step), on a cluster without them (reserved before)."""
        layout = self._layout
        k = layout.session(new.id)
        bucket = layout.bucket_of(new.id)
        counts = [] if layout.is_cluster else [
            layout.quota(starts_key(new.owner)), layout.open_sessions(new.owner),
        ]
        flat = [item for pair in fields_for_new(new).items() for item in pair]
        seed_json = json.dumps(
            {"j": seed.journal,
             "a": {rid: a.to_json() for rid, a in seed.answers.items()}} if seed else {},
            ensure_ascii=False,
        )
        found = await self._run(
            self._create,
            [k.rec, k.events, layout.owner_index(bucket, new.owner), layout.active(bucket),
             k.journal, k.answers, layout.owner_index(bucket, EVERYONE), *idem, *counts,
             *layout.guard(bucket)],
            [new.id, fingerprint, IDEMPOTENCY_TTL, new.first_event, self._lease_ms,
             seed_json, quota.starts_per_window, quota.window, quota.max_open,
             "1" if idem else "", "1" if counts else "", *layout.record_affixes(bucket),
             *flat],
            durable=True,
        )
        session_id, created, original, *rest = cast(list[Any], found)
        outcome = int(created)
        if outcome == -1:
            raise TooManyStarts(quota.starts_per_window, int(rest[0]) / 1000)
        if outcome == -2:
            raise TooManyOpenSessions(quota.max_open)
        return str(session_id), bool(outcome), str(original)

    async def _get(self, key: str) -> str | None:
        try:
            value = await self._redis.get(key)
        except RedisError as exc:
            raise StoreUnavailable(f"Redis is unavailable: {exc}") from exc
        return None if value is None else str(value)

    async def get_session(self, session_id: str) -> SessionRecord | None:
        records = await self._records([session_id])
        return records[0]

    async def list_sessions(
        self, owner: str, *, status: str | None, limit: int, before: str | None
    ) -> tuple[list[Session], str | None]:
        layout = self._layout
        out: list[Session] = []
        start = f"({before}" if before else "+"
        cursors = dict.fromkeys(self._buckets(), start)
        merge: DescendingMerge[str] = DescendingMerge(self._buckets(), key=lambda sid: sid)
        # Small batches: each record holds its inputs (up to a request body, 1 MiB), and
        # all of a batch is in memory at once.
        batch = max(limit + 1, 20)
        per_bucket = spread(batch, layout.buckets)
        while len(out) <= limit and not merge.done:
            needed = merge.needs()
            replies = await self._pipelined([
                ("ZREVRANGEBYLEX", layout.owner_index(b, owner), cursors[b], "-", "LIMIT", 0,
                 per_bucket)
                for b in needed
            ])
            for bucket, ids in zip(needed, replies, strict=True):
                found = [str(sid) for sid in ids]
                merge.fill(bucket, found, more=len(found) == per_bucket)
                if found:
                    cursors[bucket] = f"({found[-1]}"
            ids = merge.take(batch)
            if not ids:
                continue
            records = await self._records(ids)
            gone = [sid for sid, record in zip(ids, records, strict=True) if record is None]
            if gone:  # finished sessions that expired
                await self._pipelined([
                    ("ZREM", layout.owner_index(b, owner), *sids)
                    for b, sids in self._by_bucket(gone).items()
                ])
            for record in records:
                if record is not None and status in (None, record.session.status):
                    out.append(record.session)
        return page_of(out, limit)

    async def count_open(self, owner: str) -> int:
        if self._starts is not None:
            return await self._starts.count_open(owner)
        layout = self._layout
        hash_key = layout.open_sessions(owner)
        complete, length = await self._atomic([("HEXISTS", hash_key, "_"), ("HLEN", hash_key)])
        if complete:  # create.lua keeps it from the first start checked against it
            return int(length) - 1
        return len(await self._open_ids(owner))

    async def _open_ids(self, owner: str) -> list[str]:
        """The owner's open sessions, read from its index (every bucket) and records."""
        layout = self._layout
        replies = await self._pipelined(
            [("ZRANGE", layout.owner_index(b, owner), 0, -1) for b in self._buckets()]
        )
        ids = [str(sid) for reply in replies for sid in reply]
        statuses = await self._statuses(ids)
        return [sid for sid, status in zip(ids, statuses, strict=True) if status in OPEN_STATUSES]

    async def _statuses(self, session_ids: Sequence[str]) -> list[str | None]:
        """Each session's status only: never the (maybe large) inputs."""
        replies = await self._pipelined(
            [("HGET", self._layout.session(sid).rec, "status") for sid in session_ids]
        )
        return [None if status is None else str(status) for status in replies]

    async def _open_hash(self, owner: str) -> dict[str, str]:
        try:
            return cast(dict[str, str],
                        await self._redis.hgetall(self._layout.open_sessions(owner)))
        except RedisError as exc:
            raise StoreUnavailable(f"Redis is unavailable: {exc}") from exc

    async def hit(self, key: str, *, window: int) -> tuple[int, float]:
        name = self._layout.quota(key)
        _, count, ttl_ms = await self._atomic([
            ("SET", name, 0, "EX", window, "NX"),  # the first hit of a window starts it
            ("INCR", name),  # INCR keeps the expiry
            ("PTTL", name),
        ])
        return int(count), max(int(ttl_ms), 0) / 1000

    async def _records(self, ids: Sequence[str]) -> list[SessionRecord | None]:
        """The records of ``ids`` (None for each that is gone), each read whole: one
        session's three hashes are read in one MULTI, so they agree with each other."""
        commands = []
        for session_id in ids:
            k = self._layout.session(session_id)
            commands += [("HGETALL", k.rec), ("HGETALL", k.pending), ("HGETALL", k.progress),
                         ("SMEMBERS", k.assignees)]
        raw = await (self._atomic(commands) if len(ids) == 1 else self._pipelined(commands))
        return [
            record_from_fields(
                raw[i], decode_requests(raw[i + 1]), decode_progress(raw[i + 2]),
                assignees=raw[i + 3],
            )
            if raw[i] else None
            for i in range(0, len(raw), 4)
        ]

    # --- the log ---------------------------------------------------------------------

    async def append(
        self,
        session_id: str,
        entries: Sequence[Entry],
        *,
        runner: str | None = None,
        batch: str | None = None,
        floor: int = 0,
    ) -> int:
        return await self.append_soon(
            session_id, entries, runner=runner, batch=batch, floor=floor
        )

    def append_soon(
        self,
        session_id: str,
        entries: Sequence[Entry],
        *,
        runner: str | None = None,
        batch: str | None = None,
        floor: int = 0,
    ) -> asyncio.Future[int]:
        return self._appends.submit(Append(session_id, entries, runner, batch, floor))

    async def _append_many(self, appends: Sequence[Append]) -> list[Outcome]:
        """The append batcher's write: every append of the batch in one Lua call per
        bucket, waited on by the replicas (WAIT) when any of them must last."""
        durable = any(_must_last(e) for a in appends for e in a.entries)
        if not self._layout.is_cluster:
            replies = await self._run(*self._append_call(0, appends), durable=durable)
            return [_append_outcome(a.session_id, reply)
                    for a, reply in zip(appends, cast(list[Any], replies), strict=True)]
        groups: dict[int, list[int]] = defaultdict(list)
        for i, a in enumerate(appends):
            groups[self._layout.bucket_of(a.session_id)].append(i)
        order = list(groups.items())
        results = await self._scripts.run_many(
            [Call(*self._append_call(b, [appends[i] for i in members])) for b, members in order],
            durable=durable,
        )
        outcomes: list[Outcome] = [0] * len(appends)
        for (_, members), result in zip(order, results, strict=True):
            for n, i in enumerate(members):
                if isinstance(result, BaseException):
                    outcomes[i] = result  # this bucket's call failed: its appends alone
                else:
                    outcomes[i] = _append_outcome(appends[i].session_id, result[n])
        return outcomes

    def _append_call(
        self, bucket: int, appends: Sequence[Append]
    ) -> tuple[Any, list[str], list[Any]]:
        layout = self._layout
        notify = self.audience.listening
        payload = json.dumps(
            [[a.session_id, a.runner or "", a.batch or "",
              [_entry_json(e, notify) for e in a.entries],
              *((str(a.floor), new_epoch()) if a.floor else ("", "")),
              layout.channel(a.session_id), layout.session_base(a.session_id)]
             for a in appends],
            ensure_ascii=False,
        )
        return (
            self._append_script,
            [layout.active(bucket), layout.outbox_due(bucket), layout.outbox_claims(bucket),
             *layout.guard(bucket)],
            [now_iso(), self._history_cap, self._finished_ttl, payload, BATCH_KEY_NAMES,
             *layout.script_args(bucket)],
        )

    async def read_events(self, session_id: str, *, after: int, limit: int) -> EventRange:
        k = self._layout.session(session_id)
        (last, epoch), entries = await self._atomic([
            ("HMGET", k.rec, "last_seq", "epoch"),
            ("XRANGE", k.events, f"{after + 1}-0", "+", "COUNT", limit),
        ])
        if last is None:
            raise UnknownSession(session_id)
        frames = [fields["f"] for _, fields in entries]
        last_seq = int(last)
        trimmed = after < last_seq and (not frames or seq_of(frames[0]) > after + 1)
        return EventRange(frames=frames, last_seq=last_seq, trimmed=trimmed, epoch=epoch)

    async def renew_epoch(self, session_id: str, *, replacing: str | None) -> str:
        layout = self._layout
        try:
            epoch = await self._run(
                self._epoch,
                [layout.session(session_id).rec, *layout.guard(layout.bucket_of(session_id))],
                [replacing or "", new_epoch()],
            )
        except ResponseError as exc:
            if "unknown_session" in str(exc):
                raise UnknownSession(session_id) from exc
            raise
        return str(epoch)

    # --- requests and commands -------------------------------------------------------

    async def resolve_request(
        self,
        session_id: str,
        request_id: str,
        *,
        answer: RecordedAnswer,
        body: str,
        audit: AuditEntry | None = None,
        notify: Notification | None = None,
    ) -> ResolveOutcome:
        layout = self._layout
        bucket = layout.bucket_of(session_id)
        outcome = await self._run(
            self._resolve,
            [*layout.script_keys(session_id), layout.audit(bucket),
             *layout.outbox_keys(session_id), *layout.guard(bucket)],
            [now_iso(), self._history_cap, self._finished_ttl, layout.channel(session_id),
             request_id, answer.to_json(), body, session_id,
             audit.stored() if audit is not None else "", self._audit_max,
             self._outbox_body(notify), self._audit_time(),
             *layout.script_args(bucket)],
            durable=True,
        )
        return cast(ResolveOutcome, str(outcome))

    async def update_request(
        self, session_id: str, request_id: str, *, pending: PendingRequest, body: str,
        runner: str, notify: Notification | None = None,
    ) -> UpdateOutcome:
        layout = self._layout
        bucket = layout.bucket_of(session_id)
        try:
            outcome = await self._run(
                self._followup,
                [*layout.script_keys(session_id), *layout.outbox_keys(session_id),
                 *layout.guard(bucket)],
                [now_iso(), self._history_cap, self._finished_ttl, runner,
                 layout.channel(session_id), request_id, pending.model_dump_json(),
                 str(opened_ms(pending)), json.dumps(list(pending.request.assignees)), body,
                 session_id, self._outbox_body(notify),
                 *layout.script_args(bucket)],
            )
        except ResponseError as exc:
            reply = str(exc).split(" ", 1)[0]
            if reply == "lease_lost":
                raise LeaseLost(session_id) from exc
            if reply == "unknown_session":
                raise UnknownSession(session_id) from exc
            raise
        return cast(UpdateOutcome, str(outcome))

    async def open_requests(
        self, inboxes: Collection[str], *, limit: int, before: InboxEntry | None = None
    ) -> list[InboxEntry]:
        found: list[InboxEntry] = []
        top = "+inf" if before is None else str(before.opened_ms)
        # From the cursor's millisecond on (inclusive: ties are ordered by member), until
        # each inbox key (each bucket's part of each inbox) gave `limit` entries older than
        # the cursor or ran out; a round reads every key still going, in one pipeline.
        going = {self._layout.inbox(b, inbox): [0, 0]  # key -> [offset, entries taken]
                 for inbox in set(inboxes) for b in self._buckets()}
        while going:
            keys = list(going)
            replies = await self._pipelined([
                ("ZREVRANGEBYSCORE", key, top, "-inf", "WITHSCORES", "LIMIT", going[key][0],
                 limit)
                for key in keys
            ])
            for key, reply in zip(keys, replies, strict=True):
                rows = _scored(reply)
                state = going[key]
                for member, score in rows:
                    entry = InboxEntry.from_member(member, score)
                    if before is None or entry < before:
                        found.append(entry)
                        state[1] += 1
                state[0] += len(rows)
                if len(rows) < limit or state[1] >= limit:
                    del going[key]
        return newest_first(found, limit=limit, before=before)

    async def _hash(self, key: str) -> dict[str, str]:
        try:
            return cast(dict[str, str], await self._redis.hgetall(key))
        except RedisError as exc:
            raise StoreUnavailable(f"Redis is unavailable: {exc}") from exc

    async def answers(self, session_id: str) -> dict[str, RecordedAnswer]:
        return decode_answers(await self._hash(self._layout.session(session_id).answers))

    async def journal(self, session_id: str) -> dict[str, str]:
        return await self._hash(self._layout.session(session_id).journal)

    async def emit_counts(self, session_id: str) -> dict[str, int]:
        raw = await self._hash(self._layout.session(session_id).emits)
        return {scope: int(count) for scope, count in raw.items()}

    async def fork_seed(self, session_id: str, *, at_seq: int) -> Seed:
        k = self._layout.session(session_id)
        journal, answers, marks = await self._atomic(
            [("HGETALL", k.journal), ("HGETALL", k.answers), ("HGETALL", k.marks)]
        )
        return seed_upto(journal, decode_answers(answers), marks, at_seq)

    # --- leases ----------------------------------------------------------------------

    async def claim(self, session_id: str, runner: str) -> ClaimOutcome:
        layout = self._layout
        bucket = layout.bucket_of(session_id)
        outcome = await self._run(
            self._claim,
            [layout.session(session_id).rec, layout.active(bucket), *layout.guard(bucket)],
            [session_id, runner, self._lease_ms],
        )
        return cast(ClaimOutcome, str(outcome))

    def _lease_calls(
        self, script: Any, session_ids: Collection[str], args: Callable[[int], list[Any]]
    ) -> list[Call]:
        """One call of ``script`` per bucket (and per LEASE_BATCH sessions) of
        ``session_ids``: KEYS the bucket's leases and each session's record, ARGV
        ``args(bucket)`` and the ids."""
        layout = self._layout
        calls = []
        for bucket, ids in self._by_bucket(session_ids).items():
            for start in range(0, len(ids), LEASE_BATCH):
                batch = ids[start : start + LEASE_BATCH]
                calls.append(Call(
                    script,
                    [layout.active(bucket), *(layout.session(s).rec for s in batch),
                     *layout.guard(bucket)],
                    [*args(bucket), *batch],
                ))
        return calls

    async def renew(self, runner: str, session_ids: Collection[str]) -> list[str]:
        calls = self._lease_calls(self._renew, session_ids, lambda _: [runner, self._lease_ms])
        return [str(sid) for lost in await self._each(calls) for sid in lost]

    async def release(self, runner: str, session_ids: Collection[str]) -> int:
        if not session_ids:
            return 0
        layout = self._layout
        calls = self._lease_calls(
            self._release, session_ids,
            lambda b: [runner, layout.released_channel(b), layout.publish],
        )
        return sum(int(n) for n in await self._each(calls))

    async def owned_by(self, runner: str) -> list[str]:
        layout = self._layout
        calls = [Call(self._owned, [layout.active(b), *layout.guard(b)],
                      [runner, *layout.record_affixes(b)]) for b in self._buckets()]
        return [str(sid) for owned in await self._each(calls) for sid in owned]

    async def leases(self) -> list[tuple[str, str, float]]:
        """Every unfinished session: ``(id, the runner its record names, when its lease
        runs out, epoch seconds)``, soonest first (for ``tether hubs``)."""
        layout = self._layout
        replies = await self._pipelined(
            [("ZRANGE", layout.active(b), 0, -1, "WITHSCORES") for b in self._buckets()]
        )
        rows = sorted((row for reply in replies for row in _scored(reply)),
                      key=lambda row: row[1])
        runners = await self._pipelined(
            [("HGET", layout.session(sid).rec, "runner") for sid, _ in rows]
        )
        return [(sid, str(runner or ""), score / 1000)
                for (sid, score), runner in zip(rows, runners, strict=True)]

    async def orphans(self, limit: int) -> list[str]:
        layout = self._layout
        calls = [Call(self._orphans, [layout.active(b), *layout.guard(b)], [limit])
                 for b in self._buckets()]
        return _interleave([[str(sid) for sid in found] for found in await self._each(calls)],
                           limit)

    async def request_cancel(
        self, session_id: str, *, by: str | None = None, audit: AuditEntry | None = None
    ) -> CancelOutcome:
        layout = self._layout
        bucket = layout.bucket_of(session_id)
        outcome = await self._run(
            self._cancel,
            [layout.session(session_id).rec, layout.audit(bucket), *layout.guard(bucket)],
            [layout.channel(session_id), by or "",
             audit.stored() if audit is not None else "", self._audit_max, layout.publish,
             self._audit_time()],
            durable=True,
        )
        return cast(CancelOutcome, str(outcome))

    # --- live feed -------------------------------------------------------------------

    def _channels_of(self, session_id: str) -> str | list[str]:
        """A session's channel; on a cluster, a pseudo-session's one of every bucket."""
        layout = self._layout
        if session_id == OUTBOX:
            return [layout.outbox_channel(b) for b in self._buckets()]
        if session_id == RELEASES:
            return [layout.released_channel(b) for b in self._buckets()]
        return layout.channel(session_id)

    async def subscribe(self, session_id: str, listener: SessionListener) -> None:
        await self._feed.subscribe(session_id, listener)

    async def notify(self, session_id: str, command: str) -> None:
        channels = self._channels_of(session_id)
        # A pseudo-session's bucket channels all reach every hub: one of them is enough.
        channel = channels if isinstance(channels, str) else channels[0]
        try:
            await self._redis.execute_command(  # type: ignore[no-untyped-call]
                self._layout.publish, channel, "C" + command
            )
        except RedisError as exc:
            raise StoreUnavailable(f"Redis is unavailable: {exc}") from exc

    async def unsubscribe(self, session_id: str, listener: SessionListener) -> None:
        await self._feed.unsubscribe(session_id, listener)


def _idempotency_digest(owner: str, key: str) -> str:
    """Hashed: owner "a" + key "b:c" must not meet owner "a:b" + "c"."""
    return hashlib.sha256(f"{owner}\0{key}".encode()).hexdigest()


def _scored(reply: Any) -> list[tuple[str, float]]:
    """A WITHSCORES reply through a raw pipeline command: pairs, or a flat list (RESP2)."""
    if reply and not isinstance(reply[0], list | tuple):
        return [(str(reply[i]), float(reply[i + 1])) for i in range(0, len(reply), 2)]
    return [(str(member), float(score)) for member, score in reply]


def _interleave(runs: list[list[str]], limit: int) -> list[str]:
    """Up to ``limit`` items, taken from the runs in turn (no bucket's orphans wait behind
    another's)."""
    out: list[str] = []
    depth = 0
    while len(out) < limit and any(depth < len(run) for run in runs):
        out.extend(run[depth] for run in runs if depth < len(run))
        depth += 1
    return out[:limit]
