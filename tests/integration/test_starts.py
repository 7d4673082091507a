"""A start's runner listens to its session's feed before the session exists, and reads
nothing back: what happens to the session from its first moment reaches the runner."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

from pydantic import BaseModel

from tests.support.server import new_user, run_hub
from tests.support.tabs import wait_status
from tether import Context, Hub
from tether.config import Settings
from tether.messages import StatusEvent, event_body, now_iso
from tether.runner import SessionRunner
from tether.sealing import Sealer
from tether.sessions import new_session_id
from tether.store import open_store
from tether.store.base import NewSession
from tether.store.codec import new_record

hub_def = Hub()


class NoInputs(BaseModel):
    pass


@hub_def.task()
async def waits(ctx: Context, inputs: NoInputs) -> bool:
    return await ctx.confirm("Go?")


class _CommandProbe:
    """A second listener on the session's feed: tells when a command has come."""

    def __init__(self) -> None:
        self.received = asyncio.Event()

    def on_frames(self, session_id: str, frames: Sequence[str]) -> None:
        pass

    def on_command(self, session_id: str, command: str) -> None:
        self.received.set()

    def on_resync(self) -> None:
        pass

    def on_outage(self) -> None:
        pass


def _new(owner: str = "u_alice") -> NewSession:
    created_at = now_iso()
    return NewSession(
        id=new_session_id(), task="waits", owner=owner, created_at=created_at,
        inputs_json="{}", version=hub_def.tasks["waits"].version, runner="hub-1",
        first_event=event_body(StatusEvent(seq=0, ts=created_at, status="pending")),
    )


async def test_a_cancel_before_the_task_starts_ends_it_cancelled(store_url: str | None) -> None:
    """Cancelled between the create and the runner's start (as a client that cancels the
    moment it has the id can): the runner holds the command and the session ends
    cancelled, by whom asked, without its task ever asking."""
    store = open_store(Settings(redis_url=store_url))
    await store.start()
    try:
        new = _new()
        runner = SessionRunner(
            store=store, task=hub_def.tasks["waits"], record=new_record(new),
            runner_id="hub-1", sealer=Sealer("s" * 32), fresh=True,
        )
        await runner.listen()
        probe = _CommandProbe()
        await store.subscribe(new.id, probe)
        assert (await store.create_session(new))[1]
        assert await store.request_cancel(new.id, by="u_alice") == "ok"
        # The feed hands a command to all its listeners at once: once the probe has it,
        # so has the runner, before its task starts (Redis brings it a moment later).
        await asyncio.wait_for(probe.received.wait(), timeout=10)
        await store.unsubscribe(new.id, probe)
        await runner.run()
        record = await store.get_session(new.id)
        assert record is not None
        assert record.session.status == "cancelled"
        assert record.session.cancelled_by == "u_alice"
        events = (await store.read_events(new.id, after=0, limit=100)).frames
        assert not any(json.loads(f)["type"] == "request_confirmation" for f in events)
        assert [json.loads(f).get("status") for f in events][:2] == ["pending", "running"]
    finally:
        await store.close()


async def test_the_answer_to_a_start_is_the_session_as_stored(store_url: str | None) -> None:
    """The session a start answers with (made by the hub, not read back) is what a read of
    it says, but for what the runner did since."""
    async with run_hub(Settings(redis_url=store_url, static_dir=None), hub_def) as hub, \
            new_user(hub) as user:
        started = await user.start("waits")
        await wait_status(user, started["id"], "waiting")
        read = (await user.http.get(f"/api/sessions/{started['id']}")).json()
        moved = {"status", "updated_at", "last_seq", "pending"}
        assert {k: v for k, v in started.items() if k not in moved} == {
            k: v for k, v in read.items() if k not in moved
        }
        assert (started["status"], started["last_seq"], started["pending"]) == ("pending", 1, [])
