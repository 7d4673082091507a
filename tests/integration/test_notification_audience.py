"""Notifications are queued only while someone could receive them (dispatch.py, "Only
when someone listens"), on real hubs: a hub with no webhook and no mail skips them; a
webhook created on one hub makes every hub queue them again, and its receiver gets the
events of sessions started on either hub afterwards; deleted, the hubs skip them again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.integration.test_webhooks import (
    ROOT_TOKEN,
    client,
    notifying_hub,
    open_request,
    register,
    start,
)
from tests.support.scrape import scrape
from tests.support.server import RunningHub, run_hub
from tests.support.timing import eventually
from tests.support.webhook_receiver import Receiver, run_receiver
from tether.accounts import open_directory
from tether.config import Settings
from tether.credentials import token_digest
from tether.users import UserRecord


def hub_settings(store_url: str | None, tmp_path: Path) -> Settings:
    return Settings(
        redis_url=store_url, users_file=None if store_url else tmp_path / "users.toml",
        static_dir=None, public_url="https://tether.example.com",
        webhook_retry_base=0.05, webhook_retry_cap=0.2,
    )


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with run_receiver() as running:
        yield running


async def with_root(settings: Settings) -> None:
    users = open_directory(settings)
    await users.add(UserRecord(name="root", admin=True))
    await users.add_token("root", token_digest(ROOT_TOKEN))
    await users.close()


async def listening(http: httpx.AsyncClient) -> float:
    return (await scrape(http)).value("tether_notifications_listening")


async def becomes(http: httpx.AsyncClient, value: float, what: str) -> None:
    async def check() -> bool:
        return await listening(http) == value
    await eventually(check, what=what)


async def test_a_hub_skips_notifications_until_a_webhook_exists(
    store_url: str | None, tmp_path: Path, receiver: Receiver
) -> None:
    settings = hub_settings(store_url, tmp_path)
    await with_root(settings)
    async with run_hub(settings, notifying_hub()) as hub, client(hub, ROOT_TOKEN) as root:
        await becomes(root, 0, "the hub to know there is no webhook")
        before = await start(root, "approve")
        await open_request(root, before)
        await register(root, receiver)
        assert await listening(root) == 1  # at once on the hub that made it
        after = await start(root, "approve")
        await open_request(root, after)
        await eventually(lambda: after in receiver.by_session(), what="request.created")
        assert before not in receiver.by_session()  # before the webhook: not queued


async def test_every_hub_hears_of_a_webhook_made_or_deleted_on_another(
    redis_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    settings = hub_settings(redis_url, tmp_path)
    await with_root(settings)
    hubs = notifying_hub()
    async with run_hub(settings, hubs) as hub_a, run_hub(settings, hubs) as hub_b:
        a: RunningHub = hub_a
        async with client(a, ROOT_TOKEN) as root_a, client(hub_b, ROOT_TOKEN) as root_b:
            await becomes(root_b, 0, "hub b to know there is no webhook")
            created = await register(root_a, receiver)
            await becomes(root_b, 1, "hub b to hear of the webhook")  # well within 30 s
            on_b = await start(root_b, "approve")
            await open_request(root_b, on_b)
            await eventually(lambda: on_b in receiver.by_session(), what="b's request.created")
            deleted = await root_a.delete(f"/api/webhooks/{created['id']}")
            assert deleted.status_code == 204, deleted.text
            await becomes(root_b, 0, "hub b to hear the webhook is gone")
