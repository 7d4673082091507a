"""Every Redis key and channel Tether uses, named in one place.

One session's keys share the hash tag ``{<session id>}``, so a Lua script that touches
all of them stays within one slot. Three scripts (``renew``, ``release``, ``owned``) walk
many sessions and spell the record key ``tether:{<id>}:rec`` themselves; ``release``
also names the ``__released__`` channel. Change a name here and there together.

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
``tether:active``                  zset     unfinished session id -> lease expiry (ms)
``tether:owner:<user>``            zset     the user's session ids, lex-ordered (= age)
``tether:idem:<sha256>``           string   an idempotency key's session id
``tether:secret``                  string   the hub secret, when none is configured
``tether:ch:<S>``                  channel  the session's live frames and commands
``tether:users``                   hash     user name -> account JSON (redis_users.py)
``tether:user-tokens``             hash     API token SHA-256 -> user name
``tether:login:<sha256>``          string   a login session (by its id's hash) -> JSON
``tether:logins-of:<name>``        set      a user's login session hashes (revocation)
``tether:login-fail:<what>``       zset     failed logins in the window, by time (ms)
``tether:login-link:<sha256>``     string   a one-time login link -> user name
``tether:quota:<key>``             string   a per-user rate counter, expiring with its window
=================================  =======  ==============================================
"""

from __future__ import annotations

from dataclasses import dataclass

ACTIVE = "tether:active"
SECRET = "tether:secret"
CHANNEL_PREFIX = "tether:ch:"
USERS = "tether:users"
USER_TOKENS = "tether:user-tokens"


def login(digest: str) -> str:
    return f"tether:login:{digest}"


def logins_of(name: str) -> str:
    return f"tether:logins-of:{name}"


def login_failures(what: str) -> str:
    return f"tether:login-fail:{what}"


def login_link(digest: str) -> str:
    return f"tether:login-link:{digest}"


def channel(session_id: str) -> str:
    return f"{CHANNEL_PREFIX}{session_id}"


def owner_index(owner: str) -> str:
    return f"tether:owner:{owner}"


def quota(key: str) -> str:
    """A rate-limit counter (see Store.hit); it expires with its window."""
    return f"tether:quota:{key}"


def idempotency(digest: str) -> str:
    return f"tether:idem:{digest}"


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

    @classmethod
    def of(cls, session_id: str) -> SessionKeys:
        base = f"tether:{{{session_id}}}"
        return cls(*(f"{base}:{name}" for name in (
            "rec", "pending", "events", "answers", "journal", "emits", "marks", "progress",
        )))

    def for_scripts(self) -> list[str]:
        """KEYS as ``common.lua`` (append, resolve) expects them, in this order."""
        return [self.rec, self.pending, self.events, self.answers, self.journal, self.emits,
                self.marks, ACTIVE, self.progress]
