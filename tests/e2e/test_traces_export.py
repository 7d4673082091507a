"""A traced hub process killed with SIGKILL while its session waits: the spans it had
exported and the ones the restarted hub exports form one trace, because the session's
trace context lives in its record, not in the process."""

from __future__ import annotations

from tests.e2e.durable_checks import TASKS, StartHub
from tests.support.follow import Person
from tests.support.otlp_receiver import run_receiver
from tests.support.timing import eventually


async def test_a_session_killed_mid_wait_stays_one_trace_across_processes(
    hub_procs: StartHub, redis_url: str
) -> None:
    async with run_receiver() as receiver:
        otel = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
            "OTEL_SERVICE_NAME": "tether-e2e",
            "OTEL_BSP_SCHEDULE_DELAY": "50",  # milliseconds: export soon, not in 5 s
        }
        hub = hub_procs(TASKS, redis_url=redis_url, hub_id="hub-a", **otel)
        person = await Person.sign_in(hub)
        sid = await person.start(hub, "deadline", {"seconds": 300})
        request = await person.pending(hub, sid, "input")
        await eventually(lambda: any(s.name == "session.create"
                                     for s in receiver.of_session(sid)),
                         what="the creation span exported")
        hub.kill()  # the first run's span is never ended, so never exported
        hub.start()  # same hub id: it reclaims its own leases at once
        await person.pending(hub, sid, "input")
        response = await person.answer(hub, sid, request["request_id"], {"name": "Ada"})
        assert response.status_code == 200
        assert (await person.finished(hub, sid))["status"] == "completed"
        hub.terminate()  # SIGTERM, a graceful stop: the queue is flushed on the way out
        spans = receiver.of_session(sid)
    create = next(s for s in spans if s.name == "session.create")
    runs = [s for s in spans if s.name == "session.run"]
    assert len(runs) == 1 and runs[0].attributes["tether.run.resumed"] is True
    assert runs[0].parent_span_id == create.span_id
    asked = next(s for s in spans if s.name == "session.request")
    assert asked.attributes["tether.request.outcome"] == "answered"
    # Its parent is the killed run's span, which never arrived: the trace has a gap
    # there, but not a second trace.
    assert asked.parent_span_id and asked.parent_span_id not in {s.span_id for s in spans}
    assert {s.trace_id for s in spans} == {create.trace_id}
    assert {s.resource["service.name"] for s in spans} == {"tether-e2e"}
