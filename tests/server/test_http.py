"""The HTTP transports end to end: streamable HTTP (with sessions and ``--stateless``) and SSE."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp.client import Client
from mcp.client.sse import sse_client

from healing_mcp.models import SupervisorRunResult, SystemHealthReport
from tests.server.support import (
    CLIENT_TIMEOUT,
    TOOLS,
    HttpServer,
    exists,
    missing_file_event,
    text_of,
    write_events,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")
MODES = ["auto", "legacy"]


@pytest.fixture(scope="module")
def streamable(http_server_factory: Any) -> HttpServer:
    return http_server_factory("--transport", "streamable-http")


@pytest.fixture(scope="module")
def stateless(http_server_factory: Any) -> HttpServer:
    return http_server_factory("--transport", "streamable-http", "--stateless")


@pytest.fixture(scope="module")
def sse(http_server_factory: Any) -> HttpServer:
    return http_server_factory("--transport", "sse")


async def exercise(server: HttpServer, mode: str, tag: str) -> None:
    """List tools, heal through a tool call with progress, read a resource."""
    target = server.home.parent / "project" / f"{tag}.json"
    write_events(server.home, [missing_file_event(target)], name=f"{tag}.jsonl")
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))

    async with Client(server.mcp_url, mode=mode, read_timeout_seconds=CLIENT_TIMEOUT) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert names == set(TOOLS.values())

        result = await client.call_tool(TOOLS["supervise"], {}, progress_callback=on_progress)
        assert not result.is_error, text_of(result)
        run = SupervisorRunResult.model_validate(result.structured_content)
        assert len(run.resolved) == 1
        assert exists(target)

        resource = await client.read_resource("healing://report")
        report = SystemHealthReport.model_validate(json.loads(getattr(resource.contents[0], "text", "")))
        assert run.resolved[0] in {issue.id for issue in report.issues}

        typo = await client.call_tool(TOOLS["report"], {"compnent": "files"})
        assert typo.is_error
        assert "did you mean 'component'" in text_of(typo)

    assert progress, "no progress notification over HTTP"
    assert [p for p, _, _ in progress] == sorted(p for p, _, _ in progress)
    assert all(message for _, _, message in progress)


async def test_healthz(streamable: HttpServer) -> None:
    async with httpx.AsyncClient(timeout=5) as http:
        response = await http.get(f"{streamable.base}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("mode", MODES)
async def test_streamable_http(streamable: HttpServer, mode: str) -> None:
    await exercise(streamable, mode, f"streamable-{mode}")


@pytest.mark.parametrize("mode", MODES)
async def test_streamable_http_stateless(stateless: HttpServer, mode: str) -> None:
    await exercise(stateless, mode, f"stateless-{mode}")


async def test_two_clients_share_one_server(streamable: HttpServer) -> None:
    async with (
        Client(streamable.mcp_url, read_timeout_seconds=CLIENT_TIMEOUT) as first,
        Client(streamable.mcp_url, mode="legacy", read_timeout_seconds=CLIENT_TIMEOUT) as second,
    ):
        a = await first.call_tool(TOOLS["report"], {"refresh": False})
        b = await second.call_tool(TOOLS["report"], {"refresh": False})
    assert not a.is_error, text_of(a)
    assert not b.is_error, text_of(b)
    assert (
        SystemHealthReport.model_validate(a.structured_content).issues_matching
        == SystemHealthReport.model_validate(b.structured_content).issues_matching
    )


async def test_sse(sse: HttpServer, tmp_path: Path) -> None:
    target = sse.home.parent / "project" / "sse.json"
    failure = {"component": "files", "symptom": "missing_file", "target": str(target), "context": {"default": []}}
    async with Client(sse_client(sse.sse_url, timeout=10), read_timeout_seconds=CLIENT_TIMEOUT) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert names == set(TOOLS.values())
        result = await client.call_tool(TOOLS["auto_fix"], {"failure": failure})
        assert not result.is_error, text_of(result)
        assert result.structured_content is not None
        assert result.structured_content["healed"] is True
        report = await client.call_tool(TOOLS["report"], {})
        assert SystemHealthReport.model_validate(report.structured_content).issues_returned == 1
    assert exists(target)
