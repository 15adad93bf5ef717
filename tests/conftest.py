"""Fixtures shared by the core tests: settings in a temporary home, and an engine with the test
'files' component (a real component that heals missing JSON files on disk)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from healing_mcp.components.registry import Registry
from healing_mcp.config import Settings, load_settings
from healing_mcp.core.engine import Engine
from tests.plugins.files_component import FilesComponent


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / ".healing"


@pytest.fixture
def make_settings(tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Settings]:
    for var in (
        "HEALING_ENV",
        "ALLOW_PROD_HEALING",
        "DATABASE_URL",
        "SUPABASE_URL",
        "ANTHROPIC_API_KEY",
        "HEALING_CONFIG",
        "HEALING_HOME",
        "HEALING_PLUGINS",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)

    def make(**overrides: Any) -> Settings:
        overrides.setdefault("home", home)
        overrides.setdefault("project_root", tmp_path / "project")
        overrides.setdefault("llm", "off")
        return load_settings(tmp_path / "absent.toml", **overrides)

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def files() -> FilesComponent:
    return FilesComponent()


@pytest.fixture
async def engine(settings: Settings, files: FilesComponent) -> AsyncIterator[Engine]:
    registry = Registry()
    registry.register(files)
    async with await Engine.open(settings, registry) as opened:
        yield opened


def write_events(events_dir: Path, events: list[dict[str, Any]], name: str = "app.jsonl") -> Path:
    events_dir.mkdir(parents=True, exist_ok=True)
    path = events_dir / name
    with path.open("a", encoding="utf-8") as f:
        for event in events:
            f.write(json.dumps(event) + "\n")
    return path


def missing_file_event(path: Path, request: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "component": "files",
        "kind": "missing_file",
        "target": str(path),
        "message": f"could not open {path} for request {request} at 2026-11-25T10:00:{request % 60:02d}Z",
        "attributes": {"default": {"debug": False}, "request": request},
        **extra,
    }
