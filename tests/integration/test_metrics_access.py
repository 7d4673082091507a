"""Who may read ``GET /metrics`` on a real hub: anyone in single-person mode without a
token; with ``TETHER_METRICS_TOKEN`` its bearer or an admin; in accounts mode an admin;
nobody else, in the hub's error shape."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.support.scrape import Scrape
from tests.support.server import RunningHub, new_user, run_hub
from tether import Context, Hub
from tether.accounts import open_directory
from tether.config import Settings
from tether.credentials import new_token, token_digest
from tether.users import UserRecord

hub_def = Hub()
METRICS_TOKEN = "scrape-" + new_token()
ROOT_TOKEN = new_token()
ALICE_TOKEN = new_token()


@hub_def.task()
async def nothing(ctx: Context) -> None:
    return None


def client(hub: RunningHub, token: str | None = None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(base_url=hub.base_url, headers=headers, timeout=10)


async def status_of(hub: RunningHub, token: str | None = None) -> tuple[int, str | None]:
    """The status of GET /metrics with ``token``, and the error code if refused."""
    async with client(hub, token) as http:
        response = await http.get("/metrics")
    if response.status_code == 200:
        assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "tether_hub_info" in Scrape.parse(response.text).families
        return 200, None
    assert response.headers["content-type"] == "application/json"
    return response.status_code, response.json()["error"]["code"]


@pytest.fixture
async def accounts_hub(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[RunningHub]:
    """Accounts mode (an admin ``root`` and a member ``alice``), with the metrics token
    when the test is parametrised with ``token=True``."""
    settings = Settings(users_file=tmp_path / "users.toml", static_dir=None,
                        metrics_token=METRICS_TOKEN if request.param else None)
    directory = open_directory(settings)
    await directory.add(UserRecord(name="root", admin=True))
    await directory.add(UserRecord(name="alice"))
    await directory.add_token("root", token_digest(ROOT_TOKEN))
    await directory.add_token("alice", token_digest(ALICE_TOKEN))
    await directory.close()
    async with run_hub(settings, hub_def) as running:
        yield running


@pytest.mark.parametrize("accounts_hub", [False], indirect=True)
async def test_accounts_mode_without_a_token_serves_admins_only(
    accounts_hub: RunningHub,
) -> None:
    assert await status_of(accounts_hub) == (401, "not_authenticated")
    assert await status_of(accounts_hub, ALICE_TOKEN) == (403, "forbidden")
    assert await status_of(accounts_hub, METRICS_TOKEN) == (401, "not_authenticated")
    assert await status_of(accounts_hub, ROOT_TOKEN) == (200, None)


@pytest.mark.parametrize("accounts_hub", [True], indirect=True)
async def test_the_metrics_token_or_an_admin_in_accounts_mode(accounts_hub: RunningHub) -> None:
    assert await status_of(accounts_hub, METRICS_TOKEN) == (200, None)
    assert await status_of(accounts_hub, ROOT_TOKEN) == (200, None)
    assert await status_of(accounts_hub) == (401, "not_authenticated")
    assert await status_of(accounts_hub, ALICE_TOKEN) == (403, "forbidden")
    assert await status_of(accounts_hub, METRICS_TOKEN[:-1]) == (401, "not_authenticated")
    async with client(accounts_hub) as http:
        basic = await http.get("/metrics", headers={"Authorization": f"Basic {METRICS_TOKEN}"})
        assert basic.status_code == 401
        twice = await http.get("/metrics", headers=[
            ("Authorization", f"Bearer {METRICS_TOKEN}"),
            ("Authorization", f"Bearer {METRICS_TOKEN}"),
        ])
        assert twice.status_code == 400  # as for the API: one Authorization header
        wrong_method = await http.post("/metrics", headers={
            "Authorization": f"Bearer {METRICS_TOKEN}"})
        assert wrong_method.status_code == 405
        assert wrong_method.json()["error"]["code"] == "method_not_allowed"
        # Only the one path: below it is the app's catch-all, which shows no metrics.
        assert "tether_hub_info" not in (await http.get("/metrics/more")).text


async def test_single_person_mode_is_open_without_a_token() -> None:
    async with run_hub(Settings(static_dir=None), hub_def) as running:
        assert await status_of(running) == (200, None)
        async with client(running) as http:
            head = await http.head("/metrics")
            assert head.status_code == 200 and head.content == b""
            openmetrics = await http.get(
                "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
            assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
            assert openmetrics.text.endswith("# EOF\n")


async def test_a_metrics_token_closes_single_person_mode_too() -> None:
    settings = Settings(static_dir=None, metrics_token=METRICS_TOKEN)
    async with run_hub(settings, hub_def) as running, new_user(running) as browser:
        assert await status_of(running) == (401, "not_authenticated")
        refused = await browser.http.get("/metrics")  # the anonymous person's cookie
        assert refused.status_code == 403
        assert await status_of(running, METRICS_TOKEN) == (200, None)


def test_a_short_metrics_token_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="TETHER_METRICS_TOKEN"):
        Settings.from_env({"TETHER_METRICS_TOKEN": "short"})
    assert Settings.from_env({"TETHER_METRICS_TOKEN": METRICS_TOKEN}).metrics_token == METRICS_TOKEN
