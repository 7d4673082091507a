"""Figures, their stats, the printed table and ``bench/results/latest.json``."""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
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


def table(figures: list[Figure], *, quick: bool) -> str:
    head = ("figure", "Tether", "peer", "Tether/peer", "target", "verdict")
    rows = [head]
    for f in figures:
        verdict = "met" if f.met else "MISSED"
        if quick:
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


def environment() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "loadavg": os.getloadavg(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {name: _version(name) for name in
                     ("tether", "uvicorn", "starlette", "websockets", "redis", "hiredis")},
    }


def write_json(figures: list[Figure], *, quick: bool, started: float, env: dict[str, Any],
               path: Path | None = None) -> Path:
    path = path or RESULTS / "latest.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "quick" if quick else "full",
        "seconds": round(datetime.now(UTC).timestamp() - started, 1),
        "environment_before": env,
        "loadavg_after": os.getloadavg(),
        "figures": [{**asdict(f), "ratio": f.ratio} for f in figures],
    }
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path
