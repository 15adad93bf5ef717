"""Intake: events in, issues out.

Events arrive as JSON lines in files under the events directory (default ``.healing/events``; any
``*.jsonl`` below it, written by your services or by :mod:`healing_mcp.events`), from sensors that poll,
and from ad-hoc failure reports. Each event goes through its component's sensor, gets a signature, and
is grouped with the events of the same signature; groups are merged into issues by the store.

Exactly-once per file: the byte offset after the last consumed line is the file's *watermark*, stored in
the same transaction as the issue updates it produced. A crash before the commit re-reads those lines;
a crash after it never does. Only complete lines (ending in a newline) are consumed, so a writer caught
mid-line is read on the next pass. A file whose first line changed, or that shrank, was rotated and is
read from the start. A watermark moves only from the value the reader started from (compare-and-swap
in the store), so a reader that overlapped another one cannot count the same lines twice.

Watermarks are keyed by the file's path *and* the identity of the events directory it lives in
(``file://<id>/abs/path.jsonl``): the id is kept in ``.healing-source-id`` inside the directory, so it
survives restarts with the directory, while replicas or containers that each have their own directory
at the same path keep separate watermarks. A watermark stored under the path-only key of earlier
versions (``file:/abs/path.jsonl``) is picked up and moved to the new key. A directory that cannot
hold the id file (read-only) keeps the path-only key.

A line that cannot be used (not JSON, not an event, longer than ``MAX_LINE_BYTES``, or one its
component's sensor raises on or answers nonsense for) is quarantined with its reason and counted in the
report. It is never silently dropped and never stops the rest of the file: the watermark moves past it.
Events from the API, polls and ad-hoc reports that a sensor fails on are quarantined the same way.

Targets are redacted before they are stored or signed (a connection string's password is not part of
what an issue is), so the issue, its title and its signature never carry the secret.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import anyio.to_thread
import orjson
from pydantic import ValidationError

from healing_mcp.components.base import DefaultSensor, Sensor
from healing_mcp.components.registry import Registry
from healing_mcp.core.signatures import compute_signature
from healing_mcp.logs import get_logger
from healing_mcp.models import (
    Event,
    Evidence,
    HealthIssue,
    Observation,
    QuarantinedLine,
    ReplayStep,
    Severity,
    Watermark,
    utcnow,
)
from healing_mcp.redact import redact, redact_text
from healing_mcp.store.base import IntakeBatch, IssueGroup, Store, WatermarkMoved

MAX_LINE_BYTES = 1_000_000
SAMPLES_PER_GROUP = 3
READ_CHUNK = 4 * 1024 * 1024
SOURCE_ID_FILE = ".healing-source-id"

log = get_logger(__name__)


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


class SensorFailure(Exception):
    """A component's sensor raised on an event or answered something other than an Observation or None.
    The message says which sensor and what went wrong; the event is quarantined with it."""


def observe(sensor: Sensor, event: Event) -> Observation | None:
    """The sensor's observation of one event, checked: a broken sensor costs its event, never the batch."""
    try:
        observation = sensor.observe(event)
    except Exception as exc:
        raise SensorFailure(
            f"the {event.component} sensor failed on this {event.kind!r} event: {type(exc).__name__}: {exc}"
        ) from exc
    if observation is None:
        return None
    if not isinstance(observation, Observation):
        raise SensorFailure(
            f"the {event.component} sensor returned a {type(observation).__name__} for this {event.kind!r} "
            "event; a sensor returns an Observation, or None for an event that is not a failure"
        )
    if not (
        type(observation.kind) is str
        and observation.kind
        and (observation.target is None or type(observation.target) is str)
        and (observation.key is None or type(observation.key) is str)
        and (observation.summary is None or type(observation.summary) is str)
        and isinstance(observation.severity, Severity)
    ):
        raise SensorFailure(
            f"the {event.component} sensor returned an invalid Observation for this {event.kind!r} event "
            "(kind must be a non-empty string, target, key and summary strings or None, severity a Severity)"
        )
    return observation


@lru_cache(maxsize=4096)  # targets are few and repeat on every event
def redact_target(target: str) -> str:
    return redact_text(target)


class Grouper:
    """Aggregates events by signature. Cheap per event: samples are converted only when taken."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._groups: dict[str, _Accumulator] = {}
        self.ignored = 0

    def add(self, event: Event | EventLine) -> str | None:
        """Add one event; returns its signature, or None when the sensor says it is not a failure.
        Raises :class:`SensorFailure` when the component's sensor fails on the event."""
        component = self.registry.components.get(event.component)
        sensor = component.sensor if component is not None else None
        if sensor is None or type(sensor) is DefaultSensor:
            # The default sensor's answer, computed inline: this is most events, and the hot path.
            default = sensor.severity if sensor is not None else Severity.error
            kind, target, severity, summary, key = event.kind, event.target, event.severity or default, None, None
        else:
            full = event if isinstance(event, Event) else Event.model_construct(**event._asdict())
            observation = observe(sensor, full)
            if observation is None:
                self.ignored += 1
                return None
            kind, target, key = observation.kind, observation.target, observation.key
            severity, summary = event.severity or observation.severity, observation.summary
        if target is not None:  # stored and reported as is, so secrets go first; signed once redacted
            target = redact_target(target)
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


def source_identity(events_dir: Path, remembered: str | None = None) -> str | None:
    """The identity of this copy of the events directory, kept in ``SOURCE_ID_FILE`` inside it and created
    on first use (atomically: concurrent processes agree on one). ``remembered`` is rewritten if the file
    was removed while the directory stayed. None when the directory cannot hold the file."""
    path = events_dir / SOURCE_ID_FILE
    try:
        known = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        known = ""
    except (OSError, UnicodeDecodeError):
        return remembered
    if known:
        return known
    draft = events_dir / f"{SOURCE_ID_FILE}.{uuid.uuid4().hex}.tmp"
    try:
        draft.write_text((remembered or uuid.uuid4().hex[:16]) + "\n", encoding="ascii")
        try:
            os.link(draft, path)  # fails if another process created it first: then its id wins
        except FileExistsError:
            pass
        finally:
            draft.unlink(missing_ok=True)
        return path.read_text(encoding="ascii").strip() or remembered
    except OSError as exc:
        log.warning(
            "events directory cannot hold its identity file; watermarks keyed by path only",
            directory=str(events_dir),
            error=str(exc),
        )
        return remembered


def legacy_source_key(resolved: str) -> str:
    """The path-only watermark key of earlier versions."""
    return f"file:{resolved}"


def _probe(path: Path) -> tuple[str, int, str] | None:
    """(resolved path, size, generation fingerprint) of a file, or None if it is gone.

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
    return str(path.resolve()), size, fingerprint


@dataclass
class _Chunk:
    groups: list[IssueGroup]
    quarantined: list[QuarantinedLine]
    events: int
    position: int


def _too_long(size: int) -> str:
    return f"line of {size} bytes is longer than the limit of {MAX_LINE_BYTES}"


@dataclass
class _LongLine:
    """A line longer than ``MAX_LINE_BYTES``, skipped without holding it: its size and first bytes."""

    size: int
    head: bytes


class _FileReader:
    """Reads complete lines from ``offset`` on, in batches of ``batch_lines`` events (blocking I/O).

    Positions are exact byte counts of what was read, so a watermark always lands just after a real
    newline: a line longer than ``MAX_LINE_BYTES`` is skipped up to its own newline (across as many reads
    as it takes) and quarantined once, at the offset where it starts."""

    def __init__(self, path: Path, source: str, offset: int, grouper: Grouper, batch_lines: int, now: datetime):
        self.source = source
        self.grouper = grouper
        self.batch_lines = batch_lines
        self.now = now
        self._file = path.open("rb")
        self._file.seek(offset)
        self._lines: list[bytes | _LongLine] = []  # complete lines of the last read, the next one last
        self._pending = b""  # the incomplete line the last read ended in
        self._long: _LongLine | None = None  # an over-long line whose newline is not read yet
        self._position = offset  # byte offset just after the last line handed out
        self._eof = False

    def close(self) -> None:
        self._file.close()

    def _fill(self) -> bool:
        chunk = self._file.read(READ_CHUNK)
        if not chunk:
            self._eof = True
            return False
        lines: list[bytes | _LongLine] = []
        if self._long is not None:
            end = chunk.find(b"\n")
            if end < 0:
                self._long.size += len(chunk)
                return True
            self._long.size += end
            lines.append(self._long)
            self._long, chunk = None, chunk[end + 1 :]
        parts = (self._pending + chunk).split(b"\n")
        self._pending = parts.pop()  # incomplete tail, or b"" when the data ends with a newline
        lines.extend(parts)
        if len(self._pending) > MAX_LINE_BYTES:  # a runaway line: skip to its newline rather than buffer it
            self._long, self._pending = _LongLine(len(self._pending), self._pending[:500]), b""
        self._lines = lines[::-1]
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
            if type(raw) is bytes:
                self._position += len(raw) + 1
                if not raw.strip():
                    continue
                events += 1
                reason = _add_line(raw, self.grouper) if len(raw) <= MAX_LINE_BYTES else _too_long(len(raw))
                if reason is None:
                    continue
                head = raw[:500]
            else:
                assert isinstance(raw, _LongLine)
                self._position += raw.size + 1
                events += 1
                reason, head = _too_long(raw.size), raw.head
            quarantined.append(
                QuarantinedLine(
                    source=self.source,
                    offset=start,
                    reason=reason,
                    line=redact(head.decode("utf-8", "replace")),
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
        and (severity is None or (type(severity) is str and severity in _SEVERITIES))
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
    """Parse and group one line; returns a quarantine reason, or None when it was accepted. Whatever goes
    wrong with one line (a time out of range, a sensor bug...) is that line's reason, never the file's."""
    try:
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            data = None
        event: Event | EventLine | None = _fast_event(data) if type(data) is dict else None
        if event is None:
            event = Event.model_validate_json(raw)
        grouper.add(event)
    except ValidationError as exc:  # from the validated path: add() validates nothing
        if any(err["type"] == "json_invalid" for err in exc.errors()):
            return f"not valid JSON: {exc.errors()[0]['msg']}"
        return f"not an event: {describe_validation_error(exc)}"
    except SensorFailure as exc:
        return str(exc)
    except Exception as exc:
        return f"could not be processed: {type(exc).__name__}: {exc}"
    return None


def _group(grouper: Grouper, event: Event | EventLine) -> str | None:
    """Group one event; returns why it could not be, or None. A failure is the event's own: the caller
    quarantines it and goes on with the rest."""
    try:
        grouper.add(event)
    except SensorFailure as exc:
        return str(exc)
    except Exception as exc:
        return f"could not be grouped: {type(exc).__name__}: {exc}"
    return None


@dataclass
class IntakeSummary:
    events: int = 0
    quarantined: int = 0
    ignored: int = 0
    sources: int = 0
    touched: dict[str, HealthIssue] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # why events were quarantined (events not from files)

    def absorb(self, issues: Iterable[HealthIssue]) -> None:
        for issue in issues:
            self.touched[issue.id] = issue


class Intake:
    def __init__(self, store: Store, registry: Registry, events_dir: Path, batch_lines: int = 20_000) -> None:
        self.store = store
        self.registry = registry
        self.events_dir = events_dir
        self.batch_lines = batch_lines
        self._identity: str | None = None  # of the events directory, see source_identity()

    def sources(self) -> list[Path]:
        if not self.events_dir.is_dir():
            return []
        return sorted(p for p in self.events_dir.rglob("*.jsonl") if p.is_file())

    def _scan(self) -> list[Path]:
        """The event files, with the directory's identity refreshed (blocking: run in a worker thread)."""
        paths = self.sources()
        if paths:
            self._identity = source_identity(self.events_dir, self._identity)
        return paths

    def source_key(self, resolved: str) -> str:
        return f"file://{self._identity}{resolved}" if self._identity else legacy_source_key(resolved)

    async def _stored_watermark(self, resolved: str) -> tuple[str, Watermark | None]:
        """A file's source key and its stored watermark, falling back to the path-only key of earlier
        versions (the next commit stores it under the new key)."""
        source = self.source_key(resolved)
        mark = await self.store.get_watermark(source)
        if mark is None and source != legacy_source_key(resolved):
            mark = await self.store.get_watermark(legacy_source_key(resolved))
        return source, mark

    async def pending(self) -> bool:
        """Whether any event file has lines past its watermark (reads only: no lease, no transaction)."""
        for path in await anyio.to_thread.run_sync(self._scan):
            probe = await anyio.to_thread.run_sync(_probe, path)
            if probe is None:
                continue
            resolved, size, fingerprint = probe
            _, mark = await self._stored_watermark(resolved)
            if mark is None or mark.fingerprint != fingerprint or mark.offset != size:
                return True
        return False

    async def ingest_events(
        self, events: Iterable[Event], *, source: str = "api", now: datetime | None = None
    ) -> IntakeSummary:
        """Group and commit events that did not come from a file (API, polling, ad-hoc reports). An event
        that cannot be grouped (its sensor failed on it) is quarantined under ``<source>:<batch id>``, at
        its position in the batch, and its reason is in ``summary.problems``."""
        summary = IntakeSummary()
        grouper = Grouper(self.registry)
        moment = now or utcnow()
        batch_source = f"{source}:{uuid.uuid4().hex[:12]}"
        quarantined: list[QuarantinedLine] = []
        for index, event in enumerate(events):
            summary.events += 1
            reason = _group(grouper, event)
            if reason is not None:
                text = redact(f"{event.component} {event.kind}: {event.message}"[:500])
                quarantined.append(
                    QuarantinedLine(source=batch_source, offset=index, reason=reason, line=text, time=moment)
                )
        summary.ignored = grouper.ignored
        summary.quarantined = len(quarantined)
        summary.problems = [line.reason for line in quarantined]
        if summary.events:
            batch = IntakeBatch(groups=grouper.take(), quarantined=quarantined, events=summary.events)
            summary.absorb(await self.store.commit_intake(batch, now=moment))
        return summary

    async def ingest_files(self, *, now: datetime | None = None) -> IntakeSummary:
        summary = IntakeSummary()
        for path in await anyio.to_thread.run_sync(self._scan):
            summary.sources += 1
            await self._ingest_file(path, summary, now or utcnow())
        return summary

    async def _ingest_file(self, path: Path, summary: IntakeSummary, now: datetime) -> None:
        # File work (stat, read, parse, group) runs in a worker thread so a large log never stalls
        # the server's event loop; only the store commits happen here.
        probe = await anyio.to_thread.run_sync(_probe, path)
        if probe is None:
            return  # vanished between listing and reading: nothing to consume
        resolved, size, fingerprint = probe
        source, mark = await self._stored_watermark(resolved)
        offset = 0
        if mark is not None and mark.fingerprint == fingerprint and mark.offset <= size:
            offset = mark.offset
        if offset >= size:
            return
        expected = mark if mark is not None and mark.source == source else None  # what the commit replaces
        reader = _FileReader(path, source, offset, Grouper(self.registry), self.batch_lines, now)
        try:
            while (chunk := await anyio.to_thread.run_sync(reader.next_batch)) is not None:
                mark = Watermark(source=source, offset=chunk.position, fingerprint=fingerprint, updated_at=now)
                batch = IntakeBatch(
                    groups=chunk.groups,
                    watermarks=[mark],
                    quarantined=chunk.quarantined,
                    events=chunk.events,
                    expected={source: expected},
                )
                try:
                    summary.absorb(await self.store.commit_intake(batch, now=now))
                except WatermarkMoved as exc:
                    # Another reader committed these lines first; the next read continues from its watermark.
                    log.info("event file read by another reader meanwhile; left to it", source=source, reason=str(exc))
                    break
                expected = mark
                summary.events += chunk.events
                summary.quarantined += len(chunk.quarantined)
        finally:
            reader.close()
        summary.ignored += reader.grouper.ignored


def ensure_events_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path
