"""Concurrent tool calls: on one session, and from two server processes sharing one state directory
(as replicas behind a load balancer do). Every issue is fixed exactly once."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.client import Client
from pydantic import TypeAdapter

from healing_mcp.models import AuditEntry, AutoFixResult, IssueState, SupervisorRunResult, SystemHealthReport
from tests.server.support import TOOLS, exists, missing_file_event, stdio_client, text_of, write_events

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def fixes_per_issue(client: Client) -> Counter[str]:
    resource = await client.read_resource("healing://audit")
    entries = TypeAdapter(list[AuditEntry]).validate_python(json.loads(getattr(resource.contents[0], "text", "")))
    return Counter(entry.issue_id for entry in entries if entry.phase == "finished" and entry.successful)


async def test_concurrent_calls_on_one_session(home: Path, tmp_path: Path) -> None:
    logged = [tmp_path / "logged" / f"f{n}.json" for n in range(4)]
    reported = [tmp_path / "reported" / f"g{n}.json" for n in range(3)]
    write_events(home, [missing_file_event(path) for path in logged])
    results: dict[str, Any] = {}

    async with stdio_client(home) as client:

        async def call(key: str, tool: str, arguments: dict[str, Any]) -> None:
            results[key] = await client.call_tool(TOOLS[tool], arguments)

        async with anyio.create_task_group() as tg:
            tg.start_soon(call, "supervise-1", "supervise", {})
            tg.start_soon(call, "supervise-2", "supervise", {})
            tg.start_soon(call, "report", "report", {})
            tg.start_soon(call, "patches", "patches", {})
            for n, path in enumerate(reported):
                failure = {
                    "component": "files",
                    "symptom": "missing_file",
                    "target": str(path),
                    "context": {"default": {}},
                }
                tg.start_soon(call, f"fix-{n}", "auto_fix", {"failure": failure})

        for key, result in results.items():
            assert not result.is_error, (key, text_of(result))
        for n in range(len(reported)):
            assert AutoFixResult.model_validate(results[f"fix-{n}"].structured_content).healed
        runs = [
            SupervisorRunResult.model_validate(results[k].structured_content) for k in ("supervise-1", "supervise-2")
        ]
        assert sum(run.events_ingested for run in runs) == len(logged), "each event is ingested once"

        final = SystemHealthReport.model_validate((await client.call_tool(TOOLS["report"], {})).structured_content)
        fixes = await fixes_per_issue(client)

    assert final.issues_matching == len(logged) + len(reported)
    assert {issue.state for issue in final.issues} == {IssueState.resolved}
    assert all(exists(path) for path in [*logged, *reported])
    assert set(fixes.values()) == {1}, f"some issue was fixed more than once: {fixes}"
    assert len(fixes) == len(logged) + len(reported)


async def test_two_servers_share_one_state_directory(home: Path, tmp_path: Path) -> None:
    targets = [tmp_path / "shared" / f"f{n}.json" for n in range(6)]
    write_events(home, [missing_file_event(path) for path in targets])
    runs: list[SupervisorRunResult] = []

    async with stdio_client(home) as first, stdio_client(home) as second:

        async def supervise(client: Client) -> None:
            result = await client.call_tool(TOOLS["supervise"], {})
            assert not result.is_error, text_of(result)
            runs.append(SupervisorRunResult.model_validate(result.structured_content))

        async with anyio.create_task_group() as tg:
            tg.start_soon(supervise, first)
            tg.start_soon(supervise, second)
        # Whatever the first round left (one pass may have found the store busy), a second round finishes.
        await supervise(second)

        report = SystemHealthReport.model_validate((await client_report(first)).structured_content)
        fixes = await fixes_per_issue(first)

    assert sum(run.events_ingested for run in runs) == len(targets), "each event is ingested once"
    assert report.issues_matching == len(targets)
    assert {issue.state for issue in report.issues} == {IssueState.resolved}
    assert all(exists(path) for path in targets)
    assert set(fixes.values()) == {1}, f"some issue was fixed more than once: {fixes}"


async def client_report(client: Client) -> Any:
    result = await client.call_tool(TOOLS["report"], {})
    assert not result.is_error, text_of(result)
    return result
