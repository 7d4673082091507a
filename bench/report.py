"""Figures, their stats, the printed table, and the results files of a run.

Every run writes ``bench/results/<date>-<time>-<machine>.json`` (every figure with its
samples, the machine, the commit measured) and a ``.md`` beside it (the table a person
reads). Full runs are meant to be committed: the README's speed table quotes one by
name. Quick runs end in ``-quick`` and are not kept (``.gitignore``).
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import statistics
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.procs import RESULTS


@dataclass
class Figure:
    """One measured figure, Tether beside its peer from the same run."""

    key: str
    label: str
    unit: str
    tether: float
    peer: float
    target: str
    met: bool
    higher_is_better: bool
    conditions: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.tether / self.peer if self.peer else math.nan


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank ``q``-th percentile (0 < q <= 100)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile (with 10 samples: the largest)."""
    return percentile(values, 95.0)


def _number(value: float, unit: str) -> str:
    if math.isnan(value):
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f} {unit}"
    if abs(value) < 10:
        return f"{value:.2f} {unit}"
    return f"{value:.1f} {unit}"


def _verdict(f: Figure) -> str:
    if f.target == "-":  # a figure shown for context, held to no target
        return "-"
    return "met" if f.met else "MISSED"


def table(figures: list[Figure], *, quick: bool) -> str:
    head = ("figure", "Tether", "peer", "Tether/peer", "target", "verdict")
    rows = [head]
    for f in figures:
        verdict = _verdict(f)
        if quick and f.target != "-":
            verdict += " (quick sizes)"
        rows.append((f.label, _number(f.tether, f.unit), _number(f.peer, f.unit),
                     f"{f.ratio:.2f}", f.target, verdict))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = [f"  {f.label}: {f.conditions}" for f in figures]
    return "\n".join([*lines, "", "conditions:", *notes])


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "?"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _commit() -> str:
    """The commit measured, with ``+dirty`` when the work tree had changes."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=RESULTS.parents[1], capture_output=True,
                              text=True, check=False).stdout.strip()
    head = git("rev-parse", "--short=12", "HEAD") or "unknown"
    return head + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def machine() -> dict[str, Any]:
    """What the figures depend on most: cores, CPU model, memory, the host's name."""
    return {
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gib": _memory_gib(),
    }


def environment() -> dict[str, Any]:
    return {
        "machine": machine(),
        "commit": _commit(),
        "cpus": os.cpu_count(),
        "loadavg": os.getloadavg(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {name: _version(name) for name in
                     ("tether", "uvicorn", "starlette", "websockets", "redis", "hiredis",
                      "python-socketio")},
    }


def results_stem(when: datetime, env: dict[str, Any], *, quick: bool) -> str:
    """``2026-12-01-2032-vm-2cpu``: when (UTC), the host, its cores; ``-quick`` for smoke runs."""
    host = re.sub(r"[^a-z0-9]+", "-", str(env["machine"]["host"]).lower()).strip("-") or "host"
    stem = f"{when:%Y-%m-%d-%H%M}-{host}-{env['machine']['cpus']}cpu"
    return stem + ("-quick" if quick else "")


def write_results(figures: list[Figure], *, quick: bool, started: float, env: dict[str, Any],
                  benchmarks: list[str], directory: Path | None = None) -> tuple[Path, Path]:
    """Write this run's ``.json`` and ``.md``; returns their paths."""
    directory = directory or RESULTS
    directory.mkdir(parents=True, exist_ok=True)
    when = datetime.fromtimestamp(started, UTC)
    stem = results_stem(when, env, quick=quick)
    doc = {
        "when": when.isoformat(timespec="seconds"),
        "mode": "quick" if quick else "full",
        "benchmarks": benchmarks,
        "seconds": round(datetime.now(UTC).timestamp() - started, 1),
        "environment_before": env,
        "loadavg_after": os.getloadavg(),
        "figures": [{**asdict(f), "ratio": f.ratio} for f in figures],
    }
    if (directory / f"{stem}.json").exists():  # two runs started within one minute
        stem = next(f"{stem}-{n}" for n in range(2, 1000)
                    if not (directory / f"{stem}-{n}.json").exists())
    json_path = directory / f"{stem}.json"
    json_path.write_text(json.dumps(doc, indent=2) + "\n")
    md_path = directory / f"{stem}.md"
    md_path.write_text(markdown(figures, doc, json_path.name))
    return json_path, md_path


def _conditions(figures: list[Figure]) -> list[str]:
    """One line per distinct set of conditions (a p50 and its p99 share theirs)."""
    labels: dict[str, list[str]] = {}
    for f in figures:
        labels.setdefault(f.conditions, []).append(f.label)
    return [f"- {' / '.join(names)}: {conditions}" for conditions, names in labels.items()]


def markdown(figures: list[Figure], doc: dict[str, Any], json_name: str) -> str:
    env = doc["environment_before"]
    m = env["machine"]
    rows = [
        "| figure | Tether | peer | Tether/peer | target | verdict |",
        "|---|---|---|---|---|---|",
        *(f"| {f.label} | {_number(f.tether, f.unit)} | {_number(f.peer, f.unit)} |"
          f" {f.ratio:.2f} | {f.target} | {_verdict(f)} |" for f in figures),
    ]
    load_before = ", ".join(f"{x:.2f}" for x in env["loadavg"])
    load_after = ", ".join(f"{x:.2f}" for x in doc["loadavg_after"])
    versions = ", ".join(f"{k} {v}" for k, v in env["versions"].items())
    lines = [
        f"# Bench run {doc['when']} ({doc['mode']} sizes: {', '.join(doc['benchmarks'])})",
        "",
        f"- machine: `{m['host']}`, {m['cpus']} cores, {m['cpu_model']},"
        f" {m['memory_gib']} GiB",
        f"- commit measured: `{env['commit']}`; Python {env['python']}; {versions}",
        f"- load average (1, 5, 15 min) before: {load_before}; after: {load_after}",
        f"- took {doc['seconds']:.0f} s; every sample is in `{json_name}`",
        "",
        *rows,
        "",
        "Conditions:",
        "",
        *_conditions(figures),
        "",
    ]
    return "\n".join(lines)
