"""A minimal MCP client over stdio pipes: newline-delimited JSON-RPC, nothing else.

Both servers under test (healing-mcp and the reference ``mcp-server-time``) are driven by this same
client, so client-side cost is identical for both and stays small next to the server's. It speaks the
``initialize`` handshake (protocol 2025-11-25), which every MCP server still accepts, and exposes the
child's pid so memory can be read from ``/proc``.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

PROTOCOL_VERSION = "2025-11-25"


class RpcError(RuntimeError):
    """The server answered with an error, died, or did not answer in time."""


class StdioServer:
    """One server process and a synchronous request/response channel to it."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        stderr_path: Path | None = None,
    ) -> None:
        self.argv = list(argv)
        self._stderr = open(stderr_path or os.devnull, "wb")  # noqa: SIM115 - closed in close()
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            bufsize=0,
        )
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self._stdin = self.proc.stdin
        self._stdout = self.proc.stdout
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._stdout, selectors.EVENT_READ)
        self._buffer = b""
        self._next_id = 0
        self.last_message_bytes = 0

    @property
    def pid(self) -> int:
        return self.proc.pid

    # ------------------------------------------------------------------------------ protocol

    def initialize(self, timeout: float = 60.0) -> dict[str, Any]:
        result: dict[str, Any] = self.request(
            "initialize",
            {
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "healing-mcp-benchmarks", "version": "1"},
            },
            timeout=timeout,
        )
        self.notify("notifications/initialized")
        return result

    def list_tools(self, timeout: float = 60.0) -> list[dict[str, Any]]:
        tools: list[dict[str, Any]] = self.request("tools/list", {}, timeout=timeout)["tools"]
        return tools

    def call_tool(self, name: str, arguments: Mapping[str, Any] | None = None, timeout: float = 60.0) -> Any:
        result = self.request("tools/call", {"name": name, "arguments": dict(arguments or {})}, timeout=timeout)
        if result.get("isError"):
            text = " ".join(c.get("text", "") for c in result.get("content", []))
            raise RpcError(f"{name} returned an error: {text[:500]}")
        return result

    # ------------------------------------------------------------------------------ framing

    def notify(self, method: str, params: Mapping[str, Any] | None = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = dict(params)
        self._send(message)

    def request(self, method: str, params: Mapping[str, Any], timeout: float = 60.0) -> Any:
        self._next_id += 1
        request_id = self._next_id
        self._send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": dict(params)})
        deadline = time.perf_counter() + timeout
        while True:
            message = self._read_message(deadline)
            if message.get("id") != request_id or "method" in message:
                continue  # a notification or a server-to-client request: not what we wait for
            if "error" in message:
                raise RpcError(f"{method} failed: {message['error']}")
            return message["result"]

    def _send(self, message: Mapping[str, Any]) -> None:
        try:
            self._stdin.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")
        except BrokenPipeError as exc:
            raise RpcError(f"{self.argv[0]} exited (status {self.proc.poll()})") from exc

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\n" not in self._buffer:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise RpcError(f"no answer from {self.argv[0]} in time")
            if not self._selector.select(remaining):
                continue
            chunk = os.read(self._stdout.fileno(), 1 << 20)
            if not chunk:
                raise RpcError(f"{self.argv[0]} closed its stdout (status {self.proc.poll()})")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        self.last_message_bytes = len(line)
        message: dict[str, Any] = json.loads(line)
        return message

    # ------------------------------------------------------------------------------ lifecycle

    def rss_kib(self) -> int:
        """Resident set size of the server process (VmRSS), in KiB."""
        return read_rss_kib(self.pid)

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server process has used so far."""
        return read_cpu_seconds(self.pid)

    def close(self, timeout: float = 5.0) -> None:
        """Close stdin (the stdio way to ask a server to stop), then terminate if it lingers."""
        with contextlib.suppress(OSError):
            self._stdin.close()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._selector.close()
        self._stdout.close()
        self._stderr.close()

    def __enter__(self) -> StdioServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def read_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RpcError(f"no VmRSS for pid {pid}")


def read_cpu_seconds(pid: int) -> float:
    # Fields 14 and 15 of /proc/<pid>/stat (utime, stime), counted after the parenthesised command name.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
