"""Run the core benchmarks: ``python -m benchmarks.core [--quick] [--only NAME ...]``.

Prints a table and writes the full results (raw samples, machine notes, load average) as JSON to
``benchmarks/results/``. Every comparison is measured against its baseline in the same run, with the
two sides interleaved, so ratios stay meaningful on a busy shared machine; absolute times do not.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from benchmarks.core.common import Results, load_average, log


@dataclass(frozen=True)
class Sizes:
    cold_runs: int
    report_issues: int
    report_calls: int
    report_warmup: int
    intake_events: int
    intake_repeats: int
    rss_repeats: int


FULL = Sizes(
    cold_runs=20,
    report_issues=10_000,
    report_calls=200,
    report_warmup=20,
    intake_events=200_000,
    intake_repeats=3,
    rss_repeats=3,
)
QUICK = Sizes(
    cold_runs=3,
    report_issues=2_000,
    report_calls=20,
    report_warmup=3,
    intake_events=20_000,
    intake_repeats=1,
    rss_repeats=1,
)
BENCHMARKS = ("cold_start", "report", "intake", "rss")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.core", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run of about a minute")
    parser.add_argument("--only", action="append", choices=BENCHMARKS, help="run only this benchmark (repeatable)")
    parser.add_argument("--cold-runs", type=int, help="cold starts per server")
    parser.add_argument("--issues", type=int, help="open issues in the report benchmark's store")
    parser.add_argument("--calls", type=int, help="timed calls per server in the report benchmark")
    parser.add_argument("--events", type=int, help="JSONL events in the intake benchmark")
    parser.add_argument("--repeats", type=int, help="repetitions of the intake benchmark")
    parser.add_argument("--no-save", action="store_true", help="do not write a JSON results file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    sizes = QUICK if args.quick else FULL
    selected = args.only or list(BENCHMARKS)
    results = Results(quick=args.quick)
    started = time.perf_counter()

    if {"cold_start", "report", "rss"} & set(selected):
        from benchmarks.core.servers import ensure_reference, package_version, reference_python

        ensure_reference()
        results.machine["mcp-server-time"] = package_version(reference_python(), "mcp-server-time")
        results.machine["mcp (reference venv)"] = package_version(reference_python(), "mcp")

    if "cold_start" in selected:
        from benchmarks.core import cold_start

        log("cold start ...")
        cold_start.run(results, args.cold_runs or sizes.cold_runs)
    if "report" in selected:
        from benchmarks.core import report_latency

        log("report latency ...")
        report_latency.run(
            results, args.issues or sizes.report_issues, args.calls or sizes.report_calls, sizes.report_warmup
        )
    if "intake" in selected:
        from benchmarks.core import intake_throughput

        log("intake throughput ...")
        intake_throughput.run(results, args.events or sizes.intake_events, args.repeats or sizes.intake_repeats)
    if "rss" in selected:
        from benchmarks.core import idle_rss

        log("idle RSS ...")
        idle_rss.run(results, sizes.rss_repeats)

    results.benchmarks["total_seconds"] = time.perf_counter() - started
    print(results.table())
    command = shlex.join(["python", "-m", "benchmarks.core", *(argv if argv is not None else sys.argv[1:])])
    if not args.no_save:
        path = results.write(command)
        print(f"\nresults: {path}")
    print(
        f"machine: {results.machine['cpu']}, {results.machine['cpus']} CPUs; "
        f"load average before {results.load_before}, after {load_average()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
