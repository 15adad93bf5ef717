"""The MCP Inspector's non-interactive CLI against the stdio server: a third-party client's view.

Needs ``@modelcontextprotocol/inspector`` (2.x, Node 22 or newer), found through ``MCP_INSPECTOR`` (path
to its ``mcp-inspector`` executable) or on ``PATH``; a ``node`` next to that executable is preferred, so
``npm install @modelcontextprotocol/inspector node@22`` in any directory is enough. Skipped otherwise.
The tests never download anything.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from healing_mcp.models import SystemHealthReport
from tests.server.support import TOOLS, missing_file_event, server_env, write_events

TIMEOUT = 120


def find_inspector() -> tuple[Path, dict[str, str]] | None:
    configured = os.environ.get("MCP_INSPECTOR")
    found = configured or shutil.which("mcp-inspector")
    if not found or not Path(found).exists():
        return None
    executable = Path(found)
    path = os.environ.get("PATH", "")
    if (executable.parent / "node").exists():
        path = f"{executable.parent}{os.pathsep}{path}"
    env = {"PATH": path, "HOME": os.environ.get("HOME", "/tmp")}
    node = shutil.which("node", path=path)
    if node is None:
        return None
    try:
        version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.match(r"v(\d+)\.", version.strip())
    if match is None or int(match.group(1)) < 22:
        return None
    return executable, env


INSPECTOR = find_inspector()
pytestmark = pytest.mark.skipif(
    INSPECTOR is None,
    reason="MCP Inspector with Node 22+ not found (set MCP_INSPECTOR or put mcp-inspector on PATH)",
)


def inspect_server(home: Path, *method: str) -> Any:
    assert INSPECTOR is not None
    executable, env = INSPECTOR
    server_vars = server_env(home)
    flags = [arg for key in sorted(server_vars) if key != "PATH" for arg in ("-e", f"{key}={server_vars[key]}")]
    done = subprocess.run(
        [str(executable), "--cli", *flags, sys.executable, "-m", "healing_mcp", "serve", "--method", *method],
        env=env,
        cwd=home.parent,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, (done.stdout, done.stderr)
    return json.loads(done.stdout)


def test_inspector_lists_the_tools(home: Path) -> None:
    listed = inspect_server(home, "tools/list")
    tools = {tool["name"]: tool for tool in listed["tools"]}
    assert set(tools) == set(TOOLS.values())
    assert all("outputSchema" in tool and "annotations" in tool for tool in tools.values())


def test_inspector_calls_a_tool(home: Path, tmp_path: Path) -> None:
    write_events(home, [missing_file_event(tmp_path / "project" / "app.json")])
    called = inspect_server(home, "tools/call", "--tool-name", TOOLS["report"], "--tool-arg", "limit=5")
    assert called.get("isError") is not True
    report = SystemHealthReport.model_validate(called["structuredContent"])
    assert report.issues_matching == 1


def test_inspector_sees_bad_input_as_a_tool_error(home: Path) -> None:
    called = inspect_server(home, "tools/call", "--tool-name", TOOLS["report"], "--tool-arg", "limit=0")
    assert called["isError"] is True
    assert "limit" in called["content"][0]["text"]


def test_inspector_reads_a_resource(home: Path) -> None:
    read = inspect_server(home, "resources/read", "--uri", "healing://memory")
    [content] = read["contents"]
    assert content["uri"] == "healing://memory"
    assert json.loads(content["text"])["records"] == 0
