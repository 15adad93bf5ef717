"""The tools' input and output JSON schemas, generated once and shipped with the package.

Deriving the four tools' schemas from the pydantic models (``Tool.from_function``) costs about 20 ms,
and building the models' validators as many again: together a third of what healing-mcp's start-up
adds to the ``mcp`` import. MCP clients spawn the server often (every editor window, every agent
session), so the published schemas are kept in ``tool_schemas.json`` next to this module and
:func:`build_tool` assembles each tool from them; the validators are then built on the first call.

The file is keyed by a hash of everything the schemas are derived from: the tool signatures
(``app.py``), the models (``models.py``) and the pydantic and mcp versions. When the key does not
match (an edited model, another pydantic), the schemas are derived from the models as usual, so a
stale file costs start-up time, never correctness. ``tests/server/test_tool_schemas.py`` fails when the
shipped file is stale; regenerate it with::

    python -m healing_mcp.server.tool_schemas
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pydantic
from mcp.server.mcpserver.tools.base import Tool
from mcp.server.mcpserver.utilities.context_injection import find_context_parameter
from mcp.server.mcpserver.utilities.func_metadata import func_metadata
from mcp_types import ToolAnnotations

SCHEMA_FILE = Path(__file__).with_name("tool_schemas.json")
_SOURCES = (Path(__file__).with_name("app.py"), Path(__file__).parent.parent / "models.py")


def schema_key() -> str:
    """Hash of what the schemas are derived from; the shipped file is valid only for this key."""
    digest = hashlib.sha256()
    for part in (pydantic.VERSION, version("mcp")):
        digest.update(part.encode() + b"\0")
    for source in _SOURCES:
        digest.update(source.read_bytes() + b"\0")
    return digest.hexdigest()


@cache
def shipped_schemas() -> dict[str, dict[str, Any]] | None:
    """``{tool key: {"input": schema, "output": schema}}`` when the shipped file matches this code,
    else None (missing, unreadable or stale: the caller derives the schemas instead)."""
    try:
        data = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
        if data.get("key") == schema_key():
            tools: dict[str, dict[str, Any]] = data["tools"]
            return tools
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def build_tool(
    key: str,
    fn: Callable[..., Awaitable[Any]],
    *,
    name: str,
    title: str,
    description: str,
    annotations: ToolAnnotations,
    output_model: type[pydantic.BaseModel],
    shipped: dict[str, dict[str, Any]] | None,
) -> Tool:
    """The same :class:`Tool` that ``Tool.from_function(..., structured_output=True)`` builds, with its
    schemas taken from ``shipped`` (see :func:`shipped_schemas`) when given."""
    cached = (shipped or {}).get(key)
    if cached is None:
        return Tool.from_function(
            fn, name=name, title=title, description=description, annotations=annotations, structured_output=True
        )
    context_kwarg = find_context_parameter(fn)
    # The argument model only (no output schema derivation); FuncMetadata reads output_model and
    # output_schema live, so setting them afterwards gives the structured-output tool.
    metadata = func_metadata(fn, skip_names=[context_kwarg] if context_kwarg else [], structured_output=False)
    metadata.output_model = output_model
    metadata.output_schema = cached["output"]
    return Tool(
        fn=fn,
        name=name,
        title=title,
        description=description,
        parameters=cached["input"],
        fn_metadata=metadata,
        is_async=True,
        context_kwarg=context_kwarg,
        annotations=annotations,
    )


def derive_schemas() -> dict[str, dict[str, Any]]:
    """The schemas as the models give them today (what the shipped file must contain)."""
    import anyio

    from healing_mcp.config import Settings
    from healing_mcp.server.app import TOOL_NAMES, create_server

    server = create_server(Settings(), use_shipped_schemas=False)
    by_name = {tool.name: tool for tool in anyio.run(server.list_tools)}
    return {
        key: {"input": by_name[underscore].input_schema, "output": by_name[underscore].output_schema}
        for key, (underscore, _dotted) in TOOL_NAMES.items()
    }


def write() -> Path:
    payload = {"key": schema_key(), "tools": derive_schemas()}
    SCHEMA_FILE.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    shipped_schemas.cache_clear()
    return SCHEMA_FILE


if __name__ == "__main__":
    print(f"wrote {write()}")
