"""The email channel's pure parts: the SMTP URL, the markdown it sends as HTML, its
settings, and how long a mailed link lasts."""

from __future__ import annotations

import time

import pytest

from tether.answer_links import AnswerLinks, MemorySpentLinks
from tether.config import Settings
from tether.mail import EmailChannel, SmtpServer, render_markdown
from tether.messages import Request
from tether.users_file import FileDirectory


def test_smtp_urls() -> None:
    plain = SmtpServer.from_url("smtp://mail.example")
    assert (plain.hostname, plain.port, plain.implicit_tls, plain.username) == (
        "mail.example", 25, False, None)
    tls = SmtpServer.from_url("smtps://us%40er:p%3Ass@mail.example?ssl_ca_certs=/ca.pem")
    assert (tls.port, tls.implicit_tls, tls.username, tls.password, tls.ca_file) == (
        465, True, "us@er", "p:ss", "/ca.pem")
    assert SmtpServer.from_url("smtp://u:p@mail.example:587").port == 587
    with pytest.raises(ValueError, match="smtp://"):
        SmtpServer.from_url("http://mail.example")


def test_markdown_becomes_safe_html() -> None:
    html = render_markdown(
        "**bold** [ok](https://a.example) [bad](javascript:alert(1))\n\n"
        "<img src=x onerror=alert(1)><script>alert(2)</script>"
    )
    assert "<strong>bold</strong>" in html and 'href="https://a.example"' in html
    assert 'href="javascript' not in html and "<img" not in html and "<script" not in html


def test_settings_for_mail() -> None:
    env = {"TETHER_SMTP_URL": "smtp://mail.example:587", "TETHER_MAIL_FROM": "t@example.com",
           "TETHER_PUBLIC_URL": "https://tether.example/", "TETHER_ANSWER_LINK_HOURS": "2"}
    settings = Settings.from_env(env)
    assert settings.base_url == "https://tether.example" and settings.answer_link_hours == 2
    assert Settings(port=9000).base_url == "http://127.0.0.1:9000"
    with pytest.raises(ValueError, match="TETHER_MAIL_FROM"):
        Settings(smtp_url="smtp://mail.example")
    with pytest.raises(ValueError, match=r"\*\*\*"):  # the password is not shown
        Settings(smtp_url="imap://u:hunter2@mail.example", mail_from="t@example.com")
    with pytest.raises(ValueError, match="TETHER_PUBLIC_URL"):
        Settings(public_url="tether.example")
    with pytest.raises(ValueError, match="TETHER_ANSWER_LINK_HOURS"):
        Settings(answer_link_hours=0)
    assert Settings().answer_link_login == "never"
    assert Settings.from_env({"TETHER_ANSWER_LINK_LOGIN": "required"}).answer_link_login == (
        "required")
    with pytest.raises(ValueError, match="TETHER_ANSWER_LINK_LOGIN='always': never or required"):
        Settings.from_env({"TETHER_ANSWER_LINK_LOGIN": "always"})


def test_a_link_lasts_until_the_request_expires_or_the_hours_run_out() -> None:
    settings = Settings(smtp_url="smtp://mail.example", mail_from="t@example.com",
                        answer_link_hours=1)
    channel = EmailChannel(settings, FileDirectory(None),
                           AnswerLinks("s", MemorySpentLinks()))
    now = time.time()
    open_ended = Request(request_id="r", kind="confirm", prompt="Go?", created_at="x")
    assert channel.link_expiry(open_ended, now=now) == pytest.approx(now + 3600)
    soon = open_ended.model_copy(update={"expires_at": "2020-01-01T00:00:00.000Z"})
    assert channel.link_expiry(soon, now=now) == pytest.approx(1577836800)
