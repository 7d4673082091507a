"""Tether's benchmarks, each measured beside a bare ``websockets`` peer in the same run.

``python -m bench [throughput] [replay] [roundtrip] [memory] [many] [starts] [answers]
[--quick] [--sessions N] [--seconds S]`` (``make bench`` runs all):

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
- **many**: 1,000 sessions (``--sessions``) each streaming 20 events/s to one tab for 5 s
  (``--seconds``), emit→receipt latency p50/p99 and lost events, beside the bare server
  relaying the same schedule from a producer process, and beside ``python-socketio``
  with ``AsyncRedisManager`` fed by a producer process (:mod:`bench.many`).
- **starts**: ``POST /api/sessions`` of a task that asks at once, 64 in flight, starts/s,
  beside a minimal Starlette endpoint doing one Redis write (:mod:`bench.starts`).
- **answers**: 100 sessions answering confirmations as fast as they can (round trips/s,
  p50) beside 100 echo sockets, and one session's round trip (:mod:`bench.answers`).

Every server under test is a real subprocess on a free loopback port; the bench starts its
own ``redis-server``, and the clients (a minimal WebSocket client, :mod:`bench.wsclient`)
live in the bench process, except for ``many`` and ``starts``, whose clients and producers
are load processes of their own (:mod:`bench.loadproc`) that report their CPU. Results
go to stdout and to ``bench/results/`` (see :mod:`bench.report`).
"""
