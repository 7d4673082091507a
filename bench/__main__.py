"""``python -m bench [throughput] [ticker] [replay] [roundtrip] [memory] [many] [starts]
[answers] [--quick] [--sessions N] [--seconds S] [--workers N,N] [--profile]``: run, print,
save.

With no names every benchmark runs (``ticker`` is ``throughput`` to one tab).
``--sessions`` and ``--seconds`` size ``many`` (1,000 sessions for 5 s unless told);
``--workers`` lists the counts of hub processes ``many`` measures Tether with (``tether
serve --workers N``; 1 and 2 unless told). ``--quick`` uses small sizes for a smoke run
(under a minute); its verdicts are printed but were not measured at the targets' sizes.
``--profile`` samples the hub with py-spy during ``many`` and prints the top functions
(the sampler takes CPU of its own: compare profiled runs with each other only).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, replace

import uvloop

from bench import answers, many, memory, replay, roundtrip, starts, throughput
from bench.procs import Processes, raise_nofile_limit
from bench.report import Figure, environment, table, write_results

BENCHMARKS = ("throughput", "ticker", "replay", "roundtrip", "memory", "many", "starts", "answers")


@dataclass(frozen=True)
class Sizes:
    throughput: throughput.Config
    ticker: throughput.Config  # one session to one tab
    replay: replay.Config
    roundtrip: roundtrip.Config
    memory: memory.Config
    many: many.Config
    starts: starts.Config
    answers: answers.Config


FULL = Sizes(
    throughput=throughput.Config(events=20_000, rounds=5),
    ticker=throughput.Config(events=20_000, rounds=5, tabs=1, target_ratio=0.7),
    replay=replay.Config(events=10_000, runs=10),
    roundtrip=roundtrip.Config(exchanges=2_000),
    memory=memory.Config(sockets=10_000),
    many=many.Config(sessions=1_000, seconds=5.0),
    starts=starts.Config(sessions=3_000),
    answers=answers.Config(sessions=100, seconds=10.0),
)
QUICK = Sizes(
    throughput=throughput.Config(events=2_000, rounds=2, warmup_events=200),
    ticker=throughput.Config(events=2_000, rounds=2, tabs=1, target_ratio=0.7,
                             warmup_events=200),
    replay=replay.Config(events=2_000, runs=5),
    roundtrip=roundtrip.Config(exchanges=100, warmup=10),
    memory=memory.Config(sockets=1_000),
    many=many.Config(sessions=100, seconds=3.0, clients=2),
    starts=starts.Config(sessions=300),
    answers=answers.Config(sessions=20, seconds=2.0, single_exchanges=100),
)


async def run_one(name: str, sizes: Sizes) -> list[Figure]:
    """One benchmark with its own Redis and servers, all stopped when it ends."""
    with Processes() as procs:
        if name == "throughput":
            return await throughput.run(procs, sizes.throughput)
        if name == "ticker":
            return await throughput.run(procs, sizes.ticker)
        if name == "replay":
            return await replay.run(procs, sizes.replay)
        if name == "roundtrip":
            return await roundtrip.run(procs, sizes.roundtrip)
        if name == "many":
            return await many.run(procs, sizes.many)
        if name == "starts":
            return await starts.run(procs, sizes.starts)
        if name == "answers":
            return await answers.run(procs, sizes.answers)
        return await memory.run(procs, sizes.memory)


async def run_all(names: Sequence[str], sizes: Sizes) -> tuple[list[Figure], list[str]]:
    main_task = asyncio.current_task()
    assert main_task is not None
    # SIGTERM cancels the run; every Processes block on the way out stops its servers.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    figures: list[Figure] = []
    failures: list[str] = []
    for name in names:
        print(f"{name} ...", flush=True)
        start = time.perf_counter()
        try:
            figures.extend(await run_one(name, sizes))
        except Exception as exc:  # report it, run the rest
            traceback.print_exc()
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
        print(f"{name} took {time.perf_counter() - start:.1f} s", flush=True)
    return figures, failures


def _counts(text: str) -> tuple[int, ...]:
    """``1,2`` -> (1, 2): distinct counts of at least 1, in the order given."""
    try:
        counts = tuple(dict.fromkeys(int(part) for part in text.split(",") if part.strip()))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list like 1,2") from exc
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("worker counts are at least 1, e.g. 1,2")
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("benchmarks", nargs="*", metavar="NAME",
                        help=f"which to run: {', '.join(BENCHMARKS)} (default: all)")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--sessions", type=int, metavar="N",
                        help="many: how many sessions (default 1,000; --quick 100)")
    parser.add_argument("--seconds", type=float, metavar="S",
                        help="many and answers: how long each side runs (default 5 and 10)")
    parser.add_argument("--workers", type=_counts, metavar="N,N",
                        help="many: Tether's side once per count of hub worker processes "
                             "(default 1,2)")
    parser.add_argument("--profile", action="store_true",
                        help="many: sample the hub with py-spy and print where its time goes")
    args = parser.parse_args(argv)
    if args.sessions is not None and args.sessions < 1:
        parser.error("--sessions must be at least 1")
    if args.seconds is not None and args.seconds <= 0:
        parser.error("--seconds must be positive")
    unknown = sorted(set(args.benchmarks) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; pick from {', '.join(BENCHMARKS)}")
    names = [name for name in BENCHMARKS if name in args.benchmarks] or list(BENCHMARKS)
    raise_nofile_limit()  # the servers inherit it
    env = environment()
    started = time.time()
    sizes = QUICK if args.quick else FULL
    if args.sessions is not None:
        sizes = replace(sizes, many=replace(sizes.many, sessions=args.sessions))
    if args.workers is not None:
        sizes = replace(sizes, many=replace(sizes.many, workers=args.workers))
    if args.profile:
        sizes = replace(sizes, many=replace(sizes.many, profile=True))
    if args.seconds is not None:
        sizes = replace(sizes, many=replace(sizes.many, seconds=args.seconds),
                        answers=replace(sizes.answers, seconds=args.seconds))
    try:
        figures, failures = uvloop.run(run_all(names, sizes))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted; servers stopped", file=sys.stderr)
        return 130
    print()
    if figures:
        print(table(figures, quick=args.quick))
        json_path, md_path = write_results(
            figures, quick=args.quick, started=started, env=env, benchmarks=names
        )
        print(f"\n{len(figures)} figures in {time.time() - started:.0f} s;"
              f" results: {md_path}, {json_path.name}")
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
