"""Each tool with good input over stdio, against the real ``files`` component and real files on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from healing_mcp.models import (
    AutoFixResult,
    IssueState,
    PatchList,
    PolicyDecision,
    SupervisorRunResult,
    SystemHealthReport,
)
from tests.server.support import (
    TOOLS,
    exists,
    missing_file_event,
    read_json,
    server_env,
    stdio_client,
    text_of,
    write_events,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_report_lists_issues_and_counts_quarantined_lines(home: Path, tmp_path: Path) -> None:
    target = tmp_path / "project" / "app.json"
    write_events(
        home,
        [missing_file_event(target, 1), "this is not json {", missing_file_event(target, 2), '{"kind": "x"}'],
    )
    async with stdio_client(home) as client:
        result = await client.call_tool(TOOLS["report"], {})
        filtered = await client.call_tool(TOOLS["report"], {"component": "files", "states": ["resolved"]})

    assert not result.is_error, text_of(result)
    report = SystemHealthReport.model_validate(result.structured_content)
    assert report.issues_matching == 1
    [issue] = report.issues
    assert issue.component == "files"
    assert issue.kind == "missing_file"
    assert issue.target == str(target)
    assert issue.occurrences == 2
    assert issue.state is IssueState.open
    assert issue.id.startswith("iss_")
    assert report.intake.quarantined == 2
    assert {line.line for line in report.intake.recent_quarantine} >= {"this is not json {"}
    [files] = report.components
    assert files.name == "files"
    assert files.loaded
    assert files.open_issues == 1
    assert files.state.value != "healthy"
    assert report.overall.value != "healthy"

    assert not filtered.is_error, text_of(filtered)
    assert SystemHealthReport.model_validate(filtered.structured_content).issues == []


async def test_supervisor_dry_run_changes_nothing_then_real_run_heals(home: Path, tmp_path: Path) -> None:
    target = tmp_path / "project" / "settings.json"
    write_events(home, [missing_file_event(target)])
    async with stdio_client(home) as client:
        dry = await client.call_tool(TOOLS["supervise"], {"dry_run": True})
        assert not dry.is_error, text_of(dry)
        planned = SupervisorRunResult.model_validate(dry.structured_content)
        assert planned.dry_run
        assert planned.events_ingested == 1
        assert planned.issues_seen == 1
        assert planned.outcomes, "a dry run still shows what it would try"
        assert all(outcome.dry_run and outcome.result is None for outcome in planned.outcomes)
        assert planned.resolved == []
        assert not exists(target)
        assert not target.parent.exists()

        real = await client.call_tool(TOOLS["supervise"], {})
        assert not real.is_error, text_of(real)
        run = SupervisorRunResult.model_validate(real.structured_content)
        issue_id = planned.outcomes[0].issue_id
        assert run.resolved == [issue_id]
        assert run.errors == []
        [outcome] = [o for o in run.outcomes if o.issue_id == issue_id]
        assert outcome.successful
        assert outcome.plan.strategy == "create_default"
        assert outcome.retest is not None
        assert outcome.retest.passed
        assert read_json(target) == {"debug": False}

        after = await client.call_tool(TOOLS["report"], {})
        report = SystemHealthReport.model_validate(after.structured_content)
        [issue] = report.issues
        assert issue.id == issue_id
        assert issue.state is IssueState.resolved
        assert issue.auto_fix.successful
        assert issue.auto_fix.strategy == "create_default"
        assert issue.probable_causes, "the component's diagnosis rule should explain the issue"


async def test_auto_fix_an_ad_hoc_failure(home: Path, tmp_path: Path) -> None:
    target = tmp_path / "project" / "feature-flags.json"
    failure = {
        "component": "files",
        "symptom": "missing_file",
        "target": str(target),
        "message": f"FileNotFoundError: {target}",
        "context": {"default": {"beta": True}},
    }
    async with stdio_client(home) as client:
        result = await client.call_tool(TOOLS["auto_fix"], {"failure": failure})
        assert not result.is_error, text_of(result)
        fixed = AutoFixResult.model_validate(result.structured_content)
        assert fixed.healed
        assert fixed.outcomes
        assert fixed.outcomes[0].plan.strategy == "create_default"
        assert fixed.outcomes[0].successful
        assert fixed.issue.state is IssueState.resolved
        assert fixed.issue.target == str(target)
        assert fixed.issue.id in fixed.summary
        assert read_json(target) == {"beta": True}

        # The ad-hoc failure is now an issue like any other.
        report = SystemHealthReport.model_validate((await client.call_tool(TOOLS["report"], {})).structured_content)
        assert [issue.id for issue in report.issues] == [fixed.issue.id]


async def test_auto_fix_by_issue_id(home: Path, tmp_path: Path) -> None:
    target = tmp_path / "project" / "db.json"
    write_events(home, [missing_file_event(target)])
    async with stdio_client(home) as client:
        report = SystemHealthReport.model_validate((await client.call_tool(TOOLS["report"], {})).structured_content)
        [issue] = report.issues

        planned = await client.call_tool(TOOLS["auto_fix"], {"issue_id": issue.id, "dry_run": True})
        assert not planned.is_error, text_of(planned)
        dry = AutoFixResult.model_validate(planned.structured_content)
        assert not dry.healed
        assert dry.outcomes
        assert all(outcome.dry_run for outcome in dry.outcomes)
        assert not exists(target)

        result = await client.call_tool(TOOLS["auto_fix"], {"issue_id": issue.id})
        assert not result.is_error, text_of(result)
        fixed = AutoFixResult.model_validate(result.structured_content)
    assert fixed.healed
    assert fixed.issue.id == issue.id
    assert fixed.issue.state is IssueState.resolved
    assert exists(target)


async def test_prod_escalates_to_a_patch_and_approval_heals_it(home: Path, tmp_path: Path) -> None:
    target = tmp_path / "project" / "prod.json"
    write_events(home, [missing_file_event(target)])
    env = server_env(home, HEALING_ENV="prod")
    async with stdio_client(home, env=env) as client:
        before = await client.call_tool(TOOLS["patches"], {})
        assert not before.is_error, text_of(before)
        assert PatchList.model_validate(before.structured_content).patches == []

        run = SupervisorRunResult.model_validate((await client.call_tool(TOOLS["supervise"], {})).structured_content)
        assert run.resolved == []
        assert len(run.escalated) == 1
        issue_id = run.escalated[0]
        assert all(outcome.decision is PolicyDecision.needs_approval for outcome in run.outcomes)
        assert not exists(target), "a reversible fix must not run in prod without approval"

        listed = await client.call_tool(TOOLS["patches"], {})
        assert not listed.is_error, text_of(listed)
        patches = PatchList.model_validate(listed.structured_content)
        [patch] = patches.patches
        assert patch.issue_id == issue_id
        assert patch.component == "files"
        assert patch.reason == "needs_approval"
        assert patch.target_file == str(target)
        assert patch.diff is not None
        assert '+  "debug": false' in patch.diff

        by_issue = PatchList.model_validate(
            (await client.call_tool(TOOLS["patches"], {"issue_id": issue_id})).structured_content
        )
        assert [p.id for p in by_issue.patches] == [patch.id]
        by_other_component = PatchList.model_validate(
            (await client.call_tool(TOOLS["patches"], {"component": "browser"})).structured_content
        )
        assert by_other_component.patches == []

        unapproved = AutoFixResult.model_validate(
            (await client.call_tool(TOOLS["auto_fix"], {"issue_id": issue_id})).structured_content
        )
        assert not unapproved.healed
        assert not exists(target)

        approved = await client.call_tool(TOOLS["auto_fix"], {"issue_id": issue_id, "approve": True})
        assert not approved.is_error, text_of(approved)
        healed = AutoFixResult.model_validate(approved.structured_content)
    assert healed.healed
    assert healed.issue.state is IssueState.resolved
    assert read_json(target) == {"debug": False}


async def test_supervisor_reports_progress(home: Path, tmp_path: Path) -> None:
    write_events(home, [missing_file_event(tmp_path / "p" / f"f{n}.json") for n in range(3)])
    received: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        received.append((progress, total, message))

    async with stdio_client(home) as client:
        result = await client.call_tool(TOOLS["supervise"], {}, progress_callback=on_progress)
        first = SystemHealthReport.model_validate(
            (await client.call_tool(TOOLS["report"], {"limit": 2})).structured_content
        )
        second = SystemHealthReport.model_validate(
            (await client.call_tool(TOOLS["report"], {"limit": 2, "offset": first.next_offset})).structured_content
        )
    assert (first.issues_returned, first.issues_matching, first.next_offset) == (2, 3, 2)
    assert (second.issues_returned, second.next_offset) == (1, None)
    assert len({issue.id for issue in [*first.issues, *second.issues]}) == 3
    assert not result.is_error, text_of(result)
    run = SupervisorRunResult.model_validate(result.structured_content)
    assert len(run.resolved) == 3

    assert received, "no progress notification reached the client"
    values = [progress for progress, _, _ in received]
    assert values == sorted(values), f"progress went backwards: {values}"
    assert all(message for _, _, message in received)
    healing = [message for _, _, message in received if message and message.startswith("healing iss_")]
    assert len(healing) == 3
    progress, total, _ = received[-1]
    assert total == 3
    assert progress == total
