"""``/openapi.json`` against the hub that serves it: schemathesis generates requests for
every operation from the document itself (valid ones and ones that break it), sends them
to a live hub process (Redis store, accounts mode, an admin's bearer token), and checks
every answer: never a 5xx, only documented statuses and content types, and bodies that fit
their documented schemas.

The operations are collected from :func:`tether.openapi.build_openapi` when the module is
imported (pytest collects one test per operation before any hub runs), and the first test
checks that the live hub's ``/openapi.json`` is exactly that document.

Half of the cases that name a session (chosen by a checksum of the generated id, so the
same ones every run) are sent to a real session of the hub instead, answers to another
one's open request (so that a cancel does not end the session the answers go to):
random ids alone would reach nothing but 404, never the handlers that answer, cancel,
fork and page events.

The bearer token also exempts the writes from the cross-site checks (csrf.py), and the
generated bodies are JSON as documented, so the handlers themselves answer, not a blanket
403 or 415. Deterministic (``derandomize``) and bounded (``max_examples`` per operation),
so it runs the same in every checkout and in seconds.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import redis
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.hub_proc import HubProcess
from tests.support.redis_proc import RedisProcess
from tether.app import VERSION
from tether.credentials import new_token, token_digest
from tether.openapi import build_openapi
from tether.store.redis_users import RedisDirectory
from tether.users import UserRecord

TOKEN = new_token()
CHECKS = [
    not_a_server_error, status_code_conformance, content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def live_hub(redis_proc: RedisProcess) -> Iterator[HubProcess]:
    """A hub process in accounts mode whose only user is the admin ``root``, on an empty
    Redis, for every operation of the module."""
    client = redis.Redis.from_url(redis_proc.url)
    client.flushall()
    client.close()

    async def add_admin() -> None:
        directory = RedisDirectory(redis_proc.url)
        try:
            await directory.add(UserRecord(name="root", admin=True))
            await directory.add_token("root", token_digest(TOKEN))
        finally:
            await directory.close()

    asyncio.run(add_admin())
    # A few failed logins then 429: both answers are fuzzed, without an Argon2 check (tens
    # of ms of CPU each) for every generated login.
    hub = HubProcess(redis_url=redis_proc.url, hub_id="fuzzed",
                     TETHER_LOGIN_FAILURES_PER_IP="5").start()
    try:
        yield hub
    finally:
        hub.terminate()
        print("\n".join(hub.log[-300:]))  # shown when a test failed: the hub's tracebacks


@dataclass(frozen=True)
class Target:
    base_url: str
    session_id: str  # for reads, cancels and forks
    answered_id: str  # for answers: its request_id is open
    request_id: str


def waiting_session(http: httpx.Client) -> tuple[str, str]:
    """A new email demo session and the id of its first question, once it is asked."""
    started = http.post("/api/sessions", json={"task": "email_demo", "inputs": {}})
    assert started.status_code == 201, started.text
    session_id = started.json()["id"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        pending = http.get(f"/api/sessions/{session_id}").json()["pending"]
        if pending:
            return session_id, pending[0]["request_id"]
        time.sleep(0.02)  # poll interval of a deadline-bound wait
    raise AssertionError("the email demo asked nothing")


@pytest.fixture(scope="module")
def target(live_hub: HubProcess) -> Target:
    """The hub, and two real sessions of it waiting for an answer."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=live_hub.base_url, headers=headers, timeout=10) as http:
        session_id, _ = waiting_session(http)
        answered_id, request_id = waiting_session(http)
    return Target(live_hub.base_url, session_id, answered_id, request_id)


schema = schemathesis.openapi.from_dict(build_openapi(VERSION))


def test_the_live_document_is_the_one_fuzzed(live_hub: HubProcess) -> None:
    served = httpx.get(f"{live_hub.base_url}/openapi.json", timeout=10)
    assert served.status_code == 200
    assert served.json() == build_openapi(VERSION)


@schema.parametrize()
@settings(max_examples=25, derandomize=True, database=None, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented(case: schemathesis.Case, target: Target) -> None:
    params = case.path_parameters
    if params and "session_id" in params and zlib.crc32(str(params["session_id"]).encode()) % 2:
        params["session_id"] = target.session_id
        if "request_id" in params:
            params["session_id"] = target.answered_id
            params["request_id"] = target.request_id
    case.call_and_validate(
        base_url=target.base_url, headers={"Authorization": f"Bearer {TOKEN}"}, checks=CHECKS
    )
