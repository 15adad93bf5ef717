"""Intake: events in, issues out.

Events arrive as JSON lines in files under the events directory (default ``.healing/events``; any
``*.jsonl`` below it, written by your services or by :mod:`healing_mcp.events`), from sensors that poll,
and from ad-hoc failure reports. Each event goes through its component's sensor, gets a signature, and
is grouped with the events of the same signature; groups are merged into issues by the store.

Exactly-once per file: the byte offset after the last consumed line is the file's *watermark*, stored in
the same transaction as the issue updates it produced. A crash before the commit re-reads those lines;
a crash after it never does. Only complete lines (ending in a newline) are consumed, so a writer caught
mid-line is read on the next pass. A file whose first line changed, or that shrank, was rotated and is
read from the start.

A malformed line (not JSON, not an event) is quarantined with its reason and counted in the report. It
is never silently dropped and never stops the rest of the file.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import anyio.to_thread
import orjson
from pydantic import ValidationError

from healing_mcp.components.base import DefaultSensor
from healing_mcp.components.registry import Registry
from healing_mcp.core.signatures import compute_signature
from healing_mcp.models import (
    Event,
    Evidence,
    HealthIssue,
    QuarantinedLine,
    ReplayStep,
    Severity,
    Watermark,
    utcnow,
)
from healing_mcp.redact import redact
from healing_mcp.store.base import IntakeBatch, IssueGroup, Store

MAX_LINE_BYTES = 1_000_000
SAMPLES_PER_GROUP = 3
READ_CHUNK = 4 * 1024 * 1024


def describe_validation_error(exc: ValidationError) -> str:
    """One readable line from a pydantic error: which field, what was wrong."""
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err["loc"]) or "line"
        parts.append(f"{where}: {err['msg']}")
    more = len(exc.errors()) - 3
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


class EventLine(NamedTuple):
    """A plainly valid event line, parsed without the pydantic validator (intake's hot path). It has the
    same fields as :class:`Event`; it becomes one only when a custom sensor needs the real thing."""

    time: datetime
    component: str
    kind: str
    message: str
    target: str | None
    severity: Severity | None
    attributes: dict[str, Any]
    step: ReplayStep | None = None


@dataclass
class _Accumulator:
    component: str
    kind: str
    target: str | None
    severity: Severity
    title: str
    first_message: str
    count: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    samples: list[Event | EventLine] = field(default_factory=list)


class Grouper:
    """Aggregates events by signature. Cheap per event: samples are converted only when taken."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._groups: dict[str, _Accumulator] = {}
        self.ignored = 0

    def add(self, event: Event | EventLine) -> str | None:
        """Add one event; returns its signature, or None when the sensor says it is not a failure."""
        component = self.registry.components.get(event.component)
        sensor = component.sensor if component is not None else None
        if sensor is None or type(sensor) is DefaultSensor:
            # The default sensor's answer, computed inline: this is most events, and the hot path.
            default = sensor.severity if sensor is not None else Severity.error
            kind, target, severity, summary, key = event.kind, event.target, event.severity or default, None, None
        else:
            full = event if isinstance(event, Event) else Event.model_construct(**event._asdict())
            try:
                observation = sensor.observe(full)
            except Exception as exc:  # a broken sensor must not lose the event: group it as a sensor error
                event = Event(
                    time=event.time,
                    component=event.component,
                    kind="sensor_error",
                    message=f"the {event.component} sensor failed on a {event.kind} event: {type(exc).__name__}: {exc}",
                    target=event.kind,
                )
                kind, target, severity, summary, key = event.kind, event.target, Severity.error, None, None
            else:
                if observation is None:
                    self.ignored += 1
                    return None
                kind, target, key = observation.kind, observation.target, observation.key
                severity, summary = event.severity or observation.severity, observation.summary
        signature = compute_signature(event.component, kind, target, event.message if key is None else key)
        acc = self._groups.get(signature)
        if acc is None:
            title = summary or (f"{kind.replace('_', ' ')}: {target}" if target else kind.replace("_", " "))
            acc = self._groups[signature] = _Accumulator(
                component=event.component,
                kind=kind,
                target=target,
                severity=severity,
                title=title[:200],
                first_message=event.message,
            )
        acc.count += 1
        if acc.first_seen is None or event.time < acc.first_seen:
            acc.first_seen = event.time
        if acc.last_seen is None or event.time >= acc.last_seen:
            acc.last_seen = event.time
            acc.samples.append(event)
            if len(acc.samples) > SAMPLES_PER_GROUP:
                del acc.samples[0]
        if severity.rank > acc.severity.rank:
            acc.severity = severity
        return signature

    def __len__(self) -> int:
        return len(self._groups)

    def take(self) -> list[IssueGroup]:
        groups = []
        for signature, acc in self._groups.items():
            assert acc.first_seen is not None
            assert acc.last_seen is not None
            groups.append(
                IssueGroup(
                    signature=signature,
                    component=acc.component,
                    kind=acc.kind,
                    target=acc.target,
                    severity=acc.severity,
                    title=redact(acc.title),
                    count=acc.count,
                    first_seen=acc.first_seen,
                    last_seen=acc.last_seen,
                    samples=[to_evidence(e) for e in acc.samples],
                    symptoms=[redact(acc.first_message)[:300]] if acc.first_message else [],
                )
            )
        self._groups.clear()
        return groups


def to_evidence(event: Event | EventLine) -> Evidence:
    return Evidence(
        time=event.time,
        message=redact(event.message)[:2000],
        attributes=redact(event.attributes),
        step=type(event.step).model_validate(redact(event.step.model_dump())) if event.step else None,
    )


def _probe(path: Path) -> tuple[str, int, str] | None:
    """(source key, size, generation fingerprint) of a file, or None if it is gone.

    The fingerprint hashes the first line (up to 256 bytes): stable while the file grows, different
    after a rotation. A first line still being written yields "" (nothing is consumed before it ends).
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.readline(256)
    except OSError:
        return None
    fingerprint = (
        "" if not head.endswith(b"\n") and len(head) < 256 else hashlib.blake2b(head, digest_size=8).hexdigest()
    )
    return f"file:{path.resolve()}", size, fingerprint


@dataclass
class _Chunk:
    groups: list[IssueGroup]
    quarantined: list[QuarantinedLine]
    events: int
    position: int


class _FileReader:
    """Reads complete lines from ``offset`` on, in batches of ``batch_lines`` events (blocking I/O)."""

    def __init__(self, path: Path, source: str, offset: int, grouper: Grouper, batch_lines: int, now: datetime):
        self.source = source
        self.grouper = grouper
        self.batch_lines = batch_lines
        self.now = now
        self._file = path.open("rb")
        self._file.seek(offset)
        self._lines: list[bytes] = []
        self._pending = b""
        self._position = offset  # byte offset just after the last line handed out
        self._eof = False

    def close(self) -> None:
        self._file.close()

    def _fill(self) -> bool:
        chunk = self._file.read(READ_CHUNK)
        if not chunk:
            self._eof = True
            return False
        lines = (self._pending + chunk).split(b"\n")
        self._pending = lines.pop()  # incomplete tail, or b"" when the data ends with a newline
        self._lines.extend(reversed(lines))
        if len(self._pending) > MAX_LINE_BYTES:
            self._lines.insert(0, self._pending)  # a runaway line: quarantine it rather than buffer forever
            self._pending = b""
        return True

    def next_batch(self) -> _Chunk | None:
        quarantined: list[QuarantinedLine] = []
        events = 0
        start_position = self._position
        while events < self.batch_lines:
            if not self._lines and (self._eof or not self._fill()):
                break
            if not self._lines:
                continue
            raw = self._lines.pop()
            start = self._position
            self._position += len(raw) + 1
            if not raw.strip():
                continue
            events += 1
            reason = (
                f"line longer than {MAX_LINE_BYTES} bytes"
                if len(raw) > MAX_LINE_BYTES
                else _add_line(raw, self.grouper)
            )
            if reason is not None:
                quarantined.append(
                    QuarantinedLine(
                        source=self.source,
                        offset=start,
                        reason=reason,
                        line=redact(raw[:500].decode("utf-8", "replace")),
                        time=self.now,
                    )
                )
        if self._position == start_position:
            return None
        return _Chunk(self.grouper.take(), quarantined, events, self._position)


_SEVERITIES = {s.value: s for s in Severity}
_SIMPLE_KEYS = frozenset(
    {
        "time",
        "timestamp",
        "ts",
        "component",
        "kind",
        "symptom",
        "message",
        "msg",
        "error",
        "target",
        "severity",
        "attributes",
    }
)


def _first(data: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if key in data:
            return data[key]
    return None


def _fast_event(data: dict[str, Any]) -> EventLine | None:
    """The common, plainly valid line as an Event without running the full validator (the hot path of
    intake: most lines are exactly this shape). Anything unusual returns None and takes the validated
    path, which also produces the precise error for a bad line; both paths yield equal events."""
    if not _SIMPLE_KEYS.issuperset(data):
        return None
    component = data.get("component")
    kind = _first(data, "kind", "symptom")
    message = _first(data, "message", "msg", "error")
    target = data.get("target")
    stamp = _first(data, "time", "timestamp", "ts")
    severity = data.get("severity")
    attributes = data.get("attributes", {})
    if not (
        type(component) is str
        and 0 < len(component) <= 64
        and type(kind) is str
        and 0 < len(kind) <= 128
        and (message is None or (type(message) is str and len(message) <= 20_000))
        and (target is None or (type(target) is str and len(target) <= 2_000))
        and (severity is None or severity in _SEVERITIES)
        and type(attributes) is dict
        and (stamp is None or type(stamp) is str)
    ):
        return None
    if stamp is None:
        moment = utcnow()
    else:
        try:
            moment = datetime.fromisoformat(stamp)
        except ValueError:
            return None
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return EventLine(
        moment,
        component,
        kind,
        message or "",
        target,
        _SEVERITIES[severity] if severity is not None else None,
        attributes,
    )


def _add_line(raw: bytes, grouper: Grouper) -> str | None:
    """Parse and group one line; returns a quarantine reason, or None when it was accepted."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        data = None
    event: Event | EventLine | None = _fast_event(data) if type(data) is dict else None
    if event is None:
        try:
            event = Event.model_validate_json(raw)
        except ValidationError as exc:
            if any(err["type"] == "json_invalid" for err in exc.errors()):
                return f"not valid JSON: {exc.errors()[0]['msg']}"
            return f"not an event: {describe_validation_error(exc)}"
    grouper.add(event)
    return None


@dataclass
class IntakeSummary:
    events: int = 0
    quarantined: int = 0
    ignored: int = 0
    sources: int = 0
    touched: dict[str, HealthIssue] = field(default_factory=dict)

    def absorb(self, issues: Iterable[HealthIssue]) -> None:
        for issue in issues:
            self.touched[issue.id] = issue


class Intake:
    def __init__(self, store: Store, registry: Registry, events_dir: Path, batch_lines: int = 20_000) -> None:
        self.store = store
        self.registry = registry
        self.events_dir = events_dir
        self.batch_lines = batch_lines

    def sources(self) -> list[Path]:
        if not self.events_dir.is_dir():
            return []
        return sorted(p for p in self.events_dir.rglob("*.jsonl") if p.is_file())

    async def pending(self) -> bool:
        """Whether any event file has lines past its watermark (reads only: no lease, no transaction)."""
        for path in await anyio.to_thread.run_sync(self.sources):
            probe = await anyio.to_thread.run_sync(_probe, path)
            if probe is None:
                continue
            source, size, fingerprint = probe
            mark = await self.store.get_watermark(source)
            if mark is None or mark.fingerprint != fingerprint or mark.offset != size:
                return True
        return False

    async def ingest_events(self, events: Iterable[Event], *, now: datetime | None = None) -> IntakeSummary:
        """Group and commit events that did not come from a file (API, polling, ad-hoc reports)."""
        summary = IntakeSummary()
        grouper = Grouper(self.registry)
        for event in events:
            summary.events += 1
            grouper.add(event)
        summary.ignored = grouper.ignored
        if summary.events:
            batch = IntakeBatch(groups=grouper.take(), events=summary.events)
            summary.absorb(await self.store.commit_intake(batch, now=now or utcnow()))
        return summary

    async def ingest_files(self, *, now: datetime | None = None) -> IntakeSummary:
        summary = IntakeSummary()
        for path in self.sources():
            summary.sources += 1
            await self._ingest_file(path, summary, now or utcnow())
        return summary

    async def _ingest_file(self, path: Path, summary: IntakeSummary, now: datetime) -> None:
        # File work (stat, read, parse, group) runs in a worker thread so a large log never stalls
        # the server's event loop; only the store commits happen here.
        probe = await anyio.to_thread.run_sync(_probe, path)
        if probe is None:
            return  # vanished between listing and reading: nothing to consume
        source, size, fingerprint = probe
        mark = await self.store.get_watermark(source)
        offset = 0
        if mark is not None and mark.fingerprint == fingerprint and mark.offset <= size:
            offset = mark.offset
        if offset >= size:
            return
        reader = _FileReader(path, source, offset, Grouper(self.registry), self.batch_lines, now)
        try:
            while (chunk := await anyio.to_thread.run_sync(reader.next_batch)) is not None:
                batch = IntakeBatch(
                    groups=chunk.groups,
                    watermarks=[
                        Watermark(source=source, offset=chunk.position, fingerprint=fingerprint, updated_at=now)
                    ],
                    quarantined=chunk.quarantined,
                    events=chunk.events,
                )
                summary.absorb(await self.store.commit_intake(batch, now=now))
                summary.events += chunk.events
                summary.quarantined += len(chunk.quarantined)
        finally:
            reader.close()
        summary.ignored += reader.grouper.ignored


def ensure_events_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path
