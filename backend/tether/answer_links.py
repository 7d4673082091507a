"""Answer links: a token that lets one person answer one request, once, without logging in.

An email (``mail.py``) carries a link per recipient, ``/answer/{token}``. The token is the
credential, so what it says is signed and what it may do is narrow:

- **scope** — one request (``request_id``) of one session, answered as one person
  (``principal_id``, ``user:NAME``; and the account's ``serial``, so an account removed
  and made again under the same name does not inherit the links of the old one). The
  answer still goes through ``SessionManager.answer`` as that person, so the access rules
  (assignees, shares) decide as they do for any answer.
- **signature** — itsdangerous (HMAC over the compact JSON payload) with the hub secret
  and a salt of its own, so no other signature of the hub (cookies, login sessions) can
  pass for one, nor one for them. A token that does not verify is ``unknown_link``.
- **expiry** — the payload names when it stops working (the request's deadline, or
  ``TETHER_ANSWER_LINK_HOURS`` after it was sent, whichever comes first):
  ``link_expired`` after that.
- **login** — by default the token is the whole credential. With
  ``TETHER_ANSWER_LINK_LOGIN=required`` it answers only for a caller signed in as its
  person (``answer_api.py``), so a forwarded or leaked mail cannot answer.
- **single use** — the token's random id is claimed in the store (:class:`SpentLinks`,
  ``SET NX`` in Redis, so hubs sharing a Redis agree) in the step before the answer is
  recorded; a second use is ``link_used``. A claim whose answer is refused (a wrong
  value, the request answered by someone else) is released, so the person can try again
  with the same link.

Issuing a link touches no store: a token is only signed. Only its use is recorded,
for as long as the token could still be used.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from itsdangerous import BadSignature, URLSafeSerializer

from tether.config import Settings
from tether.errors import AnswerLinkExpired, AnswerLinkUsed, UnknownLink

SALT = "tether.answer-link"
SPENT_MARGIN = 60.0  # seconds a spent id is kept past its token's expiry (clock skew)


def iso_of(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace(
        "+00:00", "Z"
    )


@dataclass(frozen=True, slots=True)
class AnswerGrant:
    """What a verified token allows: ``principal_id`` answers ``request_id`` of
    ``session_id`` once (the id ``link_id``), until ``expires_at`` (epoch seconds)."""

    link_id: str
    session_id: str
    request_id: str
    principal_id: str
    expires_at: float
    serial: str | None = None

    @property
    def user_name(self) -> str | None:
        """The account name of ``principal_id``; None for an id that is not an account."""
        kind, sep, name = self.principal_id.partition(":")
        return name if sep and kind == "user" and name else None

    def seconds_left(self, now: float | None = None) -> float:
        return self.expires_at - (time.time() if now is None else now)


class SpentLinks(Protocol):
    """Which answer links were used. Every method is safe from several hubs at once."""

    async def claim(self, link_id: str, *, ttl: float) -> bool:
        """Mark ``link_id`` used for ``ttl`` seconds; False when it already was."""
        ...

    async def release(self, link_id: str) -> None:
        """Undo a claim whose answer was refused."""
        ...

    async def spent(self, link_id: str) -> bool: ...

    async def close(self) -> None: ...


class MemorySpentLinks:
    """:class:`SpentLinks` in this process's memory (hubs on the memory store); expired
    ids go on every claim, so the table stays as large as the links still usable."""

    def __init__(self) -> None:
        self._spent: dict[str, float] = {}

    async def claim(self, link_id: str, *, ttl: float) -> bool:
        now = time.monotonic()
        self._spent = {k: until for k, until in self._spent.items() if until > now}
        if link_id in self._spent:
            return False
        self._spent[link_id] = now + ttl
        return True

    async def release(self, link_id: str) -> None:
        self._spent.pop(link_id, None)

    async def spent(self, link_id: str) -> bool:
        until = self._spent.get(link_id)
        return until is not None and until > time.monotonic()

    async def close(self) -> None:
        return None


def open_spent_links(settings: Settings) -> SpentLinks:
    """Redis with a Redis URL (every hub of it agrees), else this process's memory."""
    if settings.redis_url:
        from tether.store.redis_answer_links import RedisSpentLinks

        return RedisSpentLinks(settings.redis_url)
    return MemorySpentLinks()


class AnswerLinks:
    """Issues and checks answer link tokens, and spends them in ``store``."""

    def __init__(self, secret: str, store: SpentLinks, *, login_required: bool = False) -> None:
        self._serializer = URLSafeSerializer(secret, salt=SALT)
        self.store = store
        # TETHER_ANSWER_LINK_LOGIN=required: the token answers only for its person signed
        # in (answer_api.py checks the caller); a forwarded mail then answers nothing.
        self.login_required = login_required

    def issue(
        self,
        session_id: str,
        request_id: str,
        principal_id: str,
        expires_at: float,
        *,
        serial: str | None = None,
    ) -> str:
        """A token for ``principal_id`` to answer ``request_id`` of ``session_id`` once,
        until ``expires_at`` (epoch seconds). ``serial``: the account's, when known."""
        payload: dict[str, Any] = {
            "l": secrets.token_urlsafe(12), "s": session_id, "r": request_id,
            "p": principal_id, "e": int(expires_at),
        }
        if serial is not None:
            payload["a"] = serial
        return str(self._serializer.dumps(payload))

    def read(self, token: str) -> AnswerGrant:
        """What ``token`` says, if this hub's secret signed it (expired or used, too:
        :meth:`check` tells that).

        Raises:
            UnknownLink: the token is not one this hub's secret signed.
        """
        try:
            payload = self._serializer.loads(token)
            return AnswerGrant(
                link_id=str(payload["l"]), session_id=str(payload["s"]),
                request_id=str(payload["r"]), principal_id=str(payload["p"]),
                expires_at=float(payload["e"]),
                serial=str(payload["a"]) if "a" in payload else None,
            )
        except (BadSignature, KeyError, TypeError, ValueError, json.JSONDecodeError) as exc:
            raise UnknownLink("This answer link is not valid: it may be cut short.") from exc

    async def check(self, grant: AnswerGrant) -> None:
        """Refuse a link whose time is over, or that was used.

        Raises:
            AnswerLinkExpired, AnswerLinkUsed.
        """
        if grant.seconds_left() <= 0:
            raise AnswerLinkExpired(iso_of(grant.expires_at))
        if await self.store.spent(grant.link_id):
            raise AnswerLinkUsed()

    async def claim(self, grant: AnswerGrant) -> None:
        """Spend ``grant``'s link now (before its answer is recorded).

        Raises:
            AnswerLinkUsed: another use got there first.
        """
        ttl = max(1.0, grant.seconds_left()) + SPENT_MARGIN
        if not await self.store.claim(grant.link_id, ttl=ttl):
            raise AnswerLinkUsed()

    async def release(self, grant: AnswerGrant) -> None:
        await self.store.release(grant.link_id)

    async def close(self) -> None:
        await self.store.close()
