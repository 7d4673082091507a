"""Mail for open questions, end to end: a real hub in accounts mode (memory store with a
users file, and Redis) runs a task that asks; the email channel is handed a Notification
built from that real request and mails it through a real SMTP server (aiosmtpd); the
links in the mail are followed over HTTP, and they answer on the hub, as their person,
once."""

from __future__ import annotations

import re
import secrets
import ssl
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from tests.integration.test_redis_tls import make_certs
from tests.support.accounts import accounts_settings, add_accounts, logged_in
from tests.support.server import RunningHub, User, run_hub
from tests.support.smtp_server import Received, SmtpServer, smtp_server
from tests.support.tabs import all_events, answer, wait_pending, wait_status
from tether import Context, Hub
from tether.accounts import open_directory
from tether.answer_links import AnswerLinks, MemorySpentLinks
from tether.config import Settings
from tether.mail import EmailChannel, MailNotSent
from tether.messages import Request
from tether.notifications import Notification
from tether.users import UserDirectory, UserRecord

SECRET = "mail-test-secret"
DETAILS = "Pay **120 EUR** to [ACME](https://acme.example/invoice).\n\n<script>alert(1)</script>"

hub_def = Hub()


class To(BaseModel):
    assignees: list[str] = []


@hub_def.task(title="Pay an invoice")
async def pay(ctx: Context, inputs: To) -> dict[str, Any]:
    fields = [{"name": "note", "description": "A note", "type": "string", "required": True}]
    return await ctx.ask(
        fields, prompt="Why pay it?", details=DETAILS, assignees=inputs.assignees or None,
        timeout=3600,
    )


@hub_def.task(title="Ship the order")
async def ship(ctx: Context, inputs: To) -> bool:
    return await ctx.confirm(
        "Ship it now?", details="Order **#42**", assignees=inputs.assignees or None
    )


@pytest.fixture
def settings(store_url: str | None, tmp_path: Path) -> Settings:
    return accounts_settings(store_url, tmp_path, secret=SECRET, hub_id="hub-mail")


ACCOUNTS = (
    UserRecord(name="alice", email="alice@example.com"),
    UserRecord(name="bob", email="bob@example.com"),
    UserRecord(name="carol", groups=frozenset({"finance"}), email="carol@example.com"),
    UserRecord(name="erin", groups=frozenset({"finance"})),  # in the group, but no email
    UserRecord(name="dave", groups=frozenset({"sales"}), email="dave@example.com"),
    UserRecord(name="root", admin=True),
)


@pytest.fixture
async def hub(settings: Settings) -> AsyncIterator[RunningHub]:
    await add_accounts(settings, ACCOUNTS)
    async with run_hub(settings, hub_def) as running:
        yield running


@pytest.fixture
async def alice(hub: RunningHub) -> AsyncIterator[User]:
    async with logged_in(hub, "alice") as user:
        yield user


@pytest.fixture
async def stranger(hub: RunningHub) -> AsyncIterator[httpx.AsyncClient]:
    """A browser with no login at all: what opens a link from a mail."""
    async with httpx.AsyncClient(base_url=hub.base_url, timeout=10) as http:
        yield http


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpServer]:
    async with smtp_server() as server:
        yield server


@pytest.fixture
async def channel(
    hub: RunningHub, smtp: SmtpServer
) -> AsyncIterator[tuple[EmailChannel, AnswerLinks]]:
    """The email channel as a hub builds it: the same secret (so its links verify on the
    hub), the same directory, links based at the hub's URL."""
    settings = hub.settings.with_(
        smtp_url=f"smtp://127.0.0.1:{smtp.port}", mail_from="Tether <tether@hub.example>",
        public_url=hub.base_url,
    )
    directory = open_directory(settings)
    links = AnswerLinks(SECRET, MemorySpentLinks())  # issuing touches no store
    yield EmailChannel(settings, directory, links, titles={"pay": "Pay an invoice",
                                                            "ship": "Ship the order"}), links
    await directory.close()


async def notification_for(user: User, task: str, assignees: list[str]) -> Notification:
    """Start ``task`` on the hub and build the request.created Notification of its
    question from the session as the hub reports it."""
    session = await user.start(task, {"assignees": assignees})
    kind = "confirm" if task == "ship" else "input"
    [pending] = await wait_pending(user, session["id"], kind)
    request = Request.model_validate(pending)
    return Notification(
        id=f"ntf_{secrets.token_hex(8)}", type="request.created", at=request.created_at,
        session_id=session["id"], task=task, owner=session["owner"], seq=1, request=request,
    )


def links_in(mail: Received) -> list[str]:
    return re.findall(r"https?://\S+/answer/\S+", mail.part("text/plain"))


def token_of(url: str) -> str:
    return url.split("/answer/", 1)[1].split("?", 1)[0]


def by_recipient(mails: list[Received]) -> dict[str, Received]:
    return {m.recipients[0]: m for m in mails}


async def audit_entries(hub: RunningHub, session_id: str) -> list[dict[str, Any]]:
    async with logged_in(hub, "root") as root:
        response = await root.http.get("/api/audit", params={"session": session_id})
        assert response.status_code == 200, response.text
        entries: list[dict[str, Any]] = response.json()["entries"]
        return entries


async def test_mail_reaches_the_user_and_the_group_with_both_parts_and_per_person_links(
    alice: User, stranger: httpx.AsyncClient, smtp: SmtpServer,
    channel: tuple[EmailChannel, AnswerLinks], hub: RunningHub,
) -> None:
    email, _ = channel
    note = await notification_for(alice, "pay", ["user:bob", "group:finance"])
    assert email.wants(note)
    await email.deliver(note)
    mails = by_recipient(await smtp.wait_for(2))
    assert set(mails) == {"bob@example.com", "carol@example.com"}  # erin has no email
    carol = mails["carol@example.com"]
    assert carol.sender == "tether@hub.example"
    assert carol.message["From"] == "Tether <tether@hub.example>"
    assert carol.message["To"] == "carol@example.com"
    # One id per notification and person: a retried delivery can be told from a new mail.
    assert carol.message["Message-ID"] == f"<{note.id}.carol@hub.example>"
    assert carol.message["Subject"] == "Pay an invoice: Why pay it?"
    assert carol.message.get_content_type() == "multipart/alternative"
    text, page = carol.part("text/plain"), carol.part("text/html")
    assert "alice is waiting for your answer in “Pay an invoice”" in text
    assert "Why pay it?" in text
    # The details as prose: no markup characters, the link's address after its text.
    assert "Pay 120 EUR to ACME (https://acme.example/invoice)." in text
    assert "**" not in text and "](" not in text and "Answer by " in text
    assert "<script>alert(1)</script>" in text  # raw HTML in the markdown is text here too
    assert "<strong>120 EUR</strong>" in page
    assert '<a href="https://acme.example/invoice"' in page
    # Raw HTML in the markdown is text, not markup.
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # One link each, for that person alone.
    [carol_link], [bob_link] = links_in(carol), links_in(mails["bob@example.com"])
    assert carol_link.startswith(f"{hub.base_url}/answer/") and carol_link != bob_link

    # The page needs no login; what it shows is carol's to answer.
    token = token_of(carol_link)
    assert (await stranger.get(f"/answer/{token}")).status_code == 200
    shown = await stranger.get(f"/api/answer/{token}")
    assert shown.status_code == 200, shown.text
    info = shown.json()
    assert info["person"] == "user:carol" and info["owner"] == "user:alice"
    assert info["title"] == "Pay an invoice" and info["request"]["prompt"] == "Why pay it?"
    assert info["login_required"] is False  # TETHER_ANSWER_LINK_LOGIN=never, the default

    sent = await stranger.post(f"/api/answer/{token}", json={"value": {"note": "approved"}})
    assert sent.status_code == 200, sent.text
    session = await wait_status(alice, note.session_id)
    assert session["result"] == {"note": "approved"}
    [answered] = [e for e in await all_events(alice, note.session_id)
                  if e["type"] == "request_answered"]
    assert answered["by"] == "user:carol"
    [entry] = [e for e in await audit_entries(hub, note.session_id) if e["action"] == "answer"]
    assert (entry["user"], entry["via"], entry["outcome"]) == ("user:carol", "link", "ok")


async def test_a_link_answers_once_and_not_after_someone_else_answered(
    alice: User, stranger: httpx.AsyncClient, smtp: SmtpServer,
    channel: tuple[EmailChannel, AnswerLinks], hub: RunningHub,
) -> None:
    email, _ = channel
    note = await notification_for(alice, "pay", ["group:finance", "user:bob"])
    await email.deliver(note)
    mails = by_recipient(await smtp.wait_for(2))
    carol = token_of(links_in(mails["carol@example.com"])[0])
    bob = token_of(links_in(mails["bob@example.com"])[0])

    # A wrong value is refused and does not spend the link.
    wrong = await stranger.post(f"/api/answer/{carol}", json={"value": {"note": 5}})
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "invalid_value"
    first = await stranger.post(f"/api/answer/{carol}", json={"value": {"note": "ok"}})
    assert first.status_code == 200, first.text
    for again in (
        await stranger.post(f"/api/answer/{carol}", json={"value": {"note": "again"}}),
        await stranger.get(f"/api/answer/{carol}"),
    ):
        assert again.status_code == 409 and again.json()["error"]["code"] == "link_used"
    # Bob's link is unused, but the question was answered (by carol).
    for late in (
        await stranger.get(f"/api/answer/{bob}"),
        await stranger.post(f"/api/answer/{bob}", json={"value": {"note": "late"}}),
    ):
        assert late.status_code == 409 and late.json()["error"]["code"] == "already_answered"
    outcomes = sorted(e["outcome"] for e in await audit_entries(hub, note.session_id)
                      if e["action"] == "answer" and e["via"] == "link")
    assert outcomes == ["already_answered", "invalid_value", "link_used", "ok"]


async def test_confirm_mail_has_approve_and_decline_and_a_scanner_answers_nothing(
    alice: User, stranger: httpx.AsyncClient, smtp: SmtpServer,
    channel: tuple[EmailChannel, AnswerLinks], hub: RunningHub,
) -> None:
    email, _ = channel
    note = await notification_for(alice, "ship", ["user:bob"])
    await email.deliver(note)
    [mail] = await smtp.wait_for(1)
    assert mail.recipients == ["bob@example.com"]
    approve, decline = links_in(mail)
    assert approve.endswith("?choice=approve") and decline.endswith("?choice=decline")
    assert token_of(approve) == token_of(decline)  # one answer, either way
    assert "Approve</a>" in mail.part("text/html") and "<strong>#42</strong>" in mail.part(
        "text/html")
    # A mail scanner follows every link, page and API alike, more than once.
    path = approve.removeprefix(hub.base_url)
    for url in (path, path.replace("choice=approve", "choice=decline")):
        assert (await stranger.get(url)).status_code == 200
    for _ in range(2):
        assert (await stranger.get(f"/api/answer/{token_of(approve)}")).status_code == 200
    [still] = await wait_pending(alice, note.session_id, "confirm")
    assert still["request_id"] == note.request.request_id  # type: ignore[union-attr]

    sent = await stranger.post(f"/api/answer/{token_of(decline)}", json={"value": False})
    assert sent.status_code == 200, sent.text
    session = await wait_status(alice, note.session_id)
    assert session["result"] is False


async def test_unassigned_question_mails_the_owner(
    alice: User, stranger: httpx.AsyncClient, smtp: SmtpServer,
    channel: tuple[EmailChannel, AnswerLinks],
) -> None:
    email, _ = channel
    note = await notification_for(alice, "ship", [])
    await email.deliver(note)
    [mail] = await smtp.wait_for(1)
    assert mail.recipients == ["alice@example.com"]
    token = token_of(links_in(mail)[0])
    assert (await stranger.post(f"/api/answer/{token}", json={"value": True})).status_code == 200
    assert (await wait_status(alice, note.session_id))["result"] is True


async def test_expired_tampered_and_foreign_links_are_refused(
    alice: User, stranger: httpx.AsyncClient, channel: tuple[EmailChannel, AnswerLinks],
) -> None:
    _, links = channel
    note = await notification_for(alice, "ship", ["user:bob"])
    rid = note.request.request_id  # type: ignore[union-attr]
    expired = links.issue(note.session_id, rid, "user:bob", time.time() - 1)
    for response in (await stranger.get(f"/api/answer/{expired}"),
                     await stranger.post(f"/api/answer/{expired}", json={"value": True})):
        assert response.status_code == 410 and response.json()["error"]["code"] == "link_expired"
    good = links.issue(note.session_id, rid, "user:bob", time.time() + 600)
    tampered = good[:-3] + ("aaa" if not good.endswith("aaa") else "bbb")
    other_secret = AnswerLinks("another secret", MemorySpentLinks()).issue(
        note.session_id, rid, "user:bob", time.time() + 600)
    for bad in (tampered, other_secret, "nonsense"):
        for response in (await stranger.get(f"/api/answer/{bad}"),
                         await stranger.post(f"/api/answer/{bad}", json={"value": True})):
            assert response.status_code == 404, response.text
            assert response.json()["error"]["code"] == "unknown_link"
    # Dave was never asked: his link cannot answer bob's question (the access rules hold).
    daves = links.issue(note.session_id, rid, "user:dave", time.time() + 600)
    refused = await stranger.post(f"/api/answer/{daves}", json={"value": True})
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "unknown_session"
    # A link for an account made again under the same name (another serial) is dead.
    stale = links.issue(note.session_id, rid, "user:bob", time.time() + 600, serial="0" * 16)
    assert (await stranger.get(f"/api/answer/{stale}")).json()["error"]["code"] == "unknown_link"
    # None of that answered: bob's own, fresh link still does.
    assert (await stranger.post(f"/api/answer/{good}", json={"value": True})).status_code == 200


async def test_a_cookie_write_rule_still_applies_no_form_posts(
    alice: User, stranger: httpx.AsyncClient, channel: tuple[EmailChannel, AnswerLinks],
) -> None:
    """The POST is JSON only, as every write: a cross-site form cannot answer."""
    _, links = channel
    note = await notification_for(alice, "ship", ["user:bob"])
    token = links.issue(note.session_id, note.request.request_id,  # type: ignore[union-attr]
                        "user:bob", time.time() + 600)
    form = await stranger.post(f"/api/answer/{token}", content=b"value=true",
                               headers={"content-type": "application/x-www-form-urlencoded"})
    assert form.status_code == 415
    cross = await stranger.post(f"/api/answer/{token}", json={"value": True},
                                headers={"origin": "https://evil.example"})
    assert cross.status_code == 403 and cross.json()["error"]["code"] == "cross_site_request"
    assert (await answer(alice, note.session_id, note.request.request_id,  # type: ignore[union-attr]
                         True)).status_code == 403  # alice is not the assignee either


async def test_a_hub_that_requires_login_answers_a_link_only_for_its_person_signed_in(
    settings: Settings,
) -> None:
    """TETHER_ANSWER_LINK_LOGIN=required: the link's page still opens (and says so), but
    the answer needs bob signed in; nobody gets 401, carol 403, and neither spends it."""
    strict = settings.with_(answer_link_login="required")
    await add_accounts(strict, ACCOUNTS)
    async with run_hub(strict, hub_def) as hub, logged_in(hub, "alice") as alice, \
            logged_in(hub, "carol") as carol, logged_in(hub, "bob") as bob, \
            httpx.AsyncClient(base_url=hub.base_url, timeout=10) as stranger:
        note = await notification_for(alice, "ship", ["user:bob"])
        rid = note.request.request_id  # type: ignore[union-attr]
        token = AnswerLinks(SECRET, MemorySpentLinks()).issue(
            note.session_id, rid, "user:bob", time.time() + 600)
        shown = await stranger.get(f"/api/answer/{token}")
        assert shown.status_code == 200, shown.text
        assert (shown.json()["login_required"], shown.json()["signed_in_as"]) == (True, None)
        mine = (await bob.http.get(f"/api/answer/{token}")).json()
        assert (mine["login_required"], mine["signed_in_as"]) == (True, "user:bob")

        nobody = await stranger.post(f"/api/answer/{token}", json={"value": True})
        assert nobody.status_code == 401, nobody.text
        assert nobody.json()["error"]["code"] == "not_signed_in"
        assert "sign in as bob" in nobody.json()["error"]["message"]
        other = await carol.http.post(f"/api/answer/{token}", json={"value": True})
        assert other.status_code == 403 and other.json()["error"]["code"] == "forbidden"
        assert "signed in as carol" in other.json()["error"]["message"]
        [still] = await wait_pending(alice, note.session_id, "confirm")
        assert still["request_id"] == rid

        sent = await bob.http.post(f"/api/answer/{token}", json={"value": True})
        assert sent.status_code == 200, sent.text
        assert (await wait_status(alice, note.session_id))["result"] is True
        [answered] = [e for e in await all_events(alice, note.session_id)
                      if e["type"] == "request_answered"]
        assert answered["by"] == "user:bob"
        outcomes = sorted(e["outcome"] for e in await audit_entries(hub, note.session_id)
                          if e["action"] == "answer" and e["via"] == "link")
        assert outcomes == ["forbidden", "not_signed_in", "ok"]


# --- transports: STARTTLS with AUTH, implicit TLS, failures ---------------------------


@pytest.fixture
def certs(tmp_path: Path) -> tuple[Path, Path, Path]:
    return make_certs(tmp_path)


def server_tls(certs: tuple[Path, Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certs[1], certs[2])
    return context


def channel_for(hub: RunningHub, url: str, directory: UserDirectory) -> EmailChannel:
    settings = hub.settings.with_(smtp_url=url, mail_from="tether@hub.example",
                                  public_url=hub.base_url)
    return EmailChannel(settings, directory, AnswerLinks(SECRET, MemorySpentLinks()))


@pytest.mark.parametrize("store_url", ["memory"], indirect=True)
async def test_starttls_with_auth_and_implicit_tls(
    alice: User, hub: RunningHub, certs: tuple[Path, Path, Path],
) -> None:
    directory = open_directory(hub.settings)
    try:
        note = await notification_for(alice, "ship", ["user:bob"])
        ca = certs[0]
        async with smtp_server(starttls=server_tls(certs), require_tls=True,
                               credentials=("mailer", "s3cr:et")) as server:
            url = f"smtp://mailer:s3cr%3Aet@127.0.0.1:{server.port}?ssl_ca_certs={ca}"
            await channel_for(hub, url, directory).deliver(note)
            [mail] = await server.wait_for(1)
            assert mail.tls and mail.login == "mailer" and mail.recipients == ["bob@example.com"]
            wrong = f"smtp://mailer:nope@127.0.0.1:{server.port}?ssl_ca_certs={ca}"
            with pytest.raises(MailNotSent):
                await channel_for(hub, wrong, directory).deliver(note)
            untrusted = f"smtp://mailer:s3cr%3Aet@127.0.0.1:{server.port}"  # no CA: refused
            with pytest.raises(MailNotSent):
                await channel_for(hub, untrusted, directory).deliver(note)
            assert len(server.mails) == 1
        async with smtp_server(implicit_tls=server_tls(certs)) as server:
            url = f"smtps://127.0.0.1:{server.port}?ssl_ca_certs={ca}"
            await channel_for(hub, url, directory).deliver(note)
            [mail] = await server.wait_for(1)
            assert mail.tls and links_in(mail)
        # Nobody listens there any more: the dispatcher is told to try again.
        with pytest.raises(MailNotSent):
            await channel_for(hub, f"smtp://127.0.0.1:{server.port}", directory).deliver(note)
    finally:
        await directory.close()


@pytest.mark.parametrize("store_url", ["memory"], indirect=True)
async def test_a_refused_address_is_skipped_and_others_still_get_theirs(
    alice: User, smtp: SmtpServer, channel: tuple[EmailChannel, AnswerLinks],
) -> None:
    email, _ = channel
    smtp.refuse("bob@example.com")
    note = await notification_for(alice, "pay", ["user:bob", "user:carol"])
    await email.deliver(note)  # a permanent refusal is not worth retrying
    [mail] = await smtp.wait_for(1)
    assert mail.recipients == ["carol@example.com"]
    answered = note.model_copy(update={"type": "request.answered"})
    assert not email.wants(answered)
    reminder = note.model_copy(update={"type": "request.reminder"})
    assert email.wants(reminder)
    await email.deliver(reminder)
    [_, again] = await smtp.wait_for(2)
    assert again.message["Subject"].startswith("Reminder: Pay an invoice")


async def test_an_escalation_mails_only_whom_it_added_and_not_who_had_a_mail(
    alice: User, smtp: SmtpServer, channel: tuple[EmailChannel, AnswerLinks],
) -> None:
    """Carol was asked; the escalation adds her group (carol, and erin without an email)
    and dave: only dave is mailed."""
    email, _ = channel
    note = await notification_for(alice, "ship", ["user:carol"])
    assert note.request is not None
    grown = note.request.model_copy(
        update={"assignees": ["user:carol", "group:finance", "user:dave"]})
    escalation = note.model_copy(update={
        "id": f"ntf_{secrets.token_hex(8)}", "type": "request.escalated", "request": grown,
        "added": ["group:finance", "user:dave"],
    })
    assert [r.name for r in await email.recipients(escalation)] == ["dave"]
    await email.deliver(escalation)
    [mail] = await smtp.wait_for(1)
    assert mail.recipients == ["dave@example.com"]
    assert mail.message["Subject"] == "Escalated: Ship the order: Ship it now?"
    nobody_new = escalation.model_copy(update={"added": []})
    assert await email.recipients(nobody_new) == []
    # A notification from before ``added`` existed: everyone it waits for, as then.
    unknown = escalation.model_copy(update={"added": None})
    assert [r.name for r in await email.recipients(unknown)] == ["carol", "dave"]


async def test_the_hub_mails_a_question_when_it_opens_and_its_link_answers_it(
    settings: Settings, smtp: SmtpServer,
) -> None:
    """Not the channel alone: a hub with TETHER_SMTP_URL mails through its own outbox and
    dispatcher when the task asks, and the mailed link answers as bob."""
    mailing = settings.with_(
        smtp_url=f"smtp://127.0.0.1:{smtp.port}", mail_from="Tether <tether@hub.example>",
    )
    await add_accounts(mailing, ACCOUNTS)
    async with run_hub(mailing, hub_def) as hub, logged_in(hub, "alice") as alice, \
            httpx.AsyncClient(timeout=10) as stranger:
        started = await alice.http.post(
            "/api/sessions", json={"task": "ship", "inputs": {"assignees": ["user:bob"]}}
        )
        assert started.status_code == 201, started.text
        session_id = started.json()["id"]
        [mail] = await smtp.wait_for(1)
        assert mail.recipients == ["bob@example.com"]
        assert "Ship it now?" in mail.part("text/plain")
        links = links_in(mail)  # based at TETHER_PUBLIC_URL, else the configured host:port
        assert links, mail.part("text/plain")
        token = token_of(links[0])
        shown = await stranger.get(f"{hub.base_url}/api/answer/{token}")
        assert shown.status_code == 200, shown.text
        answered = await stranger.post(f"{hub.base_url}/api/answer/{token}",
                                       json={"value": True})
        assert answered.status_code == 200, answered.text
        session = (await alice.http.get(f"/api/sessions/{session_id}")).json()
        events = (await alice.http.get(f"/api/sessions/{session_id}/events")).json()["events"]
        assert [e["by"] for e in events if e["type"] == "request_answered"] == ["user:bob"]
        assert session["pending"] == []
