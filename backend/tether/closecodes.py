"""``CloseCode``: every code a session WebSocket can close with, named once.

The hub closes sockets with these (``ws.py``, ``fanout.py``); the browser app reads the
same names from ``frontend/src/protocol/generated.ts``, which ``python -m tether.schema``
and ``frontend/scripts/gen-protocol.mjs`` generate from this enum. PROTOCOL.md §4 says
what a client does after each one: every close but ``NOT_AUTHENTICATED`` and
``UNKNOWN_SESSION`` is answered by reconnecting with ``after=`` and backoff.
"""

from __future__ import annotations

from enum import IntEnum


class CloseCode(IntEnum):
    """RFC 6455 codes (1000–1015) and Tether's own (4000–4999)."""

    NORMAL_CLOSURE = 1000  # the client is done with the session
    UNSUPPORTED_DATA = 1003  # a binary frame: session sockets carry JSON text
    ABNORMAL_CLOSURE = 1006  # never sent: a client's name for a drop without a close frame
    POLICY_VIOLATION = 1008  # a disallowed origin, too many frames, a bad ``after``
    MESSAGE_TOO_BIG = 1009  # a client frame over TETHER_MAX_FRAME_BYTES
    INTERNAL_ERROR = 1011  # the hub failed while serving this socket
    SERVICE_RESTART = 1012  # the hub is restarting, or its store connection dropped
    TRY_AGAIN_LATER = 1013  # the store is unavailable
    TOO_SLOW = 4008  # the send queue overflowed: the client read too slowly
    NOT_AUTHENTICATED = 4401  # no valid identity: reconnecting cannot help
    UNKNOWN_SESSION = 4404  # no such session for this user: reconnecting cannot help
