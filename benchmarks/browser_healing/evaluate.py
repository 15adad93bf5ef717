"""Scoring phase of the benchmark: run every matcher on the captured cases and tabulate.

Outcomes per case and method:

- ``heal_ok``   the right element was chosen
- ``refuse_ok`` refused, and there was no right element (target deleted): the right behaviour
- ``wrong``     another element was chosen (also: anything chosen when the target was deleted)
- ``missed``    refused although the right element was there

"correct" = heal_ok + refuse_ok. For the selector baselines, "refused" means the selector matched no
element or several (Playwright's strict mode raises), which the user at least sees.

Every run of healing-mcp's matcher also leaves a :class:`Sample` (its top candidate's score, margin,
whether it passed the consistency checks, whether it was right): what the confidence calibration is
fitted on and the reliability tables are made of.
"""

from __future__ import annotations

import math
import statistics
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from benchmarks.browser_healing.baselines import lcs_match
from benchmarks.browser_healing.corpus import Case, Corpus
from healing_mcp.components.browser.fingerprint import ElementFingerprint
from healing_mcp.components.browser.matching import MatchResult, match_element

NO_REFERENCE = "healing-mcp, no reference run"
METHODS = ["healing-mcp", NO_REFERENCE, "original selector", "codegen selector", "tree-path LCS"]
OUTCOMES = ["heal_ok", "refuse_ok", "wrong", "missed"]


@dataclass
class Sample:
    """One run of the matcher, as the confidence sees it."""

    score: float
    margin: float
    confirmed: bool
    from_selector: bool
    top_correct: bool
    confidence: float
    healed: bool


@dataclass
class CaseRun:
    case: Case
    expected: int | None
    outcomes: dict[str, str] = field(default_factory=dict)
    times_ms: dict[str, float] = field(default_factory=dict)
    samples: dict[str, Sample] = field(default_factory=dict)  # by method: healing-mcp, NO_REFERENCE
    chosen: dict[str, int | None] = field(default_factory=dict)
    reason: str = ""
    candidates: int = 0
    twin_move: bool = False  # moved, and v2 holds another element identical to it (see identical_twin)


def _sample(result: MatchResult, expected: int | None, from_selector: bool) -> Sample | None:
    if not result.ranked:
        return None
    return Sample(result.ranked[0].score, result.margin, result.confirmed, from_selector,
                  result.ranked[0].index == expected, result.confidence, result.healed)  # fmt: skip


def identical_twin(candidates: list[ElementFingerprint], expected: int) -> bool:
    """Another visible candidate is the target's copy word for word (tag, role, label, classes,
    attributes, link target): nothing but its place tells the target apart."""
    t = candidates[expected]
    key = (t.tag, t.role, t.accessible_name, t.text, tuple(t.classes), tuple(sorted(t.attributes.items())), t.href)
    return any(
        i != expected
        and c.visible
        and (c.tag, c.role, c.accessible_name, c.text, tuple(c.classes), tuple(sorted(c.attributes.items())), c.href)
        == key
        for i, c in enumerate(candidates)
    )


def _classify(chosen: int | None, expected: int | None) -> str:
    if chosen is None:
        return "refuse_ok" if expected is None else "missed"
    return "heal_ok" if chosen == expected else "wrong"


def _selector_outcome(recorded: dict[str, Any], target_key: str, deleted: bool) -> str:
    if recorded["count"] != 1:
        return "refuse_ok" if deleted else "missed"
    return "heal_ok" if recorded["key"] == target_key and not deleted else "wrong"


def run_cases(corpus: Corpus, captured: dict[str, Any]) -> list[CaseRun]:
    runs: list[CaseRun] = []
    for case in corpus.cases:
        data = captured["cases"][case.case_id]
        stored = ElementFingerprint.model_validate(data["fingerprint"])
        candidates = [ElementFingerprint.model_validate(c) for c in data["candidates"]]
        expected = data["expected"]
        run = CaseRun(case, expected, candidates=len(candidates))
        selector = data["original_selector"]

        run.twin_move = case.kind == "move" and expected is not None and identical_twin(candidates, expected)
        started = time.perf_counter()
        result = match_element(stored, candidates, failed_selector=selector)
        run.times_ms["healing-mcp"] = (time.perf_counter() - started) * 1000
        chosen = result.index if result.healed else None
        run.chosen["healing-mcp"] = chosen
        run.outcomes["healing-mcp"] = _classify(chosen, expected)
        run.reason = result.reason
        if sample := _sample(result, expected, from_selector=False):
            run.samples["healing-mcp"] = sample

        # Without a reference run: the original selector is used while it selects one element; when it
        # fails (none, or several), the matcher heals from the failed selector alone.
        run.outcomes["original selector"] = _selector_outcome(data["original_v2"], case.target_key, case.target_deleted)
        if data["original_v2"]["count"] == 1:
            run.outcomes[NO_REFERENCE] = run.outcomes["original selector"]
        else:
            started = time.perf_counter()
            only = match_element(None, candidates, failed_selector=selector) if selector else None
            run.times_ms[NO_REFERENCE] = (time.perf_counter() - started) * 1000
            chosen = only.index if only is not None and only.healed else None
            run.chosen[NO_REFERENCE] = chosen
            run.outcomes[NO_REFERENCE] = _classify(chosen, expected)
            if only is not None and (sample := _sample(only, expected, from_selector=True)):
                run.samples[NO_REFERENCE] = sample

        run.outcomes["codegen selector"] = _selector_outcome(data["codegen_v2"], case.target_key, case.target_deleted)

        started = time.perf_counter()
        chosen = lcs_match(stored, candidates)
        run.times_ms["tree-path LCS"] = (time.perf_counter() - started) * 1000
        run.chosen["tree-path LCS"] = chosen
        run.outcomes["tree-path LCS"] = _classify(chosen, expected)
        runs.append(run)
    return runs


def _pct(n: int, total: int) -> str:
    return f"{100.0 * n / total:.1f}%" if total else "-"


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[index]


def summary_table(runs: list[CaseRun], title: str) -> list[str]:
    total = len(runs)
    deleted = sum(r.expected is None for r in runs)
    lines = [
        f"**{title}** ({total} cases, {deleted} with the target deleted)",
        "",
        "| "
        + " | ".join(["method", "correct", "right heals", "right refusals", "wrong heals", "missed (refused)"])
        + " | median ms | p95 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for method in METHODS:
        counts = Counter(r.outcomes[method] for r in runs)
        times = [r.times_ms[method] for r in runs if method in r.times_ms]
        median = f"{statistics.median(times):.2f}" if times else "-"
        p95 = f"{_percentile(times, 0.95):.2f}" if times else "-"
        correct = counts["heal_ok"] + counts["refuse_ok"]
        lines.append(
            f"| {method} | {_pct(correct, total)} | {counts['heal_ok']} | {counts['refuse_ok']} | "
            f"{counts['wrong']} ({_pct(counts['wrong'], total)}) | {counts['missed']} | {median} | {p95} |"
        )
    return lines


def kind_table(runs: list[CaseRun]) -> list[str]:
    kinds = sorted({r.case.kind for r in runs})
    lines = ["| change kind | cases | " + " | ".join(METHODS) + " |", "|---" * (len(METHODS) + 2) + "|"]
    for kind in kinds:
        subset = [r for r in runs if r.case.kind == kind]
        cells = []
        for method in METHODS:
            counts = Counter(r.outcomes[method] for r in subset)
            cells.append(f"{counts['wrong']} / {counts['missed']}")
        lines.append(f"| {kind} | {len(subset)} | " + " | ".join(cells) + " |")
    return lines


BUCKETS = [(0.0, 0.5), (0.5, 0.8), (0.8, 0.9), (0.9, 0.95), (0.95, 0.99), (0.99, 1.01)]


def reliability_table(runs: list[CaseRun], method: str = "healing-mcp") -> list[str]:
    """Confidence against how often the top candidate was right, in confidence buckets."""
    samples = [r.samples[method] for r in runs if method in r.samples]
    lines = [
        "| confidence | runs | mean confidence | top candidate right | of which healed |",
        "|---|---|---|---|---|",
    ]
    for low, high in BUCKETS:
        subset = [s for s in samples if low <= s.confidence < high]
        if not subset:
            continue
        mean = statistics.mean(s.confidence for s in subset)
        right = sum(s.top_correct for s in subset)
        healed = sum(s.healed for s in subset)
        label = f"{low:.2f}-{min(high, 1.0):.2f}"
        lines.append(f"| {label} | {len(subset)} | {mean:.3f} | {_pct(right, len(subset))} | {healed} |")
    refused = [s for s in samples if not s.healed]
    if refused:
        lines.append("")
        lines.append(f"Refusals: {len(refused)}, mean confidence {statistics.mean(s.confidence for s in refused):.3f}, "
                     f"{sum(s.confidence >= 0.5 for s in refused)} at 0.50 or more.")  # fmt: skip
    return lines


def _size_groups(runs: list[CaseRun]) -> dict[str, list[CaseRun]]:
    groups: dict[str, list[CaseRun]] = defaultdict(list)
    for r in runs:
        groups["large page (admin, ~2,000 elements)" if r.case.page.endswith("/admin") else "other pages"].append(r)
    groups["all"] = runs
    return groups


def timing_lines(runs: list[CaseRun], captured: dict[str, Any]) -> list[str]:
    """Capture, matching, and end to end: capture + matching + (when healed) the selector step."""
    lines = ["| page set | cases | candidates (median) | capture ms median / p95 | match ms median / p95 "
             "| end to end ms median / p95 |", "|---|---|---|---|---|---|"]  # fmt: skip
    for name, subset in _size_groups(runs).items():
        capture = [captured["cases"][r.case.case_id]["capture_ms"] for r in subset]
        match = [r.times_ms["healing-mcp"] for r in subset]
        total = [c + m + _selector_ms(r, captured) for r, c, m in zip(subset, capture, match, strict=True)]
        lines.append(
            f"| {name} | {len(subset)} | {statistics.median(r.candidates for r in subset):.0f} | "
            f"{statistics.median(capture):.0f} / {_percentile(capture, 0.95):.0f} | "
            f"{statistics.median(match):.2f} / {_percentile(match, 0.95):.2f} | "
            f"{statistics.median(total):.0f} / {_percentile(total, 0.95):.0f} |"
        )
    return lines


def _selector_ms(run: CaseRun, captured: dict[str, Any]) -> float:
    """The selector step of a heal (measured for the target at capture time); 0 when refused."""
    if run.chosen["healing-mcp"] is None:
        return 0.0
    value = captured["cases"][run.case.case_id].get("selector_ms")
    return float(value) if value is not None else 0.0


def twin_move_lines(runs: list[CaseRun]) -> list[str]:
    """Moves of one of several identical elements, where refusing is arguably the right answer."""
    twins = [r for r in runs if r.twin_move]
    counts = Counter(r.outcomes["healing-mcp"] for r in twins)
    rest = [r for r in runs if not r.twin_move]
    right = sum(r.outcomes["healing-mcp"] in ("heal_ok", "refuse_ok") for r in rest)
    wrong = sum(r.outcomes["healing-mcp"] == "wrong" for r in rest)
    return [
        f"{len(twins)} such moves: healed {counts['heal_ok']} right, refused {counts['missed']}, healed "
        f"{counts['wrong']} wrong; without them {_pct(right, len(rest))} correct and {wrong} wrong heals "
        f"({_pct(wrong, len(rest))}) over {len(rest)} cases.",
    ]


def failures(runs: list[CaseRun], method: str = "healing-mcp") -> list[str]:
    out = []
    for r in runs:
        outcome = r.outcomes[method]
        if outcome in ("wrong", "missed"):
            out.append(f"- {outcome}: {r.case.case_id} [{r.case.split}] {r.case.change} :: {r.reason}")
    return out
