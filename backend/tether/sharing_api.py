"""The sharing routes: shares (``/api/sessions/{id}/shares``) and share links
(``/api/sessions/{id}/links``). Translation only; who may do what is ``access.py``'s.

Only the session's owner (or an admin) adds and removes shares and links. Everyone who
sees the session may list its shares, except a link's holder.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tether.access import may_list_shares, may_manage_sharing, parse_target
from tether.api import json_response, manager_of, principal_of, read_body
from tether.audit import Audit, Where
from tether.auth import new_link_token
from tether.credentials import token_digest
from tether.errors import Forbidden, InvalidMessage, UnknownLink, UnknownShare
from tether.messages import (
    LinkCreated,
    LinkInfo,
    LinkList,
    NewLink,
    NewShare,
    ShareInfo,
    ShareList,
    now_iso,
)
from tether.sessions import Grant
from tether.sharing import Share, ShareLink
from tether.store.base import ACCESS_CHANGED


async def _grant(request: Request, *, manage: bool) -> Grant:
    session_id = request.path_params["session_id"]
    grant = await manager_of(request).get(session_id, who=principal_of(request))
    if manage and not may_manage_sharing(grant.level):
        raise Forbidden("Only the session's owner may share it.")
    if not manage and not may_list_shares(principal_of(request), grant.level):
        raise Forbidden("A share link does not show whom the session is shared with.")
    return grant


async def _record(request: Request, action: str, session_id: str, target: str) -> None:
    audit: Audit = request.state.audit
    await audit.record(action, user=principal_of(request).id, where=Where.of(request.scope),
                       session=session_id, target=target, via="http")


def _share_info(share: Share) -> ShareInfo:
    return ShareInfo(target=share.target, role=share.role, by=share.by, at=share.at)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace(
        "+00:00", "Z"
    )


def _link_info(link: ShareLink) -> LinkInfo:
    return LinkInfo(
        id=link.id, by=link.by, created_at=link.created_at, expires_at=_iso(link.expires_at)
    )


async def add_share(request: Request) -> Response:
    body = await read_body(request, NewShare)
    grant = await _grant(request, manage=True)
    target = parse_target(body.target)
    if target is None:
        raise InvalidMessage(
            "Share with user:NAME or group:NAME.", fields={"with": body.target[:200]}
        )
    session = grant.record.session
    if target == session.owner:
        raise InvalidMessage("The owner already sees the session.", fields={"with": target})
    share = Share(target=target, role=body.role, by=principal_of(request).id, at=now_iso())
    created = await manager_of(request).shares.put_share(session.id, share)
    await _record(request, "share.add", session.id, f"{target} as {body.role}")
    return json_response(_share_info(share), 201 if created else 200)


async def list_shares(request: Request) -> Response:
    grant = await _grant(request, manage=False)
    shares = await manager_of(request).shares.shares(grant.record.session.id)
    ordered = sorted(shares.values(), key=lambda share: (share.at, share.target))
    return json_response(ShareList(shares=[_share_info(share) for share in ordered]))


async def remove_share(request: Request) -> Response:
    grant = await _grant(request, manage=True)
    raw = request.path_params["target"]
    target = parse_target(raw) or raw
    if not await manager_of(request).shares.delete_share(grant.record.session.id, target):
        raise UnknownShare(f"The session is not shared with {raw[:200]!r}.")
    await _record(request, "share.remove", grant.record.session.id, target)
    await manager_of(request).store.notify(grant.record.session.id, ACCESS_CHANGED)
    return Response(status_code=204)


async def create_link(request: Request) -> Response:
    body = await read_body(request, NewLink, optional=True)
    grant = await _grant(request, manage=True)
    session_id = grant.record.session.id
    token = new_link_token()
    now = datetime.now(UTC).timestamp()
    link = ShareLink(
        id=secrets.token_hex(8), session_id=session_id, by=principal_of(request).id,
        created_at=now_iso(), expires_at=now + body.expires_in,
    )
    await manager_of(request).shares.create_link(token_digest(token), link)
    await _record(request, "link.create", session_id, link.id)
    info = _link_info(link)
    created = LinkCreated(
        **info.model_dump(), token=token, url=f"/sessions/{session_id}?link={token}"
    )
    return json_response(created, 201)


async def list_links(request: Request) -> Response:
    grant = await _grant(request, manage=True)
    links = await manager_of(request).shares.links(grant.record.session.id)
    return json_response(LinkList(links=[_link_info(link) for link in links]))


async def revoke_link(request: Request) -> Response:
    grant = await _grant(request, manage=True)
    link_id = request.path_params["link_id"]
    if not await manager_of(request).shares.revoke_link(grant.record.session.id, link_id):
        raise UnknownLink(f"The session has no live link {link_id[:64]!r}.")
    await _record(request, "link.revoke", grant.record.session.id, link_id)
    await manager_of(request).store.notify(grant.record.session.id, ACCESS_CHANGED)
    return Response(status_code=204)


def routes() -> list[Route]:
    base = "/api/sessions/{session_id}"
    return [
        Route(f"{base}/shares", add_share, methods=["POST"]),
        Route(f"{base}/shares", list_shares, methods=["GET"]),
        Route(f"{base}/shares/{{target:path}}", remove_share, methods=["DELETE"]),
        Route(f"{base}/links", create_link, methods=["POST"]),
        Route(f"{base}/links", list_links, methods=["GET"]),
        Route(f"{base}/links/{{link_id}}", revoke_link, methods=["DELETE"]),
    ]
