"""Load generators in processes of their own, driven by lines on stdin and stdout.

A :class:`LoadProcess` is ``python -m MODULE ARGS``: the bench writes it a line, reads
its lines back, and kills it on the way out whatever happens (and the kernel kills it if
the bench dies: ``PR_SET_PDEATHSIG``). Its stderr goes to ``bench/results/logs/``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from types import TracebackType
from typing import Any

from bench.procs import LOGS, _die_with_parent


class LoadProcess:
    def __init__(self, name: str, module: str, *args: str) -> None:
        self.name = name
        self._argv = [sys.executable, "-m", module, *args]
        self._proc: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> LoadProcess:
        LOGS.mkdir(parents=True, exist_ok=True)
        with (LOGS / f"{self.name}.log").open("w") as log:
            self._proc = await asyncio.create_subprocess_exec(
                *self._argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=log, preexec_fn=_die_with_parent, limit=1 << 26,
            )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        proc = self._proc
        if proc is not None and proc.returncode is None:
            proc.kill()
            await proc.wait()

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def send(self, line: str) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.write(line.encode() + b"\n")

    async def line(self, timeout: float) -> str:
        assert self._proc is not None and self._proc.stdout is not None
        raw = await asyncio.wait_for(self._proc.stdout.readline(), timeout)
        if not raw:
            raise RuntimeError(f"{self.name} exited; see {LOGS / self.name}.log")
        return raw.decode().strip()

    async def expect(self, text: str, timeout: float) -> None:
        got = await self.line(timeout)
        if got != text:
            raise RuntimeError(f"{self.name} said {got!r}, not {text!r}")

    async def result(self, timeout: float) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(await self.line(timeout))
        return data
