"""Smoke: a hub killed with SIGKILL mid-stream; a restarted hub resumes the session."""

from __future__ import annotations

import asyncio
import json

import httpx
import websockets

from tests.support.hub_proc import HubProcess


async def test_kill_mid_stream_then_restart_resumes(redis_url: str) -> None:
    hub = HubProcess("tests.e2e.durable_tasks:hub", redis_url=redis_url, hub_id="hub-a",
                     TETHER_LEASE_SECONDS="1").start()
    try:
        async with httpx.AsyncClient(base_url=hub.base_url) as http:
            await http.get("/api/tasks")
            body = {"task": "steady_stream", "inputs": {"lines": 100, "line_seconds": 0.01}}
            r = await http.post("/api/sessions", json=body)
            sid = r.json()["id"]
            cookie = {"Cookie": f"tether_user={http.cookies['tether_user']}"}
        seen: list[int] = []
        url = f"{hub.ws_url}/ws/sessions/{sid}"
        async with websockets.connect(url, additional_headers=cookie) as ws:
            while len(seen) < 30:
                m = json.loads(await ws.recv())
                if "seq" in m:
                    seen.append(m["seq"])
        hub.kill()
        hub.start()
        url = f"{hub.ws_url}/ws/sessions/{sid}?after={seen[-1]}"
        async with websockets.connect(url, additional_headers=cookie) as ws:
            while True:
                m = json.loads(await asyncio.wait_for(ws.recv(), 20))
                if "seq" in m:
                    seen.append(m["seq"])
                if m.get("type") == "task_completed":
                    break
        assert seen == list(range(1, seen[-1] + 1))
    finally:
        hub.kill()
