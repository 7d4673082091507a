"""Sharing a session every way there is, for tests of who may reach it: shares with
people and groups, and share links (one of them revoked)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpx


async def share_every_way(
    http: httpx.AsyncClient, session_id: str, owner: dict[str, str],
    shares: Iterable[tuple[str, str]],
) -> list[dict[str, Any]]:
    """As the owner (``owner``: their headers), share ``session_id`` with each
    ``(with, role)`` of ``shares`` and make three links, revoking the third; the links
    as the API returned them (``id``, ``token``)."""
    base = f"/api/sessions/{session_id}"
    for target, role in shares:
        added = await http.post(f"{base}/shares", headers=owner,
                                json={"with": target, "role": role})
        assert added.status_code == 201, added.text
    links = []
    for _ in range(3):
        made = await http.post(f"{base}/links", headers=owner, json={})
        assert made.status_code == 201, made.text
        links.append(made.json())
    revoked = await http.delete(f"{base}/links/{links[2]['id']}", headers=owner)
    assert revoked.status_code == 204, revoked.text
    return links
