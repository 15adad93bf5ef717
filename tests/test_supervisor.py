"""The healing loop end to end on the embedded store, with a real component that repairs files on disk."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from healing_mcp.components.registry import Registry
from healing_mcp.config import Settings
from healing_mcp.core.engine import Engine
from healing_mcp.core.supervisor import RUN_LEASE
from healing_mcp.models import Environment, FailureReport, IssueState, PolicyDecision, utcnow
from tests.conftest import missing_file_event, write_events
from tests.plugins.files_component import FilesComponent

REPO = Path(__file__).resolve().parents[1]


async def open_engine(settings: Settings, files: FilesComponent) -> Engine:
    registry = Registry()
    registry.register(files)
    return await Engine.open(settings, registry)


def later(seconds: float = 1.0) -> str:
    return (utcnow() + timedelta(seconds=seconds)).isoformat()


async def test_pass_heals_retests_and_remembers(engine: Engine, tmp_path: Path) -> None:
    target = tmp_path / "cfg" / "app.json"
    write_events(engine.settings.resolved_events_dir, [missing_file_event(target, i) for i in range(3)])
    result = await engine.run_supervisor()
    assert json.loads(target.read_text()) == {"debug": False}
    assert result.events_ingested == 3
    assert len(result.resolved) == 1
    (outcome,) = result.outcomes
    assert outcome.successful and outcome.retest is not None and outcome.retest.passed
    assert outcome.decision is PolicyDecision.allow

    issue = await engine.get_issue(result.resolved[0])
    assert issue.state is IssueState.resolved
    assert issue.occurrences == 3
    assert issue.auto_fix.successful and issue.auto_fix.strategy == "create_default"
    assert issue.probable_causes[0].endswith("was deleted or never created")

    memory = await engine.store.best_fixes(issue.signature)
    assert [(m.strategy, m.successes, m.failures) for m in memory] == [("create_default", 1, 0)]
    phases = [e.phase for e in await engine.audit(issue_id=issue.id)]
    assert phases == ["started", "finished"]
    report = await engine.report()
    assert report.overall.value == "healthy"


async def test_recurrence_is_healed_with_the_proven_fix_without_rederiving(
    engine: Engine, files: FilesComponent, tmp_path: Path
) -> None:
    target = tmp_path / "app.json"
    events_dir = engine.settings.resolved_events_dir
    write_events(events_dir, [missing_file_event(target, 1)])
    await engine.run_supervisor()
    assert files.calls == {"propose": 1, "apply": 1}

    target.unlink()
    write_events(events_dir, [missing_file_event(target, 2, time=later())])
    result = await engine.run_supervisor()
    assert target.exists()
    (outcome,) = result.outcomes
    assert outcome.plan.source == "memory" and outcome.successful
    assert files.calls == {"propose": 1, "apply": 2}, "the proven fix was reused, not re-derived"
    issue = await engine.get_issue(outcome.issue_id)
    assert issue.reopen_count == 1 and issue.state is IssueState.resolved
    (record,) = await engine.store.best_fixes(issue.signature)
    assert (record.successes, record.failures) == (2, 0)


async def test_dry_run_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    target = tmp_path / "app.json"
    write_events(engine.settings.resolved_events_dir, [missing_file_event(target, 1)])
    result = await engine.run_supervisor(dry_run=True)
    assert not target.exists()
    (outcome,) = result.outcomes
    assert outcome.dry_run and outcome.result is None and not outcome.successful
    issue = await engine.get_issue(outcome.issue_id)
    assert issue.state is IssueState.open and not issue.auto_fix.attempted
    assert await engine.store.best_fixes(issue.signature) == []
    (entry,) = await engine.audit()
    assert entry.phase == "skipped" and entry.dry_run


async def test_failing_fix_backs_off_then_opens_the_breaker(
    make_settings: Callable[..., Settings], files: FilesComponent, tmp_path: Path
) -> None:
    settings = make_settings(supervisor={"backoff_base_seconds": 3600, "breaker_threshold": 2})
    files.mode = "broken"
    async with await open_engine(settings, files) as engine:
        write_events(settings.resolved_events_dir, [missing_file_event(tmp_path / "a.json", 1)])
        first = await engine.run_supervisor()
        (outcome,) = first.outcomes
        assert outcome.result is not None and outcome.result.applied and not outcome.successful
        issue = await engine.get_issue(outcome.issue_id)
        assert issue.state is IssueState.open and issue.auto_fix.consecutive_failures == 1
        assert issue.auto_fix.next_attempt_at is not None

        second = await engine.run_supervisor()
        assert second.outcomes == []
        assert "backing off" in second.skipped[issue.id]

        # An explicit request bypasses the backoff (never the policy): the second failure opens the breaker.
        fixed = await engine.auto_fix(issue_id=issue.id)
        assert not fixed.healed
        assert fixed.issue.state is IssueState.persistent
        assert [p.reason for p in fixed.patches] == ["persistent"]
        assert "circuit breaker" in fixed.patches[0].rationale

        third = await engine.run_supervisor()
        assert third.outcomes == [] and third.issues_seen == 0, "persistent issues wait for a human"
        (record,) = await engine.store.best_fixes(issue.signature)
        assert (record.successes, record.failures) == (0, 2)
        assert "still unusable" in record.suggestions[0]
        report = await engine.report()
        assert report.overall.value == "broken", "a persistent error-level issue breaks its component"


async def test_prod_needs_approval_and_gets_a_patch(
    make_settings: Callable[..., Settings], files: FilesComponent, tmp_path: Path
) -> None:
    settings = make_settings(env=Environment.prod)
    target = tmp_path / "app.json"
    async with await open_engine(settings, files) as engine:
        write_events(settings.resolved_events_dir, [missing_file_event(target, 1)])
        result = await engine.run_supervisor()
        assert not target.exists(), "nothing acts in production without permission"
        (outcome,) = result.outcomes
        assert outcome.decision is PolicyDecision.needs_approval and outcome.result is None
        assert result.escalated == [outcome.issue_id]
        patches = (await engine.manual_patches()).patches
        assert [p.reason for p in patches] == ["needs_approval"]
        assert patches[0].diff is not None and '"debug": false' in patches[0].diff
        assert (settings.patches_dir / f"{patches[0].id}.patch").exists()

        healed = await engine.auto_fix(issue_id=outcome.issue_id, approve=True)
        assert healed.healed and target.exists()
        entries = await engine.audit(issue_id=outcome.issue_id)
        assert [(e.phase, e.decision.value) for e in entries] == [
            ("skipped", "needs_approval"),
            ("started", "allow"),
            ("finished", "allow"),
        ]


async def test_schema_changes_are_denied_outside_dev(
    make_settings: Callable[..., Settings], files: FilesComponent, tmp_path: Path
) -> None:
    settings = make_settings(env=Environment.staging)
    schema = tmp_path / "schema.json"
    async with await open_engine(settings, files) as engine:
        write_events(
            settings.resolved_events_dir,
            [{"component": "files", "kind": "bad_schema", "target": str(schema), "message": "schema v1 is stale"}],
        )
        result = await engine.run_supervisor()
        assert not schema.exists()
        (outcome,) = result.outcomes
        assert outcome.decision is PolicyDecision.deny
        approved = await engine.auto_fix(issue_id=outcome.issue_id, approve=True)
        assert not approved.healed and not schema.exists(), "approval never overrides a denial"
        patch = (await engine.manual_patches(issue_id=outcome.issue_id)).patches[0]
        assert patch.reason == "denied_by_policy" and "ALLOW_PROD_HEALING" in patch.rationale


async def test_flapping_issue_is_escalated_not_refixed(
    make_settings: Callable[..., Settings], files: FilesComponent, tmp_path: Path
) -> None:
    settings = make_settings(supervisor={"flap_limit": 2})
    target = tmp_path / "app.json"
    async with await open_engine(settings, files) as engine:
        events_dir = settings.resolved_events_dir
        for round_ in range(3):
            if target.exists():
                target.unlink()
            write_events(events_dir, [missing_file_event(target, round_, time=later(round_ + 1))])
            result = await engine.run_supervisor()
        assert files.calls["apply"] == 2, "healed twice, then recognised as flapping"
        assert result.outcomes == []
        issue = await engine.get_issue(result.escalated[0])
        assert issue.state is IssueState.escalated and issue.reopen_count == 2
        (patch,) = (await engine.manual_patches(issue_id=issue.id)).patches
        assert patch.reason == "flapping"


async def test_fix_budget_per_pass(
    make_settings: Callable[..., Settings], files: FilesComponent, tmp_path: Path
) -> None:
    settings = make_settings(supervisor={"max_fixes_per_run": 2})
    async with await open_engine(settings, files) as engine:
        write_events(settings.resolved_events_dir, [missing_file_event(tmp_path / f"{i}.json", i) for i in range(5)])
        first = await engine.run_supervisor()
        assert len(first.resolved) == 2
        assert sum("budget" in why for why in first.skipped.values()) == 3
        second = await engine.run_supervisor(max_fixes=10)
        assert len(second.resolved) == 3
        assert len(list(tmp_path.glob("*.json"))) == 5


async def test_refusal_becomes_a_patch_suggestion(engine: Engine, tmp_path: Path) -> None:
    event = missing_file_event(tmp_path / "a.json", 1)
    del event["attributes"]["default"]
    write_events(engine.settings.resolved_events_dir, [event])
    result = await engine.run_supervisor()
    assert result.outcomes == []
    (patch,) = (await engine.manual_patches()).patches
    assert patch.reason == "refused"
    assert "no default content is known" in patch.rationale


async def test_component_crash_is_recorded_and_isolated(engine: Engine, files: FilesComponent, tmp_path: Path) -> None:
    files.mode = "crash"
    result = await engine.auto_fix(
        failure=FailureReport(
            component="files",
            symptom="missing_file",
            target=str(tmp_path / "a.json"),
            message="missing",
            context={"default": {}},
        )
    )
    (outcome,) = result.outcomes
    assert outcome.result is not None and not outcome.result.applied
    assert "the fixer crashed: RuntimeError: disk on fire" in outcome.result.notes
    (record,) = await engine.store.best_fixes(outcome.issue_signature)
    assert record.failures == 1
    files.mode = "ok"
    assert (await engine.auto_fix(issue_id=outcome.issue_id)).healed


async def test_ad_hoc_failure_is_healed_on_the_spot(engine: Engine, tmp_path: Path) -> None:
    target = tmp_path / "live.json"
    result = await engine.auto_fix(
        failure=FailureReport(
            component="files",
            symptom="missing_file",
            target=str(target),
            message=f"open({target}) failed: ENOENT",
            context={"default": {"live": True}},
        )
    )
    assert result.healed and json.loads(target.read_text()) == {"live": True}
    assert result.issue.state is IssueState.resolved


async def test_only_one_pass_at_a_time_per_store(make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    settings = make_settings()
    async with await open_engine(settings, FilesComponent()) as a, await open_engine(settings, FilesComponent()) as b:
        write_events(settings.resolved_events_dir, [missing_file_event(tmp_path / "a.json", 1)])
        assert await a.store.acquire_lease(RUN_LEASE, a.supervisor.holder, 60, now=utcnow())
        blocked = await b.run_supervisor()
        assert blocked.outcomes == [] and "Another supervisor pass is running" in blocked.summary
        assert not (tmp_path / "a.json").exists()
        await a.store.release_lease(RUN_LEASE, a.supervisor.holder)
        assert (await b.run_supervisor()).resolved


def test_audit_log_is_append_only(settings: Settings) -> None:
    import anyio

    async def seed() -> None:
        async with await open_engine(settings, FilesComponent()) as engine:
            await engine.auto_fix(
                failure=FailureReport(
                    component="files",
                    symptom="missing_file",
                    target=str(settings.home / "x.json"),
                    context={"default": {}},
                )
            )

    anyio.run(seed)
    conn = sqlite3.connect(settings.resolved_db_path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE audit_log SET phase = 'finished'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM audit_log")


async def test_interrupted_run_leaves_memory_and_audit_consistent(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings(supervisor={"lease_seconds": 1})
    target = tmp_path / "app.json"
    write_events(settings.resolved_events_dir, [missing_file_event(target, 1)])
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "HEALING_HOME": str(settings.home),
        "HEALING_PLUGINS": "tests.plugins.files_component:component",
        "HEALING_SUPERVISOR__LEASE_SECONDS": "1",
        "FILES_COMPONENT_MODE": "exit",  # the fixer kills its own process mid-fix
    }
    crashed = subprocess.run(
        [sys.executable, "-m", "healing_mcp", "supervise", "--once", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert crashed.returncode == 17, crashed.stderr

    files = FilesComponent()
    async with await open_engine(settings, files) as engine:
        (started,) = await engine.audit()
        assert started.phase == "started"
        assert await engine.store.best_fixes(started.issue_signature) == [], "no outcome was counted"
        import anyio

        await anyio.sleep(1.2)  # the dead supervisor's leases expire
        result = await engine.run_supervisor()
        assert result.resolved == [started.issue_id]
        phases = [(e.attempt_id == started.attempt_id, e.phase) for e in await engine.audit()]
        assert phases == [(True, "started"), (True, "interrupted"), (False, "started"), (False, "finished")]
        (record,) = await engine.store.best_fixes(started.issue_signature)
        assert (record.successes, record.failures) == (1, 0)
