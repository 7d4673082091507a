"""Tether's benchmarks, each measured beside a bare ``websockets`` peer in the same run.

``python -m bench [throughput] [replay] [roundtrip] [memory] [--quick]`` (``make bench``
runs all):

- **throughput**: the ``ticker`` task streaming to 10 WebSocket tabs, Redis as the store,
  in delivered events per second, beside a bare websockets server broadcasting the same
  frames from memory to 10 clients.
- **replay**: reconnecting with ``after=0`` to a session of 10,000 stored events, time to
  ``replay_complete``, beside the bare server sending 10,000 frames from a list.
- **roundtrip**: one session answering confirmations, from sending ``confirm`` to the
  task's next event, p50/p99 on the memory store and on Redis, beside a bare websockets
  echo of the same frame.
- **memory**: the hub's RSS increase per idle session WebSocket (10,000 watched
  sessions), beside the bare server's RSS per idle connection.

Every server under test is a real subprocess on a free loopback port; the bench starts its
own ``redis-server``, and the clients (a minimal WebSocket client, :mod:`bench.wsclient`)
live in the bench process. Results go to stdout and to ``bench/results/`` (see
:mod:`bench.report`).
"""
