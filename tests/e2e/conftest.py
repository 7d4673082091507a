"""Browser fixtures: Debian's Chromium driven by Playwright, against a real hub that
serves the built app (frontend/dist) on a free port; and hub processes to kill, stop and
restart for the durability tests."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from tests.e2e.browser_tasks import build_browser_hub
from tests.support.accounts import PASSWORD
from tests.support.hub_proc import HubProcess
from tests.support.ray_head import RayHead
from tests.support.sentinel_proc import SentinelCluster
from tests.support.server import RunningHub, run_hub
from tests.support.timing import MS
from tether.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "frontend" / "dist"
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Every auto-waiting assertion gets the same budget, scaled like the other tests' timing.
SCALE = MS * 1000  # TETHER_TEST_TIMING
TEARDOWN_SECONDS = 15 * SCALE
expect.set_options(timeout=15_000 * SCALE)


def chromium_path() -> str:
    path = os.environ.get("TETHER_CHROMIUM") or shutil.which("chromium")
    if path is None:
        raise RuntimeError("Chromium is missing: `make system-deps` installs it.")
    return path


@pytest.fixture
def dist() -> Path:
    """The app's production build; `make test` builds it first."""
    if not (DIST / "index.html").is_file():
        raise RuntimeError("frontend/dist is not built: run `make frontend` (make test does).")
    return DIST


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "hub_settings(**changes): Settings for this test's hub")


@pytest.fixture
def hub_settings(request: pytest.FixtureRequest, dist: Path, redis_url: str) -> Settings:
    """The hub serves the built app from a real Redis; `@pytest.mark.hub_settings(...)`
    changes more."""
    marker = request.node.get_closest_marker("hub_settings")
    changes = marker.kwargs if marker is not None else {}
    return Settings(static_dir=dist, redis_url=redis_url, **changes)


@pytest.fixture
async def hub(hub_settings: Settings) -> AsyncIterator[RunningHub]:
    """The demo tasks and a few more (tests/e2e/browser_tasks.py)."""
    async with run_hub(hub_settings, build_browser_hub()) as running:
        yield running


async def log_in_page(page: Page, name: str, password: str = PASSWORD) -> None:
    """Sign ``name`` in on the login page, as a person would, and see their name shown."""
    await page.goto("/login")
    await page.get_by_label("User name").fill(name)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_test_id("whoami")).to_have_text(name)


async def bounded(step: Awaitable[object], what: str) -> None:
    """Run a teardown step of the browser machinery with a deadline. Chromium or the
    Playwright driver very rarely hangs on exit; that must not stall the whole run (the
    tests' own assertions have already passed or failed by then)."""
    try:
        await asyncio.wait_for(step, TEARDOWN_SECONDS)
    except TimeoutError:
        print(f"warning: {what} did not finish within {TEARDOWN_SECONDS} s; moving on")


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    playwright = await async_playwright().start()
    try:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_ARGS
        )
        yield browser
        await bounded(browser.close(), "closing Chromium")
    finally:
        await bounded(playwright.stop(), "stopping the Playwright driver")


@pytest.fixture
async def context(browser: Browser, hub: RunningHub) -> AsyncIterator[BrowserContext]:
    """One person's browser: tabs of this context share the identity cookie."""
    ctx = await browser.new_context(base_url=hub.base_url, viewport={"width": 1100, "height": 860})
    yield ctx
    await bounded(ctx.close(), "closing the browser context")


@pytest.fixture
async def page(context: BrowserContext) -> AsyncIterator[Page]:
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    assert errors == [], f"uncaught errors in the page: {errors}"


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def hub_procs() -> Iterator[Callable[..., HubProcess]]:
    """Start hub processes (``python -m tether serve``) for this test: every one still
    running at the end is killed, and the logs of all are printed (pytest shows them
    when the test fails)."""
    started: list[HubProcess] = []

    def start(*specs: str, redis_url: str, hub_id: str, **env: str) -> HubProcess:
        proc = HubProcess(*specs, redis_url=redis_url, hub_id=hub_id, **env)
        started.append(proc)
        return proc.start()

    yield start
    for proc in started:
        proc.kill()
        print(f"--- log of {proc.hub_id} ---", *proc.log[-60:], sep="\n")


@pytest.fixture(scope="session")
def ray_head() -> Iterator[RayHead]:
    """One real Ray head for the whole run (its start takes many seconds), on free ports
    and a temp dir of its own; stopped at the end."""
    head = RayHead().start()
    yield head
    head.stop()


@pytest.fixture(scope="session")
def sentinel_deployment() -> Iterator[SentinelCluster]:
    """One Sentinel deployment for the run (tests/support/sentinel_proc.py): a primary,
    a replica and three sentinels, each started once; tests fail it over in turn."""
    cluster = SentinelCluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture
def sentinel(sentinel_deployment: SentinelCluster) -> SentinelCluster:
    """The deployment, whole (a replica in sync, every sentinel agreeing) and empty."""
    sentinel_deployment.wait_healthy()
    with sentinel_deployment.primary().client() as primary:
        primary.flushall()
    return sentinel_deployment
