"""Idle memory: VmRSS of the server process, healing-mcp vs mcp-server-time.

Read from ``/proc/<pid>/status`` once the server has answered ``tools/list`` and sat idle for a moment,
and again after one tool call (for healing-mcp that call is ``healing_get_health_report``, which opens
the store and loads the components; for the reference, ``get_current_time``). Each measurement uses
fresh processes; the median of a few repetitions is reported.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.core.common import Results, Row, fmt_mib, median, ratio
from benchmarks.core.servers import healing_spec, reference_spec

SETTLE_S = 0.5


def _measure(root: Path, index: int) -> dict[str, int]:
    workdir = root / f"run{index}"
    workdir.mkdir()
    healing = healing_spec(workdir / ".healing").start(root / f"healing.{index}.err")
    reference = reference_spec(root).start(root / f"time.{index}.err")
    try:
        for server in (healing, reference):
            server.initialize()
            server.list_tools()
        time.sleep(SETTLE_S)
        out = {"healing_idle": healing.rss_kib(), "time_idle": reference.rss_kib()}
        healing.call_tool("healing_get_health_report", {})
        reference.call_tool("get_current_time", {"timezone": "UTC"})
        time.sleep(SETTLE_S)
        out["healing_after_call"] = healing.rss_kib()
        out["time_after_call"] = reference.rss_kib()
    finally:
        healing.close()
        reference.close()
    return out


def run(results: Results, repeats: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="healing-bench-rss-") as tmp:
        samples = [_measure(Path(tmp), i) for i in range(repeats)]
    medians = {key: median([s[key] for s in samples]) for key in samples[0]}
    out: dict[str, Any] = {
        "repeats": repeats,
        "samples_kib": samples,
        "median_kib": medians,
        "ratio_idle": ratio(medians["healing_idle"], medians["time_idle"]),
        "ratio_after_call": ratio(medians["healing_after_call"], medians["time_after_call"]),
    }
    results.benchmarks["idle_rss"] = out
    results.rows.append(
        Row(
            "idle RSS",
            "after tools/list",
            fmt_mib(medians["healing_idle"]),
            fmt_mib(medians["time_idle"]),
            f"{out['ratio_idle']:.2f}",
            "-",
            None,
        )
    )
    results.rows.append(
        Row(
            "idle RSS",
            "after one report / get_current_time call",
            fmt_mib(medians["healing_after_call"]),
            fmt_mib(medians["time_after_call"]),
            f"{out['ratio_after_call']:.2f}",
            "-",
            None,
        )
    )
    return out
