"""Report events from your own code: the live hook into healing-mcp.

Your code calls :func:`report_event` (or keeps an :class:`EventReporter`) when something fails; the
event is appended as one JSON line to a file in the events directory, where the supervisor picks it up
exactly like any other JSONL log. Writing is cheap, needs no running server, and is safe from several
processes at once (one ``O_APPEND`` write per event under an exclusive file lock)::

    from healing_mcp import report_event

    report_event("supabase", "missing_column", "column orders.discount does not exist",
                 target="orders.discount", attributes={"code": "42703"})
"""

from __future__ import annotations

import os
import socket
from functools import lru_cache
from pathlib import Path
from typing import Any

from healing_mcp.models import Event, ReplayStep, Severity
from healing_mcp.redact import redact

try:  # fcntl is POSIX-only; on Windows appends are still whole lines for small events
    import fcntl
except ImportError:  # pragma: no cover - exercised only on Windows
    fcntl = None  # type: ignore[assignment]


def default_events_dir() -> Path:
    """Where the supervisor reads events: the settings' events directory, by the same rules (explicit
    environment, then ``healing.toml`` or ``HEALING_CONFIG``, then defaults). Worked out once per working
    directory, environment and config file version, so reporting stays cheap."""
    config = Path(os.environ.get("HEALING_CONFIG", "healing.toml"))
    try:
        version = config.stat().st_mtime_ns
    except OSError:
        version = None
    names = ("HEALING_CONFIG", "HEALING_HOME", "HEALING_EVENTS_DIR")
    return _events_dir(os.getcwd(), tuple(os.environ.get(name) for name in names), version)


@lru_cache(maxsize=16)
def _events_dir(cwd: str, environment: tuple[str | None, ...], config_version: int | None) -> Path:
    # The arguments are the cache key: what the answer depends on.
    from healing_mcp.config import load_settings

    return load_settings().resolved_events_dir


class EventReporter:
    """Appends events to ``<events_dir>/<stream>.jsonl``. Secrets are redacted before writing."""

    def __init__(self, events_dir: Path | str | None = None, stream: str | None = None) -> None:
        self.events_dir = Path(events_dir) if events_dir is not None else default_events_dir()
        self.stream = stream or f"api-{socket.gethostname()}"
        self.path = self.events_dir / f"{self.stream}.jsonl"

    def report(self, event: Event) -> Event:
        step = event.step
        if step is not None:
            step = type(step).model_validate(redact(step.model_dump()))
        clean = event.model_copy(
            update={"message": redact(event.message), "attributes": redact(event.attributes), "step": step}
        )
        line = (clean.model_dump_json(exclude_none=True) + "\n").encode()
        self.events_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, line)
        finally:
            os.close(fd)  # closing releases the lock
        return clean

    def __call__(
        self,
        component: str,
        kind: str,
        message: str = "",
        *,
        target: str | None = None,
        severity: Severity | str | None = None,
        attributes: dict[str, Any] | None = None,
        step: ReplayStep | dict[str, Any] | None = None,
    ) -> Event:
        event = Event.model_validate(
            {
                "component": component,
                "kind": kind,
                "message": message,
                "target": target,
                "severity": severity,
                "attributes": attributes or {},
                "step": step,
            }
        )
        return self.report(event)


def report_event(
    component: str,
    kind: str,
    message: str = "",
    *,
    target: str | None = None,
    severity: Severity | str | None = None,
    attributes: dict[str, Any] | None = None,
    step: ReplayStep | dict[str, Any] | None = None,
    events_dir: Path | str | None = None,
) -> Event:
    """Record one failure event for the supervisor. Returns the event as written (redacted)."""
    return EventReporter(events_dir)(
        component, kind, message, target=target, severity=severity, attributes=attributes, step=step
    )
