"""A load-generating HTTP client process for ``python -m bench starts``.

A general HTTP client spends more CPU per request than a small server spends answering
it (httpx in the bench process held both Tether and the peer near 100 starts/s at 90 %
of a core): this one speaks just enough HTTP/1.1 for ``POST /api/sessions`` on
keep-alive connections. Reads one JSON line on stdin: ``{"host", "port", "cookie",
"body", "count", "connections"}``; opens the connections, prints ``ready``, waits for a
line, sends ``count`` requests with ``connections`` in flight and prints one JSON line:
answers by status, seconds, its own CPU seconds.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from collections import Counter
from typing import Any

import uvloop


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def request(spec: dict[str, Any]) -> bytes:
    body = json.dumps(spec["body"]).encode()
    head = (f"POST /api/sessions HTTP/1.1\r\nHost: {spec['host']}:{spec['port']}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n")
    if spec.get("cookie"):
        head += f"Cookie: {spec['cookie']}\r\n"
    return head.encode() + b"\r\n" + body


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.lower() == "content-length":
            length = int(value)
        elif name.lower() == "transfer-encoding":
            raise RuntimeError("chunked responses are not read here")
    await reader.readexactly(length)
    return status


async def main() -> None:
    loop = asyncio.get_running_loop()
    spec: dict[str, Any] = json.loads(await loop.run_in_executor(None, sys.stdin.readline))
    payload = request(spec)
    connections = [await asyncio.open_connection(spec["host"], spec["port"])
                   for _ in range(spec["connections"])]
    print("ready", flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)
    statuses: Counter[int] = Counter()
    remaining = spec["count"]
    cpu = cpu_seconds()
    started = time.perf_counter()

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            writer.write(payload)
            statuses[await read_response(reader)] += 1

    await asyncio.gather(*(worker(r, w) for r, w in connections))
    seconds = time.perf_counter() - started
    print(json.dumps({"statuses": {str(k): v for k, v in statuses.items()},
                      "seconds": seconds, "cpu_s": cpu_seconds() - cpu}), flush=True)
    for _, writer in connections:
        writer.close()


if __name__ == "__main__":
    uvloop.run(main())
