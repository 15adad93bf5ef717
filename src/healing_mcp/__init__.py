"""healing-mcp: a self-healing layer for AI-agent platforms, served over MCP.

The public Python API is small and imported lazily, so ``import healing_mcp`` stays cheap:

- :func:`report_event` / :class:`EventReporter`: report a failure from your own code.
- :class:`Component` and the protocols in :mod:`healing_mcp.components`: write a plugin.
- :mod:`healing_mcp.models`: the data model (events, issues, reports, fixes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "report_event": "healing_mcp.events",
    "EventReporter": "healing_mcp.events",
    "Component": "healing_mcp.components.base",
    "Event": "healing_mcp.models",
    "HealthIssue": "healing_mcp.models",
    "SystemHealthReport": "healing_mcp.models",
}

if TYPE_CHECKING:
    from healing_mcp.components.base import Component
    from healing_mcp.events import EventReporter, report_event
    from healing_mcp.models import Event, HealthIssue, SystemHealthReport


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'healing_mcp' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = ["Component", "Event", "EventReporter", "HealthIssue", "SystemHealthReport", "__version__", "report_event"]
