"""Tool listing over stdio: names, schemas and annotations as MCP clients see them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from healing_mcp.models import AutoFixResult, PatchList, SupervisorRunResult, SystemHealthReport
from tests.server.support import TOOLS, server_env, stdio_client, text_of

pytestmark = pytest.mark.asyncio(loop_scope="module")

CLIENT_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
OUTPUT_MODELS = {
    "report": SystemHealthReport,
    "supervise": SupervisorRunResult,
    "auto_fix": AutoFixResult,
    "patches": PatchList,
}
DOTTED = {
    "report": "healing.get_health_report",
    "supervise": "healing.run_supervisor",
    "auto_fix": "healing.auto_fix",
    "patches": "healing.suggest_manual_patches",
}


async def test_lists_exactly_the_four_tools_with_schemas_and_annotations(home: Path) -> None:
    async with stdio_client(home) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}

    assert set(tools) == set(TOOLS.values())
    for key, name in TOOLS.items():
        tool = tools[name]
        assert CLIENT_NAME.match(name), name
        assert tool.description, name
        assert "\n " not in tool.description, f"source indentation leaked into the description of {name}"
        assert tool.title, name
        assert tool.input_schema["type"] == "object"
        assert tool.output_schema is not None, name
        assert tool.output_schema.get("type") == "object"
        # The published output schema is the pydantic model's: every field of the model is there.
        assert set(OUTPUT_MODELS[key].model_fields) <= set(tool.output_schema["properties"]), name
        assert tool.annotations is not None, name

    report = tools[TOOLS["report"]]
    assert set(report.input_schema["properties"]) >= {"component", "limit", "offset", "states", "min_severity"}
    assert report.input_schema["properties"]["limit"]["minimum"] == 1

    auto_fix = tools[TOOLS["auto_fix"]]
    assert set(auto_fix.input_schema["properties"]) == {"issue_id", "failure", "approve", "dry_run"}

    for read_only in ("report", "patches"):
        annotations = tools[TOOLS[read_only]].annotations
        assert annotations is not None
        assert annotations.read_only_hint is True
        assert annotations.destructive_hint is not True
    for destructive in ("supervise", "auto_fix"):
        annotations = tools[TOOLS[destructive]].annotations
        assert annotations is not None
        assert annotations.read_only_hint is False
        assert annotations.destructive_hint is True


async def test_tool_names_dotted_by_environment(home: Path) -> None:
    async with stdio_client(home, env=server_env(home, HEALING_TOOL_NAMES="dotted")) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        result = await client.call_tool(DOTTED["report"], {})
        typo = await client.call_tool(DOTTED["auto_fix"], {"isue_id": "iss_1"})
    assert typo.is_error
    assert "Invalid arguments for healing.auto_fix" in text_of(typo)
    assert "did you mean 'issue_id'" in text_of(typo)
    assert names == set(DOTTED.values())
    assert not result.is_error, result.content
    SystemHealthReport.model_validate(result.structured_content)


async def test_tool_names_dotted_by_flag(home: Path) -> None:
    async with stdio_client(home, "--tool-names", "dotted") as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
    assert names == set(DOTTED.values())


async def test_flag_overrides_environment_for_tool_names(home: Path) -> None:
    env = server_env(home, HEALING_TOOL_NAMES="dotted")
    async with stdio_client(home, "--tool-names", "underscore", env=env) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
    assert names == set(TOOLS.values())


async def test_built_in_components_load_in_a_clean_environment(home: Path) -> None:
    """Without a component filter every installed component (entry points) loads next to the plugin."""
    async with stdio_client(home, env=server_env(home, only_files=False)) as client:
        result = await client.call_tool(TOOLS["report"], {"refresh": False})
    assert not result.is_error, text_of(result)
    components = SystemHealthReport.model_validate(result.structured_content).components
    assert "files" in {c.name for c in components}
    assert [c for c in components if not c.loaded] == []
