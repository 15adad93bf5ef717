"""The shipped tool schemas (``healing_mcp/server/tool_schemas.json``): current, identical to what the
models give, and never trusted when stale."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from healing_mcp.config import Settings
from healing_mcp.server import tool_schemas
from healing_mcp.server.app import create_server

REGENERATE = "python -m healing_mcp.server.tool_schemas"


def _listed(**kwargs: Any) -> list[dict[str, Any]]:
    server = create_server(Settings(), **kwargs)
    return [tool.model_dump(mode="json", by_alias=True) for tool in anyio.run(server.list_tools)]


@pytest.fixture(autouse=True)
def _fresh_cache() -> Any:
    tool_schemas.shipped_schemas.cache_clear()
    yield
    tool_schemas.shipped_schemas.cache_clear()


def test_the_shipped_file_is_current() -> None:
    shipped = json.loads(tool_schemas.SCHEMA_FILE.read_text(encoding="utf-8"))
    assert shipped["key"] == tool_schemas.schema_key(), f"tool_schemas.json is stale: run {REGENERATE}"
    assert shipped["tools"] == tool_schemas.derive_schemas(), f"tool_schemas.json is stale: run {REGENERATE}"


def test_tools_built_from_the_shipped_file_equal_derived_ones() -> None:
    assert tool_schemas.shipped_schemas() is not None
    assert _listed() == _listed(use_shipped_schemas=False)


def test_a_stale_file_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = json.loads(tool_schemas.SCHEMA_FILE.read_text(encoding="utf-8"))
    for schemas in stale["tools"].values():
        schemas["input"]["properties"] = {}  # what an outdated file would publish
    path = tmp_path / "tool_schemas.json"
    path.write_text(json.dumps({**stale, "key": "from-another-version"}), encoding="utf-8")
    monkeypatch.setattr(tool_schemas, "SCHEMA_FILE", path)

    assert tool_schemas.shipped_schemas() is None
    assert _listed() == _listed(use_shipped_schemas=False)
    assert all(tool["inputSchema"]["properties"] for tool in _listed()), "the stale schemas were published"


def test_a_missing_or_corrupt_file_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tool_schemas, "SCHEMA_FILE", tmp_path / "absent.json")
    assert tool_schemas.shipped_schemas() is None
    tool_schemas.shipped_schemas.cache_clear()
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text('{"key": ', encoding="utf-8")
    monkeypatch.setattr(tool_schemas, "SCHEMA_FILE", corrupt)
    assert tool_schemas.shipped_schemas() is None
    assert _listed() == _listed(use_shipped_schemas=False)
