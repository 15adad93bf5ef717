"""Resources over stdio: the report, memory, audit and patches documents and the per-issue template.

The module's server runs in staging, where the reversible ``create_default`` fix is allowed and the
schema-changing ``reset_schema`` fix is denied, so one pass produces a healed issue (memory, audit) and an
escalated one (a patch).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from mcp.client import Client
from mcp.shared.exceptions import MCPError
from pydantic import TypeAdapter

from healing_mcp.models import (
    AuditEntry,
    HealthIssue,
    IssueState,
    MemoryInsights,
    PatchList,
    SupervisorRunResult,
    SystemHealthReport,
)
from tests.server.support import (
    TOOLS,
    client_in_own_task,
    missing_file_event,
    server_env,
    stdio_client,
    text_of,
    write_events,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(module_home: Path) -> AsyncIterator[Client]:
    project = module_home.parent / "project"
    write_events(
        module_home,
        [
            missing_file_event(project / "app.json"),
            {"component": "files", "kind": "bad_schema", "target": str(project / "schema.json"), "message": "v1"},
        ],
    )
    env = server_env(module_home, HEALING_ENV="staging")
    async with client_in_own_task(stdio_client(module_home, env=env)) as connected:
        yield connected


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def run(client: Client) -> SupervisorRunResult:
    result = await client.call_tool(TOOLS["supervise"], {})
    assert not result.is_error, text_of(result)
    return SupervisorRunResult.model_validate(result.structured_content)


async def read_json(client: Client, uri: str) -> Any:
    result = await client.read_resource(uri)
    [content] = result.contents
    assert content.uri == uri
    assert content.mime_type == "application/json"
    text = getattr(content, "text", None)
    assert isinstance(text, str), content
    return json.loads(text)


async def test_lists_the_resources_and_the_issue_template(client: Client) -> None:
    resources = {str(r.uri): r for r in (await client.list_resources()).resources}
    assert set(resources) == {"healing://report", "healing://memory", "healing://audit", "healing://patches"}
    assert all(r.mime_type == "application/json" for r in resources.values())
    templates = {t.uri_template: t for t in (await client.list_resource_templates()).resource_templates}
    assert set(templates) == {"healing://issues/{issue_id}"}


async def test_report_resource(client: Client, run: SupervisorRunResult) -> None:
    report = SystemHealthReport.model_validate(await read_json(client, "healing://report"))
    states = {issue.kind: issue.state for issue in report.issues}
    assert states == {"missing_file": IssueState.resolved, "bad_schema": IssueState.escalated}
    assert report.environment.value == "staging"


async def test_memory_resource(client: Client, run: SupervisorRunResult) -> None:
    memory = MemoryInsights.model_validate(await read_json(client, "healing://memory"))
    assert memory.successes >= 1
    assert [record.strategy for record in memory.top_fixes] == ["create_default"]


async def test_audit_resource(client: Client, run: SupervisorRunResult) -> None:
    entries = TypeAdapter(list[AuditEntry]).validate_python(await read_json(client, "healing://audit"))
    assert entries
    assert {entry.run_id for entry in entries} == {run.run_id}
    assert any(entry.strategy == "create_default" and entry.successful for entry in entries)


async def test_patches_resource(client: Client, run: SupervisorRunResult) -> None:
    patches = PatchList.model_validate(await read_json(client, "healing://patches"))
    assert len(run.escalated) == 1
    assert [patch.issue_id for patch in patches.patches] == run.escalated
    assert patches.patches[0].reason == "denied_by_policy"


async def test_issue_template_for_a_real_id(client: Client, run: SupervisorRunResult) -> None:
    [issue_id] = run.resolved
    document = await read_json(client, f"healing://issues/{issue_id}")
    issue = HealthIssue.model_validate(document["issue"])
    assert issue.id == issue_id
    assert issue.state is IssueState.resolved
    audit = TypeAdapter(list[AuditEntry]).validate_python(document["audit"])
    assert audit
    assert {entry.issue_id for entry in audit} == {issue_id}


async def test_issue_template_for_a_bogus_id(client: Client, run: SupervisorRunResult) -> None:
    with pytest.raises(MCPError) as raised:
        await client.read_resource("healing://issues/iss_bogus")
    assert "no issue with id 'iss_bogus'" in raised.value.error.message
    # and the server keeps serving
    SystemHealthReport.model_validate(await read_json(client, "healing://report"))


async def test_unknown_resource_is_an_error(client: Client) -> None:
    with pytest.raises(MCPError) as raised:
        await client.read_resource("healing://nothing-here")
    assert "healing://nothing-here" in raised.value.error.message
