"""Ranking by healing memory: proven fixes first, failing ones retired, new ones still tried."""

from __future__ import annotations

import pytest

from healing_mcp.core.ranking import rank_plans, wilson_lower_bound
from healing_mcp.models import FixPlan, FixRisk, MemoryRecord


def test_wilson_lower_bound_reference_values() -> None:
    assert wilson_lower_bound(2, 0) == pytest.approx(0.342, abs=1e-3)
    assert wilson_lower_bound(90, 10) == pytest.approx(0.826, abs=1e-3)
    assert wilson_lower_bound(0, 0) == 0.0
    assert wilson_lower_bound(0, 5) == 0.0
    assert wilson_lower_bound(90, 10) > wilson_lower_bound(2, 0) > wilson_lower_bound(1, 1)


def plan(strategy: str, confidence: float, **params: str) -> FixPlan:
    return FixPlan(component="c", strategy=strategy, params=params, risk=FixRisk.reversible, confidence=confidence)


def record(p: FixPlan, successes: int, failures: int, last: str) -> MemoryRecord:
    return MemoryRecord(
        issue_signature="sig1:x",
        fix_signature=p.signature,
        component="c",
        strategy=p.strategy,
        params=p.params,
        successes=successes,
        failures=failures,
        last_outcome=last,  # type: ignore[arg-type]
        score=wilson_lower_bound(successes, failures),
    )


def test_proven_fix_comes_first_even_over_confident_new_ones() -> None:
    proven, fresh, bad = plan("a", 0.3, x="1"), plan("b", 0.99), plan("c", 0.9)
    memory = [record(proven, 5, 1, "success"), record(bad, 0, 3, "failure")]
    ranked = rank_plans(memory, [fresh, bad, proven], breaker_threshold=3)
    assert [p.strategy for p in ranked] == ["a", "b"]
    assert ranked[0].source == "memory"
    assert ranked[0].memory_score == pytest.approx(wilson_lower_bound(5, 1))


def test_recently_failed_proven_fix_is_not_replayed_blindly() -> None:
    flaky = plan("a", 0.8)
    ranked = rank_plans([record(flaky, 3, 1, "failure")], [flaky, plan("b", 0.5)], breaker_threshold=3)
    assert [p.source for p in ranked] == ["fixer", "fixer"]
    assert ranked[0].strategy == "a", "its record still makes it the better fresh candidate"


def test_untried_fixes_are_ordered_by_confidence() -> None:
    ranked = rank_plans([], [plan("low", 0.2), plan("high", 0.9), plan("mid", 0.5)], breaker_threshold=3)
    assert [p.strategy for p in ranked] == ["high", "mid", "low"]
