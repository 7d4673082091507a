"""``GET /api/answer/{token}`` and ``POST /api/answer/{token}``: answering by link.

The app's page ``/answer/{token}`` (the link a mail carries) reads the first and sends the
second. By default neither needs a login: the token is the credential
(``answer_links.py``), and the request's identity, if it has one, plays no part. With
``TETHER_ANSWER_LINK_LOGIN=required`` the ``POST`` answers only for a caller signed in as
the link's person (401 ``not_signed_in`` for nobody, 403 ``forbidden`` for someone else),
and the ``GET`` tells the page so (``login_required``, ``signed_in_as``), which then asks
the person to sign in and come back. Reading never answers, so a mail
scanner that follows every link changes nothing; the answer is a JSON ``POST``, which no
link, form or image of another site can make (``csrf.py``).

The answer goes through :meth:`SessionManager.answer` as the token's person, built from
the user directory, so the request's assignees and the session's shares decide as for
any other answer; it is recorded in the audit log as ``answer`` ``via="link"``, with
refusals (``link_used``, ``link_expired``, ``already_answered``...) too.
"""

from __future__ import annotations

import contextlib

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tether.access import may_answer
from tether.answer_links import AnswerGrant, AnswerLinks, iso_of
from tether.api import json_response, manager_of, read_body
from tether.audit import Audit, AuditEntry, Where
from tether.auth import Authenticator
from tether.errors import (
    AlreadyAnswered,
    Forbidden,
    NotSignedIn,
    SessionFinished,
    StoreUnavailable,
    TetherError,
    UnknownLink,
    UnknownRequest,
)
from tether.messages import TERMINAL_STATUSES, Answer, Answered, AnswerLinkInfo
from tether.principal import USER_PREFIX, Principal
from tether.sessions import SessionManager

PATH = "/api/answer/{token}"


def _links(request: Request) -> AnswerLinks:
    links: AnswerLinks = request.state.answer_links
    return links



def _audit(request: Request) -> Audit:
    audit: Audit = request.state.audit
    return audit


async def _person(request: Request, grant: AnswerGrant) -> Principal:
    """The account the link answers as, as the directory has it now.

    Raises:
        UnknownLink: the account is gone (or was made again: another serial).
    """
    auth: Authenticator = request.state.auth
    name = grant.user_name
    user = await auth.directory.get(name) if name is not None else None
    if user is None or (grant.serial is not None and user.serial != grant.serial):
        raise UnknownLink("The account this answer link was made for no longer exists.")
    return user.principal()


def _caller(request: Request) -> Principal | None:
    """Who is signed in on this request: an account (a user principal), else None."""
    principal: Principal | None = request.state.principal
    if principal is None or not principal.id.startswith(USER_PREFIX):
        return None
    return principal


def _check_signed_in(request: Request, grant: AnswerGrant) -> None:
    """Under ``TETHER_ANSWER_LINK_LOGIN=required``: the caller is the link's person.

    Raises:
        NotSignedIn: nobody is signed in.
        Forbidden: someone else is.
    """
    if not _links(request).login_required:
        return
    person = grant.user_name or grant.principal_id
    caller = _caller(request)
    if caller is None:
        raise NotSignedIn(person)
    if caller.id != grant.principal_id:
        raise Forbidden(
            f"This answer link is for {person}, and you are signed in as "
            f"{caller.id.removeprefix(USER_PREFIX)}: sign out, and sign in as {person}."
        )


async def _still_open(
    manager: SessionManager, grant: AnswerGrant, who: Principal
) -> AnswerLinkInfo:
    """What the link answers, while ``who`` may still answer it.

    Raises:
        UnknownSession, SessionFinished, AlreadyAnswered, UnknownRequest, Forbidden.
    """
    access = await manager.get(grant.session_id, who=who)
    session = access.record.session
    pending = access.record.requests.get(grant.request_id)
    if pending is None:
        recorded = (await manager.store.answers(grant.session_id)).get(grant.request_id)
        if recorded is not None and not recorded.expired:
            raise AlreadyAnswered(grant.request_id)
        if session.status in TERMINAL_STATUSES:
            raise SessionFinished(grant.session_id)
        raise UnknownRequest(grant.request_id, "This question expired unanswered.")
    if session.status in TERMINAL_STATUSES:
        raise SessionFinished(grant.session_id)
    asked = pending.request
    if not may_answer(who, access.level, asked.assignees):
        raise Forbidden(f"This question waits for {', '.join(asked.assignees) or 'others'}.")
    task = manager.hub.tasks.get(session.task)
    return AnswerLinkInfo(
        session_id=session.id, task=session.task,
        title=task.title if task is not None else session.task, owner=session.owner,
        person=who.id, request=asked, link_expires_at=iso_of(grant.expires_at),
    )


async def show(request: Request) -> Response:
    """The request a link answers; reading it answers nothing and spends nothing."""
    links = _links(request)
    grant = links.read(request.path_params["token"])
    await links.check(grant)
    who = await _person(request, grant)
    info = await _still_open(manager_of(request), grant, who)
    if links.login_required:
        caller = _caller(request)
        info = info.model_copy(update={
            "login_required": True, "signed_in_as": caller.id if caller else None,
        })
    return json_response(info)


async def answer(request: Request) -> Response:
    """Answer as the link's person: the link is spent first, and given back when the
    answer is refused (a wrong value, someone else was first), so it can be tried again."""
    links = _links(request)
    grant = links.read(request.path_params["token"])
    body = await read_body(request, Answer)
    manager = manager_of(request)

    async def step(entry: AuditEntry) -> str:
        await links.check(grant)
        who = await _person(request, grant)
        _check_signed_in(request, grant)
        # The same refusal as the page shows (answered by someone, expired...), before
        # the link is spent; the manager's atomic answer below still has the last word.
        await _still_open(manager, grant, who)
        await links.claim(grant)
        try:
            return await manager.answer(
                grant.session_id, who=who, value=body.value, request_id=grant.request_id,
                audit=entry,
            )
        except TetherError:
            with contextlib.suppress(StoreUnavailable):  # then it stays spent: rare, safe
                await links.release(grant)
            raise

    entry = Audit.entry(
        "answer", user=grant.principal_id, where=Where.of(request.scope),
        session=grant.session_id, request=grant.request_id, via="link",
    )
    request_id = await _audit(request).attempt(entry, step)
    return json_response(Answered(request_id=request_id))


def routes() -> list[Route]:
    return [
        Route(PATH, show, methods=["GET"]),
        Route(PATH, answer, methods=["POST"]),
    ]
