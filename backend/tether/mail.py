"""The email channel: tells the people a question waits for, with links that answer it.

For a ``request.created`` notification (and ``request.reminder``, ``request.escalated``)
the channel finds who the request waits for (:meth:`EmailChannel.recipients`):

- ``user:NAME`` — that account's email;
- ``group:G`` — every account in group ``G`` that has an email;
- no assignees — the session's owner, when the owner is an account with an email.

An escalation (``request.escalated``) mails only the people it added (the notification's
``added``), minus anyone the request already waited for: they had their mail.

Each of them gets a mail of their own (``multipart/alternative``: plain text, the
markdown details written out as prose by ``markdown_text.py``, and HTML whose details
are rendered by markdown-it-py with raw HTML off and then sanitised by nh3), because
each carries answer links for that person alone (``answer_links.py``): approve and
decline for a confirmation (a retry: retry and give up), one link to the form for input.
A link opens the app's page, which still needs a press to answer, so a mail scanner that
follows links answers nothing.

Mail goes out through ``TETHER_SMTP_URL`` with aiosmtplib: ``smtp://`` upgrades with
STARTTLS when the server offers it (and insists on it before sending a password to a
server that is not on this machine), ``smtps://`` speaks TLS from the start. A failure
to reach the server or a refusal it means to be temporary raises :class:`MailNotSent`,
so the dispatcher tries the notification again; an address the server refuses for good
is logged and skipped. Each mail's ``Message-ID`` is made from the notification's id and
the person, so a receiving system can tell a retry from a new mail.
"""

from __future__ import annotations

import html
import logging
import ssl
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
import nh3
from markdown_it import MarkdownIt

from tether.accounts import is_loopback
from tether.answer_links import AnswerLinks
from tether.config import Settings, redacted
from tether.markdown_text import markdown_text
from tether.messages import Request
from tether.metrics import HubMetrics
from tether.notifications import Notification
from tether.principal import USER_PREFIX
from tether.users import UserDirectory, UserRecord

log = logging.getLogger(__name__)

MAIL_TYPES = frozenset({"request.created", "request.reminder", "request.escalated"})
SUBJECT_PREFIX = {"request.reminder": "Reminder: ", "request.escalated": "Escalated: "}
MAX_SUBJECT = 200
DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
# The choices of a yes/no request, as its mail's links and the answer page name them.
CHOICES = {"confirm": ("Approve", "Decline"), "retry": ("Retry", "Give up")}
_MARKDOWN = MarkdownIt("commonmark", {"html": False})


class MailNotSent(Exception):
    """The SMTP server could not be reached or refused for now: try again later."""


@dataclass(frozen=True, slots=True)
class SmtpServer:
    """Where mail goes, from ``TETHER_SMTP_URL``."""

    hostname: str
    port: int
    implicit_tls: bool
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None  # ``?ssl_ca_certs=PATH``: the CA to trust instead of the system's

    @classmethod
    def from_url(cls, url: str) -> SmtpServer:
        """``smtp://[user:pass@]host[:port][?ssl_ca_certs=PATH]`` or ``smtps://...``."""
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ValueError(f"{redacted(url)!r} is not an smtp:// or smtps:// URL")
        query = parse_qs(parts.query)
        return cls(
            hostname=parts.hostname, port=parts.port or DEFAULT_PORTS[parts.scheme],
            implicit_tls=parts.scheme == "smtps",
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            ca_file=query.get("ssl_ca_certs", [None])[-1],
        )

    def client(self, *, timeout: float) -> aiosmtplib.SMTP:
        tls = ssl.create_default_context(cafile=self.ca_file) if self.ca_file else None
        # STARTTLS when offered (None); required before a password leaves this machine.
        start_tls: bool | None = None
        if self.implicit_tls:
            start_tls = False
        elif self.username and not is_loopback(self.hostname):
            start_tls = True
        return aiosmtplib.SMTP(
            hostname=self.hostname, port=self.port, use_tls=self.implicit_tls,
            start_tls=start_tls, username=self.username, password=self.password,
            tls_context=tls, timeout=timeout,
        )


@dataclass(frozen=True, slots=True)
class Recipient:
    """A person a mail goes to: an account with an email."""

    name: str
    email: str
    serial: str

    @property
    def principal_id(self) -> str:
        return USER_PREFIX + self.name


def render_markdown(source: str) -> str:
    """A task's markdown as HTML that is safe in a mail: no raw HTML passes markdown-it,
    and nh3 keeps only harmless tags, attributes and http(s)/mailto links."""
    return nh3.clean(_MARKDOWN.render(source), url_schemes={"http", "https", "mailto"})


def _when(iso: str) -> str:
    """``2026-12-02T14:00:00.000Z`` as people read it: ``2026-12-02 14:00 UTC``."""
    try:
        at = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return iso
    return at.strftime("%Y-%m-%d %H:%M UTC")


def _epoch(iso: str | None) -> float | None:
    if not iso:
        return None
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _person(principal_id: str) -> str:
    """A principal id as a name for people: ``user:alice`` is ``alice``."""
    if principal_id.startswith(USER_PREFIX):
        return principal_id[len(USER_PREFIX):]
    return "the session's owner"


@dataclass(frozen=True, slots=True)
class AnswerChoice:
    label: str
    url: str


class EmailChannel:
    """The :class:`~tether.notifications.Channel` that mails the people a request
    waits for. ``titles``: task name -> title, for subjects (the name when missing)."""

    name = "email"

    def __init__(
        self,
        settings: Settings,
        directory: UserDirectory,
        answer_links: AnswerLinks,
        *,
        titles: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        metrics: HubMetrics | None = None,
    ) -> None:
        if not settings.smtp_url or not settings.mail_from:
            raise ValueError("the email channel needs TETHER_SMTP_URL and TETHER_MAIL_FROM")
        self._server = SmtpServer.from_url(settings.smtp_url)
        self._sender = settings.mail_from
        self._base = settings.base_url
        self._link_seconds = settings.answer_link_hours * 3600
        self._directory = directory
        self._links = answer_links
        self._titles = dict(titles or {})
        self._timeout = timeout
        self._metrics = metrics

    def wants(self, notification: Notification) -> bool:
        """Mail goes out for a question that opens, is reminded of or escalated."""
        return notification.type in MAIL_TYPES and notification.request is not None

    async def recipients(self, notification: Notification) -> list[Recipient]:
        """Who the request waits for, as accounts with an email, each once, by name.

        For an escalation, only the people it added: the others were mailed when the
        request opened (a group added that holds one of them does not mail them again).
        """
        request = notification.request
        if request is None:
            return []
        targets = request.assignees or [notification.owner]
        already: dict[str, UserRecord] = {}
        if notification.type == "request.escalated" and notification.added is not None:
            added = set(notification.added)
            already = await self._accounts([t for t in targets if t not in added])
            targets = notification.added
        users = await self._accounts(targets)
        return [
            Recipient(name=u.name, email=u.email, serial=u.serial)
            for u in sorted(users.values(), key=lambda u: u.name)
            if u.email and u.name not in already
        ]

    async def _accounts(self, targets: Sequence[str]) -> dict[str, UserRecord]:
        """The accounts ``user:``/``group:`` ``targets`` name, by name."""
        users: dict[str, UserRecord] = {}
        everyone: list[UserRecord] | None = None
        for target in targets:
            kind, _, name = target.partition(":")
            if kind == "user":
                user = await self._directory.get(name)
                if user is not None:
                    users[user.name] = user
            elif kind == "group":
                if everyone is None:
                    everyone = await self._directory.list()
                users.update({u.name: u for u in everyone if name in u.groups})
        return users

    def link_expiry(self, request: Request, *, now: float | None = None) -> float:
        """When a link sent now stops working: the request's deadline, or
        ``TETHER_ANSWER_LINK_HOURS`` from now, whichever comes first."""
        limit = (time.time() if now is None else now) + self._link_seconds
        deadline = _epoch(request.expires_at)
        return min(limit, deadline) if deadline is not None else limit

    def choices(self, notification: Notification, recipient: Recipient) -> list[AnswerChoice]:
        """The answer links of ``recipient``'s mail: approve and decline (one token for
        both: whichever is pressed first spends it), or one link to the form."""
        request = notification.request
        assert request is not None
        token = self._links.issue(
            notification.session_id, request.request_id, recipient.principal_id,
            self.link_expiry(request), serial=recipient.serial,
        )
        url = f"{self._base}/answer/{token}"
        labels = CHOICES.get(request.kind)
        if labels is None:
            return [AnswerChoice("Answer", url)]
        return [
            AnswerChoice(labels[0], f"{url}?choice=approve"),
            AnswerChoice(labels[1], f"{url}?choice=decline"),
        ]

    def compose(self, notification: Notification, recipient: Recipient) -> EmailMessage:
        """The mail to ``recipient``: both parts, and links for them alone."""
        request = notification.request
        assert request is not None
        title = self._titles.get(notification.task, notification.task)
        owner = _person(notification.owner)
        choices = self.choices(notification, recipient)
        session_url = f"{self._base}/sessions/{notification.session_id}"
        message = EmailMessage()
        subject = SUBJECT_PREFIX.get(notification.type, "") + f"{title}: {request.prompt}"
        message["Subject"] = _one_line(subject, MAX_SUBJECT)
        message["From"] = self._sender
        message["To"] = recipient.email
        message["Date"] = formatdate(usegmt=True)
        domain = parseaddr(self._sender)[1].rpartition("@")[2] or "tether"
        message["Message-ID"] = f"<{notification.id}.{recipient.name}@{domain}>"
        message.set_content(_text_part(request, title, owner, recipient, choices, session_url))
        message.add_alternative(
            _html_part(request, title, owner, recipient, choices, session_url), subtype="html"
        )
        return message

    async def deliver(self, notification: Notification) -> None:
        """Mail everyone ``notification``'s request waits for.

        Raises:
            MailNotSent: the server could not be reached, or refused for now.
        """
        if not self.wants(notification):
            return
        messages = [self.compose(notification, r) for r in await self.recipients(notification)]
        if not messages:
            log.info("Notification %s: nobody with an email to tell", notification.id)
            return
        try:
            async with self._server.client(timeout=self._timeout) as smtp:
                for message in messages:
                    sent = await self._send(smtp, message)
                    if self._metrics is not None:
                        self._metrics.mailed(sent)
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise MailNotSent(
                f"Mail for {notification.id} not sent through {self._server.hostname}:"
                f"{self._server.port}: {exc}"
            ) from exc

    @staticmethod
    async def _send(smtp: aiosmtplib.SMTP, message: EmailMessage) -> bool:
        """Send one mail: True when it went, False when the server refused it for good."""
        try:
            await smtp.send_message(message)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            if any(refusal.code < 500 for refusal in exc.recipients):
                raise  # "try later": the dispatcher will
            log.warning("The mail server refused %s for good: %s", message["To"], exc)
            return False
        return True


def _text_part(
    request: Request, title: str, owner: str, recipient: Recipient,
    choices: Sequence[AnswerChoice], session_url: str,
) -> str:
    lines = [f"{owner} is waiting for your answer in “{title}”.", "", request.prompt, ""]
    if request.error:
        lines += [f"Attempt {request.attempt or 1} failed: {request.error}", ""]
    if request.details:
        lines += [markdown_text(request.details), ""]
    if request.expires_at:
        lines += [f"Answer by {_when(request.expires_at)}.", ""]
    lines += [f"{choice.label}: {choice.url}" for choice in choices]
    lines += [
        "",
        f"These links answer as you ({recipient.name}), once. The page they open asks you",
        "to confirm before anything is sent.",
        f"The session: {session_url}",
    ]
    return "\n".join(lines) + "\n"


def _html_part(
    request: Request, title: str, owner: str, recipient: Recipient,
    choices: Sequence[AnswerChoice], session_url: str,
) -> str:
    e = html.escape
    parts = [
        '<!doctype html><html><body style="font-family:sans-serif;line-height:1.5">',
        f"<p>{e(owner)} is waiting for your answer in <strong>{e(title)}</strong>.</p>",
        f"<h2>{e(request.prompt)}</h2>",
    ]
    if request.error:
        parts.append(f"<p>Attempt {request.attempt or 1} failed: {e(request.error)}</p>")
    if request.details:
        parts.append(f'<div class="details">{render_markdown(request.details)}</div>')
    if request.expires_at:
        parts.append(f"<p>Answer by <strong>{e(_when(request.expires_at))}</strong>.</p>")
    buttons = " ".join(
        f'<a href="{e(choice.url)}" style="display:inline-block;padding:8px 16px;'
        f'margin-right:8px;border:1px solid #345;border-radius:4px;text-decoration:none">'
        f"{e(choice.label)}</a>"
        for choice in choices
    )
    parts += [
        f"<p>{buttons}</p>",
        f"<p style=\"color:#667\">These links answer as you ({e(recipient.name)}), once. "
        "The page they open asks you to confirm before anything is sent. "
        f'<a href="{e(session_url)}">The session</a>.</p>',
        "</body></html>",
    ]
    return "\n".join(parts)
