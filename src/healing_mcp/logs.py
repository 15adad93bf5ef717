"""Logging: structlog to stderr, secrets redacted, never a byte on stdout.

In stdio mode stdout carries the MCP protocol, so every log line, warning and traceback goes to stderr.
Call :func:`configure_logging` once at start-up; library code just does ``get_logger(__name__)``. The
standard library's loggers (uvicorn, httpx, psycopg_pool, the MCP SDK) are routed through the same
pipeline, so their lines are redacted and formatted like ours.

structlog is imported on the first log call, not at start-up: importing it pulls in ``rich`` and
``pygments`` (about 100 ms), and a server answering ``tools/list`` has nothing to log yet.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

from healing_mcp.redact import redact

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
_wanted: tuple[str, str] | None = None  # (level, format) asked for by configure_logging
_configured = False


def _redact_event(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    return {key: redact(value) if key != "timestamp" else value for key, value in event_dict.items()}


class _StandardLibraryBridge(logging.Handler):
    """Hands the standard library's log records (uvicorn, httpx, psycopg_pool, the MCP SDK) to the same
    structlog pipeline as ours: stderr, secrets redacted, one format. structlog is still imported only
    when the first record arrives."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            logger = _ensure_structlog().get_logger(record.name)
            extra: dict[str, Any] = {"logger": record.name}
            if record.exc_info:
                extra["exc_info"] = record.exc_info
            logger.log(record.levelno, record.getMessage(), **extra)
        except Exception:
            self.handleError(record)


def configure_logging(level: str = "info", fmt: str = "console") -> None:
    """Route structlog and the standard library's logging to stderr at ``level``."""
    global _wanted, _configured
    _wanted, _configured = (level, fmt), False
    numeric = _LEVELS.get(level, logging.INFO)
    # Libraries (mcp, uvicorn, httpx, psycopg_pool) log through the standard library: they go through
    # our pipeline too (never to stdout, never unredacted), and stay quieter than our own output unless
    # their logger asks for more (the HTTP server sets uvicorn's to ``level``).
    root = logging.getLogger()
    root.handlers[:] = [_StandardLibraryBridge()]
    root.setLevel(max(numeric, logging.WARNING))


def _ensure_structlog() -> Any:
    global _configured
    import structlog

    if _configured:
        return structlog
    _configured = True
    if _wanted is None:
        if not structlog.is_configured():
            # The application never configured logging (we are a library in someone's process): at
            # least never write to stdout, which may be an MCP stdio channel.
            structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=sys.stderr))
        return structlog
    level, fmt = _wanted
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
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS.get(level, logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    return structlog


class _LazyLogger:
    """Stands in for a structlog logger until the first call, then delegates to the real one."""

    __slots__ = ("_context", "_logger", "_name")

    def __init__(self, name: str, context: dict[str, Any] | None = None) -> None:
        self._name = name
        self._context = context or {}
        self._logger: Any = None

    def _real(self) -> Any:
        if self._logger is None:
            self._logger = _ensure_structlog().get_logger(self._name).bind(**self._context)
        return self._logger

    def bind(self, **values: Any) -> Any:
        if self._logger is None:
            return _LazyLogger(self._name, {**self._context, **values})
        return self._logger.bind(**values)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real(), name)


def get_logger(name: str = "healing_mcp") -> FilteringBoundLogger:
    logger: FilteringBoundLogger = _LazyLogger(name)
    return logger
