"""Identity: anonymous cookies that cannot be forged and that survive other cookies, and a
trusted proxy's header that is refused rather than guessed at."""

from __future__ import annotations

from typing import Any

import pytest

from tether.auth import ANON_COOKIE, AnonymousIds, Authenticator, AuthMode, new_user_id
from tether.cookies import CookieSpec, cookie_values
from tether.errors import InvalidHeader, InvalidHost
from tether.logins import MemoryLogins
from tether.principal import Principal
from tether.sharing import MemoryShares
from tether.users_file import FileDirectory


def authenticator(mode: AuthMode, **kwargs: Any) -> Authenticator:
    return Authenticator(
        mode=mode, secret="s3cret", directory=FileDirectory(None), logins=MemoryLogins(),
        shares=MemoryShares(),
        **kwargs,
    )


def scope(*headers: tuple[str, str], scheme: str = "http") -> dict[str, Any]:
    return {
        "type": "http", "scheme": scheme, "method": "GET", "path": "/api/sessions",
        "headers": [(k.lower().encode(), v.encode("utf-8")) for k, v in headers],
    }


def test_a_signed_token_verifies_to_its_user() -> None:
    ids = AnonymousIds("s3cret")
    for user in ("u_0123456789abcdef", "with.dots.in.it"):
        assert ids.verify(ids.sign(user)) == user


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
    ids = AnonymousIds("s3cret")
    assert callable(tamper)
    assert ids.verify(tamper(ids.sign("u_alice"))) is None


def test_a_token_signed_with_another_secret_is_refused() -> None:
    assert AnonymousIds("one").verify(AnonymousIds("two").sign("u_alice")) is None


@pytest.mark.parametrize(
    "others",
    ["foo", "a=b c", 'prefs={"theme":"dark","size":[1,2]}', "foo; a=b c; prefs={x}",
     '"; =;;=\\"', 'q="unterminated', "=====", "é=ü", "theme=dark"],
)
async def test_our_cookie_is_found_beside_any_other(others: str) -> None:
    """Other cookies that SimpleCookie rejects (`foo`, `a=b c`, `prefs={...}`) do not hide
    ours, before it or after it."""
    auth = authenticator(AuthMode.ANONYMOUS)
    ours = f"{ANON_COOKIE}={AnonymousIds('s3cret').sign('u_alice')}"
    for header in (f"{others}; {ours}", f"{ours}; {others}", f"{others};{ours};{others}"):
        principal = await auth.authenticate(scope(("cookie", header)))
        assert principal == Principal.anonymous("u_alice"), header


async def test_a_forged_cookie_beside_a_valid_one_does_not_hide_it() -> None:
    auth = authenticator(AuthMode.ANONYMOUS)
    good = AnonymousIds("s3cret").sign("u_alice")
    header = f"{ANON_COOKIE}=u_evil.0000; {ANON_COOKIE}={good}"
    assert (await auth.authenticate(scope(("cookie", header)))) == Principal.anonymous("u_alice")


async def test_cookies_split_over_several_headers_are_joined() -> None:
    auth = authenticator(AuthMode.ANONYMOUS)
    good = AnonymousIds("s3cret").sign("u_alice")
    found = await auth.authenticate(scope(("cookie", "a=1"), ("cookie", f"{ANON_COOKIE}={good}")))
    assert found is not None and found.id == "u_alice"


@pytest.mark.parametrize(
    "cookie",
    ["", "garbage", f"{ANON_COOKIE}=", f"{ANON_COOKIE}=u_alice.deadbeef", f"{ANON_COOKIE}",
     f'{ANON_COOKIE}="é.0123"', f"{ANON_COOKIE}=ü.ü"],
)
async def test_a_missing_or_malformed_cookie_is_no_identity(cookie: str) -> None:
    assert await authenticator(AuthMode.ANONYMOUS).authenticate(scope(("cookie", cookie))) is None


def test_the_lenient_parser_keeps_every_value_and_unquotes() -> None:
    assert cookie_values('a=1; b="two"; a = 3 ; c', "a") == ["1", "3"]
    assert cookie_values('a=1; b="two"', "b") == ["two"]
    assert cookie_values("x=y=z", "x") == ["y=z"]


async def test_the_trusted_header_is_the_identity_only_in_proxy_mode() -> None:
    proxy = authenticator(AuthMode.PROXY, allowed_hosts=["hub.corp"])
    request = scope(("host", "hub.corp"), ("x-tether-user", "alice@corp"))
    principal = await proxy.authenticate(request)
    assert principal is not None and principal.id == "user:alice@corp"
    assert principal.name == "alice@corp" and not principal.is_admin
    assert await authenticator(AuthMode.ANONYMOUS).authenticate(request) is None


async def test_two_user_headers_are_refused() -> None:
    proxy = authenticator(AuthMode.PROXY, allowed_hosts=["hub.corp"])
    request = scope(("host", "hub.corp"), ("x-tether-user", "alice"), ("x-tether-user", "bob"))
    with pytest.raises(InvalidHeader):
        await proxy.authenticate(request)


async def test_an_over_long_user_header_is_refused_never_cut() -> None:
    proxy = authenticator(AuthMode.PROXY, allowed_hosts=["hub.corp"])
    fits = await proxy.authenticate(scope(("host", "hub.corp"), ("x-tether-user", "a" * 64)))
    assert fits is not None and fits.name == "a" * 64
    for length in (65, 128, 129):
        with pytest.raises(InvalidHeader):
            await proxy.authenticate(scope(("host", "hub.corp"),
                                           ("x-tether-user", "a" * length)))


@pytest.mark.parametrize(
    ("sent", "name"),
    [("alice@corp", "alice@corp"), ("Alice@Corp.Example", "alice@corp.example"),
     ("BOB+ops@corp", "bob+ops@corp"), (" bob ", "bob"), ("bob smith", None),
     ("@corp", None), ("bob/x", None), ("b\u00f6b", None)],
)
async def test_proxy_names_are_lowercased_account_names_or_refused(
    sent: str, name: str | None
) -> None:
    proxy = authenticator(AuthMode.PROXY, allowed_hosts=["hub.corp"])
    request = scope(("host", "hub.corp"), ("x-tether-user", sent))
    if name is None:
        with pytest.raises(InvalidHeader):
            await proxy.authenticate(request)
        return
    principal = await proxy.authenticate(request)
    assert principal is not None and (principal.id, principal.name) == (f"user:{name}", name)


@pytest.mark.parametrize(
    ("host", "allowed"),
    [("hub.corp", True), ("HUB.corp:443", True), ("x.apps.corp", True), ("apps.corp", False),
     ("evil.example", False), ("", False), ("hub.corp.evil", False)],
)
async def test_proxy_mode_checks_the_host(host: str, allowed: bool) -> None:
    proxy = authenticator(AuthMode.PROXY, allowed_hosts=["hub.corp", "*.apps.corp"])
    request = scope(("host", host), ("x-tether-user", "alice"))
    if allowed:
        assert await proxy.authenticate(request) is not None
    else:
        with pytest.raises(InvalidHost):
            await proxy.authenticate(request)


async def test_in_proxy_mode_a_cookie_proves_nothing() -> None:
    proxy = authenticator(AuthMode.PROXY, allowed_hosts=["hub.corp"])
    cookie = f"{ANON_COOKIE}={AnonymousIds('s3cret').sign('u_bob')}"
    assert await proxy.authenticate(scope(("host", "hub.corp"), ("cookie", cookie))) is None


def test_cookie_specs_set_http_only_cookies() -> None:
    name, value = CookieSpec("c", 60, same_site="Strict").set_header("v")
    assert name == b"set-cookie"
    assert value == b"c=v; Path=/; Max-Age=60; HttpOnly; SameSite=Strict"
    assert CookieSpec("c", 60, secure=True).set_header("v")[1].endswith(b"; Secure")
    assert b"Max-Age=0" in CookieSpec("c", 60).clear_header()[1]


def test_new_user_ids_are_distinct() -> None:
    ids = {new_user_id() for _ in range(100)}
    assert len(ids) == 100 and all(i.startswith("u_") for i in ids)
