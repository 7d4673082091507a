"""OpenID Connect login against a real provider (oidc-provider under Node), without a
browser: the code flow ends in the same login session as a password login, with the
token's groups; forged, missing and replayed states, provider errors and ID tokens for
another audience, with another nonce or a foreign signature are refused with a redirect
to the login page, never a session."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.support.oidc_provider import HUB_CLIENT, ProviderProcess, log_in_at_provider
from tests.support.server import RunningHub, listen, run_hub
from tether.accounts import open_directory
from tether.config import Settings
from tether.credentials import Passwords
from tether.demos import build_demo_hub
from tether.users import UserRecord

PASSWORD = "correct horse battery"


def oidc_settings(provider: ProviderProcess, **changes: object) -> Settings:
    values: dict[str, object] = {
        "static_dir": None,
        "secret": "oidc-test-secret",
        "oidc_issuer": provider.issuer,
        "oidc_client_id": HUB_CLIENT.client_id,
        "oidc_client_secret": HUB_CLIENT.client_secret,
        "oidc_admin_group": "tether-admins",
        **changes,
    }
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(oidc_provider: ProviderProcess, store_url: str | None, tmp_path: Path) -> Settings:
    return oidc_settings(
        oidc_provider, redis_url=store_url,
        users_file=None if store_url else tmp_path / "users.toml",
    )


@pytest.fixture
async def hub(settings: Settings) -> AsyncIterator[RunningHub]:
    """A hub with one local account, ``bob``, beside the provider's users."""
    directory = open_directory(settings)
    await directory.add(UserRecord(name="bob", password_hash=Passwords().hash(PASSWORD)))
    await directory.close()
    async with run_hub(settings, build_demo_hub()) as running:
        yield running


@pytest.fixture
async def browser() -> AsyncIterator[httpx.AsyncClient]:
    """One browser's cookies, for the hub (127.0.0.1) and the provider (localhost)."""
    async with httpx.AsyncClient(timeout=10) as http:
        yield http


async def begin(http: httpx.AsyncClient, hub: RunningHub, query: str = "") -> str:
    response = await http.get(f"{hub.base_url}/api/login/oidc{query}")
    assert response.status_code == 303, response.text
    return response.headers["location"]


async def callback_url(http: httpx.AsyncClient, hub: RunningHub, login: str) -> str:
    url = await log_in_at_provider(http, await begin(http, hub), login)
    assert url.startswith(f"{hub.base_url}/api/login/oidc/callback?"), url
    return url


def refused(response: httpx.Response, reason: str) -> None:
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/login?oidc_error={reason}"
    assert "tether_session=" not in " ".join(response.headers.get_list("set-cookie"))


async def test_auth_info_offers_the_provider(hub: RunningHub, browser: httpx.AsyncClient,
                                             oidc_provider: ProviderProcess) -> None:
    """GET /api/auth needs no identity and names the provider and where to start."""
    response = await browser.get(f"{hub.base_url}/api/auth")
    assert response.status_code == 200
    assert response.json() == {
        "mode": "accounts", "password": True,
        "oidc": {"name": "localhost", "login_url": "/api/login/oidc"},
    }


async def test_login_gives_a_session_with_the_tokens_groups(
    hub: RunningHub, browser: httpx.AsyncClient, oidc_provider: ProviderProcess
) -> None:
    """The redirect carries PKCE (S256), state and nonce; the callback sets the login
    session cookie; /api/me has the normalised name, the groups and the admin role."""
    authorization = await begin(browser, hub, "?next=/sessions")
    params = parse_qs(urlsplit(authorization).query)
    assert authorization.startswith(f"{oidc_provider.issuer}/auth?")
    assert params["code_challenge_method"] == ["S256"] and params["code_challenge"]
    assert params["state"] and params["nonce"] and params["client_id"] == ["tether-test"]
    assert params["redirect_uri"] == [f"{hub.base_url}/api/login/oidc/callback"]
    flow_cookie = browser.cookies.get("tether_oidc")
    assert flow_cookie and params["state"][0] not in flow_cookie.split(".")[1:]

    url = await log_in_at_provider(browser, authorization, "alice")
    response = await browser.get(url)
    assert response.status_code == 303 and response.headers["location"] == "/sessions"
    cookies = " ".join(response.headers.get_list("set-cookie"))
    assert "tether_session=" in cookies and "SameSite=Strict" in cookies
    assert "tether_oidc=;" in cookies  # the login state is gone from the browser

    me = await browser.get(f"{hub.base_url}/api/me")
    assert me.status_code == 200
    assert me.json() == {"id": "user:alice", "name": "alice", "roles": ["admin", "member"],
                         "groups": ["finance", "tether-admins"], "mode": "accounts"}
    started = await browser.post(f"{hub.base_url}/api/sessions",
                                 json={"task": "ticker", "inputs": {"count": 1}},
                                 headers={"origin": hub.base_url})
    assert started.status_code == 201 and started.json()["owner"] == "user:alice"

    assert (await browser.post(f"{hub.base_url}/api/logout",
                               headers={"origin": hub.base_url})).status_code == 204
    assert (await browser.get(f"{hub.base_url}/api/me")).status_code == 401


async def test_a_user_without_the_admin_group_is_a_member(
    hub: RunningHub, browser: httpx.AsyncClient
) -> None:
    response = await browser.get(await callback_url(browser, hub, "carol"))
    assert response.status_code == 303 and response.headers["location"] == "/"
    me = (await browser.get(f"{hub.base_url}/api/me")).json()
    assert me["id"] == "user:carol" and me["roles"] == ["member"] and me["groups"] == []


async def test_missing_or_forged_state_is_refused(
    hub: RunningHub, browser: httpx.AsyncClient
) -> None:
    url = await callback_url(browser, hub, "alice")
    query = parse_qs(urlsplit(url).query)
    base = f"{hub.base_url}/api/login/oidc/callback"
    refused(await browser.get(f"{base}?code={query['code'][0]}"), "state")
    forged = secrets.token_urlsafe(32)
    refused(await browser.get(f"{base}?code={query['code'][0]}&state={forged}"), "state")
    # The right state in another browser (an attacker's callback URL planted in a
    # victim's browser): no cookie binds it there.
    async with httpx.AsyncClient(timeout=10) as other:
        refused(await other.get(url), "state")
        assert (await other.get(f"{hub.base_url}/api/me")).status_code == 401
    assert (await browser.get(f"{hub.base_url}/api/me")).status_code == 401


async def test_a_replayed_callback_is_refused(
    hub: RunningHub, browser: httpx.AsyncClient
) -> None:
    """The state is spent at the first callback: the same URL with the same cookie
    (copied before the hub cleared it) logs nobody in again."""
    url = await callback_url(browser, hub, "alice")
    flow_cookie = browser.cookies["tether_oidc"]
    first = await browser.get(url)
    assert first.status_code == 303 and first.headers["location"] == "/"
    async with httpx.AsyncClient(timeout=10) as replayer:
        replayer.cookies.set("tether_oidc", flow_cookie, domain="127.0.0.1")
        refused(await replayer.get(url), "state")
        assert (await replayer.get(f"{hub.base_url}/api/me")).status_code == 401


async def test_an_error_from_the_provider_is_shown_on_the_login_page(
    hub: RunningHub, browser: httpx.AsyncClient
) -> None:
    state = parse_qs(urlsplit(await begin(browser, hub)).query)["state"][0]
    response = await browser.get(f"{hub.base_url}/api/login/oidc/callback",
                                 params={"state": state, "error": "access_denied"})
    refused(response, "provider")


@pytest.mark.parametrize("how", ["audience", "nonce", "signature"])
async def test_an_id_token_not_for_this_login_is_refused(
    hub: RunningHub, browser: httpx.AsyncClient, oidc_provider: ProviderProcess, how: str
) -> None:
    """The provider's next ID token names another audience, another nonce, or is signed
    by a key it never published: the hub refuses it."""
    url = await callback_url(browser, hub, "alice")
    oidc_provider.tamper_next_id_token(how)
    refused(await browser.get(url), "token")
    assert (await browser.get(f"{hub.base_url}/api/me")).status_code == 401


async def test_a_local_accounts_name_is_not_taken_over(
    hub: RunningHub, browser: httpx.AsyncClient
) -> None:
    """The provider's ``bob`` cannot log in as the local account ``bob``, whose password
    still works."""
    refused(await browser.get(await callback_url(browser, hub, "bob")), "account")
    response = await browser.post(f"{hub.base_url}/api/login",
                                  json={"username": "bob", "password": PASSWORD},
                                  headers={"origin": hub.base_url})
    assert response.status_code == 200 and response.json()["id"] == "user:bob"


async def test_next_must_be_a_path_of_this_hub(hub: RunningHub,
                                               browser: httpx.AsyncClient) -> None:
    for bad in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "sessions"):
        response = await browser.get(f"{hub.base_url}/api/login/oidc", params={"next": bad})
        assert response.status_code == 422, bad
        assert response.json()["error"]["code"] == "invalid_query"


async def test_another_hub_of_the_store_finishes_the_login(
    oidc_provider: ProviderProcess, redis_url: str, browser: httpx.AsyncClient
) -> None:
    """The login state lives in Redis: the callback may reach another hub."""
    settings = oidc_settings(oidc_provider, redis_url=redis_url)
    demos = build_demo_hub()
    async with run_hub(settings, demos) as first:
        url = await callback_url(browser, first, "alice")
        sock = await listen()
        port = sock.getsockname()[1]
        sock.close()
    async with run_hub(settings, demos, port=port) as second:
        moved = url.replace(first.base_url, second.base_url)
        # Cookies are per host, not per port: the flow cookie goes to the second hub too.
        response = await browser.get(moved)
        assert response.status_code == 303 and response.headers["location"] == "/"
        me = await browser.get(f"{second.base_url}/api/me")
        assert me.json()["id"] == "user:alice"


async def test_a_provider_that_does_not_answer_sends_back_to_the_login_page(
    browser: httpx.AsyncClient,
) -> None:
    sock = await listen()  # a port where nothing answers HTTP once closed
    port = sock.getsockname()[1]
    sock.close()
    settings = Settings(
        static_dir=None, oidc_issuer=f"http://127.0.0.1:{port}", oidc_client_id="x",
        oidc_client_secret="y",
    )
    async with run_hub(settings, build_demo_hub()) as hub:
        response = await browser.get(f"{hub.base_url}/api/login/oidc")
        assert response.status_code == 303
        assert response.headers["location"] == "/login?oidc_error=unavailable"
        # OpenID configured means accounts mode: no anonymous identity on loopback.
        assert (await browser.get(f"{hub.base_url}/api/me")).status_code == 401


async def test_without_a_provider_the_routes_say_so(browser: httpx.AsyncClient) -> None:
    async with run_hub(Settings(static_dir=None), build_demo_hub()) as hub:
        info = await browser.get(f"{hub.base_url}/api/auth")
        assert info.json() == {"mode": "anonymous", "password": False, "oidc": None}
        response = await browser.get(f"{hub.base_url}/api/login/oidc")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "oidc_disabled"


async def test_the_account_stays_bound_to_the_providers_subject(
    hub: RunningHub, browser: httpx.AsyncClient
) -> None:
    """A second login of the same person finds the account the first one made (the
    directory keeps its subject); another subject whose username lowercases to the same
    name is refused."""
    for _ in range(2):
        response = await browser.get(await callback_url(browser, hub, "alice"))
        assert response.status_code == 303 and response.headers["location"] == "/"
        assert (await browser.get(f"{hub.base_url}/api/me")).json()["id"] == "user:alice"
    async with httpx.AsyncClient(timeout=10) as impostor:
        # The provider's account "ALICE" (sub "ALICE", preferred_username "ALICE").
        refused(await impostor.get(await callback_url(impostor, hub, "ALICE")), "account")
