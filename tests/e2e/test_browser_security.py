"""The built app in a real Chromium under the hub's Content-Security-Policy: it loads and
runs sessions with no violation reported, the policy is really enforced, and markdown
from a task renders none of its tricks (styles, forms, remote images, overlays, script).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import BrowserContext, ConsoleMessage, Page, Request, expect

from tests.e2e.test_browser import dialog, start_by_api, start_from_catalog
from tests.support.server import RunningHub
from tests.support.timing import eventually

# Every violation the page sees, as the browser reports it to the page itself.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
});
"""


class Watched:
    """What a page did that it must not: CSP reports in the console, requests elsewhere."""

    def __init__(self, page: Page, hub: RunningHub) -> None:
        self.page = page
        self.console: list[str] = []
        self.foreign: list[str] = []
        page.on("console", self._on_console)
        page.on("request", lambda request: self._on_request(request, hub.base_url))

    def _on_console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.console.append(message.text)

    def _on_request(self, request: Request, base_url: str) -> None:
        if not request.url.startswith((base_url, "data:", "ws://127.0.0.1")):
            self.foreign.append(request.url)

    async def violations(self) -> list[Any]:
        reported: list[Any] = await self.page.evaluate("window.__cspViolations")
        return [*self.console, *reported]


@pytest.fixture
async def watched(context: BrowserContext, page: Page, hub: RunningHub) -> AsyncIterator[Watched]:
    await context.add_init_script(RECORD_VIOLATIONS)
    yield Watched(page, hub)


async def test_the_app_runs_a_session_with_no_csp_violation(
    page: Page, hub: RunningHub, watched: Watched
) -> None:
    response = await page.goto("/")
    assert response is not None
    assert "script-src 'self'" in response.headers["content-security-policy"]
    await start_from_catalog(page, "Calculator", {
        "How many jobs to run": "3", "Longest a job may take": "0", "Jobs running at once": "3",
    })
    await expect(page.locator("[data-status]").first).to_have_attribute(
        "data-status", "completed"
    )
    await expect(page.get_by_text("All 3 jobs finished.")).to_be_visible()
    await page.reload()  # a fresh load of a session page, replayed from its events
    await expect(page.get_by_text("All 3 jobs finished.")).to_be_visible()
    assert await watched.violations() == []
    assert watched.foreign == []

    # The policy is enforced, and a violation would have been seen: an inline script
    # added to the page does not run, and is reported.
    ran = await page.evaluate("""() => {
        const s = document.createElement('script');
        s.textContent = 'window.__inlineRan = true';
        document.body.append(s);
        return window.__inlineRan === true;
    }""")
    assert ran is False

    async def reported() -> bool:
        return any("script-src" in v for v in await watched.violations())

    await eventually(reported, what="the inline script's violation report")


async def test_hostile_markdown_renders_none_of_its_tricks(
    page: Page, hub: RunningHub, watched: Watched
) -> None:
    session_id = await start_by_api(page, "hostile_markdown", {})
    await page.goto(f"/sessions/{session_id}")
    await expect(dialog(page).get_by_role("heading", name="Still readable?")).to_be_visible()
    await expect(page.get_by_text("styled away").first).to_be_visible()  # <style> had no effect
    for selector in (
        ".markdown style", ".markdown form", ".markdown input", ".markdown button",
        ".markdown script", ".markdown [style]", ".markdown [onerror]", ".markdown div",
        ".markdown [class]",
    ):
        assert await page.locator(selector).count() == 0, selector
    # Markdown images from elsewhere are gone (alt text left); raw <img> tags are text.
    assert await page.locator(".markdown img").count() == 0
    await expect(page.get_by_text("tracker").first).to_be_visible()
    links = page.locator(".markdown a")
    for href in await links.evaluate_all("links => links.map(a => a.getAttribute('href'))"):
        assert href is None or not re.match(r"\s*javascript:", href, re.I), href
    await dialog(page).get_by_text("click me").click()  # a link no more: nothing runs
    # Nothing covers the page: the dialog's button takes a real click.
    await dialog(page).get_by_role("button", name="Yes").click()
    await expect(page.get_by_role("region", name="Result")).to_contain_text("read")
    assert await page.evaluate("window.hacked") is None
    assert watched.foreign == []  # no remote image was even asked for
    assert await watched.violations() == []  # the sanitizer, not the CSP, stopped them
