"""The inbox: every open request a caller may answer, across sessions, newest first.

Which requests: those assigned to the caller (``user:<name>``) or to one of its groups
(``group:<name>``), the unassigned ones in sessions the caller owns, and the unassigned
ones in sessions shared with the caller (or a group of it) as ``answerer``. The store
keeps an index per assignee and per owner, written in the same atomic step that opens or
closes a request (see ``tether.store.base.inboxes_of``), so a page is a merge of a few
sorted indexes plus one record read per session shown; the shared sessions (at most
:data:`SHARED_SCAN`, the newest) are read and merged in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from tether.access import Level, level_on, may_answer, targets_of
from tether.assignees import GROUP_PREFIX
from tether.errors import InvalidQuery
from tether.hub import Hub
from tether.messages import InboxItem, InboxPage
from tether.principal import Principal
from tether.sharing import ShareStore
from tether.store.base import InboxEntry, PendingRequest, SessionRecord, Store, owner_inbox

SUMMARY_CHARS = 120
SHARED_SCAN = 200  # sessions shared with the caller whose open requests the inbox reads

__all__ = ["inboxes_for", "open_requests", "parse_cursor"]


def inboxes_for(principal: Principal) -> list[str]:
    """The store inboxes whose requests ``principal`` may answer."""
    names = [principal.id, owner_inbox(principal.id)]
    names += [GROUP_PREFIX + group for group in sorted(principal.groups)]
    return names


def parse_cursor(raw: str | None) -> InboxEntry | None:
    """The ``before`` cursor of ``GET /api/requests``.

    Raises:
        InvalidQuery: it is not a cursor this hub made.
    """
    if not raw:
        return None
    entry = InboxEntry.from_cursor(raw)
    if entry is None:
        raise InvalidQuery("'before' is not a cursor from a page's 'next'.",
                           fields={"before": raw[:200]})
    return entry


def _key(entry: InboxEntry) -> tuple[int, str, str]:
    return entry.opened_ms, entry.session_id, entry.request_id


async def _shared_entries(
    store: Store, shares: ShareStore, principal: Principal,
    records: dict[str, SessionRecord | None], levels: dict[str, Level],
) -> list[InboxEntry]:
    """The unassigned open requests of sessions shared with ``principal`` as answerer,
    newest first (assigned ones are in the assignees' own indexes)."""
    found: list[InboxEntry] = []
    targets = targets_of(principal)
    if not targets:
        return found
    for session_id in await shares.shared_with(targets, limit=SHARED_SCAN, before=None):
        record = await store.get_session(session_id)
        records[session_id] = record
        if record is None or record.session.owner == principal.id:
            continue
        roles = {t: share.role for t, share in (await shares.shares(session_id)).items()}
        level = level_on(principal, session_id, record.session.owner, roles, record.assignees)
        levels[session_id] = level
        if level < Level.ANSWERER:
            continue
        for request_id, pending in record.requests.items():
            if not pending.request.assignees:
                found.append(InboxEntry(
                    opened_ms=_epoch_ms(pending.request.created_at),
                    session_id=session_id, request_id=request_id,
                ))
    return sorted(found, key=_key, reverse=True)


def _epoch_ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


async def open_requests(
    store: Store, shares: ShareStore, hub: Hub, principal: Principal, *, limit: int,
    before: InboxEntry | None = None,
) -> InboxPage:
    """A page of the caller's inbox and the cursor of the next one (None: the last).

    A listed request whose session or request is gone by the time it is read (closed
    in between) is skipped, and the page filled from further entries.
    """
    names = inboxes_for(principal)
    records: dict[str, SessionRecord | None] = {}
    levels: dict[str, Level] = {}
    extra = await _shared_entries(store, shares, principal, records, levels)
    if before is not None:
        extra = [e for e in extra if _key(e) < _key(before)]
    shown: list[InboxItem] = []
    seen: set[str] = set()
    last: InboxEntry | None = None  # the entry of the last item shown
    cursor = before
    while True:
        want = limit + 1 - len(shown)  # one more than the page: is there a next one?
        listed = await store.open_requests(names, limit=want, before=cursor)
        exhausted = len(listed) < want
        # The shared sessions' requests that fall among these entries join them in order.
        floor = None if exhausted else _key(listed[-1])
        here = [e for e in extra if floor is None or _key(e) > floor]
        extra = extra[len(here):]
        entries = sorted([*listed, *here], key=_key, reverse=True)
        for entry in entries:
            cursor = entry
            if entry.member in seen:
                continue
            seen.add(entry.member)
            item = await _item(store, hub, principal, entry, records, levels)
            if item is None:
                continue
            if len(shown) == limit and last is not None:
                return InboxPage(requests=shown, next=last.cursor)
            shown.append(item)
            last = entry
        if exhausted:
            return InboxPage(requests=shown, next=None)


async def _item(
    store: Store, hub: Hub, principal: Principal, entry: InboxEntry,
    records: dict[str, SessionRecord | None], levels: dict[str, Level],
) -> InboxItem | None:
    if entry.session_id not in records:
        records[entry.session_id] = await store.get_session(entry.session_id)
    record = records[entry.session_id]
    if record is None:
        return None
    pending: PendingRequest | None = record.requests.get(entry.request_id)
    session = record.session
    if pending is None:
        return None
    level = levels.get(session.id)
    if level is None:  # from an index: the caller's own session, or assigned to it
        if principal.is_admin:
            level = Level.ADMIN
        else:
            level = Level.OWNER if session.owner == principal.id else Level.VIEWER
    if not may_answer(principal, level, pending.request.assignees):
        return None
    task = hub.tasks.get(session.task)
    return InboxItem(
        session_id=session.id, task=session.task,
        title=task.title if task is not None else session.task, owner=session.owner,
        summary=summary(session.inputs.items()), request=pending.request,
        opened_at=pending.request.created_at,
    )


def summary(inputs: Iterable[tuple[str, Any]]) -> str | None:
    """``name: value, …`` of a session's plain inputs, at most SUMMARY_CHARS long."""
    parts: Sequence[str] = [
        f"{name}: {value}" for name, value in inputs
        if isinstance(value, str | int | float | bool) and str(value).strip()
    ]
    text = ", ".join(parts).replace("\n", " ")
    if not text:
        return None
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"
