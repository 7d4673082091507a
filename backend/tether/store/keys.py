"""Every Redis key and channel Tether uses, named in one place: the :class:`Layout`.

The Lua scripts (``lua/*.lua``) spell no key name: every key they touch comes in KEYS
from here, and the few names a script has to make from data it reads (an inbox from an
assignee, an owner's open-sessions hash from the record's owner, a session's record from
an id in the lease index) are made from prefixes that come in ARGV from here too, like
the channel names and the publish command.

A session's keys share one hash tag, so every script about a session runs within one
slot. :meth:`Layout.single` (one Redis, or a primary behind Sentinel) gives the names
below, as every release has written them: existing data keeps working. Indexes that span
sessions (leases, the outbox queue, inboxes, per-owner lists, the audit log) are named
per *bucket*: a single Redis has one bucket, and its index keys are the global keys below.

=================================  =======  ==============================================
key                                type     holds
=================================  =======  ==============================================
``tether:{S}:rec``                 hash     the session record (codec.fields_for_new)
``tether:{S}:pending``             hash     open requests: request id -> PendingRequest
``tether:{S}:events``              stream   the numbered log, entry id ``<seq>-0``
``tether:{S}:answers``             hash     request id -> RecordedAnswer JSON
``tether:{S}:journal``             hash     journal key -> entry JSON (replay.py)
``tether:{S}:emits``               hash     scope -> events it emitted
``tether:{S}:marks``               hash     ``j:<key>``/``a:<rid>`` -> seq then (forks)
``tether:{S}:progress``            hash     progress label -> latest ProgressInfo
``tether:{S}:shares``              hash     share target -> Share JSON (redis_shares.py)
``tether:{S}:links``               hash     share link id -> ShareLink JSON and digest
``tether:{S}:assignees``           set      every assignee its requests ever had
``tether:{S}:listed``              hash     open request id -> the inbox keys it is in
``tether:{S}:outbox``              list     queued notifications, seq order (JSON)
``tether:{S}:deliveries``          hash     ``<notification id> <channel>`` -> its
                                            DeliveryState JSON (dispatch.py)
``tether:outbox``                  zset     session id -> when its outbox is due (ms;
                                            0: now), or its claim's expiry
``tether:outbox:claims``           hash     session id -> the dispatcher holding it
``tether:webhooks``                hash     webhook id -> Webhook JSON, its secret
                                            sealed (redis_webhooks.py)
``tether:delivery-log:<channel>``  stream   a channel's delivery attempts, capped
``tether:inbox:<name>``            zset     ``<S>/<request id>`` -> opened (ms): the open
                                            requests of an assignee (``user:bob``,
                                            ``group:finance``) or, unassigned, of an
                                            owner (``owner:<owner id>``)
``tether:active``                  zset     unfinished session id -> lease expiry (ms)
``tether:owner:<user>``            zset     the user's session ids, lex-ordered (= age)
``tether:owner:*``                 zset     every session's id, the same way (admins)
``tether:open:<user>``             hash     the user's unfinished session ids -> 1, and
                                            ``_`` once it holds all of them (quotas)
``tether:idem:<sha256>``           string   an idempotency key's session id
``tether:secret``                  string   the hub secret, when none is configured
``tether:ch:<S>``                  channel  the session's live frames and commands
``tether:ch:__outbox__``           channel  "a notification is queued" (dispatchers)
``tether:ch:__released__``         channel  "leases were let go" (lease keepers)
``tether:users``                   hash     user name -> account JSON (redis_users.py)
``tether:user-tokens``             hash     API token SHA-256 -> user name
``tether:login:<sha256>``          string   a login session (by its id's hash) -> JSON
``tether:logins-of:<name>``        set      a user's login session hashes (revocation)
``tether:login-fail:<what>``       zset     failed logins in the window, by time (ms)
``tether:login-link:<sha256>``     string   a one-time login link -> user name
``tether:answer-link:<id>``        string   an answer link that was used (answer_links.py)
``tether:oidc-flow:<sha256>``      string   an OpenID login under way (by its state's hash)
``tether:quota:<key>``             string   a per-user rate counter, expiring with its window
``tether:shared:<target>``         zset     ids of sessions shared with a user or group (lex)
``tether:share-link:<sha256>``     string   a share link (by its token's hash) -> JSON
``tether:audit``                   stream   the audit log (audit.py), field ``e`` = entry JSON
=================================  =======  ==============================================
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

from tether.redis_url import is_cluster_url
from tether.store.base import OUTBOX, RELEASES

# How many sessions' keys a layout keeps made (the hot path asks for the same few often).
_SESSION_CACHE = 4096
# A session's keys are its base (Layout.session_base) and one of these names.
SESSION_KEY_NAMES = (
    "rec", "pending", "events", "answers", "journal", "emits", "marks", "progress", "shares",
    "links", "assignees", "listed", "outbox", "deliveries",
)
# The names append_many.lua makes a session's keys of, in SessionKeys.for_batch order.
BATCH_KEY_NAMES = " ".join(SESSION_KEY_NAMES[:13])


@dataclass(frozen=True, slots=True)
class SessionKeys:
    """The keys of one session."""

    rec: str
    pending: str
    events: str
    answers: str
    journal: str
    emits: str
    marks: str
    progress: str
    shares: str
    links: str
    assignees: str
    listed: str
    outbox: str
    deliveries: str

    @classmethod
    def under(cls, base: str) -> SessionKeys:
        """The keys named ``<base>rec``, ``<base>pending``... (SESSION_KEY_NAMES)."""
        return cls(*(base + name for name in SESSION_KEY_NAMES))

    def for_batch(self) -> list[str]:
        """The session's keys append_many.lua makes from its base and BATCH_KEY_NAMES, in
        this order (it makes common.lua's list from them: see :meth:`Layout.script_keys`)."""
        return [self.rec, self.pending, self.events, self.answers, self.journal, self.emits,
                self.marks, self.progress, self.shares, self.links, self.assignees,
                self.listed, self.outbox]


class Layout:
    """The names of every key and channel of one deployment (see the module docstring).

    A bucket is a set of sessions whose cross-session index entries live together: an
    index read across every session reads each bucket's key (:attr:`buckets` of them) and
    merges. A single Redis has one bucket, 0.
    """

    __slots__ = ("_sessions", "buckets", "publish")

    def __init__(self) -> None:
        self.buckets = 1
        # The command a script publishes with; ARGV of every script that publishes.
        self.publish = "PUBLISH"
        self._sessions: dict[str, SessionKeys] = {}

    @classmethod
    def single(cls) -> Layout:
        """One Redis (or a primary behind Sentinel): the names every release used."""
        return cls()

    # --- buckets -----------------------------------------------------------------------

    def bucket_of(self, session_id: str) -> int:
        """The bucket holding ``session_id``'s index entries."""
        return 0

    def home_of(self, subject: str) -> int:
        """The bucket of things kept per user (open sessions, rate counters)."""
        return 0

    def id_in_bucket(self, session_id: str, bucket: int) -> str:
        """A session id like ``session_id`` whose bucket is ``bucket``."""
        return session_id

    @property
    def is_cluster(self) -> bool:
        return self.buckets > 1

    def guard(self, bucket: int) -> list[str]:
        """Keys to add to the KEYS of a script that runs in ``bucket`` (no script reads
        them): none on a single Redis."""
        return []

    # --- one session -------------------------------------------------------------------

    def session_base(self, session_id: str) -> str:
        """What each of the session's key names follows (``SessionKeys.under``)."""
        return f"tether:{{{session_id}}}:"

    def session(self, session_id: str) -> SessionKeys:
        keys = self._sessions.get(session_id)
        if keys is None:
            if len(self._sessions) >= _SESSION_CACHE:
                self._sessions.clear()
            keys = self._sessions[session_id] = SessionKeys.under(self.session_base(session_id))
        return keys

    def channel(self, session_id: str) -> str:
        """The session's channel: live frames and commands. The pseudo-sessions
        :data:`~tether.store.base.OUTBOX` and :data:`~tether.store.base.RELEASES` have
        channels too (every hub listens)."""
        return f"tether:ch:{session_id}"

    @property
    def channel_prefix(self) -> str:
        """What every session channel starts with (the one-connection feed strips it)."""
        return "tether:ch:"

    def script_keys(self, session_id: str) -> list[str]:
        """A session's keys as ``common.lua`` expects them (resolve's and followup's
        KEYS 1-13; append_many.lua makes the same list from :meth:`session_base` and
        BATCH_KEY_NAMES)."""
        k = self.session(session_id)
        return [k.rec, k.pending, k.events, k.answers, k.journal, k.emits, k.marks,
                self.active(self.bucket_of(session_id)), k.progress, k.shares, k.links,
                k.assignees, k.listed]

    def outbox_keys(self, session_id: str) -> list[str]:
        """The outbox's KEYS after the others (resolve: 15-17, followup: 14-16)."""
        bucket = self.bucket_of(session_id)
        return [self.session(session_id).outbox, self.outbox_due(bucket),
                self.outbox_claims(bucket)]

    def record_affixes(self, bucket: int) -> tuple[str, str]:
        """``(prefix, suffix)``: a record key is ``prefix + id + suffix``, for the scripts
        that find sessions in an index (owned.lua, create.lua's first count)."""
        return "tether:{", "}:rec"

    # --- per bucket ----------------------------------------------------------------------

    def active(self, bucket: int) -> str:
        """Unfinished session id -> lease expiry (ms, the Redis clock)."""
        return "tether:active"

    def outbox_due(self, bucket: int) -> str:
        return "tether:outbox"

    def outbox_claims(self, bucket: int) -> str:
        return "tether:outbox:claims"

    def outbox_channel(self, bucket: int) -> str:
        """Where "a notification is queued" is published (dispatch.py listens)."""
        return self.channel(OUTBOX)

    def released_channel(self, bucket: int) -> str:
        """Where "leases were let go" is published (leases.py listens)."""
        return self.channel(RELEASES)

    def audit(self, bucket: int) -> str:
        return "tether:audit"

    def owner_index(self, bucket: int, owner: str) -> str:
        """The owner's session ids of the bucket (every one's for ``base.EVERYONE``)."""
        return f"tether:owner:{owner}"

    def inbox_prefix(self, bucket: int) -> str:
        """An inbox's key is this and its name (base.inboxes_of); common.lua makes them."""
        return "tether:inbox:"

    def inbox(self, bucket: int, name: str) -> str:
        return self.inbox_prefix(bucket) + name

    def shared_index(self, bucket: int, target: str) -> str:
        """Ids of the bucket's sessions shared with ``target`` (lex order = age)."""
        return f"tether:shared:{target}"

    # --- per user ------------------------------------------------------------------------

    def open_sessions_prefix(self, bucket: int) -> str:
        """An owner's open-sessions hash is this and the owner; common.lua drops a session
        from it as it finishes."""
        return "tether:open:"

    def open_sessions(self, owner: str) -> str:
        """The owner's unfinished sessions (create.lua adds, common.lua's finish removes)."""
        return self.open_sessions_prefix(self.home_of(owner)) + owner

    def quota(self, key: str) -> str:
        """A rate-limit counter (see Store.hit); it expires with its window."""
        return f"tether:quota:{key}"

    def idempotency(self, digest: str) -> str:
        return f"tether:idem:{digest}"

    # --- not about sessions ------------------------------------------------------------

    @property
    def secret(self) -> str:
        return "tether:secret"

    @property
    def users(self) -> str:
        return "tether:users"

    @property
    def user_tokens(self) -> str:
        return "tether:user-tokens"

    def login(self, digest: str) -> str:
        return f"tether:login:{digest}"

    def logins_of(self, name: str) -> str:
        return f"tether:logins-of:{name}"

    def login_failures(self, what: str) -> str:
        return f"tether:login-fail:{what}"

    def login_link(self, digest: str) -> str:
        return f"tether:login-link:{digest}"

    def oidc_flow(self, digest: str) -> str:
        return f"tether:oidc-flow:{digest}"

    def answer_link_spent(self, link_id: str) -> str:
        return f"tether:answer-link:{link_id}"

    def share_link(self, digest: str) -> str:
        return f"tether:share-link:{digest}"

    @property
    def webhooks(self) -> str:
        return "tether:webhooks"

    def delivery_log(self, channel: str) -> str:
        return f"tether:delivery-log:{channel}"

    # --- what common.lua takes ---------------------------------------------------------

    def script_args(self, bucket: int) -> list[str]:
        """The last four ARGV of the scripts that include common.lua: the publish command,
        the inbox prefix, the open-sessions prefix ('' when finishing a session cannot
        drop it there) and the outbox channel."""
        return [self.publish, self.inbox_prefix(bucket), self.open_sessions_prefix(bucket),
                self.outbox_channel(bucket)]

    @classmethod
    def cluster(cls) -> Layout:
        """A Redis Cluster: :data:`BUCKETS` buckets (see :class:`ClusterLayout`)."""
        return ClusterLayout()


# Buckets of a cluster's layout. Bucket i's hash tag falls in slots [i * 256, (i+1) * 256),
# so a three-primary cluster (slots split in thirds) holds 21 or 22 buckets on each, and
# moving a range of slots moves whole buckets. More buckets would spread a cluster of
# more primaries more evenly, at the cost of more keys read by every cross-session read.
BUCKETS = 64
_SLOTS_PER_BUCKET = REDIS_CLUSTER_HASH_SLOTS // BUCKETS


def _bucket_tag(bucket: int) -> str:
    """The first of ``b<bucket>-0``, ``b<bucket>-1``... whose slot is in the bucket's
    range (a few dozen CRC16s each, once at import)."""
    low = bucket * _SLOTS_PER_BUCKET
    n = 0
    while not low <= key_slot(f"b{bucket}-{n}".encode()) < low + _SLOTS_PER_BUCKET:
        n += 1
    return f"b{bucket}-{n}"


TAGS = tuple(_bucket_tag(bucket) for bucket in range(BUCKETS))


def bucket_of_text(text: str) -> int:
    """The bucket whose slot range holds ``text``'s slot: a stable spread of any string."""
    return key_slot(text.encode()) // _SLOTS_PER_BUCKET


class ClusterLayout(Layout):
    """The names on a Redis Cluster. Every key of a session, its channel, and the entries
    its scripts write in cross-session indexes carry its bucket's hash tag::

        tether:{<tag>}:<S>:rec ...        the session's keys (as on one Redis, per session)
        tether:{<tag>}:ch:<S>             its channel (sharded Pub/Sub: SPUBLISH)
        tether:{<tag>}:active             the bucket's leases
        tether:{<tag>}:outbox, :outbox:claims, :audit, :owner:<user>, :inbox:<name>,
        tether:{<tag>}:shared:<target>    the bucket's part of each index
        tether:{<tag>}:ch:__outbox__, :ch:__released__   the bucket's wake-up channels
        tether:{<tag>}:guard              never written (see :meth:`guard`)

    A session's bucket is ``int(id[-2:], 16) % 64`` (ids end in random hex). Per-user keys
    (open sessions, rate counters) sit in the user's home bucket; an idempotency key in
    the bucket of its digest, which the hub makes the new session's bucket too
    (:meth:`id_in_bucket`). Keys that a transaction changes together share a tag of their
    own: ``{accounts}`` (users, their token index), ``{logins}`` (login sessions, each
    user's index of them), ``{webhooks}`` (webhooks, their delivery logs). Every other key
    not about a session keeps its single-Redis name and lands wherever its name hashes.
    """

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__()
        self.buckets = BUCKETS
        self.publish = "SPUBLISH"

    def bucket_of(self, session_id: str) -> int:
        try:
            return int(session_id[-2:], 16) % BUCKETS
        except ValueError:  # not a hub-made id (tests, tools): spread it all the same
            return bucket_of_text(session_id)

    def home_of(self, subject: str) -> int:
        return bucket_of_text(subject)

    def id_in_bucket(self, session_id: str, bucket: int) -> str:
        """``session_id`` with its last two hex digits changed so that it is in
        ``bucket`` (their top two bits stay random)."""
        last = int(session_id[-2:], 16)
        return f"{session_id[:-2]}{(last & ~(BUCKETS - 1)) | bucket:02x}"

    def guard(self, bucket: int) -> list[str]:
        """A key of the bucket that never exists, passed to every script of the bucket.
        While a slot migrates, Redis refuses (TRYAGAIN) a command whose keys exist only in
        part on the node; a key that never exists makes that hold for every script: none
        runs on a half-moved bucket, where a key it makes from data (an inbox) could be
        on the other node. redis-py retries; a longer move makes the write wait
        (StoreUnavailable, which the writers retry)."""
        return [f"tether:{{{TAGS[bucket]}}}:guard"]

    def _of(self, bucket: int) -> str:
        return f"tether:{{{TAGS[bucket]}}}:"

    def session_base(self, session_id: str) -> str:
        return f"{self._of(self.bucket_of(session_id))}{session_id}:"

    def channel(self, session_id: str) -> str:
        return f"{self._of(self.bucket_of(session_id))}ch:{session_id}"

    @property
    def channel_prefix(self) -> str:
        raise TypeError("a cluster's channels carry each session's bucket: use channel()")

    def record_affixes(self, bucket: int) -> tuple[str, str]:
        return self._of(bucket), ":rec"

    def active(self, bucket: int) -> str:
        return self._of(bucket) + "active"

    def outbox_due(self, bucket: int) -> str:
        return self._of(bucket) + "outbox"

    def outbox_claims(self, bucket: int) -> str:
        return self._of(bucket) + "outbox:claims"

    def outbox_channel(self, bucket: int) -> str:
        return f"{self._of(bucket)}ch:{OUTBOX}"

    def released_channel(self, bucket: int) -> str:
        return f"{self._of(bucket)}ch:{RELEASES}"

    def audit(self, bucket: int) -> str:
        return self._of(bucket) + "audit"

    def owner_index(self, bucket: int, owner: str) -> str:
        return f"{self._of(bucket)}owner:{owner}"

    def inbox_prefix(self, bucket: int) -> str:
        return self._of(bucket) + "inbox:"

    def shared_index(self, bucket: int, target: str) -> str:
        return f"{self._of(bucket)}shared:{target}"

    def open_sessions_prefix(self, bucket: int) -> str:
        return self._of(bucket) + "open:"

    def quota(self, key: str) -> str:
        """In the home bucket of the key's subject: ``starts:<owner>`` beside the owner's
        open sessions (a start is reserved against both in one step)."""
        subject = key.partition(":")[2] or key
        return f"{self._of(self.home_of(subject))}quota:{key}"

    def idempotency(self, digest: str) -> str:
        return f"{self._of(self.bucket_of(digest))}idem:{digest}"

    @property
    def users(self) -> str:
        return "tether:{accounts}:users"

    @property
    def user_tokens(self) -> str:
        return "tether:{accounts}:user-tokens"

    def login(self, digest: str) -> str:
        return f"tether:{{logins}}:login:{digest}"

    def logins_of(self, name: str) -> str:
        return f"tether:{{logins}}:logins-of:{name}"

    @property
    def webhooks(self) -> str:
        return "tether:{webhooks}:webhooks"

    def delivery_log(self, channel: str) -> str:
        return f"tether:{{webhooks}}:delivery-log:{channel}"

    def script_args(self, bucket: int) -> list[str]:
        # A finishing session cannot drop itself from its owner's open sessions, which are
        # in the owner's home bucket: the hub drops finished ones as it reads them.
        return [self.publish, self.inbox_prefix(bucket), "", self.outbox_channel(bucket)]


def layout_for(url: str) -> Layout:
    """The layout of the Redis ``url`` names (see tether.redis_url)."""
    return Layout.cluster() if is_cluster_url(url) else Layout.single()
