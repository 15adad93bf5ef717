"""Health rules: from issues to a state per component and overall.

An issue *counts* when it is unresolved and was last seen within the recency window
(``recent_window_seconds``, default 24 h). Older unresolved issues stay listed but no longer drive
the state: a failure nobody has seen for a day is history, not health.

- **broken**: a counting issue of severity *critical*, or a counting issue the loop gave up on
  (*persistent* or *escalated*) of severity *error* or worse; also a component whose plugin failed to load.
- **degraded**: any other counting issue of severity *warning* or worse.
- **healthy**: nothing counts (info-level issues never degrade health).

The overall state is the worst component state.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from healing_mcp.models import (
    ComponentHealth,
    HealthState,
    IssueState,
    ReportCounts,
    Severity,
)
from healing_mcp.store.base import IssueBucket

_GAVE_UP = {IssueState.persistent, IssueState.escalated}


def bucket_state(bucket: IssueBucket) -> HealthState:
    if bucket.state is IssueState.resolved or not bucket.recent or bucket.severity is Severity.info:
        return HealthState.healthy
    if bucket.severity is Severity.critical:
        return HealthState.broken
    if bucket.state in _GAVE_UP and bucket.severity.rank >= Severity.error.rank:
        return HealthState.broken
    return HealthState.degraded


def component_health(
    buckets: Iterable[IssueBucket], components: Iterable[str], failures: dict[str, str]
) -> list[ComponentHealth]:
    state: dict[str, HealthState] = defaultdict(lambda: HealthState.healthy)
    counting: dict[str, int] = defaultdict(int)
    worst: dict[str, str] = {}
    names = set(components) | set(failures)
    for bucket in buckets:
        names.add(bucket.component)
        s = bucket_state(bucket)
        if s is not HealthState.healthy:
            counting[bucket.component] += bucket.count
        if s.rank > state[bucket.component].rank:
            state[bucket.component] = s
            worst[bucket.component] = f"{bucket.state.value} {bucket.severity.value} issue"
    out = []
    for name in sorted(names):
        if name in failures:
            out.append(
                ComponentHealth(
                    name=name,
                    state=HealthState.broken,
                    reason=f"plugin unavailable: {failures[name]}",
                    loaded=False,
                    open_issues=counting[name],
                )
            )
            continue
        s = state[name]
        if s is HealthState.healthy:
            reason = "no recent unresolved issues"
        else:
            reason = f"{counting[name]} recent unresolved issue(s); worst: {worst[name]}"
        out.append(ComponentHealth(name=name, state=s, reason=reason, open_issues=counting[name]))
    return out


def overall_state(components: Iterable[ComponentHealth]) -> HealthState:
    return max((c.state for c in components), key=lambda s: s.rank, default=HealthState.healthy)


def counts(buckets: Iterable[IssueBucket]) -> ReportCounts:
    result = ReportCounts()
    for b in buckets:
        result.total += b.count
        result.by_state[b.state.value] = result.by_state.get(b.state.value, 0) + b.count
        result.by_severity[b.severity.value] = result.by_severity.get(b.severity.value, 0) + b.count
        result.by_component[b.component] = result.by_component.get(b.component, 0) + b.count
    return result


def summarize(overall: HealthState, components: list[ComponentHealth]) -> str:
    if overall is HealthState.healthy:
        return f"All {len(components)} component(s) healthy." if components else "No components reported yet."
    bad = [f"{c.name} is {c.state.value}" for c in components if c.state is not HealthState.healthy]
    return "System is " + overall.value + ": " + ", ".join(bad) + "."
