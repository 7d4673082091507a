"""Identity: signed user cookies that cannot be forged, or a trusted proxy's header."""

from __future__ import annotations

import pytest

from tether.auth import COOKIE, Identity, new_user_id


def test_a_signed_token_verifies_to_its_user() -> None:
    identity = Identity("s3cret")
    for user in ("u_0123456789abcdef", "with.dots.in.it"):
        assert identity.verify(identity.sign(user)) == user


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: "u_other." + t.split(".", 1)[1],  # another user, same mac
        lambda t: t[:-1] + ("0" if t[-1] != "0" else "1"),  # mac changed
        lambda t: t.split(".")[0],  # no mac
        lambda t: t + "0",  # mac too long
        lambda t: "",
        lambda t: ".",
        lambda t: "." + t.split(".")[1],  # no user id
    ],
)
def test_a_tampered_token_is_refused(tamper: object) -> None:
    identity = Identity("s3cret")
    token = identity.sign("u_alice")
    assert callable(tamper)
    assert identity.verify(tamper(token)) is None


def test_a_token_signed_with_another_secret_is_refused() -> None:
    assert Identity("one").verify(Identity("two").sign("u_alice")) is None


def test_the_cookie_proves_the_user() -> None:
    identity = Identity("s3cret")
    cookie = f"theme=dark; {COOKIE}={identity.sign('u_alice')}; other=1"
    assert identity.user_from_headers({"cookie": cookie}) == "u_alice"


@pytest.mark.parametrize(
    "cookie",
    ["", "garbage", f"{COOKIE}=", f"{COOKIE}=u_alice.deadbeef", '"; =;;=\x00\\"',
     'a="unterminated', f"{COOKIE}", "=====", "\udcff"],
)
def test_a_missing_or_malformed_cookie_is_no_identity(cookie: str) -> None:
    assert Identity("s3cret").user_from_headers({"cookie": cookie}) is None


@pytest.mark.parametrize("token", ["é.0123", "u_alice.dé", "ü.ü"])
def test_a_non_ascii_cookie_is_no_identity(token: str) -> None:
    # The middleware decodes headers as latin-1, so any byte >= 0x80 arrives like this;
    # SimpleCookie only passes such a value on when it is quoted.
    cookie = f'{COOKIE}="{token}"'
    assert Identity("s3cret").user_from_headers({"cookie": cookie}) is None


def test_no_cookie_header_is_no_identity() -> None:
    assert Identity("s3cret").user_from_headers({}) is None


def test_the_trusted_header_is_the_identity_only_when_trusted() -> None:
    trusting = Identity("s3cret", trust_header=True)
    careful = Identity("s3cret")
    assert trusting.user_from_headers({"x-tether-user": "alice@corp"}) == "alice@corp"
    assert careful.user_from_headers({"x-tether-user": "alice@corp"}) is None
    assert trusting.user_from_headers({"x-tether-user": "a" * 500}) == "a" * 128


def test_a_trusting_hub_knows_only_the_header() -> None:
    """Behind an authenticating proxy a cookie proves nothing: only the header counts."""
    identity = Identity("s3cret", trust_header=True)
    cookie = f"{COOKIE}={identity.sign('u_bob')}"
    assert identity.user_from_headers({"cookie": cookie}) is None
    assert identity.user_from_headers({"cookie": cookie, "x-tether-user": ""}) is None
    assert identity.user_from_headers({"cookie": cookie, "x-tether-user": "bob"}) == "bob"


def test_set_cookie_header_carries_a_verifiable_http_only_cookie() -> None:
    identity = Identity("s3cret")
    name, value = identity.set_cookie_header("u_carol", secure=False)
    text = value.decode()
    assert name == b"set-cookie"
    assert identity.user_from_headers({"cookie": text.split(";")[0]}) == "u_carol"
    assert "HttpOnly" in text and "SameSite=Lax" in text and "Secure" not in text
    assert "; Secure" in identity.set_cookie_header("u_carol", secure=True)[1].decode()


def test_new_user_ids_are_distinct() -> None:
    ids = {new_user_id() for _ in range(100)}
    assert len(ids) == 100 and all(i.startswith("u_") for i in ids)
