"""Shared helpers: statistics, machine notes, results files and the printed table."""

from __future__ import annotations

import json
import math
import os
import platform
import sqlite3
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent.parent / "results"


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100): an observed value, no interpolation."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "median": median(values),
        "p95": percentile(values, 95),
        "min": min(values),
        "max": max(values),
        "mean": statistics.fmean(values),
    }


def ratio(a: float, b: float) -> float:
    return a / b if b else float("inf")


def _dist_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def machine_notes() -> dict[str, Any]:
    return {
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "mcp": _dist_version("mcp"),
        "pydantic": _dist_version("pydantic"),
        "healing-mcp": _dist_version("healing-mcp"),
        "drain3": _dist_version("drain3"),
    }


@dataclass
class Row:
    """One line of the printed table."""

    benchmark: str
    metric: str
    healing: str
    baseline: str
    ratio: str
    target: str
    met: bool | None


@dataclass
class Results:
    quick: bool
    started: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    machine: dict[str, Any] = field(default_factory=machine_notes)
    load_before: list[float] = field(default_factory=load_average)
    benchmarks: dict[str, Any] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)

    def write(self, command: str) -> Path:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        path = RESULTS_DIR / f"core-{stamp}{'-quick' if self.quick else ''}.json"
        payload = {
            "command": command,
            "quick": self.quick,
            "started": self.started,
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": self.machine,
            "load_before": self.load_before,
            "load_after": load_average(),
            "benchmarks": self.benchmarks,
            "table": [row.__dict__ for row in self.rows],
        }
        path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
        (RESULTS_DIR / "core-latest.json").write_text(path.read_text())
        return path

    def table(self) -> str:
        headers = ("benchmark", "metric", "healing-mcp", "baseline", "ratio", "target", "met")
        body = [(r.benchmark, r.metric, r.healing, r.baseline, r.ratio, r.target, _met(r.met)) for r in self.rows]
        widths = [max(len(h), *(len(row[i]) for row in body)) if body else len(h) for i, h in enumerate(headers)]
        lines = [" | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
        lines.append("-+-".join("-" * w for w in widths))
        lines.extend(" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in body)
        return "\n".join(lines)


def _met(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "NO")


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def fmt_mib(kib: float) -> str:
    return f"{kib / 1024:.1f} MiB"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
