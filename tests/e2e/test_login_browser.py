"""The login page in a real Chromium against a hub in accounts mode (Redis store): log
in, see your name, start a task, log out, and the app is back at the login page."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Page, expect

from tests.e2e.browser_tasks import build_browser_hub
from tests.support.accounts import PASSWORD, add_accounts
from tests.support.server import RunningHub, run_hub
from tether.config import Settings
from tether.users import UserRecord


@pytest.fixture
async def hub(hub_settings: Settings) -> AsyncIterator[RunningHub]:
    """The browser hub with one account, ``alice``: so it runs in accounts mode."""
    await add_accounts(hub_settings, (UserRecord(name="alice"),))
    async with run_hub(hub_settings, build_browser_hub()) as running:
        yield running


async def test_log_in_see_your_name_and_log_out(page: Page) -> None:
    await page.goto("/sessions")
    await expect(page).to_have_url(re.compile(r"/login$"))
    await page.get_by_label("User name").fill("alice")
    await page.get_by_label("Password").fill("wrong password")
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("alert")).to_contain_text("not right")

    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_test_id("whoami")).to_have_text("alice")
    await expect(page.get_by_role("heading", name="Tasks")).to_be_visible()
    cookies = {c["name"]: c for c in await page.context.cookies()}
    session = cookies["tether_session"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    response = await page.request.post("/api/sessions",
                                       data={"task": "ticker", "inputs": {"count": 1}})
    assert response.status == 201 and (await response.json())["owner"] == "user:alice"

    await page.get_by_role("button", name="Log out").click()
    await expect(page).to_have_url(re.compile(r"/login$"))
    await expect(page.get_by_role("button", name="Log in")).to_be_visible()
    await expect(page.get_by_test_id("whoami")).to_have_count(0)
    await page.reload()
    await expect(page.get_by_role("button", name="Log in")).to_be_visible()
    assert (await page.request.get("/api/me")).status == 401
