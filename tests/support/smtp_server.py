"""A real SMTP server for tests: aiosmtpd in the test's event loop, on a free port.

Plain, STARTTLS (offered, or required) or implicit TLS, with or without AUTH; every mail
it accepts lands in :attr:`SmtpServer.mails`, parsed with the stdlib as a receiver would.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.support.timing import eventually


@dataclass(frozen=True)
class Received:
    """One accepted mail: the envelope and the parsed message."""

    sender: str
    recipients: list[str]
    message: EmailMessage
    tls: bool  # the session that sent it was encrypted
    login: str | None

    def part(self, content_type: str) -> str:
        found = self.message.get_body(preferencelist=(content_type.split("/")[1],))
        assert found is not None and found.get_content_type() == content_type, content_type
        text: str = found.get_content()  # type: ignore[attr-defined]
        return text


@dataclass
class _Handler:
    mails: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)  # addresses answered 550

    async def handle_RCPT(  # aiosmtpd names its hooks so
        self, server: SMTP, session: Session, envelope: Envelope, address: str,
        rcpt_options: list[str],
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        content = envelope.original_content or envelope.content
        assert isinstance(content, bytes)
        parsed = message_from_bytes(content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        auth = session.auth_data
        login = auth.login.decode() if isinstance(auth, LoginPassword) else None
        self.mails.append(Received(
            sender=str(envelope.mail_from), recipients=list(envelope.rcpt_tos), message=parsed,
            # session.ssl: after STARTTLS; the transport's ssl_object: implicit TLS.
            tls=session.ssl is not None
            or server.transport.get_extra_info("ssl_object") is not None,
            login=login,
        ))
        return "250 Message accepted"


@dataclass
class SmtpServer:
    port: int
    handler: _Handler

    @property
    def mails(self) -> list[Received]:
        return self.handler.mails

    def refuse(self, address: str) -> None:
        self.handler.refuse.add(address)

    async def wait_for(self, count: int) -> list[Received]:
        await eventually(lambda: len(self.mails) >= count, what=f"{count} mails")
        return self.mails


@contextlib.asynccontextmanager
async def smtp_server(
    *,
    starttls: ssl.SSLContext | None = None,
    implicit_tls: ssl.SSLContext | None = None,
    require_tls: bool = False,
    credentials: tuple[str, str] | None = None,
) -> AsyncIterator[SmtpServer]:
    """Serve SMTP on 127.0.0.1 on a free port until the block exits.

    ``starttls``: offer STARTTLS with this context (``require_tls``: refuse mail without
    it). ``implicit_tls``: TLS from the first byte (SMTPS). ``credentials``: AUTH needed,
    with this user and password (offered only over TLS).
    """
    handler = _Handler()

    def authenticate(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            credentials is not None and isinstance(data, LoginPassword)
            and (data.login.decode(), data.password.decode()) == credentials
        )
        return AuthResult(success=ok, handled=False, auth_data=data if ok else None)

    def protocol() -> SMTP:
        return SMTP(
            handler, hostname="tether-test-mx", tls_context=starttls,
            require_starttls=require_tls, auth_required=credentials is not None,
            auth_require_tls=True, authenticator=authenticate if credentials else None,
        )

    loop = asyncio.get_running_loop()
    server = await loop.create_server(protocol, "127.0.0.1", 0, ssl=implicit_tls)
    port = server.sockets[0].getsockname()[1]
    try:
        yield SmtpServer(port, handler)
    finally:
        server.close()
        await server.wait_closed()
