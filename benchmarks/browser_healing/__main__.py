"""Run the browser healing benchmark: ``python -m benchmarks.browser_healing [--refresh] [--calibrate]``.

Builds the corpus, captures it in Chromium (cached under ``benchmarks/.cache/``), runs healing-mcp and
the baselines, and prints Markdown tables (the source of the "Browser healing" section of
``docs/benchmarks.md``). ``--failures`` lists every case of the development sets that healing-mcp got
wrong or refused wrongly (never those of the held-out sets).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

from benchmarks.browser_healing import calibrate
from benchmarks.browser_healing.capture_run import load_or_capture
from benchmarks.browser_healing.corpus import DEVELOPMENT, HELD_OUT, SEEDS, build_corpus
from benchmarks.browser_healing.evaluate import (
    NO_REFERENCE,
    failures,
    kind_table,
    reliability_table,
    run_cases,
    summary_table,
    timing_lines,
    twin_move_lines,
)
from healing_mcp.components.browser import matching


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.browser_healing", description=__doc__)
    parser.add_argument("--refresh", action="store_true", help="capture again even if a cache exists")
    parser.add_argument("--calibrate", action="store_true", help="fit the confidence constants on the development sets")
    parser.add_argument("--failures", action="store_true", help="list healing-mcp's wrong heals and misses")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    corpus = build_corpus()
    captured = load_or_capture(corpus, refresh=args.refresh)
    runs = run_cases(corpus, captured)
    dev = [r for r in runs if r.case.split in DEVELOPMENT]
    held_out = {name: [r for r in runs if r.case.split == name] for name in HELD_OUT}

    out: list[str] = []
    templates = sorted({p.split("/")[1] for p in corpus.v1})
    sizes = ", ".join(f"{t} {corpus.v1['dev/' + t].elements}" for t in templates)
    counts = ", ".join(f"{len(r)} {name}" for name, r in held_out.items())
    out.append(f"Corpus {corpus.digest()}: {len(corpus.cases)} cases ({len(dev)} development, {counts}) on "
               f"{len(corpus.v1)} pages from {len(templates)} templates (elements in v1, dev seed: {sizes}); "
               f"captures {'from cache' if captured.get('from_cache') else 'fresh'}.")  # fmt: skip
    missing = [r.case.case_id for r in runs if r.expected is None and not r.case.target_deleted]
    if missing:
        out.append(f"WARNING: target present but not captured as a candidate in {len(missing)} cases: {missing}")
    for name, subset in held_out.items():
        out += ["", *summary_table(subset, f"{HELD_OUT[name]} ({name}, seed {SEEDS[name]})")]
    out += ["", *summary_table(dev, f"Development sets ({', '.join(DEVELOPMENT)})"), "",
            *summary_table(runs, "All cases"), "",
            "Wrong heals / misses by change kind (all cases):", "", *kind_table(runs), "",
            "Moves of one of several identical elements (another element on v2 has the target's tag, role, "
            "label, classes, attributes and link target); an extra breakdown, the tables above count them as "
            "they are:", "", *(f"- {name}: {line}" for name, subset in [*held_out.items(), ("development", dev)]
                                 for line in twin_move_lines(subset)), "",
            "Timing (matching excludes capture; end to end = capture + matching + building the selector when "
            "healed; browser start excluded):", "", *timing_lines(runs, captured)]  # fmt: skip
    for name, subset in held_out.items():
        out += ["", f"Reliability of healing-mcp's confidence, {name}:", "", *reliability_table(subset)]
    out += ["", "Reliability, development sets (calibration fitted here):", "", *reliability_table(dev), "",
            "Reliability without a reference run (where the matcher ran on the failed selector alone), "
            "development sets:", "", *reliability_table(dev, NO_REFERENCE)]  # fmt: skip
    for name, subset in held_out.items():
        out += ["", f"Reliability without a reference run, {name}:", "", *reliability_table(subset, NO_REFERENCE)]
    if args.calibrate:
        fitted = calibrate.fit(dev)
        frozen = (matching.CALIBRATION_A, matching.CALIBRATION_B, matching.CALIBRATION_C, matching.CALIBRATION_D,
                  matching.CALIBRATION_E)  # fmt: skip
        out += ["", "Calibration fitted on the development sets: "
                + ", ".join(f"CALIBRATION_{k} = {v:.2f}" for k, v in zip("ABCDE", fitted, strict=True))
                + " (frozen in matching: " + ", ".join(str(v) for v in frozen) + ")"]  # fmt: skip
    if args.failures:
        out += ["", "healing-mcp wrong heals and misses (development sets):", *failures(dev)]
    out += ["", f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
            f"{platform.system()}; total run {time.perf_counter() - started:.0f} s."]  # fmt: skip
    sys.stdout.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
