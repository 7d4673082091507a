"""WAIT on a real Redis: with TETHER_REDIS_WAIT_REPLICAS set, writes that must not be
lost wait for replicas; with none to wait for, they still succeed once the timeout is
over, and the hub says so in its log (a failover now could lose them)."""

from __future__ import annotations

import json
import logging
import time

import pytest

from tests.integration.test_store_contract import answer, new_session, open_confirm, stream
from tether.store.base import Entry
from tether.store.redis import RedisStore


async def test_writes_that_must_not_be_lost_wait_for_replicas_then_go_on(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = RedisStore(redis_url, wait_replicas=1, wait_timeout=0.5)
    await store.start()
    try:
        caplog.set_level(logging.WARNING, logger="tether.store.redis")
        started = time.monotonic()
        session_id, created, _ = await store.create_session(new_session())
        assert created and time.monotonic() - started >= 0.5  # WAIT ran its timeout out
        await store.append(session_id, [Entry(set={"status": "running"})])
        started = time.monotonic()
        await store.append(session_id, [open_confirm("r1")])  # a journal entry: waits
        assert time.monotonic() - started >= 0.5
        recorded, body = answer("r1", True)
        assert await store.resolve_request(session_id, "r1", answer=recorded, body=body) == "ok"
        answers = await store.answers(session_id)
        assert json.loads(answers["r1"].to_json())["value"] is True
        warnings = [r.getMessage() for r in caplog.records if "replicas" in r.getMessage()]
        assert len(warnings) == 1 and "0 of the 1 replicas" in warnings[0], warnings
        # A plain stream line is not waited for (the timeout would show).
        started = time.monotonic()
        await store.append(session_id, [Entry(body=stream("not waited for"))])
        assert time.monotonic() - started < 0.5
    finally:
        await store.close()
