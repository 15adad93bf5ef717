"""Run the browser healing benchmark: ``python -m benchmarks.browser_healing [--refresh] [--calibrate]``.

Builds the corpus, captures it in Chromium (cached under ``benchmarks/.cache/``), runs healing-mcp and
the baselines, and prints Markdown tables (the source of the "Browser healing" section of
``docs/benchmarks.md``). ``--failures`` lists every case healing-mcp got wrong or refused wrongly.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

from benchmarks.browser_healing import calibrate
from benchmarks.browser_healing.capture_run import load_or_capture
from benchmarks.browser_healing.corpus import build_corpus
from benchmarks.browser_healing.evaluate import (
    failures,
    kind_table,
    reliability_table,
    run_cases,
    summary_table,
    timing_lines,
)
from healing_mcp.components.browser import matching


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.browser_healing", description=__doc__)
    parser.add_argument("--refresh", action="store_true", help="capture again even if a cache exists")
    parser.add_argument("--calibrate", action="store_true", help="fit confidence constants on the tune split")
    parser.add_argument("--failures", action="store_true", help="list healing-mcp's wrong heals and misses")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    corpus = build_corpus()
    captured = load_or_capture(corpus, refresh=args.refresh)
    runs = run_cases(corpus, captured)
    dev = [r for r in runs if r.case.split != "holdout"]
    holdout = [r for r in runs if r.case.split == "holdout"]

    out: list[str] = []
    templates = sorted({p.split("/")[1] for p in corpus.v1})
    sizes = ", ".join(f"{t} {corpus.v1['dev/' + t].elements}" for t in templates)
    out.append(f"Corpus {corpus.digest()}: {len(corpus.cases)} cases ({len(dev)} dev, {len(holdout)} held-out) on "
               f"{len(corpus.v1)} pages from {len(templates)} templates (elements in v1, dev seed: {sizes}); "
               f"captures {'from cache' if captured.get('from_cache') else 'fresh'}.")  # fmt: skip
    missing = [r.case.case_id for r in runs if r.expected is None and not r.case.target_deleted]
    if missing:
        out.append(f"WARNING: target present but not captured as a candidate in {len(missing)} cases: {missing}")
    out += ["", *summary_table(runs, "All cases"), "", *summary_table(holdout, "Held-out set (never used to tune)"),
            "", *summary_table(dev, "Development set"), "",
            "Wrong heals / misses by change kind (all cases):", "", *kind_table(runs), "",
            "Timing (matching excludes capture; browser start excluded):", "", *timing_lines(runs, captured), "",
            "Reliability of healing-mcp's confidence, held-out set (top candidate right = calibrated target):", "",
            *reliability_table(holdout), "", "Reliability, development set (calibration fitted here):", "",
            *reliability_table(dev)]  # fmt: skip
    if args.calibrate:
        a, b, c, d = calibrate.fit(dev)
        out += ["", f"Calibration fitted on the development sets: CALIBRATION_A = {a:.2f}, CALIBRATION_B = {b:.2f}, "
                f"CALIBRATION_C = {c:.2f}, CALIBRATION_D = {d:.2f} (frozen in matching.py: {matching.CALIBRATION_A}, "
                f"{matching.CALIBRATION_B}, {matching.CALIBRATION_C}, {matching.CALIBRATION_D})"]  # fmt: skip
    if args.failures:
        out += ["", "healing-mcp wrong heals and misses (development set):", *failures(dev)]
    out += ["", f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
            f"{platform.system()}; total run {time.perf_counter() - started:.0f} s."]  # fmt: skip
    sys.stdout.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
