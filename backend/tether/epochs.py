"""Log epochs: a client is never shown one seq twice with different content. No I/O.

Seqs are only unique while the store keeps what it numbered. A store can lose the tail of
a log that clients already saw: a Sentinel failover promotes a replica that had not yet
received the last writes (replication is asynchronous), or Redis restarts empty or from an
older backup. The writers then number new events from where the surviving log ends, and
seq 51 may come to mean something else than the seq 51 a client was shown before.

So each session's log has an **epoch**, a random token stored with it (the record's
``epoch`` field), as Centrifugo gives each stream an epoch beside its offsets. A position
in a log is ``(epoch, seq)``; a new epoch means "the seqs you hold may name other events
now". The epoch is renewed whenever a loss shows:

- a client resumes with ``after=N&epoch=E`` and ``E`` is the current epoch but the log ends
  below ``N`` (it saw events the log no longer has): :func:`plan_replay` says ``lost``, and
  the hub renews the epoch before it replays;
- a session's writer appends with the last seq it saw the log reach (``floor``), and the
  log ends below it: the store renews the epoch in the same atomic step as the append, so
  no reused seq is ever readable under the old epoch.

A client whose epoch is not the current one is told so in ``replay_start`` (``reset``) and
given the log from its start, under the current epoch; it drops what it showed and shows
that instead (PROTOCOL.md §4, "Epochs"). A client that sends no epoch (an older one) is
checked by its ``after`` alone.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

EPOCH_BYTES = 6  # 8 URL-safe characters; a renewal repeats the old epoch with p = 2^-48
_EPOCH_SHAPE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def new_epoch() -> str:
    """A fresh epoch token."""
    return secrets.token_urlsafe(EPOCH_BYTES)


def valid_epoch(text: str) -> bool:
    """What a client may send as ``epoch=`` (an epoch this hub made, or an unknown one of
    the same shape, which simply does not match)."""
    return bool(_EPOCH_SHAPE.match(text))


@dataclass(frozen=True, slots=True)
class ReplayPlan:
    """How to answer a client that connects with ``after`` and maybe an epoch.

    ``after``: replay the events after this seq (0 when resetting). ``reset``: the client's
    view is void; ``replay_start`` says so. ``lost``: the log lost events the client was
    shown under the current epoch, so the epoch must be renewed before the replay.
    """

    after: int
    reset: bool = False
    lost: bool = False


def plan_replay(
    *, after: int, epoch: str | None, log_last: int, log_epoch: str | None
) -> ReplayPlan:
    """Decide the replay for a client at ``(epoch, after)`` of a log at
    ``(log_epoch, log_last)``; ``None`` epochs are unknown (an older client, or a log
    written before epochs existed)."""
    if epoch is not None and log_epoch is not None and epoch != log_epoch:
        return ReplayPlan(after=0, reset=True)
    if after > log_last:  # the client saw seqs the log does not have (any more)
        return ReplayPlan(after=0, reset=True, lost=True)
    return ReplayPlan(after=after)


def tail_lost(*, floor: int, log_last: int) -> bool:
    """A writer that saw the log reach ``floor`` finds it ending at ``log_last``: the log
    lost its tail (nothing else makes a log shorter). The stores apply this rule inside
    their append (``append_many.lua``); it is spelt here for the reader and the tests."""
    return log_last < floor
