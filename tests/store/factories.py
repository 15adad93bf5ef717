"""Small builders for the models the store tests write."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from healing_mcp.core.signatures import compute_signature, issue_id_for
from healing_mcp.models import (
    AuditEntry,
    Evidence,
    FixRisk,
    PatchSuggestion,
    PolicyDecision,
    QuarantinedLine,
    Severity,
    Watermark,
)
from healing_mcp.store.base import IntakeBatch, IssueGroup, OutcomeRecord

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
_counter = itertools.count()


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def signature(name: str, component: str = "browser") -> str:
    return compute_signature(component, "selector_not_found", f"#{name}", f"element {name} not found")


def group(
    name: str,
    *,
    component: str = "browser",
    count: int = 1,
    first: float = 0,
    last: float | None = None,
    severity: Severity = Severity.error,
    symptom: str | None = None,
) -> IssueGroup:
    last = first if last is None else last
    return IssueGroup(
        signature=signature(name, component),
        component=component,
        kind="selector_not_found",
        target=f"#{name}",
        severity=severity,
        title=f"#{name} not found",
        count=count,
        first_seen=at(first),
        last_seen=at(last),
        samples=[Evidence(time=at(last), message=f"element {name} not found (sample {next(_counter)})")],
        symptoms=[symptom or f"{name} missing"],
    )


def issue_id(name: str, component: str = "browser") -> str:
    return issue_id_for(signature(name, component))


def batch(
    *groups: IssueGroup, watermarks: list[Watermark] | None = None, quarantined: list[QuarantinedLine] | None = None
) -> IntakeBatch:
    return IntakeBatch(
        groups=list(groups),
        watermarks=watermarks or [],
        quarantined=quarantined or [],
        events=sum(g.count for g in groups),
    )


def outcome(
    outcome_id: str,
    issue_sig: str,
    fix_sig: str,
    success: bool,
    *,
    time: float = 0,
    suggestion: str | None = None,
    params: dict[str, Any] | None = None,
) -> OutcomeRecord:
    return OutcomeRecord(
        outcome_id=outcome_id,
        issue_signature=issue_sig,
        fix_signature=fix_sig,
        component="browser",
        strategy="regenerate_selector",
        params=params or {"selector": fix_sig},
        risk=FixRisk.reversible,
        success=success,
        suggestion=suggestion,
        time=at(time),
    )


def audit(attempt_id: str, phase: str, issue: str = "iss_000000000001", *, time: float = 0) -> AuditEntry:
    return AuditEntry(
        time=at(time),
        run_id="run_1",
        attempt_id=attempt_id,
        phase=phase,
        issue_id=issue,
        issue_signature="sig1:00000000000000000001",
        component="browser",
        strategy="regenerate_selector",
        fix_signature="fix1:0001",
        risk=FixRisk.reversible,
        decision=PolicyDecision.allow,
        why="proven fix",
        details={"n": 1, "nested": {"ok": True}},
    )


def patch(patch_id: str, issue: str, component: str = "browser", *, created: float = 0) -> PatchSuggestion:
    return PatchSuggestion(
        id=patch_id,
        issue_id=issue,
        component=component,
        title=f"fix {issue}",
        target_file="app/page.tsx",
        diff="--- a/app/page.tsx\n+++ b/app/page.tsx\n@@ -1 +1 @@\n-old\n+new\n",
        rationale="the selector changed",
        risk=FixRisk.reversible,
        created_at=at(created),
    )
