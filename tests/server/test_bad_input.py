"""Bad input over stdio: an ``isError`` result whose text says what to change, and a server that lives on.

One server serves the whole module; after every bad call a good call must still succeed.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from mcp.client import Client

from healing_mcp.models import SystemHealthReport
from tests.server.support import (
    TOOLS,
    client_in_own_task,
    exists,
    missing_file_event,
    stdio_client,
    text_of,
    write_events,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(module_home: Path) -> AsyncIterator[Client]:
    write_events(module_home, [missing_file_event(module_home.parent / "bad-input" / "app.json")])
    async with client_in_own_task(stdio_client(module_home)) as connected:
        yield connected


@pytest_asyncio.fixture(loop_scope="module")
async def issue_id(client: Client) -> str:
    report = SystemHealthReport.model_validate((await client.call_tool(TOOLS["report"], {})).structured_content)
    return report.issues[0].id


async def assert_still_serving(client: Client) -> None:
    result = await client.call_tool(TOOLS["report"], {"limit": 1})
    assert not result.is_error, text_of(result)
    SystemHealthReport.model_validate(result.structured_content)


CASES: list[tuple[str, str, dict[str, Any], list[str]]] = [
    ("unknown-argument", "report", {"compnent": "files"}, ["'compnent'", "did you mean 'component'"]),
    ("unknown-argument-only-one", "patches", {"issue": "iss_1"}, ["unknown argument 'issue'", "issue_id"]),
    ("wrong-type", "report", {"limit": "ten"}, ["limit", "integer", '"ten"']),
    ("out-of-range-low", "report", {"limit": 0}, ["limit", "greater than or equal to 1"]),
    ("out-of-range-high", "report", {"limit": 100000}, ["limit", "less than or equal to 500"]),
    ("bad-enum", "report", {"states": ["broken"]}, ["states.0", "'open'", "'resolved'"]),
    ("negative-window", "report", {"since_minutes": -5}, ["since_minutes", "greater than 0"]),
    ("max-fixes-range", "supervise", {"max_fixes": -1, "dry_run": True}, ["max_fixes", "greater than or equal"]),
    ("neither-id-nor-failure", "auto_fix", {}, ["exactly one of 'issue_id'", "'failure'"]),
    (
        "both-id-and-failure",
        "auto_fix",
        {"issue_id": "iss_000000000000", "failure": {"component": "files", "symptom": "missing_file"}},
        ["exactly one of 'issue_id'", "'failure'"],
    ),
    ("unknown-issue", "auto_fix", {"issue_id": "iss_doesnotexist"}, ["no issue with id 'iss_doesnotexist'"]),
    ("unknown-issue-patches", "patches", {"issue_id": "iss_nope"}, ["no issue with id 'iss_nope'"]),
    (
        "unknown-component",
        "auto_fix",
        {"failure": {"component": "nosuch", "symptom": "timeout"}},
        ["unknown component 'nosuch'", "files"],
    ),
    ("unknown-component-supervise", "supervise", {"component": "nosuch"}, ["unknown component 'nosuch'"]),
    (
        "unknown-component-report",
        "report",
        {"component": "nosuch"},
        ["unknown component 'nosuch'", "Installed components: ", "files"],
    ),
    ("unknown-component-patches", "patches", {"component": "nosuch"}, ["unknown component 'nosuch'", "files"]),
    (
        "malformed-failure-component",
        "auto_fix",
        {"failure": {"component": "Bad Name", "symptom": "timeout"}},
        ["failure.component", "pattern", '"Bad Name"'],
    ),
    (
        "failure-missing-symptom",
        "auto_fix",
        {"failure": {"component": "files"}},
        ["failure.symptom", "Field required"],
    ),
    (
        "failure-unknown-field",
        "auto_fix",
        {"failure": {"component": "files", "symptom": "missing_file", "targt": "x"}},
        ["failure.targt", "Extra inputs are not permitted"],
    ),
    ("failure-not-an-object", "auto_fix", {"failure": "it broke"}, ["failure", "FailureReport"]),
]


@pytest.mark.parametrize(("tool", "arguments", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_bad_input_is_explained(
    client: Client, tool: str, arguments: dict[str, Any], expected: list[str]
) -> None:
    result = await client.call_tool(TOOLS[tool], arguments)
    text = text_of(result)
    assert result.is_error, f"accepted {json.dumps(arguments)}: {text[:300]}"
    assert result.structured_content is None
    for fragment in expected:
        assert fragment in text, f"{fragment!r} missing from:\n{text}"
    assert "Traceback" not in text
    await assert_still_serving(client)


async def test_argument_errors_list_the_accepted_arguments(client: Client) -> None:
    result = await client.call_tool(TOOLS["report"], {"limit": 0})
    text = text_of(result)
    assert result.is_error
    assert "Accepted arguments:" in text
    for name in ("component", "since_minutes", "states", "min_severity", "limit", "offset", "refresh"):
        assert f"  {name} (" in text, text


async def test_unknown_argument_does_not_run_the_tool(client: Client, issue_id: str) -> None:
    """A typo must not be dropped silently: auto_fix with 'dryrun' would otherwise apply the fix for real."""
    report = SystemHealthReport.model_validate(
        (await client.call_tool(TOOLS["report"], {"refresh": False})).structured_content
    )
    [issue] = [i for i in report.issues if i.id == issue_id]
    assert issue.target is not None
    target = Path(issue.target)

    result = await client.call_tool(TOOLS["auto_fix"], {"issue_id": issue_id, "dryrun": True})
    assert result.is_error, text_of(result)
    assert "did you mean 'dry_run'" in text_of(result)
    assert not exists(target), "the fix ran although the arguments were rejected"
    await assert_still_serving(client)


async def test_unknown_tool_is_an_error(client: Client) -> None:
    result = await client.call_tool("healing_get_heath_report", {})
    assert result.is_error
    assert "healing_get_heath_report" in text_of(result)
    await assert_still_serving(client)


async def test_bogus_types_for_every_tool_keep_the_server_alive(client: Client) -> None:
    bogus: list[tuple[str, dict[str, Any]]] = [
        ("report", {"component": 5, "offset": -1, "refresh": "maybe"}),
        ("supervise", {"dry_run": "sure", "component": ["files"]}),
        ("auto_fix", {"issue_id": 42, "approve": "yes please"}),
        ("patches", {"component": {"name": "files"}}),
    ]
    for tool, arguments in bogus:
        result = await client.call_tool(TOOLS[tool], arguments)
        assert result.is_error, (tool, text_of(result))
        assert f"Invalid arguments for {TOOLS[tool]}" in text_of(result)
    await assert_still_serving(client)
