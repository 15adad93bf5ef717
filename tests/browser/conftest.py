"""Fixtures for the browser component: a recording HTTP server on 127.0.0.1 and a real Chromium.

Each test module that drives a browser declares ``pytestmark = pytest.mark.asyncio(loop_scope="module")``
so it can share one browser (launched once per module) across its tests.
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import pytest_asyncio

from healing_mcp.components.browser.fingerprint_store import FingerprintStore
from healing_mcp.events import EventReporter


@dataclass
class Route:
    status: int
    content_type: str
    body: bytes
    delay: float = 0.0
    cookie: str | None = None


@dataclass
class RecordingServer:
    """Serves registered pages and records every request as (method, path-with-query)."""

    host: str = "127.0.0.1"
    port: int = 0
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def page(self, path: str, html: str, *, status: int = 200, delay: float = 0.0, cookie: str | None = None) -> str:
        """Serve ``html`` at ``path``; with ``cookie`` (``name=value``) only to requests that send it, a
        sign-in page to the others."""
        self.routes[path] = Route(status, "text/html; charset=utf-8", html.encode(), delay, cookie)
        return self.url(path)

    def asset(self, path: str, body: str, *, status: int = 200, content_type: str = "text/plain") -> str:
        self.routes[path] = Route(status, content_type, body.encode())
        return self.url(path)

    def writes(self) -> list[tuple[str, str]]:
        with self.lock:
            return [(m, p) for m, p in self.requests if m not in ("GET", "HEAD", "OPTIONS")]

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
        self.routes.clear()


def _handler(server: RecordingServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            with server.lock:
                server.requests.append((self.command, self.path))
            route = server.routes.get(urlsplit(self.path).path)
            if route is None:
                status, ctype, body = 404, "text/plain", b"not found"
            elif self.command not in ("GET", "HEAD"):
                status, ctype, body = 200, "text/html", b"<html><title>posted</title><body>posted</body></html>"
            elif route.cookie and route.cookie not in (self.headers.get("Cookie") or "").replace(" ", "").split(";"):
                status, ctype, body = 200, "text/html", b"<html><body><h1>Please sign in</h1></body></html>"
            else:
                if route.delay:
                    threading.Event().wait(route.delay)
                status, ctype, body = route.status, route.content_type, route.body
            try:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    return Handler


@pytest.fixture(scope="session")
def http_server() -> Iterator[RecordingServer]:
    recorder = RecordingServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(recorder))
    httpd.daemon_threads = True
    recorder.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield recorder
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def server(http_server: RecordingServer) -> Iterator[RecordingServer]:
    http_server.reset()
    yield http_server
    http_server.reset()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    from healing_mcp.components.browser.launcher import launch_browser

    async with async_playwright() as playwright:
        launched = await launch_browser(playwright)
        yield launched
        await launched.close()


@pytest_asyncio.fixture(loop_scope="module")
async def context(browser: Any) -> AsyncIterator[Any]:
    ctx = await browser.new_context()
    ctx.set_default_timeout(5_000)
    yield ctx
    await ctx.close()


@pytest_asyncio.fixture(loop_scope="module")
async def page(context: Any) -> Any:
    return await context.new_page()


@pytest.fixture
def reporter(tmp_path: Path) -> EventReporter:
    return EventReporter(tmp_path / "events", stream="browser-test")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FingerprintStore]:
    with FingerprintStore(tmp_path / "fingerprints.db") as fingerprints:
        yield fingerprints


EventReader = Callable[..., list[dict[str, Any]]]


@pytest.fixture
def events(reporter: EventReporter) -> EventReader:
    """``events()`` -> every event written so far, as dicts; ``events("timeout")`` -> only that kind."""

    def read(kind: str | None = None) -> list[dict[str, Any]]:
        if not reporter.path.exists():
            return []
        lines = reporter.path.read_text().splitlines()
        found = [json.loads(line) for line in lines if line.strip()]
        return [e for e in found if kind is None or e["kind"] == kind]

    return read
