"""The healing loop end to end on the embedded store, with a real component that repairs files on disk."""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import anyio
import pytest

from healing_mcp.components.base import Component, ComponentContext
from healing_mcp.components.registry import Registry
from healing_mcp.config import Settings
from healing_mcp.core.engine import Engine
from healing_mcp.core.supervisor import RUN_LEASE
from healing_mcp.errors import NotFound
from healing_mcp.models import (
    AuditEntry,
    Environment,
    Event,
    FailureReport,
    FixPlan,
    FixRisk,
    IssueState,
    MemoryRecord,
    Observation,
    PolicyDecision,
    SupervisorRunResult,
    utcnow,
)
from healing_mcp.store.base import IssueQuery, OutcomeRecord
from healing_mcp.store.sqlite import SQLiteStore
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
    assert "fixer files.create_default apply failed: RuntimeError: disk on fire" in outcome.result.notes
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


async def test_a_plan_is_never_safer_than_its_fixer(
    make_settings: Callable[..., Settings], files: FilesComponent, tmp_path: Path
) -> None:
    """The fixer declares schema_changing; its plan claims read_only. Production denies it, also when it
    comes back from memory with the plan's risk."""
    settings = make_settings(env=Environment.prod)
    config = tmp_path / "app.cfg"
    async with await open_engine(settings, files) as engine:
        write_events(
            settings.resolved_events_dir,
            [{"component": "files", "kind": "stale_config", "target": str(config), "message": "config is stale"}],
        )
        result = await engine.run_supervisor()
        (outcome,) = result.outcomes
        assert outcome.decision is PolicyDecision.deny and outcome.plan.risk is FixRisk.schema_changing
        assert not config.exists()

        issue = await engine.get_issue(outcome.issue_id)
        plan = FixPlan(
            component="files", strategy="rewrite_config", risk=FixRisk.read_only, params={"path": str(config)}
        )
        await engine.store.record_outcome(
            OutcomeRecord(
                outcome_id="att_from_before",
                issue_signature=issue.signature,
                fix_signature=plan.signature,
                component="files",
                strategy="rewrite_config",
                params=plan.params,
                risk=FixRisk.read_only,  # what memory was told back then
                success=True,
                time=utcnow(),
            )
        )
        again = await engine.auto_fix(issue_id=issue.id)
        assert [(o.plan.source, o.decision) for o in again.outcomes] == [("memory", PolicyDecision.deny)]
        assert not config.exists()


async def test_memory_keeps_the_real_parameters_and_shows_them_redacted(
    make_settings: Callable[..., Settings], files: FilesComponent, tmp_path: Path
) -> None:
    target = tmp_path / "cfg" / "secret:prod.json"
    template = {"api_key": "k-live-2f8e9a", "debug": False}
    settings = make_settings(component_settings={"files": {"templates": {target.name: template}}})
    async with await open_engine(settings, files) as engine:
        write_events(settings.resolved_events_dir, [missing_file_event(target, 1)])
        first = await engine.run_supervisor()
        assert first.resolved and json.loads(target.read_text()) == template
        (outcome,) = first.outcomes
        assert outcome.plan.params["content"]["api_key"] == "[REDACTED]", "what callers see is redacted"
        assert outcome.plan.params["path"] == str(target), "an ordinary file name is not taken for a secret"
        (record,) = await engine.store.best_fixes(outcome.issue_signature)
        assert record.params == {"path": str(target), "content": template}, "memory has what the fixer proposed"
        assert all("k-live-2f8e9a" not in entry.model_dump_json() for entry in await engine.audit())
        insights = (await engine.memory()).model_dump_json()
        assert "k-live-2f8e9a" not in insights and "secret:prod.json" in insights

        target.unlink()  # it happens again: the proven fix is replayed from memory, on the same file
        write_events(settings.resolved_events_dir, [missing_file_event(target, 2, time=later())])
        replay = await engine.run_supervisor()
        assert [o.plan.source for o in replay.outcomes] == ["memory"] and replay.resolved
        assert json.loads(target.read_text()) == template
        assert [p.name for p in target.parent.iterdir()] == ["secret:prod.json"]


async def test_a_failed_retest_is_reverted_and_leaves_no_commit_patch(
    engine: Engine, files: FilesComponent, tmp_path: Path
) -> None:
    files.mode, files.permanent_patch = "broken", True
    target = tmp_path / "app.json"
    write_events(engine.settings.resolved_events_dir, [missing_file_event(target, 1)])
    result = await engine.run_supervisor()
    (outcome,) = result.outcomes
    assert outcome.result is not None and outcome.result.applied and not outcome.successful
    assert not target.exists(), "the half-done fix was undone"
    entries = await engine.audit(issue_id=outcome.issue_id)
    assert [(e.phase, e.successful) for e in entries] == [("started", None), ("finished", False), ("reverted", True)]
    assert entries[1].details["reverted"] == "reverted: the fixer undid the attempt"
    assert [p.reason for p in (await engine.manual_patches()).patches] == [], "no 'commit this change' for a failure"

    files.mode = "ok"
    healed = await engine.auto_fix(issue_id=outcome.issue_id)
    assert healed.healed and target.exists()
    assert [p.reason for p in (await engine.manual_patches()).patches] == ["make_permanent"]
    assert files.calls["revert"] == 1


async def test_a_failing_revert_is_recorded_not_raised(engine: Engine, files: FilesComponent, tmp_path: Path) -> None:
    files.mode, files.revert_fails = "broken", True
    write_events(engine.settings.resolved_events_dir, [missing_file_event(tmp_path / "app.json", 1)])
    (outcome,) = (await engine.run_supervisor()).outcomes
    reverted = [e for e in await engine.audit(issue_id=outcome.issue_id) if e.phase == "reverted"]
    assert [(e.successful, e.result) for e in reverted] == [
        (False, "fixer files.create_default revert failed: OSError: read-only file system")
    ]


@pytest.mark.parametrize(
    ("mode", "note"),
    [
        ("none", "fixer files.create_default apply returned None; it must return a FixResult"),
        ("hang", "fixer files.create_default apply did not finish within 0.2 s (raise apply_timeout_seconds"),
    ],
)
async def test_a_fixer_that_answers_nonsense_or_hangs_is_a_failed_attempt(
    make_settings: Callable[..., Settings], files: FilesComponent, tmp_path: Path, mode: str, note: str
) -> None:
    settings = make_settings(component_settings={"files": {"apply_timeout_seconds": 0.2}})
    files.mode = mode
    async with await open_engine(settings, files) as engine:
        write_events(settings.resolved_events_dir, [missing_file_event(tmp_path / "app.json", 1)])
        result = await engine.run_supervisor()
        (outcome,) = result.outcomes
        assert outcome.result is not None and not outcome.result.applied
        assert outcome.result.notes[0].startswith(note), outcome.result.notes
        issue = await engine.get_issue(outcome.issue_id)
        assert issue.state is IssueState.open and issue.auto_fix.next_attempt_at is not None, "not stuck in fixing"
        # apply may have acted before it failed: the fixer is asked to revert
        assert [e.phase for e in await engine.audit(issue_id=issue.id)] == ["started", "finished", "reverted"]


class BrokenForOneIssue(SQLiteStore):
    """A real SQLite store whose memory lookup fails (not as 'unreachable') for one signature."""

    poisoned: str = ""

    async def best_fixes(self, issue_signature: str, limit: int = 5) -> list[MemoryRecord]:
        if issue_signature == self.poisoned:
            raise RuntimeError("corrupt memory row")
        return await super().best_fixes(issue_signature, limit)


async def test_one_issue_crashing_is_recorded_and_the_pass_goes_on(settings: Settings, tmp_path: Path) -> None:
    store = BrokenForOneIssue(settings.resolved_db_path)
    await store.open()
    registry = Registry()
    registry.register(FilesComponent())
    engine = Engine(settings, store, registry)
    try:
        write_events(settings.resolved_events_dir, [missing_file_event(tmp_path / "bad.json", 1)])
        await engine.refresh()
        (bad,) = (await store.query_issues(IssueQuery())).issues
        store.poisoned = bad.signature
        write_events(settings.resolved_events_dir, [missing_file_event(tmp_path / "good.json", 2)])
        result = await engine.run_supervisor()
        assert len(result.resolved) == 1 and bad.id not in result.resolved, "the other issue was healed"
        assert any("corrupt memory row" in error for error in result.errors)
        assert "failed unexpectedly: RuntimeError: corrupt memory row" in result.skipped[bad.id]
        (crashed,) = await engine.audit(issue_id=bad.id)
        assert crashed.phase == "crashed" and "corrupt memory row" in crashed.why
        after = await engine.get_issue(bad.id)
        assert "corrupt memory row" in after.auto_fix.notes[-1] and after.auto_fix.next_attempt_at is not None
    finally:
        await engine.aclose()


async def test_resolving_by_hand_resets_the_guards_and_a_recurrence_reopens(
    make_settings: Callable[..., Settings], files: FilesComponent, tmp_path: Path
) -> None:
    settings = make_settings(supervisor={"breaker_threshold": 1})
    files.mode = "broken"
    target = tmp_path / "app.json"
    async with await open_engine(settings, files) as engine:
        write_events(settings.resolved_events_dir, [missing_file_event(target, 1)])
        (outcome,) = (await engine.run_supervisor()).outcomes
        assert (await engine.get_issue(outcome.issue_id)).state is IssueState.persistent

        resolved = await engine.resolve(outcome.issue_id, note="restored from backup; password=hunter2")
        assert resolved.state is IssueState.resolved
        assert (resolved.auto_fix.attempts, resolved.auto_fix.consecutive_failures) == (0, 0)
        entry = (await engine.audit(issue_id=resolved.id))[-1]
        assert entry.phase == "resolved" and "restored from backup" in entry.why and "hunter2" not in entry.why
        assert (await engine.report()).overall.value == "healthy"

        write_events(settings.resolved_events_dir, [missing_file_event(target, 2, time=later())])
        await engine.refresh()
        back = await engine.get_issue(resolved.id)
        assert (back.state, back.reopen_count, back.auto_fix.attempts) == (IssueState.open, 1, 0)
        again = await engine.run_supervisor()
        assert resolved.id not in again.skipped or "waiting for a human" not in again.skipped[resolved.id]
        with pytest.raises(NotFound):
            await engine.resolve("iss_nope")


class FailsTheFirstPass(SQLiteStore):
    """A real SQLite store whose first look for interrupted attempts fails unexpectedly."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.calls = 0
        self.third_pass = anyio.Event()

    async def unfinished_attempts(self) -> list[AuditEntry]:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("disk hiccup")
        if self.calls == 3:
            self.third_pass.set()
        return await super().unfinished_attempts()


async def test_the_supervise_loop_outlives_a_failing_pass(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from healing_mcp import cli

    store = FailsTheFirstPass(settings.resolved_db_path)
    await store.open()
    registry = Registry()
    registry.register(FilesComponent())
    engine = Engine(settings, store, registry)

    async def open_the_engine(_: Settings) -> Engine:
        return engine

    monkeypatch.setattr(cli, "_open", open_the_engine)
    write_events(settings.resolved_events_dir, [missing_file_event(tmp_path / "loop.json", 1)])
    args = argparse.Namespace(interval=0.01, once=False, json=True, dry_run=False, component=None, max_fixes=None)
    async with anyio.create_task_group() as group:
        group.start_soon(cli._supervise, args, settings)
        await store.third_pass.wait()  # the failed pass, then two more
        group.cancel_scope.cancel()
    runs = [SupervisorRunResult.model_validate_json(line) for line in capsys.readouterr().out.splitlines()]
    assert runs[0].resolved, "the pass after the failure healed the issue"
    assert (tmp_path / "loop.json").exists()


async def test_events_of_a_component_that_is_not_installed_are_escalated_with_what_to_do(engine: Engine) -> None:
    write_events(
        engine.settings.resolved_events_dir,
        [{"component": "supabase", "kind": "missing_column", "message": "column orders.discount does not exist"}],
    )
    report = await engine.report()
    assert [i.component for i in report.issues] == ["supabase"], "accepted and reported"
    assert await engine.report(component="supabase"), "a component seen in issues is a known filter"
    result = await engine.run_supervisor()
    (issue_id,) = result.escalated
    (patch,) = (await engine.manual_patches(issue_id=issue_id)).patches
    assert "no component named 'supabase' is loaded (loaded: files)" in patch.rationale
    assert "install a plugin that provides it" in patch.rationale and "HEALING_PLUGINS" in patch.rationale


class HangingPoller:
    """A polling sensor that never answers, next to one that answers nonsense."""

    def __init__(self, answer: object = None) -> None:
        self.answer = answer

    def observe(self, event: Event) -> Observation | None:
        return Observation(component=event.component, kind=event.kind, target=event.target)

    async def poll(self, ctx: ComponentContext) -> list[Event]:
        if self.answer is None:
            await anyio.sleep_forever()
        return self.answer  # type: ignore[return-value]


async def test_a_poll_that_hangs_or_answers_nonsense_is_a_sensor_error(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(component_settings={"queue": {"poll_timeout_seconds": 0.2}})
    registry = Registry()
    registry.register(Component("queue", sensor=HangingPoller()))
    registry.register(Component("jobs", sensor=HangingPoller(answer={"not": "a list"})))
    async with await Engine.open(settings, registry) as engine:
        result = await engine.run_supervisor()
        assert sorted(result.errors) == [
            "the jobs sensor's poll returned a dict; it must return a list of Event",
            "the queue sensor's poll did not finish within 0.2 s (raise poll_timeout_seconds in "
            "[components.queue] if it needs longer)",
        ]
        kinds = {(i.component, i.kind) for i in (await engine.report()).issues}
        assert kinds == {("queue", "sensor_error"), ("jobs", "sensor_error")}


async def test_the_embedded_store_is_readable_by_its_owner_only(settings: Settings) -> None:
    async with await Engine.open(settings, Registry()):
        pass
    assert settings.resolved_db_path.stat().st_mode & 0o777 == 0o600
    os.chmod(settings.resolved_db_path, 0o644)  # from an earlier version
    async with await Engine.open(settings, Registry()):
        pass
    assert settings.resolved_db_path.stat().st_mode & 0o777 == 0o600
