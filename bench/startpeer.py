"""The peer for session starts: a minimal Starlette endpoint doing one Redis write.

``POST /api/sessions`` reads the JSON body, writes it as one hash in Redis (``HSET``) under
a new id and answers ``201 {"id": ...}``: the least a durable start can do, on the same
server stack as ``tether serve`` (uvicorn, Starlette). ``python -m bench.startpeer --redis
URL --port 0`` prints ``Peer serving on http://127.0.0.1:PORT``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import uuid

import redis.asyncio as redis
import uvloop
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench.asgiserve import serve


def make_app(redis_url: str) -> Starlette:
    client = redis.Redis.from_url(redis_url)

    async def start(request: Request) -> JSONResponse:
        body = await request.json()
        session_id = uuid.uuid4().hex
        await client.hset(f"session:{session_id}",
                          mapping={"task": str(body["task"]), "inputs": json.dumps(body["inputs"])})
        return JSONResponse({"id": session_id}, status_code=201)

    return Starlette(routes=[Route("/api/sessions", start, methods=["POST"])])


async def main(redis_url: str, port: int) -> None:
    await serve(make_app(redis_url), port)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.startpeer")
    parser.add_argument("--redis", required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(main(args.redis, args.port))
