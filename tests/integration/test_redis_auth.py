"""A Redis that requires a password (``requirepass``): the password in TETHER_REDIS_URL
reaches every connection the hub makes, the store's pool and the feed reader's own, and
a wrong one is refused at start with one clear line."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.redis_proc import RedisProcess
from tests.support.server import new_user, run_hub
from tests.support.tabs import Tab
from tether import Context, Hub
from tether.cli import main
from tether.config import Settings

hub_def = Hub()


@hub_def.task()
async def approve(ctx: Context) -> bool:
    """One question, answered over the socket: the feed reader must be subscribed."""
    return await ctx.confirm("Approve?")


async def confirm_round_trip(redis_url: str) -> None:
    """A hub on ``redis_url`` runs ``approve`` to the end, answered over a WebSocket:
    both the store's pool and the feed reader must have reached that Redis."""
    async with run_hub(Settings(redis_url=redis_url, static_dir=None), hub_def) as hub, \
            new_user(hub) as user:
        session = await user.start("approve")
        tab = await Tab.open(user, session["id"])
        ask = await tab.until("request_confirmation")
        await tab.send(type="confirm", request_id=ask["request_id"], value=True)
        done = await tab.until("task_completed")  # live, through the feed reader
        assert done["result"] is True


@pytest.fixture
def locked_redis() -> Iterator[RedisProcess]:
    proc = RedisProcess(appendonly=False, password="s3cret-pass")
    proc.start()
    yield proc
    proc.stop()


@pytest.mark.parametrize("auth", [":s3cret-pass@", "default:s3cret-pass@"],
                         ids=["password", "user-and-password"])
async def test_a_hub_works_against_a_redis_with_a_password(
    locked_redis: RedisProcess, auth: str
) -> None:
    await confirm_round_trip(f"redis://{auth}127.0.0.1:{locked_redis.port}/0")


def test_a_wrong_or_missing_password_is_one_line_at_start(
    locked_redis: RedisProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    for url in (f"redis://:wrong@127.0.0.1:{locked_redis.port}/0",
                f"redis://127.0.0.1:{locked_redis.port}/0"):
        assert main(["serve", "--port", "0", "--redis", url]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("tether: ") and len(err.splitlines()) == 1, err
        assert "wrong" not in err  # the password is not printed
