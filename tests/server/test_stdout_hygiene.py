"""Raw JSON-RPC over the stdio pipes: stdout carries only protocol messages, logs go to stderr.

This speaks the handshake-era protocol (``initialize`` at 2025-06-18) by hand, as many MCP clients
still do, so it also checks the wire shape of results on older revisions.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from tests.server.support import (
    BROKEN_PLUGIN,
    FILES_PLUGIN,
    TOOLS,
    missing_file_event,
    serve_command,
    server_env,
    write_events,
)

PROTOCOL = "2025-06-18"
TIMEOUT = 30.0


class RawPeer:
    """Writes JSON-RPC lines to the server's stdin; collects every stdout line, parsed or not."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.lines: list[bytes] = []
        self._inbox: queue.Queue[bytes | None] = queue.Queue()
        assert process.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(process.stdout,), daemon=True)
        self._reader.start()
        self._next_id = 0

    def _read(self, stream: IO[bytes]) -> None:
        for line in iter(stream.readline, b""):
            self.lines.append(line)
            self._inbox.put(line)
        self._inbox.put(None)

    def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"jsonrpc": "2.0", **message}).encode() + b"\n")
        self.process.stdin.flush()

    def request(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send a request; return its response (notifications that arrive first are kept in ``lines``)."""
        self._next_id += 1
        request_id = self._next_id
        self.send({"id": request_id, "method": method, **({"params": params} if params is not None else {})})
        while True:
            try:
                line = self._inbox.get(timeout=TIMEOUT)
            except queue.Empty:
                pytest.fail(f"no answer to {method} within {TIMEOUT}s")
            if line is None:
                pytest.fail(f"server closed stdout before answering {method}")
            try:
                message = json.loads(line)
            except ValueError:
                continue  # recorded in self.lines; the test reports it
            if isinstance(message, dict) and message.get("id") == request_id:
                return message

    def close(self) -> tuple[int, str]:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            code = self.process.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail("server did not exit after stdin closed")
        self._reader.join(timeout=TIMEOUT)
        assert self.process.stderr is not None
        return code, self.process.stderr.read().decode("utf-8", errors="replace")


@pytest.fixture
def peer(home: Path) -> Iterator[RawPeer]:
    """The server as users run it (every installed component enabled), plus a plugin that fails to load."""
    write_events(home, [missing_file_event(home.parent / "project" / "app.json"), "not json at all"])
    process = subprocess.Popen(
        serve_command(),
        env=server_env(home, plugins=(BROKEN_PLUGIN, FILES_PLUGIN), only_files=False, HEALING_LOG_LEVEL="debug"),
        cwd=home.parent,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    raw = RawPeer(process)
    yield raw
    if process.poll() is None:
        process.kill()
        process.wait()


def test_stdout_carries_only_json_rpc(peer: RawPeer) -> None:
    init = peer.request(
        "initialize",
        {
            "protocolVersion": PROTOCOL,
            "capabilities": {},
            "clientInfo": {"name": "raw-test", "version": "0"},
        },
    )
    assert init["result"]["protocolVersion"] == PROTOCOL
    assert init["result"]["serverInfo"]["name"] == "healing-mcp"
    assert "tools" in init["result"]["capabilities"]
    peer.send({"method": "notifications/initialized"})

    listed = peer.request("tools/list")
    assert {tool["name"] for tool in listed["result"]["tools"]} == set(TOOLS.values())

    # Calls that make the server log (plugin failure, ingest, quarantine, a fix) and an error path.
    report = peer.request("tools/call", {"name": TOOLS["report"], "arguments": {}})
    assert report["result"]["isError"] is False
    assert report["result"]["structuredContent"]["intake"]["quarantined"] == 1
    run = peer.request("tools/call", {"name": TOOLS["supervise"], "arguments": {}, "_meta": {"progressToken": "p1"}})
    assert len(run["result"]["structuredContent"]["resolved"]) == 1
    typo = peer.request("tools/call", {"name": TOOLS["report"], "arguments": {"limt": 5}})
    assert typo["result"]["isError"] is True
    assert "did you mean 'limit'" in typo["result"]["content"][0]["text"]
    assert "resultType" not in typo["result"], "2026-era field leaked into a 2025-06-18 result"
    bad_type = peer.request("tools/call", {"name": TOOLS["report"], "arguments": {"limit": "ten"}})
    assert bad_type["result"]["isError"] is True
    unknown = peer.request("tools/call", {"name": TOOLS["auto_fix"], "arguments": {"issue_id": "iss_nope"}})
    assert unknown["result"]["isError"] is True
    resource = peer.request("resources/read", {"uri": "healing://report"})
    assert json.loads(resource["result"]["contents"][0]["text"])["overall"] == "broken"

    code, stderr = peer.close()
    assert code == 0, stderr

    assert peer.lines, "nothing on stdout"
    methods = []
    for line in peer.lines:
        assert line.endswith(b"\n")
        try:
            message = json.loads(line)
        except ValueError:
            pytest.fail(f"non-JSON line on stdout: {line[:200]!r}")
        assert isinstance(message, dict), line
        assert message.get("jsonrpc") == "2.0", line
        assert ("id" in message and ("result" in message or "error" in message)) or "method" in message, line
        methods.append(message.get("method"))
    assert "notifications/progress" in methods, "progress notifications should reach a handshake-era client too"

    # The logs went to stderr: the broken plugin's warning is there.
    assert "broken_plugin" in stderr
    assert "not installed" in stderr
    assert "Traceback" not in stderr, stderr
