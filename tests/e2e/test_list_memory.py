"""``GET /api/sessions`` over 100 sessions with 1 MB inputs each keeps the hub's memory
bounded: pages end at about 4 MiB (``next`` goes on), and the hub reads the store a few
sessions at a time, so its peak RSS while answering grows by tens of MB, not by the
98 MB page and 1.2 GB it took when a page held all 100."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.support.hub_proc import HubProcess

SESSIONS = 100
BLOB = "x" * 1_000_000
MAX_GROWTH_KIB = 80 * 1024


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def reset_peak(pid: int) -> None:
    """VmHWM (the peak RSS) starts again from the current RSS (Linux clear_refs)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


async def test_listing_sessions_with_large_inputs_keeps_rss_bounded(
    redis_url: str, hub_procs: Callable[..., HubProcess]
) -> None:
    hub = hub_procs("tests.e2e.memory_tasks:hub", redis_url=redis_url, hub_id="list-mem",
                    TETHER_MAX_OPEN_SESSIONS="0", TETHER_STARTS_PER_MINUTE="0")
    assert hub.proc is not None
    pid = hub.proc.pid
    async with httpx.AsyncClient(base_url=hub.base_url, timeout=60) as http:
        assert (await http.get("/api/tasks")).status_code == 200  # the identity cookie
        limit = asyncio.Semaphore(4)

        async def start() -> None:
            async with limit:
                body = {"task": "hold_blob", "inputs": {"blob": BLOB}}
                response = await http.post("/api/sessions", json=body)
                assert response.status_code == 201, response.text[:200]

        await asyncio.gather(*(start() for _ in range(SESSIONS)))
        reset_peak(pid)
        before = status_kib(pid, "VmRSS")
        seen, cursor, biggest = 0, None, 0
        while True:
            params = {"limit": "100", **({"before": cursor} if cursor else {})}
            response = await http.get("/api/sessions", params=params)
            assert response.status_code == 200
            biggest = max(biggest, len(response.content))
            page = response.json()
            seen += len(page["sessions"])
            cursor = page["next"]
            if cursor is None:
                break
        growth = status_kib(pid, "VmHWM") - before
    assert seen == SESSIONS
    assert biggest <= 4 * 1024 * 1024 + 1_100_000
    print(f"peak RSS growth while listing: {growth / 1024:.1f} MiB; largest page "
          f"{biggest / 1e6:.1f} MB")
    assert growth < MAX_GROWTH_KIB, f"hub RSS grew {growth / 1024:.0f} MiB while listing"
