"""The engine: one object that owns settings, store, components and the supervisor.

The MCP server and the CLI are thin layers over these methods, so both behave identically.
"""

from __future__ import annotations

import os
import uuid
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from healing_mcp.components.registry import Registry, load_components
from healing_mcp.config import Settings
from healing_mcp.core.diagnosis import LLMDiagnoser, apply_rules
from healing_mcp.core.health import component_health, counts, overall_state, summarize
from healing_mcp.core.supervisor import ProgressFn, Supervisor, new_id
from healing_mcp.errors import ComponentFailure, InvalidRequest, NotFound
from healing_mcp.models import (
    AuditEntry,
    AutoFixResult,
    ComponentHealth,
    FailureReport,
    FixRisk,
    HealthIssue,
    HealthState,
    IssueState,
    MemoryInsights,
    MemoryRecord,
    PatchList,
    PolicyDecision,
    ReportCounts,
    Severity,
    SupervisorRunResult,
    SystemHealthReport,
    utcnow,
)
from healing_mcp.redact import redact, redact_text
from healing_mcp.store import Store, create_store
from healing_mcp.store.base import IssueQuery, StoreUnavailable, issue_lease_key


class Engine:
    def __init__(self, settings: Settings, store: Store, registry: Registry) -> None:
        self.settings = settings
        self.store = store
        self.registry = registry
        self.supervisor = Supervisor(settings, store, registry, llm=LLMDiagnoser.from_settings(settings))

    @classmethod
    async def open(cls, settings: Settings, registry: Registry | None = None) -> Engine:
        if settings.store_kind == "sqlite":
            private_file(settings.resolved_db_path)
        store = create_store(settings)
        await store.open()
        return cls(settings, store, registry if registry is not None else load_components(settings))

    async def aclose(self) -> None:
        await self.registry.aclose()
        await self.store.close()

    async def __aenter__(self) -> Engine:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # ------------------------------------------------------------------------------ report

    async def refresh(self) -> bool:
        """Ingest new events without fixing anything. Skipped while a supervisor pass is running
        (the pass ingests them itself); returns whether it ran."""
        return await self.supervisor.ingest()

    async def report(
        self,
        *,
        component: str | None = None,
        states: list[IssueState] | None = None,
        min_severity: Severity | None = None,
        since_minutes: float | None = None,
        limit: int = 10,
        offset: int = 0,
        refresh: bool = True,
    ) -> SystemHealthReport:
        try:
            return await self._report(component, states, min_severity, since_minutes, limit, offset, refresh)
        except StoreUnavailable as exc:
            return self._unreachable_report(component, self.supervisor.degraded_reason() or str(exc))

    def _unreachable_report(self, component: str | None, reason: str) -> SystemHealthReport:
        names = [n for n in self.registry.names if component is None or n == component]
        components = [
            ComponentHealth(name=n, state=HealthState.degraded, reason="unknown: the store is unreachable")
            for n in names
        ]
        return SystemHealthReport(
            overall=HealthState.degraded,
            summary=f"The store is unreachable, so issues cannot be listed right now: {reason}.",
            environment=self.settings.environment,
            components=components,
            issues=[],
            counts=ReportCounts(),
            issues_returned=0,
            issues_matching=0,
            store=self.store.description,
            store_degraded=reason,
        )

    async def _report(
        self,
        component: str | None,
        states: list[IssueState] | None,
        min_severity: Severity | None,
        since_minutes: float | None,
        limit: int,
        offset: int,
        refresh: bool,
    ) -> SystemHealthReport:
        if refresh:
            await self.refresh()
        now = utcnow()
        since = now - timedelta(minutes=since_minutes) if since_minutes else None
        recent_since = now - timedelta(seconds=self.settings.recent_window_seconds)
        buckets = await self.store.issue_buckets(component=component, since=since, recent_since=recent_since)
        if component is not None and not buckets:
            await self.require_known(component)
        page = await self.store.query_issues(
            IssueQuery(
                component=component, states=states, since=since, min_severity=min_severity, limit=limit, offset=offset
            )
        )
        issues = [self._explain(issue) for issue in page.issues]
        names: list[str] = list(self.registry.components)
        failures = dict(self.registry.failures)
        if component is not None:
            names = [n for n in names if n == component]
            failures = {k: v for k, v in failures.items() if k == component}
        components = component_health(buckets, names, failures)
        overall = overall_state(components)
        returned = len(page.issues)
        return SystemHealthReport(
            timestamp=now,
            overall=overall,
            summary=summarize(overall, components),
            environment=self.settings.environment,
            components=components,
            issues=issues,
            counts=counts(buckets),
            issues_returned=returned,
            issues_matching=page.total,
            next_offset=offset + returned if offset + returned < page.total else None,
            intake=await self.store.intake_stats(),
            store=self.store.description,
            store_degraded=self.supervisor.degraded_reason(),
        )

    def _explain(self, issue: HealthIssue) -> HealthIssue:
        """An issue as the report shows it: only its newest evidence sample (all of them, and the audit
        trail, are in the ``healing://issues/{id}`` resource), and, when no heal has diagnosed it yet,
        its component's rules applied (cheap, deterministic; memory and the LLM are for healing)."""
        update: dict[str, Any] = {"evidence": issue.evidence[-1:]}
        if not issue.probable_causes:
            found, _ = apply_rules(issue, self.registry.get(issue.component))
            if found.causes:
                update |= {"probable_causes": found.causes, "recommended_fixes": found.fixes}
        return issue.model_copy(update=update)

    # ------------------------------------------------------------------------------ healing

    async def run_supervisor(
        self,
        *,
        dry_run: bool = False,
        component: str | None = None,
        max_fixes: int | None = None,
        progress: ProgressFn | None = None,
    ) -> SupervisorRunResult:
        if component is not None:
            self.require_component(component)
        return await self.supervisor.run_pass(
            dry_run=dry_run, component=component, max_fixes=max_fixes, progress=progress
        )

    async def require_known(self, name: str) -> None:
        """Raise unless ``name`` is a component this installation knows: loaded, failed to load, installed
        but not enabled, or seen in stored issues. A filter naming anything else is a typo, not an empty
        healthy result."""
        if name in self.registry.names or name in self.registry.disabled:
            return
        if await self.store.issue_buckets(component=name, since=None, recent_since=utcnow()):
            return
        known = ", ".join(sorted({*self.registry.names, *self.registry.disabled})) or "none"
        raise InvalidRequest(
            f"unknown component {name!r}: no such component is installed and no issue of it is stored. "
            f"Installed components: {known}."
        )

    def require_component(self, name: str) -> None:
        if name in self.registry.failures:
            raise ComponentFailure(f"the {name} component is unavailable: {self.registry.failures[name]}")
        if name not in self.registry.components:
            known = ", ".join(sorted(self.registry.components)) or "none"
            raise InvalidRequest(f"unknown component {name!r}; installed components: {known}")

    async def get_issue(self, issue_id: str) -> HealthIssue:
        issue = await self.store.get_issue(issue_id)
        if issue is None:
            raise NotFound(
                f"no issue with id {issue_id!r}. Call healing_get_health_report to list issue ids, "
                "or describe the failure with the 'failure' argument instead."
            )
        return issue

    async def auto_fix(
        self,
        *,
        issue_id: str | None = None,
        failure: FailureReport | None = None,
        approve: bool = False,
        dry_run: bool = False,
    ) -> AutoFixResult:
        if (issue_id is None) == (failure is None):
            raise InvalidRequest(
                "pass exactly one of 'issue_id' (an id from healing_get_health_report) or 'failure' "
                "(component, symptom, message, target, context, step) describing what just failed"
            )
        if failure is not None:
            self.require_component(failure.component)
            intake = await self.supervisor.intake.ingest_events([failure.to_event()], source="healing_auto_fix")
            if intake.problems:
                raise ComponentFailure(
                    f"the {failure.component} component could not take this failure: {intake.problems[0]}"
                )
            if not intake.touched:
                raise InvalidRequest(
                    f"the {failure.component} component does not treat a {failure.symptom!r} event as a failure; "
                    "check the symptom name"
                )
            issue = next(iter(intake.touched.values()))
        else:
            assert issue_id is not None
            issue = await self.get_issue(issue_id)
            self.require_component(issue.component)
        report = await self.supervisor.heal(issue, dry_run=dry_run, approve=approve, explicit=True)
        current = await self.store.get_issue(issue.id) or report.issue
        if report.errors and not report.outcomes:
            raise ComponentFailure(
                f"the {issue.component} component failed while healing {issue.id}: " + "; ".join(report.errors)
            )
        return AutoFixResult(
            issue=current,
            outcomes=report.outcomes,
            healed=report.healed and not dry_run,
            summary=describe_heal(current, report.healed, dry_run, report.skipped, len(report.patches)),
            patches=report.patches,
        )

    async def manual_patches(self, *, issue_id: str | None = None, component: str | None = None) -> PatchList:
        if issue_id is not None:
            await self.get_issue(issue_id)
        patches = await self.store.list_patches(issue_id=issue_id, component=component)
        if component is not None and not patches:
            await self.require_known(component)
        if patches:
            summary = f"{len(patches)} patch suggestion(s); each says why a human is needed."
        else:
            summary = "No patch suggestions: nothing has been escalated to a human."
        return PatchList(patches=patches, summary=summary)

    async def memory(self, limit: int = 10) -> MemoryInsights:
        """Healing memory as it is shown: fix parameters redacted (memory itself keeps the real ones,
        because a remembered fix is replayed with them)."""
        insights = await self.store.memory_insights(limit=limit)

        def shown(records: list[MemoryRecord]) -> list[MemoryRecord]:
            return [
                r.model_copy(update={"params": redact(r.params), "suggestions": redact(r.suggestions)}) for r in records
            ]

        return insights.model_copy(
            update={"top_fixes": shown(insights.top_fixes), "failing_fixes": shown(insights.failing_fixes)}
        )

    async def resolve(self, issue_id: str, note: str | None = None) -> HealthIssue:
        """Close an issue a human handled: resolved, with its attempt count, backoff and circuit breaker
        reset, so a later recurrence reopens it and is healed like a new one. Audited with the note."""
        issue = await self.get_issue(issue_id)
        key = issue_lease_key(issue.id)
        holder = f"{self.supervisor.holder}:resolve:{uuid.uuid4().hex[:8]}"
        if not await self.store.acquire_lease(key, holder, self.settings.supervisor.lease_seconds):
            raise InvalidRequest(f"a supervisor is working on {issue.id} right now; try again when its attempt is over")
        try:
            issue = await self.get_issue(issue_id)
            text = redact_text(note.strip()) if note and note.strip() else "resolved by hand"
            now = utcnow()
            issue.state = IssueState.resolved
            issue.resolved_at = now
            issue.auto_fix.attempts = 0
            issue.auto_fix.consecutive_failures = 0
            issue.auto_fix.next_attempt_at = None
            issue.auto_fix.notes.append(f"resolved by a human: {text}")
            issue.updated_at = now
            await self.store.append_audit(
                AuditEntry(
                    run_id=new_id("run"),
                    attempt_id=new_id("att"),
                    phase="resolved",
                    issue_id=issue.id,
                    issue_signature=issue.signature,
                    component=issue.component,
                    strategy="manual",
                    fix_signature="",
                    risk=FixRisk.read_only,
                    decision=PolicyDecision.allow,
                    why=f"resolved by a human: {text}",
                    successful=True,
                )
            )
            await self.store.save_issue(issue)
        finally:
            await self.store.release_lease(key, holder)
        return issue

    async def audit(self, issue_id: str | None = None, limit: int = 100) -> list[AuditEntry]:
        return await self.store.list_audit(issue_id=issue_id, limit=limit)


def private_file(path: Path) -> None:
    """Create ``path`` (and its directory) readable by its owner only, or tighten it if it exists: the
    embedded store holds evidence and audit entries. SQLite gives its -wal/-shm files the same mode."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)


def describe_heal(issue: HealthIssue, healed: bool, dry_run: bool, skipped: str | None, patches: int) -> str:
    if dry_run:
        return f"Dry run for {issue.id}: nothing was applied; the outcomes show what would be tried."
    if healed:
        return f"Healed {issue.id} ({issue.title}) with {issue.auto_fix.strategy}; the retest passed."
    if skipped:
        return f"Did not heal {issue.id}: {skipped}."
    if patches:
        return (
            f"Could not heal {issue.id} automatically; it is {issue.state.value}. "
            f"{patches} patch suggestion(s) are ready (healing_suggest_manual_patches)."
        )
    return f"Could not heal {issue.id} yet; it is {issue.state.value}. {' '.join(issue.auto_fix.notes[-1:])}"
