"""Issue lifecycle rules shared by every store: how new events merge into an issue.

Kept as pure functions so the SQLite, Postgres and Supabase stores group and reopen issues identically,
and so the rules are testable without a database.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from healing_mcp.core.signatures import issue_id_for
from healing_mcp.models import Evidence, HealthIssue, IssueState
from healing_mcp.store.base import IssueGroup

MAX_EVIDENCE = 5
MAX_SYMPTOMS = 10
# Returns after resolution are remembered this long; flapping is judged over them.
_REOPEN_MEMORY = 20


def new_issue(group: IssueGroup, now: datetime) -> HealthIssue:
    return HealthIssue(
        id=issue_id_for(group.signature),
        component=group.component,
        kind=group.kind,
        target=group.target,
        signature=group.signature,
        title=group.title,
        severity=group.severity,
        symptoms=group.symptoms[:MAX_SYMPTOMS],
        occurrences=group.count,
        first_seen=group.first_seen,
        last_seen=group.last_seen,
        evidence=sorted(group.samples, key=lambda e: e.time)[-MAX_EVIDENCE:],
        updated_at=now,
    )


def merge_group(existing: HealthIssue | None, group: IssueGroup, now: datetime) -> HealthIssue:
    """Fold a group of new events into the issue they belong to.

    A resolved issue that sees events newer than its resolution comes back (state ``open``) and the
    return is recorded in ``reopened_at``; the supervisor decides from that history whether the issue
    is flapping. Late events from before the resolution only update counts.
    """
    if existing is None:
        return new_issue(group, now)
    issue = existing.model_copy(deep=True)
    issue.occurrences += group.count
    issue.first_seen = min(issue.first_seen, group.first_seen)
    issue.last_seen = max(issue.last_seen, group.last_seen)
    if group.severity.rank > issue.severity.rank:
        issue.severity = group.severity
    for symptom in group.symptoms:
        if symptom not in issue.symptoms and len(issue.symptoms) < MAX_SYMPTOMS:
            issue.symptoms.append(symptom)
    samples: list[Evidence] = issue.evidence + group.samples
    issue.evidence = sorted(samples, key=lambda e: e.time)[-MAX_EVIDENCE:]
    if issue.state is IssueState.resolved and issue.resolved_at is not None and group.last_seen > issue.resolved_at:
        issue.state = IssueState.open
        issue.reopen_count += 1
        issue.reopened_at = [*issue.reopened_at, now][-_REOPEN_MEMORY:]
        issue.auto_fix.consecutive_failures = 0
        issue.auto_fix.next_attempt_at = None
        issue.auto_fix.notes.append(
            f"came back at {group.last_seen.isoformat(timespec='seconds')} after being resolved"
        )
        issue.resolved_at = None
    issue.updated_at = now
    return issue


def is_flapping(issue: HealthIssue, now: datetime, limit: int, window_seconds: float) -> bool:
    """True when the issue came back after resolution ``limit`` times within the window."""
    horizon = now - timedelta(seconds=window_seconds)
    return sum(1 for t in issue.reopened_at if t >= horizon) >= limit
