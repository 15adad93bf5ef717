"""Fixtures of the end-to-end server tests (see :mod:`tests.server.support` for the helpers)."""

from __future__ import annotations

import signal
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.server.support import HttpServer, server_env, start_http_server


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "healing-home"
    path.mkdir()
    return path


@pytest.fixture(scope="module")
def module_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("server") / "healing-home"
    path.mkdir()
    return path


@pytest.fixture(scope="module")
def http_server_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Starts HTTP servers (each with its own home) and stops them all at the end of the module."""
    started: list[HttpServer] = []

    def start(*args: str, env_extra: Mapping[str, str] | None = None, **kwargs: Any) -> HttpServer:
        home = tmp_path_factory.mktemp("http") / "healing-home"
        home.mkdir()
        env = server_env(home, **dict(env_extra or {}))
        server = start_http_server(home, *args, env=env, **kwargs)
        started.append(server)
        return server

    yield start
    crashed = []
    for server in started:
        server.stop()
        # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal: -SIGTERM is a clean exit.
        clean = server.process.returncode in (0, -signal.SIGTERM) and "Application shutdown complete" in server.stderr()
        if "Traceback" in server.stderr() or not clean:
            crashed.append(f"{server.process.args} exited {server.process.returncode}:\n{server.stderr()}")
        if server.stdout():  # logs, the access log included, belong on stderr
            crashed.append(f"{server.process.args} wrote to stdout:\n{server.stdout()}")
    if crashed:
        pytest.fail(
            "an HTTP server crashed, did not stop cleanly on SIGTERM or wrote to stdout:\n" + "\n".join(crashed)
        )
