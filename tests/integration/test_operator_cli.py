"""``tether sessions list|show|cancel`` and ``tether hubs`` against the Redis a real hub
uses: they see its sessions and leases, and a cancel from the command line ends a
waiting session on that hub, naming the operator; on one Redis and on a Redis Cluster."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import httpx

from tests.support.server import run_hub
from tests.support.stores import redis_and_cluster
from tests.support.timing import MS, until
from tether.config import Settings
from tether.demos import build_demo_hub

redis_url = redis_and_cluster

async def tether(*args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TETHER_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tether", *args, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30_000 * MS)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_operators_list_show_and_cancel_sessions_and_see_the_hubs(redis_url: str) -> None:
    settings = Settings(redis_url=redis_url, static_dir=None, hub_id="hub-ops")
    async with run_hub(settings, build_demo_hub()) as hub, \
            httpx.AsyncClient(base_url=hub.base_url) as http:
        await http.get("/api/tasks")  # the anonymous identity
        started = await http.post("/api/sessions", json={"task": "email_demo", "inputs": {}})
        session_id = started.json()["id"]

        async def waiting() -> bool:
            got = (await http.get(f"/api/sessions/{session_id}")).json()
            return bool(got["status"] == "waiting")

        await until(waiting)
        code, out, _ = await tether("sessions", "list", "--redis", redis_url)
        assert code == 0 and session_id in out and "waiting" in out, out
        code, out, _ = await tether("sessions", "list", "--redis", redis_url,
                                    "--status", "completed")
        assert code == 0 and out.strip() == "no sessions"
        code, out, _ = await tether("sessions", "show", session_id, "--redis", redis_url)
        assert code == 0 and json.loads(out)["id"] == session_id
        code, out, _ = await tether("hubs", "--redis", redis_url)
        [line] = [json.loads(x) for x in out.splitlines()]
        assert line == {"hub": "hub-ops", "sessions": 1, "live_leases": 1, "expired_leases": 0}
        code, out, _ = await tether("sessions", "cancel", session_id, "--redis", redis_url)
        assert code == 0, out

        async def cancelled() -> dict[str, object] | None:
            got = (await http.get(f"/api/sessions/{session_id}")).json()
            return got if got["status"] == "cancelled" else None

        assert (await until(cancelled))["cancelled_by"] == "operator"
        code, _, err = await tether("sessions", "cancel", session_id, "--redis", redis_url)
        assert code == 2 and "already finished" in err
        code, _, err = await tether("sessions", "show", "nope", "--redis", redis_url)
        assert code == 2 and "no session" in err
    code, _, err = await tether("sessions", "list")
    assert code == 2 and "TETHER_REDIS_URL" in err
