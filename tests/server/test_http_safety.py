"""HTTP binding rules: no open non-local server without a token, bearer auth, DNS-rebinding protection."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp.client import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from healing_mcp.models import SystemHealthReport
from tests.server.support import CLIENT_TIMEOUT, TOOLS, HttpServer, free_port, serve_command, server_env, text_of

pytestmark = pytest.mark.asyncio(loop_scope="module")

TOKEN = "s3cret-test-token-0123456789abcdef"
ALLOWED_LOCAL = "127.0.0.1"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "probe", "version": "0"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


async def run_serve(home: Path, *args: str, **env: str) -> tuple[int, str, str]:
    with anyio.fail_after(60):
        done = await anyio.run_process(
            serve_command(*args, "--port", str(free_port())), env=server_env(home, **env), cwd=home.parent, check=False
        )
    return done.returncode, done.stdout.decode(), done.stderr.decode()


@pytest.mark.parametrize("transport", ["streamable-http", "sse"])
async def test_public_bind_without_token_refuses_to_start(home: Path, transport: str) -> None:
    code, stdout, stderr = await run_serve(
        home, "--transport", transport, "--host", "0.0.0.0", HEALING_HTTP_ALLOWED_HOSTS=ALLOWED_LOCAL
    )
    assert code == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    [line] = lines
    assert line.startswith("healing-mcp: ")
    assert "without a bearer token" in line
    assert "Set HEALING_HTTP_TOKEN" in line
    assert "REDACTED" not in line
    assert stdout == ""


async def test_public_bind_without_allowed_hosts_refuses_to_start(home: Path) -> None:
    code, _, stderr = await run_serve(
        home, "--transport", "streamable-http", "--host", "0.0.0.0", HEALING_HTTP_TOKEN=TOKEN
    )
    assert code == 2, stderr
    [line] = stderr.strip().splitlines()
    assert line.startswith("healing-mcp: ")
    assert "HEALING_HTTP_ALLOWED_HOSTS" in line
    assert TOKEN not in stderr


@pytest.fixture(scope="module")
def guarded(http_server_factory: Any) -> HttpServer:
    """Streamable HTTP on 0.0.0.0 with a token; clients reach it as 127.0.0.1."""
    return http_server_factory(
        "--transport",
        "streamable-http",
        "--host",
        "0.0.0.0",
        env_extra={"HEALING_HTTP_TOKEN": TOKEN, "HEALING_HTTP_ALLOWED_HOSTS": ALLOWED_LOCAL},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )


@pytest.fixture(scope="module")
def guarded_sse(http_server_factory: Any) -> HttpServer:
    return http_server_factory(
        "--transport",
        "sse",
        "--host",
        "0.0.0.0",
        env_extra={"HEALING_HTTP_TOKEN": TOKEN, "HEALING_HTTP_ALLOWED_HOSTS": ALLOWED_LOCAL},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )


@pytest.fixture(scope="module")
def loopback(http_server_factory: Any) -> HttpServer:
    return http_server_factory("--transport", "streamable-http")


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Basic {TOKEN}", f"bearer{TOKEN}", f"Bearer {TOKEN}x"],
    ids=["missing", "wrong", "basic", "malformed", "longer"],
)
async def test_requests_without_the_token_get_401(guarded: HttpServer, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    async with httpx.AsyncClient(timeout=10) as http:
        health = await http.get(f"{guarded.base}/healthz", headers=headers)
        post = await http.post(guarded.mcp_url, json=INITIALIZE, headers={**MCP_HEADERS, **headers})
        stream = await http.get(guarded.mcp_url, headers={"Accept": "text/event-stream", **headers})
    for response in (health, post, stream):
        assert response.status_code == 401, (response.request.url, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
        assert TOKEN not in response.text


async def test_mcp_client_with_the_token_works(guarded: HttpServer) -> None:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=CLIENT_TIMEOUT) as http,
        Client(streamable_http_client(guarded.mcp_url, http_client=http), read_timeout_seconds=CLIENT_TIMEOUT) as mcp,
    ):
        names = {tool.name for tool in (await mcp.list_tools()).tools}
        result = await mcp.call_tool(TOOLS["report"], {})
    assert names == set(TOOLS.values())
    assert not result.is_error, text_of(result)
    SystemHealthReport.model_validate(result.structured_content)


async def test_mcp_client_without_the_token_cannot_connect(guarded: HttpServer) -> None:
    listed = None
    with pytest.raises(BaseException) as raised:  # noqa: PT011 - the SDK reports the 401 as a JSON-RPC error
        async with Client(guarded.mcp_url, read_timeout_seconds=10) as mcp:
            listed = await mcp.list_tools()
    assert listed is None
    errors: list[BaseException] = [raised.value]
    flat: list[BaseException] = []
    while errors:
        error = errors.pop()
        if isinstance(error, BaseExceptionGroup):
            errors.extend(error.exceptions)
        else:
            flat.append(error)
    assert any(isinstance(error, MCPError | httpx2.HTTPStatusError) for error in flat), flat


async def test_sse_client_with_the_token_works(guarded_sse: HttpServer) -> None:
    transport = sse_client(guarded_sse.sse_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    async with Client(transport, read_timeout_seconds=CLIENT_TIMEOUT) as mcp:
        result = await mcp.call_tool(TOOLS["report"], {})
    assert not result.is_error, text_of(result)
    SystemHealthReport.model_validate(result.structured_content)


async def test_sse_without_the_token_gets_401(guarded_sse: HttpServer) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        stream = await http.get(guarded_sse.sse_url, headers={"Accept": "text/event-stream"})
        post = await http.post(f"{guarded_sse.base}/messages/?session_id=abc", json=INITIALIZE)
    assert stream.status_code == 401
    assert post.status_code == 401


async def test_foreign_host_is_rejected_on_a_public_bind_even_with_the_token(guarded: HttpServer) -> None:
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {TOKEN}", "Host": "evil.example.com"}
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(guarded.mcp_url, json=INITIALIZE, headers=headers)
        allowed = await http.post(guarded.mcp_url, json=INITIALIZE, headers={**headers, "Host": "127.0.0.1"})
    assert response.status_code in (400, 403, 421), response.text
    assert allowed.status_code == 200, allowed.text


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("Host", "evil.example.com"),
        ("Host", "attacker.test:8765"),
        ("Host", "127.0.0.1.nip.io"),
        ("Origin", "https://evil.example.com"),
    ],
)
async def test_dns_rebinding_is_rejected_on_loopback(loopback: HttpServer, header: str, value: str) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        rejected = await http.post(loopback.mcp_url, json=INITIALIZE, headers={**MCP_HEADERS, header: value})
        accepted = await http.post(loopback.mcp_url, json=INITIALIZE, headers=MCP_HEADERS)
        local_origin = await http.post(
            loopback.mcp_url, json=INITIALIZE, headers={**MCP_HEADERS, "Origin": f"http://localhost:{loopback.port}"}
        )
    assert rejected.status_code in (400, 403, 421), (rejected.status_code, rejected.text)
    assert accepted.status_code == 200, accepted.text
    assert local_origin.status_code == 200, local_origin.text


async def test_dns_rebinding_is_rejected_on_loopback_sse(http_server_factory: Any) -> None:
    server = http_server_factory("--transport", "sse")
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(server.sse_url, headers={"Host": "evil.example.com", "Accept": "text/event-stream"})
    assert response.status_code in (400, 403, 421), response.text


async def test_http_logs_go_to_stderr_redacted_and_never_to_stdout(http_server_factory: Any) -> None:
    """At debug level the access log is on, and it goes through the same redacting pipeline as every
    other log line: on stderr, with the secret a client put in a query string masked."""
    server = http_server_factory("--transport", "streamable-http", env_extra={"HEALING_LOG_LEVEL": "debug"})
    secret = "sk-ant-api03-query-string-secret"
    async with httpx.AsyncClient(base_url=server.base, timeout=10) as http:
        assert (await http.get(f"/healthz?api_key={secret}")).status_code == 200
        await http.post("/mcp?password=hunter2hunter2", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
    for _ in range(50):  # the access log line is written right after the response
        if "/mcp?password=" in server.stderr():
            break
        await anyio.sleep(0.1)
    log = server.stderr()
    assert "GET /healthz?api_key=[REDACTED]" in log, log
    assert "/mcp?password=[REDACTED]" in log, log
    assert secret not in log and "hunter2hunter2" not in log
    assert "[uvicorn.access]" in log, "uvicorn's records go through structlog"
    assert server.stdout() == ""
