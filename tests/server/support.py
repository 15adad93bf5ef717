"""Helpers for the end-to-end tests: the real ``healing-mcp`` server in a subprocess, reached through
the real ``mcp`` client over stdio, streamable HTTP or SSE.

Every server gets its own temporary home and runs with ``cwd`` set to that temporary directory and a
clean environment (only ``PATH``, locale and ``PYTHONPATH``), so neither a ``healing.toml`` in the
repository nor ``HEALING_*`` / ``DATABASE_URL`` / ``ANTHROPIC_API_KEY`` of the caller's shell leaks in.
The test component ``files`` (``tests.plugins.files_component``) is loaded as a plugin.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters

REPO_ROOT = Path(__file__).resolve().parents[2]
FILES_PLUGIN = "tests.plugins.files_component:component"
BROKEN_PLUGIN = "tests.plugins.files_component:broken_plugin"
TOOLS = {
    "report": "healing_get_health_report",
    "supervise": "healing_run_supervisor",
    "auto_fix": "healing_auto_fix",
    "patches": "healing_suggest_manual_patches",
}
CLIENT_TIMEOUT = 30.0


def plugins_value(*paths: str) -> str:
    """``HEALING_PLUGINS`` in its documented form: comma-separated import paths."""
    return ",".join(paths)


def server_env(
    home: Path, *, plugins: tuple[str, ...] = (FILES_PLUGIN,), only_files: bool = True, **extra: str
) -> dict[str, str]:
    """A clean environment for a server subprocess rooted at ``home``.

    ``only_files`` enables just the test component, so built-in components (installed through entry
    points) do not change what these tests observe; a plugin that fails to load is reported either way.
    """
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "PYTHONPATH": str(REPO_ROOT),
        "HEALING_HOME": str(home),
        "HEALING_LLM": "off",
        "HEALING_LOG_LEVEL": "info",
    }
    if plugins:
        env["HEALING_PLUGINS"] = plugins_value(*plugins)
    if only_files:
        env["HEALING_ENABLED_COMPONENTS"] = "files"
    env.update(extra)
    return env


def serve_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "healing_mcp", "serve", *args]


def stdio_params(home: Path, *args: str, env: Mapping[str, str] | None = None) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "healing_mcp", "serve", *args],
        env=dict(env) if env is not None else server_env(home),
        cwd=str(home.parent),
    )


def stdio_client(home: Path, *args: str, env: Mapping[str, str] | None = None) -> Client:
    return Client(stdio_params(home, *args, env=env), read_timeout_seconds=CLIENT_TIMEOUT)


# ---------------------------------------------------------------------------------- events


def missing_file_event(path: Path, request: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "component": "files",
        "kind": "missing_file",
        "target": str(path),
        "message": f"config {path} missing (req {request})",
        "attributes": {"default": {"debug": False}},
        **extra,
    }


def write_events(home: Path, lines: list[dict[str, Any] | str], name: str = "app.jsonl") -> Path:
    """Append events (dicts) or raw lines (str, e.g. malformed ones) to an event log under ``home``."""
    events_dir = home / "events"
    events_dir.mkdir(parents=True, exist_ok=True)
    path = events_dir / name
    with path.open("a", encoding="utf-8") as f:
        for line in lines:
            f.write((line if isinstance(line, str) else json.dumps(line)) + "\n")
    return path


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def exists(path: Path) -> bool:
    """``path.exists()`` for async tests (a quick local check; nothing to gain from a thread)."""
    return path.exists()


def text_of(result: Any) -> str:
    """All text content of a tool result, joined."""
    return "\n".join(getattr(block, "text", "") for block in result.content)


# ---------------------------------------------------------------------------------- HTTP servers


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class HttpServer:
    """A ``healing-mcp serve`` HTTP process; ``stop()`` ends it and collects its stderr."""

    process: subprocess.Popen[bytes]
    port: int
    home: Path
    stderr_path: Path
    stdout_path: Path
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def mcp_url(self) -> str:
        return f"{self.base}/mcp"

    @property
    def sse_url(self) -> str:
        return f"{self.base}/sse"

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def stdout(self) -> str:
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.stderr()}")
            try:
                response = httpx.get(f"{self.base}/healthz", headers=self.headers, timeout=2.0)
            except httpx.TransportError:
                time.sleep(0.1)
                continue
            if response.status_code == 200:
                return
            time.sleep(0.1)
        raise RuntimeError(f"server not ready after {timeout}s:\n{self.stderr()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_http_server(
    home: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    wait: bool = True,
) -> HttpServer:
    port = free_port()
    stderr_path = home.parent / f"server-{port}.stderr"
    stdout_path = home.parent / f"server-{port}.stdout"
    with stderr_path.open("wb") as stderr, stdout_path.open("wb") as stdout:
        process = subprocess.Popen(
            serve_command(*args, "--port", str(port)),
            env=dict(env) if env is not None else server_env(home),
            cwd=home.parent,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
        )
    server = HttpServer(process, port, home, stderr_path, stdout_path, dict(headers or {}))
    if wait:
        try:
            server.wait_ready()
        except BaseException:
            server.stop()
            raise
    return server


# ---------------------------------------------------------------------------------- shared clients


@asynccontextmanager
async def client_in_own_task(client: Client) -> AsyncIterator[Client]:
    """Connect ``client`` inside a dedicated task and disconnect it there too.

    The client's transport opens anyio cancel scopes, which must be left by the task that entered
    them; module-scoped async fixtures set up and tear down in different tasks, so they hold their
    client through this helper.
    """
    connected = asyncio.Event()
    release = asyncio.Event()
    failure: list[BaseException] = []

    async def owner() -> None:
        try:
            async with client:
                connected.set()
                await release.wait()
        except BaseException as exc:
            failure.append(exc)
            connected.set()
            if not isinstance(exc, Exception):
                raise

    task = asyncio.create_task(owner())
    await connected.wait()
    if failure:
        await asyncio.gather(task, return_exceptions=True)
        raise failure[0]
    try:
        yield client
    finally:
        release.set()
        await task
        if failure:
            raise failure[0]
