"""deploy/Caddyfile, as docker-compose.yml uses it, in front of two real hub processes on
one Redis: requests are balanced over both hubs, WebSockets upgrade through the proxy,
and when one hub is killed mid-session the client reconnects through the same proxy
address with ``after=`` and sees every event exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.e2e.durable_checks import TASKS, StartHub, finish_durable
from tests.support.caddy_proc import CaddyProcess
from tests.support.follow import Follower, Person, assert_exactly_once, runner_of
from tests.support.hub_proc import HubProcess
from tests.support.timing import eventually

HUB_IDS = ("hub-a", "hub-b")


@pytest.fixture
def hubs(hub_procs: StartHub, redis_url: str) -> dict[str, HubProcess]:
    return {
        hub_id: hub_procs(TASKS, redis_url=redis_url, hub_id=hub_id, TETHER_LEASE_SECONDS="1")
        for hub_id in HUB_IDS
    }


@pytest.fixture
def proxy(hubs: dict[str, HubProcess]) -> Iterator[CaddyProcess]:
    caddy = CaddyProcess(*(urlsplit(hub.base_url).netloc for hub in hubs.values())).start()
    yield caddy
    print("--- log of caddy ---", *caddy.log[-40:], sep="\n")
    caddy.stop()


async def test_the_proxy_balances_new_sessions_over_both_hubs(
    proxy: CaddyProcess, redis_url: str
) -> None:
    """A session runs on the hub that took its POST: started through the one proxy
    address, they land on both hubs (round robin, nothing sticky)."""
    person = await Person.sign_in(proxy)
    runners = []
    for _ in range(4):
        session_id = await person.start(proxy, "steady_stream", {"lines": 1})
        runners.append(await runner_of(redis_url, session_id))
    assert set(runners) == set(HUB_IDS), runners


async def test_a_client_behind_the_proxy_outlives_a_killed_hub_and_sees_each_event_once(
    proxy: CaddyProcess, hubs: dict[str, HubProcess], redis_url: str
) -> None:
    """Two clients watch one session through the proxy (round robin puts one on each
    hub). The hub running the session is killed: its client's socket drops, it reconnects
    through the proxy to the other hub with ``after=``, which adopts the session once the
    1 s lease runs out; both clients end with exactly the stored log."""
    person = await Person.sign_in(proxy)
    lines = 120
    session_id = await person.start(
        proxy, "durable", {"counter_url": redis_url, "lines": lines, "line_seconds": 0.02}
    )
    followers = [Follower(lambda: proxy.ws_url, session_id, person).start() for _ in range(2)]
    for follower in followers:
        await follower.wait_for("stream", content="line 20")
        assert follower.connections == 1
    runner = await runner_of(redis_url, session_id)
    assert runner in hubs
    hubs[runner].kill()

    await eventually(lambda: any(f.connections > 1 for f in followers), timeout_ms=10_000,
                     what="a client reconnecting through the proxy")
    [dropped] = [f for f in followers if f.connections > 1]
    [stayed] = [f for f in followers if f is not dropped]
    survivor = hubs[next(h for h in HUB_IDS if h != runner)]
    await eventually(
        lambda: any(f"Resuming session {session_id}" in line for line in survivor.log),
        timeout_ms=10_000, what="the other hub adopting the session",
    )
    # The killed hub's socket ended without a close frame; every answer goes through
    # the proxy too, and reaches the survivor.
    log = await finish_durable(
        person, proxy, session_id, dropped, redis_url, close_codes=[None], lines=lines
    )
    await stayed.wait_finished()
    await stayed.stop()
    assert_exactly_once(stayed.events, log)
    assert stayed.close_codes == [] and stayed.connections == 1
