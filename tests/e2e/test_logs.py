"""A hub process with ``TETHER_LOG_FORMAT=json``: every line it logs is one JSON object
naming the hub, and ``TETHER_LOG_LEVEL`` leaves out what is below it."""

from __future__ import annotations

import json

from tests.e2e.durable_checks import TASKS, StartHub
from tests.support.follow import Person


async def test_json_logs_are_one_object_per_line_naming_the_hub(
    hub_procs: StartHub, redis_url: str
) -> None:
    hub = hub_procs(TASKS, redis_url=redis_url, hub_id="hub-json", TETHER_LOG_FORMAT="json")
    person = await Person.sign_in(hub)
    await person.start(hub, "deadline", {"seconds": 30})
    hub.terminate()  # a graceful stop: its shutdown lines are logged too
    logged = [line for line in hub.log if not line.startswith("Tether serving")]
    assert logged, hub.log
    records = [json.loads(line) for line in logged]  # every line parses
    assert all(r["hub"] == "hub-json" and r["level"] and r["time"] for r in records)
    assert any("serving" in r["message"] for r in records), records
    quiet = hub_procs(TASKS, redis_url=redis_url, hub_id="hub-quiet",
                      TETHER_LOG_FORMAT="json", TETHER_LOG_LEVEL="warning")
    quiet.terminate()
    assert all(json.loads(line)["level"] in ("warning", "error")
               for line in quiet.log if not line.startswith("Tether serving"))
