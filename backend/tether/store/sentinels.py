"""Finding the primary behind Redis Sentinel by a majority of the sentinels.

redis-py's :class:`~redis.asyncio.sentinel.Sentinel` takes the first sentinel that names a
healthy primary. Right after a failover that can be the wrong node: a sentinel that has
not yet heard of the promotion still names the old primary, and once that node is back
(restarted, often with no data, still calling itself a primary until the sentinels demote
it) nothing in its answer looks stale. A hub that connected there would read sessions as
missing and write where the deployment will throw the writes away.

:class:`QuorumSentinel` asks every sentinel at once and connects only to the address a
majority of the configured sentinels name, the same majority Sentinel needs to authorize a
failover (so with two sentinels both must answer, and one sentinel, or one name in front of
many, is taken at its word, as before). While they disagree, no primary is known: the caller gets
:class:`~redis.asyncio.sentinel.MasterNotFoundError`, which the store treats like a Redis
that is away (writes wait and retry, ``/readyz`` is 503), for the second or so it takes
the rest of the sentinels to learn of the promotion.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from redis.asyncio.sentinel import MasterNotFoundError, Sentinel
from redis.exceptions import ConnectionError, TimeoutError


class QuorumSentinel(Sentinel):
    """A :class:`Sentinel` whose :meth:`discover_master` needs a majority (see the module
    docstring). A sentinel named twice in the URL is asked, and counted, once."""

    def __init__(self, sentinels: Iterable[tuple[str, int]], **kwargs: Any) -> None:
        unique = list(dict.fromkeys((host, int(port)) for host, port in sentinels))
        super().__init__(unique, **kwargs)  # type: ignore[no-untyped-call]

    async def discover_master(self, service_name: str) -> tuple[str, int]:
        answers = await asyncio.gather(
            *(self._named_primary(sentinel, service_name) for sentinel in self.sentinels),
            return_exceptions=True,
        )
        named = [a for a in answers if isinstance(a, tuple)]
        errors = [f"{s} - {a!r}" for s, a in zip(self.sentinels, answers, strict=True)
                  if isinstance(a, BaseException)]
        return primary_by_majority(service_name, named, len(self.sentinels), errors)

    async def _named_primary(self, sentinel: Any, service_name: str) -> tuple[str, int] | None:
        """The healthy primary ``sentinel`` names for the service, or None."""
        try:
            masters = await sentinel.sentinel_masters()
        except (ConnectionError, TimeoutError, OSError) as exc:
            raise ConnectionError(str(exc)) from exc
        state = masters.get(service_name)
        if not state or not self.check_master_state(state, service_name):
            return None
        ip = self._force_master_ip if self._force_master_ip is not None else state["ip"]
        return str(ip), int(state["port"])


def primary_by_majority(
    service_name: str, named: Sequence[tuple[str, int] | None], sentinels: int,
    errors: Sequence[str],
) -> tuple[str, int]:
    """The address more than half of ``sentinels`` name in ``named`` (one entry per
    sentinel that answered, None for one that names no healthy primary); else
    :class:`MasterNotFoundError` saying what they said."""
    counts = Counter(address for address in named if address is not None)
    needed = sentinels // 2 + 1
    for address, votes in counts.most_common(1):
        if votes >= needed:
            return address
    said = ", ".join(f"{host}:{port} by {votes}" for (host, port), votes in counts.items())
    detail = f"; named: {said}" if said else ""
    if errors:
        detail += f"; unreachable: {', '.join(errors)}"
    raise MasterNotFoundError(
        f"No master found for {service_name!r}: no {needed} of {sentinels} sentinels "
        f"agree{detail}"
    )
