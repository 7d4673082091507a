"""The pure rules of webhooks: which URLs the hub may POST to, which notifications a
webhook wants, the retry schedule, and that the signature is the spec's."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from tether.dispatch import RetryPolicy
from tether.notifications import SessionNotices, outbox_body, with_seq
from tether.webhook_channel import signed_headers
from tether.webhooks import Webhook, check_url, new_secret


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:9000/hook", "https://hooks.example.com/t?x=1", "https://[::1]:8443/",
])
def test_http_and_https_urls_with_a_host_are_accepted(url: str) -> None:
    assert check_url(url) == url


@pytest.mark.parametrize("url", [
    "ftp://example.com/", "file:///etc/passwd", "javascript:alert(1)", "https://",
    "https://a:b@example.com/", "https://example.com:0x50/", "https://example.com/#frag",
    "example.com/hook",
])
def test_other_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        check_url(url)


def webhook(**changes: object) -> Webhook:
    base: dict[str, object] = dict(
        id="wh_1", url="https://example.com/", events=["session.completed"], tasks=[],
        created_at="2026-01-01T00:00:00.000Z", created_by="user:root", sealed_secret="x",
    )
    return Webhook.model_validate({**base, **changes})


def test_a_webhook_wants_its_types_of_its_tasks_since_it_was_made() -> None:
    notice = SessionNotices("s1", "approve", "user:alice")
    done = notice.finished("completed", at="2026-01-02T00:00:00.000Z")
    assert webhook().wants(done)
    assert not webhook(events=["session.failed"]).wants(done)
    assert webhook(tasks=["approve"]).wants(done)
    assert not webhook(tasks=["other"]).wants(done)
    assert not webhook(created_at="2026-01-03T00:00:00.000Z").wants(done)


def test_retries_double_with_jitter_up_to_the_cap() -> None:
    policy = RetryPolicy(first=5, cap=60)
    for attempt, low in ((1, 5), (2, 10), (3, 20), (4, 40)):
        assert low <= policy.delay(attempt) <= min(2 * low, 60)
    assert all(policy.delay(n) <= 60 for n in range(5, 200))


def test_the_signature_is_hmac_sha256_of_id_timestamp_and_body() -> None:
    secret = new_secret()
    body = '{"hello":"wörld"}'
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    headers = signed_headers(secret, "ntf_1", body, at)
    assert headers["webhook-timestamp"] == str(int(at.timestamp()))
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"ntf_1.{int(at.timestamp())}.{body}".encode(), hashlib.sha256)
    assert headers["webhook-signature"] == "v1," + base64.b64encode(mac.digest()).decode()


def test_the_store_numbers_a_notification_like_a_frame() -> None:
    notice = SessionNotices("s1", "approve", "user:alice").finished("failed", at="now")
    numbered = with_seq(outbox_body(notice), 42)
    assert numbered.startswith('{"seq":42,"id":')
    assert type(notice).model_validate_json(numbered) == notice.model_copy(update={"seq": 42})
