"""Spooling: keep the writes that must not be lost while the remote store is unreachable.

:class:`SpoolingStore` wraps a remote store (Postgres or Supabase). When a call fails with
:class:`StoreUnavailable`, the wrapper turns *degraded* (``degraded_reason`` says why; ``description``
says so too, so the health report shows it) and, from then on:

- Writes that must not be lost — ``record_outcome``, ``finish_attempt``, ``append_audit``, ``save_issue``,
  ``save_patch`` — and ``release_lease`` (so the claims a pass held are free as soon as the database is
  back, instead of blocking the next pass until they expire) are appended to a local spool file (JSON
  lines under ``<home>/spool/``, fsync'd before the call returns) and answered locally:
  ``record_outcome``/``finish_attempt`` return a memory record that reflects only that outcome,
  ``append_audit`` returns sequence number 0 (assigned on replay).
- Everything else fails fast with :class:`StoreUnavailable` (reads, ``commit_intake``, taking leases):
  intake simply re-reads its events later (the watermark did not move) and a supervisor skips the pass.
- At most every ``retry_interval`` seconds a call probes the remote again; when it answers, the spool is
  replayed in order before anything else goes through, and the wrapper is healthy again.

Replays are exactly-once in effect because every spooled write is idempotent in the remote store:
outcomes by ``outcome_id``, audit entries by ``(attempt_id, phase)``, patches by id, issues are
written only if the remote copy is not newer (``restore_issue``, compare on ``updated_at``), and a
release frees only its own holder's claim (holders are unique per claim). A write whose
acknowledgement was lost (the connection dropped during COMMIT) is spooled too and replays as a no-op.

Each process appends to its own file and holds an exclusive ``flock`` on it while alive; files of
processes that died (lock free) are replayed and removed by the next wrapper that opens or recovers.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from pydantic import ValidationError

from healing_mcp.core.ranking import wilson_lower_bound
from healing_mcp.logs import get_logger
from healing_mcp.models import (
    AuditEntry,
    HealthIssue,
    IntakeStats,
    IssueState,
    MemoryInsights,
    MemoryRecord,
    PatchSuggestion,
    Watermark,
    utcnow,
)
from healing_mcp.redact import redact_text
from healing_mcp.store.base import (
    IntakeBatch,
    IssueBucket,
    IssuePage,
    IssueQuery,
    OutcomeRecord,
    Store,
    StoreError,
    StoreUnavailable,
)

try:  # POSIX; elsewhere files are not locked (one process per home directory)
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

T = TypeVar("T")
SPOOL_VERSION = 1
log = get_logger(__name__)


def _lock(fd: int, *, block: bool) -> bool:
    if fcntl is None:  # pragma: no cover
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if block else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    return True


def spooled_memory_record(outcome: OutcomeRecord) -> MemoryRecord:
    """What ``record_outcome`` answers while spooling: this outcome alone."""
    wins, losses = (1, 0) if outcome.success else (0, 1)
    return MemoryRecord(
        issue_signature=outcome.issue_signature,
        fix_signature=outcome.fix_signature,
        component=outcome.component,
        strategy=outcome.strategy,
        params=outcome.params,
        risk=outcome.risk,
        successes=wins,
        failures=losses,
        last_outcome="success" if outcome.success else "failure",
        last_success_at=outcome.time if outcome.success else None,
        last_failure_at=None if outcome.success else outcome.time,
        suggestions=[outcome.suggestion] if outcome.suggestion else [],
        created_at=outcome.time,
        updated_at=outcome.time,
        score=wilson_lower_bound(wins, losses),
    )


class SpoolingStore:
    """A :class:`~healing_mcp.store.base.Store` that survives outages of the remote store it wraps."""

    def __init__(
        self,
        remote: Store,
        spool_dir: Path,
        *,
        retry_interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.remote = remote
        self.spool_dir = Path(spool_dir)
        self.retry_interval = retry_interval
        self._clock = clock
        self._degraded: str | None = None
        self._degraded_since: datetime | None = None
        self._next_probe = 0.0
        self._probe_lock = anyio.Lock()  # one recovery (probe + replay) at a time
        self._file_lock = anyio.Lock()  # appends, truncation and closing of our spool file
        self._path: Path | None = None
        self._fd: int | None = None
        self._replayed_bytes = 0  # of our own file, already applied in this process
        self._pending = 0

    # ------------------------------------------------------------------------------ state

    @property
    def degraded_reason(self) -> str | None:
        """Why the remote store is not used right now (None when healthy)."""
        if self._degraded is None:
            return None
        return f"{self._degraded}; {self._pending} write(s) spooled to {self.spool_dir}, replayed when it is back"

    @property
    def degraded_since(self) -> datetime | None:
        return self._degraded_since

    @property
    def spooled_writes(self) -> int:
        """Writes waiting in this process's spool."""
        return self._pending

    @property
    def description(self) -> str:
        if self._degraded is None:
            return self.remote.description
        return f"{self.remote.description} (degraded: unreachable, {self._pending} write(s) spooled locally)"

    def _mark_degraded(self, exc: StoreUnavailable) -> None:
        if self._degraded is None:
            self._degraded_since = utcnow()
            log.warning("store degraded: spooling writes", store=self.remote.description, reason=str(exc))
        self._degraded = redact_text(str(exc)).rstrip(".")
        self._next_probe = self._clock() + self.retry_interval

    def _unavailable(self) -> StoreUnavailable:
        return StoreUnavailable(
            f"the store is unreachable ({self._degraded}); {self._pending} write(s) are spooled locally "
            "and replayed when it is back."
        )

    # ------------------------------------------------------------------------------ lifecycle

    async def open(self) -> None:
        await self.remote.open()
        async with self._probe_lock:
            try:
                await self._replay_orphans()
            except StoreUnavailable as exc:
                self._mark_degraded(exc)

    async def close(self) -> None:
        async with self._probe_lock:
            if self._pending:
                try:
                    await self._replay_own()
                    self._degraded = None
                except StoreUnavailable as exc:
                    self._mark_degraded(exc)
        async with self._file_lock:
            if self._fd is not None:
                fd, self._fd = self._fd, None
                if os.fstat(fd).st_size == 0 and self._path is not None:
                    self._path.unlink(missing_ok=True)  # still locked: nobody else can be reading it
                os.close(fd)  # releases the lock; a later process replays whatever is left
                self._path = None
        await self.remote.close()

    async def flush(self) -> int:
        """Try to reach the remote now and replay the spool. Returns the writes still waiting."""
        async with self._probe_lock:
            try:
                await self._replay_own()
                await self._replay_orphans()
                self._degraded = None
                self._degraded_since = None
            except StoreUnavailable as exc:
                self._mark_degraded(exc)
        return self._pending

    # ------------------------------------------------------------------------------ spool files

    def _own_file(self) -> int:
        if self._fd is None:
            self.spool_dir.mkdir(parents=True, exist_ok=True)
            name = f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
            path = self.spool_dir / name
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            _lock(fd, block=True)
            dir_fd = os.open(self.spool_dir, os.O_RDONLY)
            try:
                os.fsync(dir_fd)  # the new file's name survives a crash too
            finally:
                os.close(dir_fd)
            self._path, self._fd, self._replayed_bytes = path, fd, 0
        return self._fd

    def _append_sync(self, line: bytes) -> None:
        fd = self._own_file()
        os.write(fd, line)
        os.fsync(fd)

    async def _spool(self, op: str, payload: dict[str, Any]) -> None:
        record = {"v": SPOOL_VERSION, "op": op, "at": utcnow().isoformat(), "payload": payload}
        line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
        async with self._file_lock:
            await anyio.to_thread.run_sync(self._append_sync, line)
            self._pending += 1

    @staticmethod
    def _read_from(path: Path, offset: int) -> list[tuple[int, dict[str, Any]]]:
        """Complete lines after ``offset`` with the offset just past each."""
        data = path.read_bytes()[offset:]
        out: list[tuple[int, dict[str, Any]]] = []
        position = offset
        for raw in data.split(b"\n")[:-1]:  # a torn last line (crash mid-write) has no newline: skipped
            position += len(raw) + 1
            if raw.strip():
                try:
                    record = json.loads(raw)
                except ValueError:
                    record = {"op": "unreadable", "raw": raw.decode("utf-8", "replace")}
                out.append((position, record))
        return out

    async def _apply(self, record: dict[str, Any]) -> None:
        """Replay one spooled write. A write the remote store refuses for good (not an outage: bad data,
        a record this version cannot read) is set aside in ``rejected/`` so it cannot block the rest."""
        try:
            await self._apply_one(record)
        except StoreUnavailable:
            raise
        except (StoreError, ValidationError, KeyError, TypeError) as exc:
            reason = redact_text(f"{type(exc).__name__}: {exc}")[:500]
            log.error("spooled write rejected by the store; kept aside", op=record.get("op"), reason=reason)
            line = (json.dumps({"rejected": reason, "record": record}, separators=(",", ":")) + "\n").encode()
            await anyio.to_thread.run_sync(self._reject_sync, line)

    def _reject_sync(self, line: bytes) -> None:
        folder = self.spool_dir / "rejected"
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / "rejected.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    async def _apply_one(self, record: dict[str, Any]) -> None:
        op = record["op"]
        payload: Any = record.get("payload") or {}
        if op == "record_outcome":
            await self.remote.record_outcome(OutcomeRecord.model_validate(payload))
        elif op == "finish_attempt":
            await self.remote.finish_attempt(
                AuditEntry.model_validate(payload["entry"]), OutcomeRecord.model_validate(payload["outcome"])
            )
        elif op == "append_audit":
            await self.remote.append_audit(AuditEntry.model_validate(payload))
        elif op == "save_issue":
            issue = HealthIssue.model_validate(payload)
            restore = getattr(self.remote, "restore_issue", None)
            await (restore(issue) if restore is not None else self.remote.save_issue(issue))
        elif op == "save_patch":
            await self.remote.save_patch(PatchSuggestion.model_validate(payload))
        elif op == "release_lease":
            await self.remote.release_lease(str(payload["key"]), str(payload["holder"]))
        else:
            raise KeyError(f"unknown spooled operation {op!r}")

    async def _replay_own(self) -> None:
        """Replay our own file from where the last replay stopped, then empty it. Writes spooled while the
        replay runs are replayed too before the file is truncated."""
        replayed = 0
        while self._fd is not None and self._path is not None:
            path = self._path
            records = await anyio.to_thread.run_sync(self._read_from, path, self._replayed_bytes)
            for end, record in records:
                await self._apply(record)  # StoreUnavailable stops here; the rest stays spooled
                self._replayed_bytes = end
                self._pending = max(0, self._pending - 1)
                replayed += 1
            async with self._file_lock:
                fd = self._fd
                if fd is None or os.fstat(fd).st_size != self._replayed_bytes:
                    continue  # more was appended meanwhile

                def truncate(fd: int = fd) -> None:
                    os.ftruncate(fd, 0)
                    os.fsync(fd)

                await anyio.to_thread.run_sync(truncate)
                self._replayed_bytes = 0
                self._pending = 0
                break
        if replayed:
            log.info("spool replayed", store=self.remote.description, writes=replayed)

    async def _replay_orphans(self) -> None:
        """Replay and remove spool files left by processes that are gone (their lock is free)."""
        if not self.spool_dir.is_dir():
            return
        for path in sorted(self.spool_dir.glob("*.jsonl")):
            if path == self._path:
                continue
            try:
                fd = os.open(path, os.O_RDWR)
            except FileNotFoundError:
                continue
            try:
                if not _lock(fd, block=False):
                    continue  # its process is alive and replays it itself
                records = await anyio.to_thread.run_sync(self._read_from, path, 0)
                for _, record in records:
                    await self._apply(record)
                path.unlink(missing_ok=True)
                if records:
                    log.info("orphaned spool replayed", file=str(path), writes=len(records))
            finally:
                os.close(fd)

    # ------------------------------------------------------------------------------ routing

    async def _usable(self) -> bool:
        """True when the remote may be used: healthy, or it answered a probe just now (and the spool was
        replayed). While another call is probing, answers False at once instead of waiting for it."""
        if self._degraded is None:
            return True
        if self._clock() < self._next_probe or self._probe_lock.locked():
            return False
        async with self._probe_lock:
            if self._degraded is None:
                return True
            if self._clock() < self._next_probe:
                return False
            try:
                await self._replay_own()
                await self._replay_orphans()
            except StoreUnavailable as exc:
                self._mark_degraded(exc)
                return False
            log.info("store recovered", store=self.remote.description)
            self._degraded = None
            self._degraded_since = None
            return True

    async def _read(self, call: Callable[[], Awaitable[T]]) -> T:
        if not await self._usable():
            raise self._unavailable()
        try:
            return await call()
        except StoreUnavailable as exc:
            self._mark_degraded(exc)
            raise

    async def _write(self, call: Callable[[], Awaitable[T]], op: str, payload: dict[str, Any], local: T) -> T:
        if await self._usable():
            try:
                return await call()
            except StoreUnavailable as exc:
                self._mark_degraded(exc)
        await self._spool(op, payload)
        return local

    # ------------------------------------------------------------------------------ must-not-lose writes

    async def record_outcome(self, outcome: OutcomeRecord) -> MemoryRecord:
        return await self._write(
            lambda: self.remote.record_outcome(outcome),
            "record_outcome",
            outcome.model_dump(mode="json"),
            spooled_memory_record(outcome),
        )

    async def finish_attempt(self, entry: AuditEntry, outcome: OutcomeRecord) -> MemoryRecord:
        return await self._write(
            lambda: self.remote.finish_attempt(entry, outcome),
            "finish_attempt",
            {"entry": entry.model_dump(mode="json"), "outcome": outcome.model_dump(mode="json")},
            spooled_memory_record(outcome),
        )

    async def append_audit(self, entry: AuditEntry) -> int:
        return await self._write(
            lambda: self.remote.append_audit(entry), "append_audit", entry.model_dump(mode="json"), 0
        )

    async def save_issue(self, issue: HealthIssue) -> None:
        await self._write(lambda: self.remote.save_issue(issue), "save_issue", issue.model_dump(mode="json"), None)

    async def save_patch(self, patch: PatchSuggestion) -> None:
        await self._write(lambda: self.remote.save_patch(patch), "save_patch", patch.model_dump(mode="json"), None)

    # ------------------------------------------------------------------------------ everything else

    async def get_watermark(self, source: str) -> Watermark | None:
        return await self._read(lambda: self.remote.get_watermark(source))

    async def commit_intake(self, batch: IntakeBatch, *, now: datetime) -> list[HealthIssue]:
        return await self._read(lambda: self.remote.commit_intake(batch, now=now))

    async def intake_stats(self, recent: int = 5) -> IntakeStats:
        return await self._read(lambda: self.remote.intake_stats(recent))

    async def get_issue(self, issue_id: str) -> HealthIssue | None:
        return await self._read(lambda: self.remote.get_issue(issue_id))

    async def query_issues(self, query: IssueQuery) -> IssuePage:
        return await self._read(lambda: self.remote.query_issues(query))

    async def issue_buckets(
        self, *, component: str | None, since: datetime | None, recent_since: datetime
    ) -> list[IssueBucket]:
        return await self._read(
            lambda: self.remote.issue_buckets(component=component, since=since, recent_since=recent_since)
        )

    async def acquire_lease(self, key: str, holder: str, ttl_seconds: float, *, now: datetime | None = None) -> bool:
        return await self._read(lambda: self.remote.acquire_lease(key, holder, ttl_seconds, now=now))

    async def release_lease(self, key: str, holder: str) -> None:
        await self._write(
            lambda: self.remote.release_lease(key, holder), "release_lease", {"key": key, "holder": holder}, None
        )

    async def claim_issues(
        self, states: list[IssueState], limit: int, holder: str, ttl_seconds: float, *, now: datetime | None = None
    ) -> list[HealthIssue]:
        return await self._read(lambda: self.remote.claim_issues(states, limit, holder, ttl_seconds, now=now))

    async def list_audit(self, issue_id: str | None = None, limit: int = 100) -> list[AuditEntry]:
        return await self._read(lambda: self.remote.list_audit(issue_id, limit))

    async def unfinished_attempts(self) -> list[AuditEntry]:
        return await self._read(self.remote.unfinished_attempts)

    async def best_fixes(self, issue_signature: str, limit: int = 5) -> list[MemoryRecord]:
        return await self._read(lambda: self.remote.best_fixes(issue_signature, limit))

    async def memory_insights(self, limit: int = 10) -> MemoryInsights:
        return await self._read(lambda: self.remote.memory_insights(limit))

    async def list_patches(self, issue_id: str | None = None, component: str | None = None) -> list[PatchSuggestion]:
        return await self._read(lambda: self.remote.list_patches(issue_id, component))
