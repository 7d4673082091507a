"""A Python client for a Tether hub: start sessions, follow their events, answer them.

::

    async with Client("http://127.0.0.1:8000", token=TOKEN) as client:
        session = await client.start("email_demo", {"step_seconds": 0})
        async for event in client.events(session.id):
            ...

Everything it returns is a model of :mod:`tether.messages`, the hub's own wire models.
Importing it loads no server parts (Starlette, uvicorn, redis).
"""

from tether.client._client import Client
from tether.client._errors import (
    AlreadyAnswered,
    AlreadyFinished,
    Forbidden,
    HubUnreachable,
    InvalidInputs,
    InvalidValue,
    NotAuthenticated,
    ProtocolError,
    SessionFinished,
    SocketClosed,
    StoreUnavailable,
    TetherClientError,
    TooManyRequests,
    UnknownRequest,
    UnknownSession,
    UnknownTask,
)
from tether.client._events import Cursor, EventStream, Take

__all__ = [
    "AlreadyAnswered",
    "AlreadyFinished",
    "Client",
    "Cursor",
    "EventStream",
    "Forbidden",
    "HubUnreachable",
    "InvalidInputs",
    "InvalidValue",
    "NotAuthenticated",
    "ProtocolError",
    "SessionFinished",
    "SocketClosed",
    "StoreUnavailable",
    "Take",
    "TetherClientError",
    "TooManyRequests",
    "UnknownRequest",
    "UnknownSession",
    "UnknownTask",
]
