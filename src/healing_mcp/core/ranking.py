"""Ranking fixes by what healing memory says about them.

We score a fix with the **Wilson lower bound** of its success rate at 95% confidence (z = 1.96).
Why Wilson rather than Thompson sampling:

- It is deterministic. The same memory gives the same order in every supervisor, every store, and the
  SQL function of the Postgres store, which makes runs reproducible and audit logs explainable.
- It is honest about small samples: 2 successes of 2 scores 0.34, 90 of 100 scores 0.83, so one lucky
  success never outranks a long record, and a fix that keeps failing sinks towards 0.
- Exploration comes from the loop instead of randomness: a proven fix is tried first, and only when it
  fails (or none exists) are fresh candidates derived and tried in the fixer's confidence order.
"""

from __future__ import annotations

import math

from healing_mcp.models import FixPlan, MemoryRecord

Z = 1.96


def wilson_lower_bound(successes: int, failures: int, z: float = Z) -> float:
    n = successes + failures
    if n <= 0:
        return 0.0
    p = successes / n
    z2 = z * z
    centre = p + z2 / (2 * n)
    margin = z * math.sqrt((p * (1 - p) + z2 / (4 * n)) / n)
    return max(0.0, (centre - margin) / (1 + z2 / n))


def success_estimate(record: MemoryRecord) -> float:
    """Expected success rate (Laplace's rule of succession): the confidence of a remembered fix.

    The Wilson bound ranks conservatively; the policy's confidence gate needs the expected rate, so a fix
    that worked once (2/3) passes a 0.6 gate while one that worked once and failed once (1/2) does not.
    """
    return (record.successes + 1) / (record.successes + record.failures + 2)


def is_proven(record: MemoryRecord) -> bool:
    """A fix that worked for this signature and did not fail on its most recent attempt."""
    return record.successes > 0 and record.last_outcome == "success"


def is_retired(record: MemoryRecord, breaker_threshold: int) -> bool:
    """A fix that has never worked here and failed often enough: do not try it again automatically."""
    return record.successes == 0 and record.failures >= breaker_threshold


def rank_plans(memory: list[MemoryRecord], proposals: list[FixPlan], breaker_threshold: int) -> list[FixPlan]:
    """Order candidate plans: proven fixes from memory first, then fresh proposals.

    Fresh proposals are ordered by the fixer's confidence times how well that exact fix has done here
    before (untried fixes keep their confidence); retired fixes are dropped.
    """
    by_signature = {record.fix_signature: record for record in memory}
    ranked_memory = sorted(
        (r for r in memory if is_proven(r)),
        key=lambda r: (r.score, r.successes, r.last_success_at or r.updated_at),
        reverse=True,
    )
    seen: set[str] = set()
    plans: list[FixPlan] = []
    for record in ranked_memory:
        seen.add(record.fix_signature)
        plans.append(
            FixPlan(
                component=record.component,
                strategy=record.strategy,
                params=record.params,
                description=f"proven fix ({record.successes} successes, {record.failures} failures): "
                + ", ".join(f"{key}={value!r}" for key, value in sorted(record.params.items())),
                risk=record.risk,
                confidence=success_estimate(record),
                source="memory",
                memory_score=record.score,
            )
        )

    def fresh_key(plan: FixPlan) -> float:
        record = by_signature.get(plan.signature)
        if record is None:
            return plan.confidence
        return plan.confidence * (record.successes + 1) / (record.successes + record.failures + 1)

    fresh: list[FixPlan] = []
    for plan in proposals:
        signature = plan.signature
        known = by_signature.get(signature)
        if signature in seen or (known is not None and is_retired(known, breaker_threshold)):
            continue
        seen.add(signature)
        fresh.append(plan if known is None else plan.model_copy(update={"memory_score": known.score}))
    fresh.sort(key=fresh_key, reverse=True)
    return plans + fresh
