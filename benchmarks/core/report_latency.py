"""Report latency: ``healing_get_health_report`` on a store with 10,000 open issues vs ``get_current_time``.

The store is filled through the store API (``commit_intake`` with generated issue groups spread over
six components, four severities and two days), in a temporary ``HEALING_HOME``. Then each server runs
in its own process with one stdio session; after warm-up calls, calls alternate between the two
servers so machine drift hits both alike. ``healing_get_health_report`` runs with default arguments:
it refreshes from the (empty) event logs, counts issues per component/state/severity, and returns the
50 most urgent issues with their evidence.
"""

from __future__ import annotations

import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio

from benchmarks.core.common import Results, Row, fmt_ms, log, ratio, summary
from benchmarks.core.eventgen import templates
from benchmarks.core.rpc import StdioServer
from benchmarks.core.servers import healing_spec, reference_spec
from healing_mcp.core.signatures import compute_signature
from healing_mcp.models import Evidence, Severity
from healing_mcp.store.base import IntakeBatch, IssueGroup, IssueQuery
from healing_mcp.store.sqlite import SQLiteStore

TARGET_RATIO = 3.0
REPORT_TOOL = "healing_get_health_report"
TIME_TOOL = "get_current_time"


def _instance(serial: int) -> str:
    """A letters-only instance name (digit runs in targets could be masked and collide)."""
    letters = ""
    while True:
        serial, digit = divmod(serial, 26)
        letters += chr(ord("a") + digit)
        if not serial:
            return f"site-{letters}"


def issue_groups(count: int, *, seed: int = 11, now: datetime | None = None) -> list[IssueGroup]:
    """``count`` distinct issue groups: each a template with its own target instance."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    pool = templates()
    groups: dict[str, IssueGroup] = {}
    serial = 0
    while len(groups) < count:
        template = rng.choice(pool)
        serial += 1
        target = f"{template.target} @ {_instance(serial)}"  # one issue per (template, instance)
        message = template.render(rng)
        signature = compute_signature(template.component, template.kind, target, message)
        last_seen = now - timedelta(seconds=rng.uniform(0, 48 * 3600))
        first_seen = last_seen - timedelta(seconds=rng.uniform(0, 7 * 86400))
        samples = [
            Evidence(
                time=last_seen - timedelta(seconds=k),
                message=template.render(rng),
                attributes={"request_id": f"req-{rng.getrandbits(64):016x}", "host": f"{template.component}-1"},
            )
            for k in range(rng.randint(1, 3))
        ]
        groups[signature] = IssueGroup(
            signature=signature,
            component=template.component,
            kind=template.kind,
            target=target,
            severity=Severity(template.severity or rng.choice(["info", "warning", "error", "critical"])),
            title=f"{template.kind.replace('_', ' ')}: {target}",
            count=rng.randint(1, 500),
            first_seen=first_seen,
            last_seen=last_seen,
            samples=samples,
            symptoms=[message[:300]],
        )
    return list(groups.values())


async def populate(home: Path, count: int) -> dict[str, Any]:
    """Fill ``home``'s SQLite store with ``count`` open issues; returns what it wrote."""
    store = SQLiteStore(home / "healing.db")
    await store.open()
    started = time.perf_counter()
    try:
        groups = issue_groups(count)
        for i in range(0, len(groups), 2000):
            await store.commit_intake(IntakeBatch(groups=groups[i : i + 2000]), now=datetime.now(UTC))
        total = (await store.query_issues(IssueQuery(limit=1))).total
    finally:
        await store.close()
    return {"issues": total, "seconds": time.perf_counter() - started, "db_bytes": (home / "healing.db").stat().st_size}


def _timed(server: StdioServer, tool: str, arguments: dict[str, Any]) -> tuple[float, int]:
    started = time.perf_counter()
    server.call_tool(tool, arguments)
    elapsed = time.perf_counter() - started
    return elapsed, server.last_message_bytes


def run(results: Results, issues: int, calls: int, warmup: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="healing-bench-report-") as tmp:
        root = Path(tmp)
        home = root / "work" / ".healing"
        home.mkdir(parents=True)
        log(f"  populating {issues:,} open issues ...")
        populated = anyio.run(populate, home, issues)
        healing = healing_spec(home).start(root / "healing.err")
        reference = reference_spec(root).start(root / "time.err")
        try:
            healing.initialize()
            reference.initialize()
            time_args = {"timezone": "UTC"}
            first_call_s, _ = _timed(healing, REPORT_TOOL, {})  # opens the store and loads components
            for _ in range(warmup):
                _timed(healing, REPORT_TOOL, {})
                _timed(reference, TIME_TOOL, time_args)
            h_times: list[float] = []
            t_times: list[float] = []
            h_bytes = t_bytes = 0
            for i in range(calls):
                pair: tuple[tuple[StdioServer, str, dict[str, Any]], ...] = (
                    (healing, REPORT_TOOL, {}),
                    (reference, TIME_TOOL, time_args),
                )
                for server, tool, args in pair if i % 2 == 0 else pair[::-1]:
                    elapsed, size = _timed(server, tool, args)
                    if server is healing:
                        h_times.append(elapsed)
                        h_bytes = size
                    else:
                        t_times.append(elapsed)
                        t_bytes = size
            report = healing.call_tool(REPORT_TOOL, {})["structuredContent"]
            rss_kib = {"healing": healing.rss_kib(), "time": reference.rss_kib()}
        finally:
            healing.close()
            reference.close()

    h = summary(h_times)
    t = summary(t_times)
    value = ratio(h["median"], t["median"])
    out: dict[str, Any] = {
        "populated": populated,
        "calls_each": calls,
        "warmup_each": warmup,
        "first_report_call_s": first_call_s,
        "healing_get_health_report_s": h,
        "get_current_time_s": t,
        "ratio_of_medians": value,
        "ratio_of_p95": ratio(h["p95"], t["p95"]),
        "response_bytes": {"healing": h_bytes, "time": t_bytes},
        "rss_kib_after_calls": rss_kib,
        "report_check": {
            "issues_matching": report["issues_matching"],
            "issues_returned": report["issues_returned"],
            "overall": report["overall"],
            "counts_total": report["counts"]["total"],
        },
        "target_ratio": TARGET_RATIO,
        "met": value <= TARGET_RATIO,
    }
    results.benchmarks["report_latency"] = out
    results.rows.append(
        Row(
            "report latency",
            f"report ({issues:,} issues) vs get_current_time, median",
            fmt_ms(h["median"]),
            fmt_ms(t["median"]),
            f"{value:.2f}",
            f"<= {TARGET_RATIO:.0f}",
            value <= TARGET_RATIO,
        )
    )
    results.rows.append(
        Row(
            "report latency",
            "p95",
            fmt_ms(h["p95"]),
            fmt_ms(t["p95"]),
            f"{ratio(h['p95'], t['p95']):.2f}",
            "-",
            None,
        )
    )
    return out
