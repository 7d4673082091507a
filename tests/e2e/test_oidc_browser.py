"""OpenID Connect login in a real Chromium: the hub (127.0.0.1) sends the browser to a
real provider (oidc-provider on ``localhost``, another site), the person logs in there and
lands back in the app logged in, with the provider's groups; logging out works, and a
bad callback lands on the login page with a message."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
from playwright.async_api import BrowserContext, Page, Route, expect

from tests.e2e.browser_tasks import build_browser_hub
from tests.support.oidc_provider import HUB_CLIENT, ProviderProcess
from tests.support.server import RunningHub, run_hub
from tether.config import Settings

LOOPBACK = {"127.0.0.1", "localhost"}


@pytest.fixture
async def hub(hub_settings: Settings, oidc_provider: ProviderProcess) -> AsyncIterator[RunningHub]:
    """The browser hub with the provider and no local accounts: accounts mode all the same."""
    settings = hub_settings.with_(
        oidc_issuer=oidc_provider.issuer, oidc_client_id=HUB_CLIENT.client_id,
        oidc_client_secret=HUB_CLIENT.client_secret, oidc_admin_group="tether-admins",
        oidc_name="Test ID",
    )
    async with run_hub(settings, build_browser_hub()) as running:
        yield running


@pytest.fixture
async def page(context: BrowserContext) -> AsyncIterator[Page]:
    """A tab that reaches only this machine (the provider's page asks for a web font)."""

    async def only_loopback(route: Route) -> None:
        if urlsplit(route.request.url).hostname in LOOPBACK:
            await route.continue_()
        else:
            await route.abort()

    await context.route("**/*", only_loopback)
    tab = await context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    assert errors == [], f"uncaught errors in the page: {errors}"


async def test_sign_in_with_the_provider_and_log_out(
    page: Page, hub: RunningHub, oidc_provider: ProviderProcess
) -> None:
    await page.goto("/api/login/oidc/callback?state=forged&code=nothing")
    await expect(page).to_have_url(re.compile(r"/login\?oidc_error=state$"))
    await expect(page.get_by_role("alert")).to_contain_text("expired or was already used")

    await page.goto("/sessions")
    await expect(page).to_have_url(re.compile(r"/login$"))
    await page.get_by_role("link", name="Sign in with Test ID").click()

    await expect(page).to_have_url(re.compile("^" + re.escape(oidc_provider.issuer)))
    await page.locator("input[name=login]").fill("alice")
    await page.locator("input[name=password]").fill("anything")
    await page.get_by_role("button", name="Sign-in").click()
    await expect(page.get_by_role("heading", name="Authorize")).to_be_visible()
    await page.get_by_role("button", name="Continue").click()

    await expect(page).to_have_url(f"{hub.base_url}/")
    await expect(page.get_by_test_id("whoami")).to_have_text("alice")
    await expect(page.get_by_role("heading", name="Tasks")).to_be_visible()
    me = await (await page.request.get("/api/me")).json()
    assert me == {"id": "user:alice", "name": "alice", "roles": ["admin", "member"],
                  "groups": ["finance", "tether-admins"], "mode": "accounts"}
    cookies = {c["name"]: c for c in await page.context.cookies(hub.base_url)}
    assert cookies["tether_session"]["sameSite"] == "Strict"
    assert "tether_oidc" not in cookies  # the login state went with the callback

    await page.get_by_role("button", name="Log out").click()
    await expect(page).to_have_url(re.compile(r"/login$"))
    await expect(page.get_by_role("link", name="Sign in with Test ID")).to_be_visible()
    await expect(page.get_by_test_id("whoami")).to_have_count(0)
    assert (await page.request.get("/api/me")).status == 401
