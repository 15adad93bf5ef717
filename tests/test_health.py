"""Health rules: issue severity, state and recency decide component and overall state."""

from __future__ import annotations

from healing_mcp.core.health import component_health, overall_state
from healing_mcp.models import HealthState, IssueState, Severity
from healing_mcp.store.base import IssueBucket


def bucket(component: str, state: IssueState, severity: Severity, recent: bool = True, count: int = 1) -> IssueBucket:
    return IssueBucket(component=component, state=state, severity=severity, recent=recent, count=count)


def states(*buckets: IssueBucket, failures: dict[str, str] | None = None) -> dict[str, HealthState]:
    return {c.name: c.state for c in component_health(buckets, ["browser", "supabase"], failures or {})}


def test_rules() -> None:
    assert states() == {"browser": HealthState.healthy, "supabase": HealthState.healthy}
    assert states(bucket("browser", IssueState.open, Severity.error))["browser"] is HealthState.degraded
    assert states(bucket("browser", IssueState.open, Severity.critical))["browser"] is HealthState.broken
    assert states(bucket("browser", IssueState.persistent, Severity.error))["browser"] is HealthState.broken
    assert states(bucket("browser", IssueState.escalated, Severity.warning))["browser"] is HealthState.degraded
    assert states(bucket("browser", IssueState.open, Severity.info))["browser"] is HealthState.healthy
    assert states(bucket("browser", IssueState.resolved, Severity.critical))["browser"] is HealthState.healthy
    assert states(bucket("browser", IssueState.open, Severity.critical, recent=False))["browser"] is HealthState.healthy


def test_failed_plugin_is_broken_and_unknown_components_appear() -> None:
    result = component_health(
        [bucket("marketing", IssueState.open, Severity.warning)], ["browser"], {"supabase": "ImportError: x"}
    )
    by_name = {c.name: c for c in result}
    assert by_name["supabase"].state is HealthState.broken and not by_name["supabase"].loaded
    assert "ImportError" in by_name["supabase"].reason
    assert by_name["marketing"].state is HealthState.degraded
    assert overall_state(result) is HealthState.broken
    assert overall_state([]) is HealthState.healthy
