"""Drive an ``email_demo`` session over its WebSocket, as in the README's tour.

Usage: .venv/bin/python docs/tour.py SESSION_ID "tether_user=..." [AFTER]
"""

import asyncio
import json
import sys

import websockets


async def main(session_id: str, cookie: str, after: int) -> None:
    url = f"ws://127.0.0.1:8000/ws/sessions/{session_id}?after={after}"
    async with websockets.connect(url, additional_headers={"Cookie": cookie}) as ws:
        async for raw in ws:
            event = json.loads(raw)
            print(raw)
            if event["type"] == "request_user_input":
                values = {"subject": "Hello", "body": "It works.", "to_address": "ada@example.com"}
                await ws.send(json.dumps({"type": "user_input", "values": values}))
            elif event["type"] == "task_failed" and event["can_retry"]:
                await ws.send(json.dumps({"type": "retry", "value": True}))
            elif event["type"] == "request_confirmation":
                await ws.send(json.dumps({"type": "confirm", "value": True}))
            elif event["type"] in ("task_completed", "task_cancelled"):
                return


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 0))
