"""Cold start: spawn -> ``tools/list`` answered over stdio, healing-mcp vs mcp-server-time.

Runs alternate between the two servers (and which one goes first flips every round) so machine drift
and other load on a shared box hit both alike. One warm-up start of each is discarded so both read
their modules from the page cache and compiled bytecode. healing-mcp gets a fresh ``HEALING_HOME``
every time.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.core.common import Results, Row, fmt_ms, log, median, ratio, summary
from benchmarks.core.servers import ServerSpec, healing_spec, reference_spec

TARGET_RATIO = 1.10


def _one(spec: ServerSpec, stderr: Path) -> tuple[float, float, float, int]:
    """(seconds to initialize answered, seconds to tools/list answered, server CPU seconds by then,
    number of tools)."""
    started = time.perf_counter()
    with spec.start(stderr) as server:
        server.initialize()
        initialized = time.perf_counter()
        tools = server.list_tools()
        listed = time.perf_counter()
        cpu = server.cpu_seconds()
    return initialized - started, listed - started, cpu, len(tools)


def run(results: Results, runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="healing-bench-cold-") as tmp:
        root = Path(tmp)
        counter = 0

        def spec_for(name: str) -> ServerSpec:
            nonlocal counter
            counter += 1
            if name == "healing-mcp":
                workdir = root / f"run{counter}"
                workdir.mkdir()
                return healing_spec(workdir / ".healing")
            return reference_spec(root)

        names = ("healing-mcp", "mcp-server-time")
        for name in names:  # warm-up, discarded
            _one(spec_for(name), root / f"{name}.warmup.err")
        to_list: dict[str, list[float]] = {name: [] for name in names}
        to_init: dict[str, list[float]] = {name: [] for name in names}
        cpu: dict[str, list[float]] = {name: [] for name in names}
        tool_counts: dict[str, int] = {}
        for i in range(runs):
            order = names if i % 2 == 0 else names[::-1]
            for name in order:
                init_s, list_s, cpu_s, count = _one(spec_for(name), root / f"{name}.{i}.err")
                to_init[name].append(init_s)
                cpu[name].append(cpu_s)
                to_list[name].append(list_s)
                tool_counts[name] = count
            log(
                f"  cold start {i + 1}/{runs}: healing-mcp {fmt_ms(to_list['healing-mcp'][-1])}, "
                f"mcp-server-time {fmt_ms(to_list['mcp-server-time'][-1])}"
            )

    healing = summary(to_list["healing-mcp"])
    reference = summary(to_list["mcp-server-time"])
    value = ratio(healing["median"], reference["median"])
    cpu_value = ratio(median(cpu["healing-mcp"]), median(cpu["mcp-server-time"]))
    # Per-round ratios show how steady the comparison is under machine load.
    pair_ratios = [h / t for h, t in zip(to_list["healing-mcp"], to_list["mcp-server-time"], strict=True)]
    out: dict[str, Any] = {
        "runs_each": runs,
        "tools": tool_counts,
        "spawn_to_tools_list_s": {"healing-mcp": healing, "mcp-server-time": reference},
        "spawn_to_initialize_s": {name: summary(values) for name, values in to_init.items()},
        "raw_s": to_list,
        "ratio_of_medians": value,
        "per_round_ratio": summary(pair_ratios),
        "server_cpu_s_at_tools_list": {name: summary(values) for name, values in cpu.items()},
        "cpu_ratio_of_medians": cpu_value,
        "target_ratio": TARGET_RATIO,
        "met": value <= TARGET_RATIO,
    }
    results.benchmarks["cold_start"] = out
    results.rows.append(
        Row(
            "cold start",
            "spawn -> tools/list, median",
            fmt_ms(healing["median"]),
            fmt_ms(reference["median"]),
            f"{value:.3f}",
            f"<= {TARGET_RATIO:.2f}",
            value <= TARGET_RATIO,
        )
    )
    results.rows.append(
        Row(
            "cold start",
            "server CPU time until tools/list, median",
            fmt_ms(median(cpu["healing-mcp"])),
            fmt_ms(median(cpu["mcp-server-time"])),
            f"{cpu_value:.3f}",
            "-",
            None,
        )
    )
    return out
