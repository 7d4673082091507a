"""``python -m bench [throughput] [replay] [roundtrip] [memory] [--quick]``: run, print, save.

With no names every benchmark runs. ``--quick`` uses small sizes for a smoke run (under a
minute); its verdicts are printed but were not measured at the targets' sizes.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass

from bench import memory, replay, roundtrip, throughput
from bench.procs import Processes, raise_nofile_limit
from bench.report import Figure, environment, table, write_results

BENCHMARKS = ("throughput", "replay", "roundtrip", "memory")


@dataclass(frozen=True)
class Sizes:
    throughput: throughput.Config
    replay: replay.Config
    roundtrip: roundtrip.Config
    memory: memory.Config


FULL = Sizes(
    throughput=throughput.Config(events=20_000, rounds=5),
    replay=replay.Config(events=10_000, runs=10),
    roundtrip=roundtrip.Config(exchanges=2_000),
    memory=memory.Config(sockets=10_000),
)
QUICK = Sizes(
    throughput=throughput.Config(events=2_000, rounds=2, warmup_events=200),
    replay=replay.Config(events=2_000, runs=5),
    roundtrip=roundtrip.Config(exchanges=100, warmup=10),
    memory=memory.Config(sockets=1_000),
)


async def run_one(name: str, sizes: Sizes) -> list[Figure]:
    """One benchmark with its own Redis and servers, all stopped when it ends."""
    with Processes() as procs:
        if name == "throughput":
            return [await throughput.run(procs, sizes.throughput)]
        if name == "replay":
            return await replay.run(procs, sizes.replay)
        if name == "roundtrip":
            return await roundtrip.run(procs, sizes.roundtrip)
        return [await memory.run(procs, sizes.memory)]


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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("benchmarks", nargs="*", metavar="NAME",
                        help=f"which to run: {', '.join(BENCHMARKS)} (default: all)")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.benchmarks) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; pick from {', '.join(BENCHMARKS)}")
    names = [name for name in BENCHMARKS if name in args.benchmarks] or list(BENCHMARKS)
    raise_nofile_limit()  # the servers inherit it
    env = environment()
    started = time.time()
    try:
        figures, failures = asyncio.run(
            run_all(names, QUICK if args.quick else FULL)
        )
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
