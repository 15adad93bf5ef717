"""A broken or crashing component must not take the server down with it."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp.shared.exceptions import MCPError

from healing_mcp.models import AutoFixResult, HealthState, SupervisorRunResult, SystemHealthReport
from tests.server.support import (
    BROKEN_PLUGIN,
    FILES_PLUGIN,
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


async def test_broken_plugin_is_reported_and_the_others_work(home: Path, tmp_path: Path) -> None:
    target = tmp_path / "project" / "app.json"
    write_events(home, [missing_file_event(target)])
    env = server_env(home, plugins=(BROKEN_PLUGIN, FILES_PLUGIN))
    async with stdio_client(home, env=env) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert names == set(TOOLS.values())

        result = await client.call_tool(TOOLS["report"], {})
        assert not result.is_error, text_of(result)
        report = SystemHealthReport.model_validate(result.structured_content)
        components = {c.name: c for c in report.components}
        assert set(components) == {BROKEN_PLUGIN, "files"}
        broken = components[BROKEN_PLUGIN]
        assert not broken.loaded
        assert broken.state is HealthState.broken
        assert "not installed" in broken.reason
        assert components["files"].loaded
        assert report.overall is HealthState.broken

        run = SupervisorRunResult.model_validate((await client.call_tool(TOOLS["supervise"], {})).structured_content)
        assert len(run.resolved) == 1
        assert read_json(target) == {"debug": False}

        unavailable = await client.call_tool(TOOLS["supervise"], {"component": BROKEN_PLUGIN, "dry_run": True})
        assert unavailable.is_error
        assert "unavailable" in text_of(unavailable)
        assert "not installed" in text_of(unavailable)


async def test_crashing_fixer_is_reported_and_the_server_keeps_answering(home: Path, tmp_path: Path) -> None:
    target = tmp_path / "project" / "crash.json"
    failure = {
        "component": "files",
        "symptom": "missing_file",
        "target": str(target),
        "message": "gone",
        "context": {"default": {}},
    }
    env = server_env(home, FILES_COMPONENT_MODE="crash")
    async with stdio_client(home, env=env) as client:
        result = await client.call_tool(TOOLS["auto_fix"], {"failure": failure})
        text = text_of(result)
        if result.is_error:
            assert "disk on fire" in text, text
            assert "files" in text
        else:
            fixed = AutoFixResult.model_validate(result.structured_content)
            assert not fixed.healed
            notes = [
                note
                for outcome in fixed.outcomes
                if outcome.result is not None
                for note in [*outcome.result.notes, *outcome.result.changes]
            ]
            notes += fixed.issue.auto_fix.notes
            assert any("disk on fire" in note for note in notes), fixed.model_dump_json(indent=2)
        assert not exists(target)

        run = await client.call_tool(TOOLS["supervise"], {})
        assert not run.is_error, text_of(run)
        SupervisorRunResult.model_validate(run.structured_content)

        report = await client.call_tool(TOOLS["report"], {})
        assert not report.is_error, text_of(report)
        [issue] = SystemHealthReport.model_validate(report.structured_content).issues
        assert not issue.auto_fix.successful
        assert issue.auto_fix.attempts >= 1


async def test_unusable_state_directory_is_explained(tmp_path: Path) -> None:
    """HEALING_HOME pointing at a regular file: tools and resources say so; tools/list still answers."""
    home = tmp_path / "not-a-directory"
    home.write_text("oops", encoding="utf-8")
    async with stdio_client(home) as client:
        assert {tool.name for tool in (await client.list_tools()).tools} == set(TOOLS.values())
        for tool, arguments in [("report", {}), ("supervise", {"dry_run": True}), ("patches", {})]:
            result = await client.call_tool(TOOLS[tool], arguments)
            assert result.is_error, tool
            text = text_of(result)
            assert "cannot open the healing store" in text, text
            assert str(home) in text
            assert "HEALING_HOME" in text
        with pytest.raises(MCPError) as raised:
            await client.read_resource("healing://report")
        assert "cannot open the healing store" in raised.value.error.message
