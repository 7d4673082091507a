"""The Redis store: sessions that outlive hub processes and are shared between hubs.

Layout, per session ``S`` (the ``{S}`` hash tag keeps a session's keys in one slot)::

    tether:{S}:rec       hash    the session record (codec.fields_for_new)
    tether:{S}:pending   hash    request id -> PendingRequest JSON
    tether:{S}:answers   hash    request id -> {"value", "by", "at"} JSON
    tether:{S}:journal   hash    journal key -> JSON
    tether:{S}:emits     hash    context scope -> events emitted so far
    tether:{S}:events    stream  entry "<seq>-0" with field f = the frame, capped
    tether:{S}:marks     hash    "j:<key>" / "a:<request id>" -> seq when it was written
    tether:{S}:progress  hash    progress label ("" = none) -> latest ProgressInfo JSON
    tether:active        zset    unfinished session id -> lease expiry (ms, Redis clock)
    tether:owner:{U}     zset    the owner's session ids (all score 0, ordered by id)
    tether:idem:{H}      string  "<session id>\\n<fingerprint>"; H = sha256(owner, key)
    channel tether:ch:{S}        "E" + frames joined by newlines, or "C" + a command
                                 ("cancel" or "cancel:<user id>", see base.cancel_command)

Every write is one Lua script (``lua/*.lua``), which numbers events, keeps the status in
step with the open requests and publishes the new frames in the same atomic step.

One :class:`~tether.store.feed.RedisFeed` per process reads every subscribed channel over a
single connection: watching 10,000 sessions costs one Redis connection, not 10,000.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Sequence
from importlib import resources
from typing import Any, cast

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError, ResponseError

from tether.config import redacted
from tether.errors import LeaseLost, StoreUnavailable, UnknownSession
from tether.messages import Session, now_iso, seq_of
from tether.store import keys
from tether.store.base import (
    OPEN_STATUSES,
    CancelOutcome,
    ClaimOutcome,
    Entry,
    EventRange,
    NewSession,
    RecordedAnswer,
    ResolveOutcome,
    Seed,
    SessionListener,
    SessionRecord,
)
from tether.store.codec import (
    decode_answers,
    decode_progress,
    decode_requests,
    fields_for_new,
    page_of,
    record_from_fields,
    seed_upto,
)
from tether.store.feed import RedisFeed
from tether.store.keys import SessionKeys

IDEMPOTENCY_TTL = 24 * 3600
# Error replies after which the same write may succeed later (a failover, memory, loading).
TRANSIENT_REPLIES = frozenset({"READONLY", "OOM", "MASTERDOWN", "LOADING", "BUSY", "TRYAGAIN"})


def _load(name: str, *, common: bool = False) -> str:
    text = resources.files("tether.store").joinpath(f"lua/{name}.lua").read_text()
    if common:
        text = resources.files("tether.store").joinpath("lua/common.lua").read_text() + text
    return text


def _entry_json(entry: Entry) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if entry.body is not None:
        out["b"] = entry.body
        if entry.emit_scope is not None:
            out["s"] = entry.emit_scope
    if entry.set:
        out["set"] = entry.set
    if entry.pending_add:
        out["padd"] = {rid: p.model_dump_json() for rid, p in entry.pending_add.items()}
    if entry.pending_del:
        out["pdel"] = list(entry.pending_del)
    if entry.journal:
        out["j"] = entry.journal
    if entry.progress:
        out["p"] = {label: p.model_dump_json() for label, p in entry.progress.items()}
    return out


class RedisStore:
    """Sessions in Redis. See :class:`tether.store.base.Store` and the module docstring."""

    def __init__(
        self,
        url: str,
        *,
        history_cap: int = 10_000,
        finished_ttl: int = 7 * 86400,
        lease_seconds: float = 10.0,
        max_connections: int = 64,
        client_name: str = "tether",
    ) -> None:
        self._url = url
        self._lease_ms = int(lease_seconds * 1000)
        self._history_cap = history_cap
        self._finished_ttl = finished_ttl
        # A blocking pool: a burst of requests waits for a free connection instead of
        # failing with "Too many connections" (redis-py's default pool raises).
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=20, decode_responses=True,
            client_name=client_name, health_check_interval=15,
        )
        self._redis: aioredis.Redis = aioredis.Redis(connection_pool=pool)
        self._append = self._redis.register_script(_load("append", common=True))
        self._resolve = self._redis.register_script(_load("resolve", common=True))
        self._create = self._redis.register_script(_load("create"))
        self._cancel = self._redis.register_script(_load("cancel"))
        self._claim = self._redis.register_script(_load("claim"))
        self._renew = self._redis.register_script(_load("renew"))
        self._release = self._redis.register_script(_load("release"))
        self._orphans = self._redis.register_script(_load("orphans"))
        self._owned = self._redis.register_script(_load("owned"))
        self._feed = RedisFeed(self._redis, channel_prefix=keys.CHANNEL_PREFIX)

    @property
    def url(self) -> str:
        return self._url

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
        await self._feed.close()
        await self._redis.aclose()
        await self._redis.connection_pool.disconnect()

    async def shared_secret(self, candidate: str) -> str:
        await self._redis.set(keys.SECRET, candidate, nx=True)
        return str(await self._redis.get(keys.SECRET))

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except RedisError:
            return False

    async def _run(self, script: AsyncScript, keys: list[str], args: list[Any]) -> Any:
        try:
            return await script(keys=keys, args=args)
        except ResponseError as exc:
            if str(exc).split(" ", 1)[0] in TRANSIENT_REPLIES:
                raise StoreUnavailable(f"Redis cannot write now: {exc}") from exc
            raise
        except RedisError as exc:
            raise StoreUnavailable(f"Redis is unavailable: {exc}") from exc

    # --- sessions --------------------------------------------------------------------

    async def create_session(
        self,
        new: NewSession,
        *,
        idempotency_key: str | None = None,
        fingerprint: str = "",
        seed: Seed | None = None,
    ) -> tuple[str, bool, str]:
        k = SessionKeys.of(new.id)
        idem = ""
        if idempotency_key:  # hashed: owner "a" + key "b:c" must not meet owner "a:b" + "c"
            digest = hashlib.sha256(f"{new.owner}\0{idempotency_key}".encode()).hexdigest()
            idem = keys.idempotency(digest)
        flat = [item for pair in fields_for_new(new).items() for item in pair]
        seed_json = json.dumps(
            {"j": seed.journal,
             "a": {rid: a.to_json() for rid, a in seed.answers.items()}} if seed else {},
            ensure_ascii=False,
        )
        found = await self._run(
            self._create,
            [k.rec, k.events, keys.owner_index(new.owner), idem, keys.ACTIVE, k.journal,
             k.answers],
            [new.id, fingerprint, IDEMPOTENCY_TTL, new.first_event, self._lease_ms,
             seed_json, *flat],
        )
        session_id, created, original = cast(list[Any], found)
        return str(session_id), bool(int(created)), str(original)

    async def get_session(self, session_id: str) -> SessionRecord | None:
        records = await self._records([session_id])
        return records[0]

    async def list_sessions(
        self, owner: str, *, status: str | None, limit: int, before: str | None
    ) -> tuple[list[Session], str | None]:
        index = keys.owner_index(owner)
        out: list[Session] = []
        cursor = f"({before}" if before else "+"
        # Small batches: each record holds its inputs (up to a request body, 1 MiB), and
        # all of a batch is in memory at once.
        batch = max(limit + 1, 20)
        try:
            while len(out) <= limit:
                ids = cast(
                    list[str], await self._redis.zrevrangebylex(index, cursor, "-", 0, batch)
                )
                if not ids:
                    break
                records = await self._records(ids)
                gone = [sid for sid, record in zip(ids, records, strict=True) if record is None]
                if gone:
                    await self._redis.zrem(index, *gone)  # finished sessions that expired
                for record in records:
                    if record is not None and status in (None, record.session.status):
                        out.append(record.session)
                cursor = f"({ids[-1]}"
                if len(ids) < batch:
                    break
        except RedisError as exc:
            raise StoreUnavailable(f"Redis is unavailable: {exc}") from exc
        return page_of(out, limit)

    async def count_open(self, owner: str) -> int:
        try:
            ids = cast(list[str], await self._redis.zrange(keys.owner_index(owner), 0, -1))
            async with self._redis.pipeline(transaction=False) as pipe:
                for session_id in ids:  # the status only: never the (maybe large) inputs
                    pipe.hget(SessionKeys.of(session_id).rec, "status")
                statuses = await pipe.execute()
        except RedisError as exc:
            raise StoreUnavailable(f"Redis is unavailable: {exc}") from exc
        return sum(1 for status in statuses if status in OPEN_STATUSES)

    async def hit(self, key: str, *, window: int) -> tuple[int, float]:
        name = keys.quota(key)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.set(name, 0, ex=window, nx=True)  # the first hit of a window starts it
                pipe.incr(name)  # INCR keeps the expiry
                pipe.pttl(name)
                _, count, ttl_ms = await pipe.execute()
        except RedisError as exc:
            raise StoreUnavailable(f"Redis is unavailable: {exc}") from exc
        return int(count), max(int(ttl_ms), 0) / 1000

    async def _records(self, ids: Sequence[str]) -> list[SessionRecord | None]:
        """The records of ``ids`` (None for each that is gone), each read whole: one
        session's three hashes are read in one MULTI, so they agree with each other."""
        try:
            async with self._redis.pipeline(transaction=len(ids) == 1) as pipe:
                for session_id in ids:
                    k = SessionKeys.of(session_id)
                    pipe.hgetall(k.rec)
                    pipe.hgetall(k.pending)
                    pipe.hgetall(k.progress)
                raw = await pipe.execute()
        except RedisError as exc:
            raise StoreUnavailable(f"Redis is unavailable: {exc}") from exc
        return [
            record_from_fields(raw[i], decode_requests(raw[i + 1]), decode_progress(raw[i + 2]))
            if raw[i] else None
            for i in range(0, len(raw), 3)
        ]

    # --- the log ---------------------------------------------------------------------

    async def append(
        self,
        session_id: str,
        entries: Sequence[Entry],
        *,
        runner: str | None = None,
        batch: str | None = None,
    ) -> int:
        payload = json.dumps([_entry_json(e) for e in entries], ensure_ascii=False)
        try:
            seq = await self._run(
                self._append,
                SessionKeys.of(session_id).for_scripts(),
                [now_iso(), self._history_cap, self._finished_ttl, runner or "",
                 keys.channel(session_id), payload, session_id, batch or ""],
            )
        except ResponseError as exc:
            if "lease_lost" in str(exc):
                raise LeaseLost(session_id) from exc
            if "unknown_session" in str(exc):
                raise UnknownSession(session_id) from exc
            raise
        return int(seq)

    async def read_events(self, session_id: str, *, after: int, limit: int) -> EventRange:
        k = SessionKeys.of(session_id)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hget(k.rec, "last_seq")
                pipe.xrange(k.events, f"{after + 1}-0", "+", count=limit)
                last, entries = await pipe.execute()
        except RedisError as exc:
            raise StoreUnavailable(f"Redis is unavailable: {exc}") from exc
        if last is None:
            raise UnknownSession(session_id)
        frames = [fields["f"] for _, fields in entries]
        last_seq = int(last)
        trimmed = after < last_seq and (not frames or seq_of(frames[0]) > after + 1)
        return EventRange(frames=frames, last_seq=last_seq, trimmed=trimmed)

    # --- requests and commands -------------------------------------------------------

    async def resolve_request(
        self, session_id: str, request_id: str, *, answer: RecordedAnswer, body: str
    ) -> ResolveOutcome:
        outcome = await self._run(
            self._resolve,
            SessionKeys.of(session_id).for_scripts(),
            [now_iso(), self._history_cap, self._finished_ttl, keys.channel(session_id),
             request_id, answer.to_json(), body, session_id],
        )
        return cast(ResolveOutcome, str(outcome))

    async def _hash(self, key: str) -> dict[str, str]:
        try:
            return cast(dict[str, str], await self._redis.hgetall(key))
        except RedisError as exc:
            raise StoreUnavailable(f"Redis is unavailable: {exc}") from exc

    async def answers(self, session_id: str) -> dict[str, RecordedAnswer]:
        return decode_answers(await self._hash(SessionKeys.of(session_id).answers))

    async def journal(self, session_id: str) -> dict[str, str]:
        return await self._hash(SessionKeys.of(session_id).journal)

    async def emit_counts(self, session_id: str) -> dict[str, int]:
        raw = await self._hash(SessionKeys.of(session_id).emits)
        return {scope: int(count) for scope, count in raw.items()}

    async def fork_seed(self, session_id: str, *, at_seq: int) -> Seed:
        k = SessionKeys.of(session_id)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hgetall(k.journal)
                pipe.hgetall(k.answers)
                pipe.hgetall(k.marks)
                journal, answers, marks = await pipe.execute()
        except RedisError as exc:
            raise StoreUnavailable(f"Redis is unavailable: {exc}") from exc
        return seed_upto(journal, decode_answers(answers), marks, at_seq)

    # --- leases ----------------------------------------------------------------------

    async def claim(self, session_id: str, runner: str) -> ClaimOutcome:
        outcome = await self._run(
            self._claim, [SessionKeys.of(session_id).rec, keys.ACTIVE],
            [session_id, runner, self._lease_ms],
        )
        return cast(ClaimOutcome, str(outcome))

    async def renew(self, runner: str, session_ids: Collection[str]) -> list[str]:
        lost: list[str] = []
        ids = list(session_ids)
        for start in range(0, len(ids), 500):  # bounded script runs, however many sessions
            batch = ids[start : start + 500]
            lost += await self._run(self._renew, [keys.ACTIVE], [runner, self._lease_ms, *batch])
        return lost

    async def release(self, runner: str, session_ids: Collection[str]) -> int:
        if not session_ids:
            return 0
        return int(await self._run(self._release, [keys.ACTIVE], [runner, *session_ids]))

    async def owned_by(self, runner: str) -> list[str]:
        return list(await self._run(self._owned, [keys.ACTIVE], [runner]))

    async def orphans(self, limit: int) -> list[str]:
        return list(await self._run(self._orphans, [keys.ACTIVE], [limit]))

    async def request_cancel(self, session_id: str, *, by: str | None = None) -> CancelOutcome:
        outcome = await self._run(
            self._cancel, [SessionKeys.of(session_id).rec], [keys.channel(session_id), by or ""]
        )
        return cast(CancelOutcome, str(outcome))

    # --- live feed -------------------------------------------------------------------

    async def subscribe(self, session_id: str, listener: SessionListener) -> None:
        await self._feed.subscribe(session_id, listener)

    async def unsubscribe(self, session_id: str, listener: SessionListener) -> None:
        await self._feed.unsubscribe(session_id, listener)
