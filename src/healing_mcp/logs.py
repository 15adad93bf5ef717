"""Logging: structlog to stderr, secrets redacted, never a byte on stdout.

In stdio mode stdout carries the MCP protocol, so every log line, warning and traceback goes to stderr.
Call :func:`configure_logging` once at start-up; library code just does ``get_logger(__name__)``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
from structlog.typing import FilteringBoundLogger

from healing_mcp.redact import redact

if not structlog.is_configured():
    # Until the application configures logging, never write to stdout: in stdio mode it is the protocol.
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=sys.stderr))

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def _redact_event(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    return {key: redact(value) if key != "timestamp" else value for key, value in event_dict.items()}


def configure_logging(level: str = "info", fmt: str = "console") -> None:
    """Route structlog and the standard library's logging to stderr at ``level``."""
    numeric = _LEVELS.get(level, logging.INFO)
    renderer: Any = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _redact_event,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    # Libraries (mcp, uvicorn, httpx) log through the standard library: keep them on stderr too, and
    # keep them quieter than our own output.
    root = logging.getLogger()
    root.handlers[:] = [logging.StreamHandler(sys.stderr)]
    root.setLevel(max(numeric, logging.WARNING))


def get_logger(name: str = "healing_mcp") -> FilteringBoundLogger:
    logger: FilteringBoundLogger = structlog.get_logger(name)
    return logger
