"""``tether serve`` as a real subprocess: one clear line and a non-zero exit for each mistake
a person can make, and a clean start and stop when there is none."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.support.redis_proc import free_port
from tests.support.timing import MS, eventually

STARTUP_MS = 30_000  # importing the package on a loaded 2-core machine is slow
EXIT_MS = 5_000
SERVING = re.compile(r"^Tether serving (\d+) tasks on http://127\.0\.0\.1:(\d+) - store: (.+)$")
REPO = Path(__file__).resolve().parents[2]
# The console script pip made for `[project.scripts] tether`, beside this venv's python.
CONSOLE_SCRIPT = Path(sys.executable).with_name("tether")


def _env() -> dict[str, str]:
    """This environment without TETHER_* variables, so only the arguments count."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TETHER_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


async def _spawn(*args: str, cwd: Path | None = None) -> asyncio.subprocess.Process:
    """``python -m tether serve ARGS``, or with ``cwd`` the ``tether`` console script
    started in that folder (as a person types it there)."""
    command = [str(CONSOLE_SCRIPT)] if cwd else [sys.executable, "-m", "tether"]
    return await asyncio.create_subprocess_exec(
        *command, "serve", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=_env(), cwd=cwd,
    )


@contextlib.asynccontextmanager
async def serving(*args: str, cwd: Path | None = None) -> AsyncIterator[asyncio.subprocess.Process]:
    """A ``tether serve`` process; killed at the end if the test left it running."""
    proc = await _spawn(*args, cwd=cwd)
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def fails_with(*args: str) -> str:
    """Run ``tether serve ARGS``; assert it exits 2 with one ``tether:`` line; return it."""
    async with serving(*args) as proc:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), STARTUP_MS * MS)
    assert proc.returncode == 2, (stdout, stderr)
    lines = stderr.decode().strip().splitlines()
    assert lines and lines[-1].startswith("tether: "), stderr
    assert "Traceback" not in stderr.decode(), stderr
    assert b"Tether serving" not in stdout
    return lines[-1]


async def test_a_module_that_does_not_import_is_one_line_and_exit_2() -> None:
    line = await fails_with("nosuchmodule_xyz:hub", "--port", "0")
    assert line.startswith("tether: cannot import module 'nosuchmodule_xyz'")


async def test_an_attribute_that_is_not_a_hub_is_one_line_and_exit_2() -> None:
    line = await fails_with("tether.config:DEFAULT_TASKS", "--port", "0")
    assert line == "tether: 'tether.config:DEFAULT_TASKS' is not a tether.Hub (found tuple)"
    line = await fails_with("tether.demos:no_such_attribute", "--port", "0")
    assert "is not a tether.Hub (found NoneType)" in line


async def test_a_spec_without_an_attribute_is_one_line_and_exit_2() -> None:
    line = await fails_with("tether.demos", "--port", "0")
    assert line == "tether: 'tether.demos' is not MODULE:ATTR (for example myapp.tasks:hub)"


async def test_an_unreachable_redis_is_one_line_and_exit_2() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    line = await fails_with("--redis", url, "--port", "0")
    assert line.startswith(f"tether: cannot reach Redis at {url}: ")


async def test_a_port_in_use_is_one_line_and_exit_2() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        line = await fails_with("--port", str(port))
    assert line == f"tether: port {port} on 127.0.0.1 is in use (pick another with --port)"


async def test_workers_with_the_memory_store_are_refused_in_one_line() -> None:
    """Sessions of the memory store live in one process: other workers could not see them."""
    line = await fails_with("--workers", "2", "--port", "0")
    assert line.startswith("tether: --workers 2 needs a Redis store (--redis URL or ")
    assert "memory store keeps sessions in one process's memory" in line
    line = await fails_with("--workers", "0", "--port", "0")
    assert line == "tether: TETHER_WORKERS (--workers) must be at least 1"


async def test_a_worker_that_cannot_start_stops_the_supervisor_with_its_exit_code(
    redis_url: str,
) -> None:
    """Task code that fails to load in a worker is not restarted for ever: the supervisor
    stops the other worker and exits with the failed worker's code."""
    async with serving("tests.support.worker_refusing_tasks:hub", "--workers", "2",
                       "--redis", redis_url, "--port", "0") as proc:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), STARTUP_MS * MS)
    assert b"Tether serving 0 tasks" in stdout
    assert "refuses to load in a worker process" in stderr.decode()
    assert "could not start (exit code 1); stopping" in stderr.decode()
    assert proc.returncode == 1


async def test_a_bad_environment_value_is_one_line_and_exit_2() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tether", "serve", "--port", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**_env(), "TETHER_HISTORY_CAP": "lots"},
    )
    _, stderr = await asyncio.wait_for(proc.communicate(), STARTUP_MS * MS)
    assert proc.returncode == 2
    assert stderr.decode().strip().splitlines()[-1] == (
        "tether: TETHER_HISTORY_CAP='lots' is not a valid int"
    )


async def _serving_line(proc: asyncio.subprocess.Process) -> re.Match[str]:
    assert proc.stdout is not None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STARTUP_MS * MS
    while True:
        raw = await asyncio.wait_for(proc.stdout.readline(), max(0.01, deadline - loop.time()))
        assert raw, "tether serve exited before printing its address"
        match = SERVING.match(raw.decode().strip())
        if match:
            return match


@pytest.mark.parametrize("store", ["memory", "redis"])
async def test_serve_on_port_0_answers_healthz_and_stops_on_sigterm(
    store: str, request: pytest.FixtureRequest
) -> None:
    args = ["--port", "0"]
    if store == "redis":
        redis_url: str = request.getfixturevalue("redis_url")
        args += ["--redis", redis_url]
    async with serving(*args) as proc:
        match = await _serving_line(proc)
        tasks, port, described = int(match[1]), int(match[2]), match[3]
        assert tasks >= 1 and port > 0
        assert described.startswith("Redis at" if store == "redis" else "memory")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            answers: list[int] = []

            async def healthy() -> bool:
                with contextlib.suppress(httpx.TransportError):
                    answers.append((await http.get("/healthz")).status_code)
                return bool(answers)

            await eventually(healthy, timeout_ms=STARTUP_MS, what="GET /healthz")
            assert answers[-1] == 200
            assert (await http.get("/readyz")).status_code == 200
        proc.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(proc.communicate(), EXIT_MS * MS)
        # uvicorn shuts down gracefully, then re-raises the signal it caught (the Unix
        # convention), so -SIGTERM is a clean exit here; the log proves the shutdown ran.
        assert proc.returncode in (0, -signal.SIGTERM), stderr
        assert b"Application shutdown complete." in stderr


async def test_the_console_script_serves_a_module_of_the_folder_it_is_started_in(
    tmp_path: Path,
) -> None:
    (tmp_path / "mymod.py").write_text(
        "from pydantic import BaseModel\nfrom tether import Hub\n\nhub = Hub()\n\n"
        "@hub.task()\nasync def hello(ctx, inputs: BaseModel) -> str:\n    return 'hi'\n"
    )
    async with serving("mymod:hub", "--port", "0", cwd=tmp_path) as proc:
        match = await _serving_line(proc)
        assert int(match[1]) == 1


def readme_task_example() -> str:
    """The first Python block under the README's "## A task" heading, as written."""
    text = (REPO / "README.md").read_text()
    section = text.split("\n## A task\n", 1)[1]
    block = re.search(r"^```python\n(.*?)^```$", section, re.S | re.M)
    assert block, "README's '## A task' has no python block"
    return block.group(1)


async def _drive_to_completion(base_url: str, task: str, email: dict[str, str]) -> dict[str, Any]:
    """Start ``task`` over HTTP, answer every question over a WebSocket; the last frame."""
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as http:
        assert (await http.get("/api/tasks")).status_code == 200  # issues the identity cookie
        started = await http.post("/api/sessions", json={"task": task, "inputs": email})
        assert started.status_code == 201, started.text
        cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
    url = base_url.replace("http://", "ws://", 1) + f"/ws/sessions/{started.json()['id']}?after=0"
    async with websockets.connect(url, additional_headers={"Cookie": cookie}) as ws:
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 5000 * MS))
            if frame["type"] == "request_user_input":
                await ws.send(json.dumps({"type": "user_input", "values": email}))
            elif frame["type"] == "request_confirmation":
                await ws.send(json.dumps({"type": "confirm", "value": True}))
            elif frame["type"] in ("task_completed", "task_failed", "task_cancelled"):
                result: dict[str, Any] = frame
                return result


async def test_the_readme_task_example_runs_as_copied(tmp_path: Path) -> None:
    """The README's task, saved as a module and served by the console script from its
    folder, runs to completion when a person answers its form and confirmation."""
    (tmp_path / "readme_task.py").write_text(readme_task_example())
    email = {"subject": "Hello", "body": "It works.", "to_address": "ada@example.com"}
    async with serving("readme_task:hub", "--port", "0", cwd=tmp_path) as proc:
        match = await _serving_line(proc)
        base_url = f"http://127.0.0.1:{match[2]}"
        last = await _drive_to_completion(base_url, "send_email", email)
    assert last["type"] == "task_completed", last
    assert set(last["result"]) == {"sent"}
