"""The MCP server (:mod:`.app`), its HTTP transports (:mod:`.http`) and what they share with the CLI."""

from __future__ import annotations

from typing import TYPE_CHECKING

from healing_mcp.errors import StoreError

if TYPE_CHECKING:
    from healing_mcp.config import Settings
    from healing_mcp.core.engine import Engine


async def open_engine(settings: Settings) -> Engine:
    """:meth:`Engine.open`, with file-system failures (a state directory that is a file, unwritable or
    on a full disk) reported as a :class:`StoreError` whose message says what to check, instead of a
    bare ``OSError`` that MCP clients would only see as an internal error."""
    from healing_mcp.core.engine import Engine

    try:
        return await Engine.open(settings)
    except OSError as exc:
        raise StoreError(
            f"cannot open the healing store: {exc}. Check that the state directory {settings.home} "
            "(HEALING_HOME or --home) is a writable directory."
        ) from exc
