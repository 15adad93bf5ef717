"""The embedded default store: one SQLite file, no accounts, no server.

WAL mode lets a terminal ``healing-mcp supervise`` and a running MCP server share the file. Every write
is one ``BEGIN IMMEDIATE`` transaction, so a crash leaves either the old state or the new one. Calls run
in a worker thread (one connection, serialised by a lock) so the server's event loop never blocks on
disk. Issues, memory records and patches are stored as their pydantic JSON next to the few columns that
queries filter and sort on.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread

from healing_mcp.core.issues import merge_group
from healing_mcp.core.ranking import wilson_lower_bound
from healing_mcp.models import (
    AuditEntry,
    HealthIssue,
    IntakeStats,
    IssueState,
    MemoryInsights,
    MemoryRecord,
    PatchSuggestion,
    QuarantinedLine,
    Severity,
    Watermark,
    utcnow,
)
from healing_mcp.store.base import (
    ISSUE_LEASE_PREFIX,
    LATE_DETAIL,
    LATE_NOTE,
    IntakeBatch,
    IssueBucket,
    IssuePage,
    IssueQuery,
    OutcomeRecord,
    StoreError,
    StoreUnavailable,
    WatermarkMoved,
    issue_lease_key,
    uncounted_record,
)

T = TypeVar("T")
SCHEMA_VERSION = 1
_SEVERITIES = list(Severity)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS issues (
    id TEXT PRIMARY KEY,
    signature TEXT NOT NULL UNIQUE,
    component TEXT NOT NULL,
    state TEXT NOT NULL,
    severity_rank INTEGER NOT NULL,
    last_seen REAL NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS issues_by_urgency ON issues (severity_rank DESC, last_seen DESC);
CREATE INDEX IF NOT EXISTS issues_by_component ON issues (component, state, last_seen);
-- The report's two queries over every issue: counts per bucket (read from this index alone) and the most
-- urgent page (read in this index's order, so LIMIT stops early instead of sorting every issue).
CREATE INDEX IF NOT EXISTS issues_by_bucket ON issues (component, state, severity_rank, last_seen);
CREATE INDEX IF NOT EXISTS issues_by_last_seen ON issues (last_seen);
CREATE INDEX IF NOT EXISTS issues_by_report_order
    ON issues (state = 'resolved', severity_rank DESC, last_seen DESC, id);
CREATE TABLE IF NOT EXISTS watermarks (
    source TEXT PRIMARY KEY, "offset" INTEGER NOT NULL, fingerprint TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS quarantine (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL, "offset" INTEGER NOT NULL, data TEXT NOT NULL,
    UNIQUE (source, "offset")
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS leases (key TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    attempt_id TEXT NOT NULL,
    issue_id TEXT NOT NULL,
    phase TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_attempt ON audit_log (attempt_id);
CREATE INDEX IF NOT EXISTS audit_by_issue ON audit_log (issue_id, seq);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TABLE IF NOT EXISTS healing_memory (
    issue_signature TEXT NOT NULL,
    fix_signature TEXT NOT NULL,
    component TEXT NOT NULL,
    strategy TEXT NOT NULL,
    params TEXT NOT NULL,
    risk TEXT NOT NULL,
    successes INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    last_outcome TEXT,
    last_success_at TEXT,
    last_failure_at TEXT,
    suggestions TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (issue_signature, fix_signature)
);
CREATE TABLE IF NOT EXISTS memory_outcomes (outcome_id TEXT PRIMARY KEY, recorded_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS patches (
    id TEXT PRIMARY KEY, issue_id TEXT NOT NULL, component TEXT NOT NULL, created_at TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS patches_by_issue ON patches (issue_id);
"""


def _ts(value: datetime) -> float:
    return value.timestamp()


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


@dataclass
class _CachedBuckets:
    version: tuple[int, int]
    cutoffs: tuple[float | None, float]  # (since, recent_since) the buckets were counted for
    buckets: list[IssueBucket]


class SQLiteStore:
    """Embedded store in one file (``:memory:`` works too, for throwaway runs)."""

    def __init__(self, path: Path | str) -> None:
        self._path = str(path)
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        # Bumped by every write through this connection (other connections' commits show in
        # PRAGMA data_version); keys the bucket cache below.
        self._generation = 0
        self._buckets: dict[str | None, _CachedBuckets] = {}

    @property
    def description(self) -> str:
        return f"sqlite:{self._path}"

    # ------------------------------------------------------------------------------ plumbing

    async def open(self) -> None:
        if self._conn is not None:
            return
        await anyio.to_thread.run_sync(self._open_sync)

    def _open_sync(self) -> None:
        if self._path != ":memory:":
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(self._path, timeout=30.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.executescript(
                f"BEGIN IMMEDIATE; {_SCHEMA} INSERT OR IGNORE INTO meta VALUES ('schema_version', "
                f"'{SCHEMA_VERSION}'); COMMIT;"
            )
            row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if int(row[0]) > SCHEMA_VERSION:
                conn.close()
                raise StoreError(
                    f"{self._path} was written by a newer healing-mcp (schema {row[0]}); upgrade healing-mcp."
                )
        except sqlite3.DatabaseError as exc:
            raise StoreUnavailable(f"cannot open the SQLite store at {self._path}: {exc}") from exc
        self._conn = conn

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with self._lock:
                conn.close()

    async def _run(self, fn: Callable[[sqlite3.Connection], T], *, write: bool = False) -> T:
        def work() -> T:
            if self._conn is None:
                raise StoreError("the store is closed; open() it first")
            with self._lock:
                conn = self._conn
                if not write:
                    return fn(conn)
                self._generation += 1
                conn.execute("BEGIN IMMEDIATE")
                try:
                    result = fn(conn)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
                return result

        try:
            return await anyio.to_thread.run_sync(work)
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"SQLite store {self._path} is busy or unavailable: {exc}") from exc

    # ------------------------------------------------------------------------------ intake

    async def get_watermark(self, source: str) -> Watermark | None:
        def q(conn: sqlite3.Connection) -> Watermark | None:
            row = conn.execute(
                'SELECT "offset", fingerprint, updated_at FROM watermarks WHERE source = ?', (source,)
            ).fetchone()
            if row is None:
                return None
            return Watermark(source=source, offset=row[0], fingerprint=row[1], updated_at=row[2])

        return await self._run(q)

    async def commit_intake(self, batch: IntakeBatch, *, now: datetime) -> list[HealthIssue]:
        def tx(conn: sqlite3.Connection) -> list[HealthIssue]:
            touched: list[HealthIssue] = []
            for group in batch.groups:
                row = conn.execute("SELECT data FROM issues WHERE signature = ?", (group.signature,)).fetchone()
                existing = HealthIssue.model_validate_json(row[0]) if row else None
                issue = merge_group(existing, group, now)
                self._put_issue(conn, issue)
                touched.append(issue)
            for mark in batch.watermarks:
                if mark.source in batch.expected:
                    self._check_watermark(conn, mark.source, batch.expected[mark.source])
                conn.execute(
                    'INSERT INTO watermarks (source, "offset", fingerprint, updated_at) VALUES (?, ?, ?, ?) '
                    'ON CONFLICT (source) DO UPDATE SET "offset" = excluded."offset", '
                    "fingerprint = excluded.fingerprint, updated_at = excluded.updated_at",
                    (mark.source, mark.offset, mark.fingerprint, _iso(mark.updated_at)),
                )
            for line in batch.quarantined:
                conn.execute(
                    'INSERT OR IGNORE INTO quarantine (source, "offset", data) VALUES (?, ?, ?)',
                    (line.source, line.offset, line.model_dump_json()),
                )
            if batch.events:
                conn.execute(
                    "INSERT INTO counters VALUES ('events_seen', ?) "
                    "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
                    (batch.events,),
                )
            return touched

        return await self._run(tx, write=True)

    def _check_watermark(self, conn: sqlite3.Connection, source: str, expected: Watermark | None) -> None:
        """Refuse the batch (inside its transaction) unless the stored watermark is still ``expected``."""
        row = conn.execute('SELECT "offset", fingerprint FROM watermarks WHERE source = ?', (source,)).fetchone()
        current = None if row is None else (int(row[0]), str(row[1]))
        if current != (None if expected is None else (expected.offset, expected.fingerprint)):
            raise WatermarkMoved(
                f"intake in {self.description}: the watermark of {source} moved since this batch was read"
            )

    async def intake_stats(self, recent: int = 5) -> IntakeStats:
        def q(conn: sqlite3.Connection) -> IntakeStats:
            seen = conn.execute("SELECT value FROM counters WHERE name = 'events_seen'").fetchone()
            count = conn.execute("SELECT count(*) FROM quarantine").fetchone()[0]
            rows = conn.execute("SELECT data FROM quarantine ORDER BY seq DESC LIMIT ?", (recent,)).fetchall()
            return IntakeStats(
                events_seen=seen[0] if seen else 0,
                quarantined=count,
                recent_quarantine=[QuarantinedLine.model_validate_json(r[0]) for r in rows],
            )

        return await self._run(q)

    # ------------------------------------------------------------------------------ issues

    @staticmethod
    def _put_issue(conn: sqlite3.Connection, issue: HealthIssue) -> None:
        conn.execute(
            "INSERT INTO issues (id, signature, component, state, severity_rank, last_seen, data) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET state = excluded.state, "
            "severity_rank = excluded.severity_rank, last_seen = excluded.last_seen, data = excluded.data",
            (
                issue.id,
                issue.signature,
                issue.component,
                issue.state.value,
                issue.severity.rank,
                _ts(issue.last_seen),
                issue.model_dump_json(),
            ),
        )

    async def get_issue(self, issue_id: str) -> HealthIssue | None:
        def q(conn: sqlite3.Connection) -> HealthIssue | None:
            row = conn.execute("SELECT data FROM issues WHERE id = ?", (issue_id,)).fetchone()
            return HealthIssue.model_validate_json(row[0]) if row else None

        return await self._run(q)

    async def save_issue(self, issue: HealthIssue) -> None:
        await self._run(lambda conn: self._put_issue(conn, issue), write=True)

    @staticmethod
    def _where(
        component: str | None,
        states: list[IssueState] | None,
        since: datetime | None,
        min_severity: Severity | None = None,
    ) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if component is not None:
            clauses.append("component = ?")
            params.append(component)
        if states:
            clauses.append(f"state IN ({','.join('?' * len(states))})")
            params.extend(s.value for s in states)
        if since is not None:
            clauses.append("last_seen >= ?")
            params.append(_ts(since))
        if min_severity is not None:
            clauses.append("severity_rank >= ?")
            params.append(min_severity.rank)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    async def query_issues(self, query: IssueQuery) -> IssuePage:
        where, params = self._where(query.component, query.states, query.since, query.min_severity)

        def q(conn: sqlite3.Connection) -> IssuePage:
            total = conn.execute(f"SELECT count(*) FROM issues{where}", params).fetchone()[0]
            rows = conn.execute(
                f"SELECT data FROM issues{where} "
                "ORDER BY state = 'resolved', severity_rank DESC, last_seen DESC, id LIMIT ? OFFSET ?",
                [*params, query.limit, query.offset],
            ).fetchall()
            return IssuePage(issues=[HealthIssue.model_validate_json(r[0]) for r in rows], total=total)

        return await self._run(q)

    async def issue_buckets(
        self, *, component: str | None, since: datetime | None, recent_since: datetime
    ) -> list[IssueBucket]:
        where, params = self._where(component, None, since)
        cutoffs = (None if since is None else _ts(since), _ts(recent_since))

        def q(conn: sqlite3.Connection) -> list[IssueBucket]:
            # Every report counts all issues, but between two reports the table rarely changes and the
            # moving cutoffs rarely pass an issue: reuse the last counts when nothing was written (by
            # this connection or, per data_version, any other) and no issue's last_seen lies between
            # the old and the new cutoffs. Exact, and one index probe instead of a scan of every issue.
            version = (self._generation, conn.execute("PRAGMA data_version").fetchone()[0])
            cached = self._buckets.get(component)
            if cached is not None and cached.version == version and self._cutoffs_pass_no_issue(conn, cached, cutoffs):
                cached.cutoffs = cutoffs
                return list(cached.buckets)
            # Grouped by the covering index's leading columns (no sort); the recent / not recent split
            # is a sum, expanded below into the same buckets, in the same order, as grouping by it.
            rows = conn.execute(
                f"SELECT component, state, severity_rank, sum(last_seen >= ?), count(*) FROM issues{where} "
                "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
                [cutoffs[1], *params],
            ).fetchall()
            buckets: list[IssueBucket] = []
            for component_, state, rank, recent, total in rows:
                for is_recent, count in ((False, total - recent), (True, recent)):
                    if count:
                        buckets.append(
                            IssueBucket(
                                component=component_,
                                state=IssueState(state),
                                severity=_SEVERITIES[rank],
                                recent=is_recent,
                                count=count,
                            )
                        )
            self._buckets[component] = _CachedBuckets(version, cutoffs, buckets)
            return list(buckets)

        return await self._run(q)

    @staticmethod
    def _cutoffs_pass_no_issue(
        conn: sqlite3.Connection, cached: _CachedBuckets, cutoffs: tuple[float | None, float]
    ) -> bool:
        for old, new in zip(cached.cutoffs, cutoffs, strict=True):
            if (old is None) != (new is None):
                return False
            if old is None or new is None or old == new:
                continue
            low, high = min(old, new), max(old, new)
            if conn.execute(
                "SELECT 1 FROM issues WHERE last_seen >= ? AND last_seen < ? LIMIT 1", (low, high)
            ).fetchone():
                return False
        return True

    # ------------------------------------------------------------------------------ leases

    async def acquire_lease(self, key: str, holder: str, ttl_seconds: float, *, now: datetime | None = None) -> bool:
        now = now or utcnow()  # one machine, one clock

        def tx(conn: sqlite3.Connection) -> bool:
            conn.execute(
                "INSERT INTO leases (key, holder, expires_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
                "holder = excluded.holder, expires_at = excluded.expires_at "
                "WHERE leases.holder = excluded.holder OR leases.expires_at < ?",
                (key, holder, _ts(now) + ttl_seconds, _ts(now)),
            )
            row = conn.execute("SELECT holder FROM leases WHERE key = ?", (key,)).fetchone()
            return bool(row and row[0] == holder)

        return await self._run(tx, write=True)

    async def release_lease(self, key: str, holder: str) -> None:
        await self._run(
            lambda conn: conn.execute("DELETE FROM leases WHERE key = ? AND holder = ?", (key, holder)),
            write=True,
        )

    async def claim_issues(
        self, states: list[IssueState], limit: int, holder: str, ttl_seconds: float, *, now: datetime | None = None
    ) -> list[HealthIssue]:
        if not states or limit <= 0:
            return []
        at_now = now or utcnow()

        def tx(conn: sqlite3.Connection) -> list[HealthIssue]:
            # One writer at a time (BEGIN IMMEDIATE), so checking and taking the leases cannot race.
            at = _ts(at_now)
            rows = conn.execute(
                "SELECT i.data FROM issues i LEFT JOIN leases l ON l.key = ? || i.id "
                f"WHERE i.state IN ({','.join('?' * len(states))}) "
                "AND (l.key IS NULL OR l.expires_at < ?) "
                "ORDER BY i.state = 'resolved', i.severity_rank DESC, i.last_seen DESC, i.id",
                [ISSUE_LEASE_PREFIX, *(s.value for s in states), at],
            ).fetchall()
            claimed: list[HealthIssue] = []
            for (data,) in rows:
                issue = HealthIssue.model_validate_json(data)
                due = issue.auto_fix.next_attempt_at
                if due is not None and due > at_now:
                    continue
                conn.execute(
                    "INSERT INTO leases (key, holder, expires_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE "
                    "SET holder = excluded.holder, expires_at = excluded.expires_at",
                    (issue_lease_key(issue.id), holder, at + ttl_seconds),
                )
                claimed.append(issue)
                if len(claimed) >= limit:
                    break
            return claimed

        return await self._run(tx, write=True)

    # ------------------------------------------------------------------------------ audit

    @staticmethod
    def _append_audit(conn: sqlite3.Connection, entry: AuditEntry) -> int:
        # Idempotent on (attempt_id, phase), like the remote stores: a replayed append is stored once.
        # An attempt is closed once (see the Store rules); one writer at a time, so no lock is needed.
        row = conn.execute(
            "SELECT seq FROM audit_log WHERE attempt_id = ? AND phase = ?", (entry.attempt_id, entry.phase)
        ).fetchone()
        if row is not None:
            return int(row[0])
        closing = {"finished": "interrupted", "interrupted": "finished"}.get(entry.phase)
        other = None
        if closing is not None:
            other = conn.execute(
                "SELECT seq FROM audit_log WHERE attempt_id = ? AND phase = ?", (entry.attempt_id, closing)
            ).fetchone()
        if other is not None and entry.phase == "interrupted":
            return int(other[0])  # it finished after all: nothing was interrupted
        if other is not None:
            entry = entry.model_copy(update={"details": {**entry.details, LATE_DETAIL: LATE_NOTE}})
        cur = conn.execute(
            "INSERT INTO audit_log (attempt_id, issue_id, phase, data) VALUES (?, ?, ?, ?)",
            (entry.attempt_id, entry.issue_id, entry.phase, entry.model_dump_json(exclude={"seq"})),
        )
        return int(cur.lastrowid or 0)

    async def append_audit(self, entry: AuditEntry) -> int:
        return await self._run(lambda conn: self._append_audit(conn, entry), write=True)

    async def finish_attempt(self, entry: AuditEntry, outcome: OutcomeRecord) -> MemoryRecord:
        def tx(conn: sqlite3.Connection) -> MemoryRecord:
            seq = self._append_audit(conn, entry)
            (late,) = conn.execute(
                "SELECT json_extract(data, ?) IS NOT NULL FROM audit_log WHERE seq = ?",
                (f"$.details.{LATE_DETAIL}", seq),
            ).fetchone()
            if late:
                return self._memory(conn, outcome.issue_signature, outcome.fix_signature) or uncounted_record(outcome)
            return self._record_outcome(conn, outcome)

        return await self._run(tx, write=True)

    @staticmethod
    def _audit_rows(rows: list[tuple[int, str]]) -> list[AuditEntry]:
        out = []
        for seq, data in rows:
            entry = AuditEntry.model_validate_json(data)
            entry.seq = seq
            out.append(entry)
        return out

    async def list_audit(self, issue_id: str | None = None, limit: int = 100) -> list[AuditEntry]:
        def q(conn: sqlite3.Connection) -> list[AuditEntry]:
            if issue_id is None:
                rows = conn.execute("SELECT seq, data FROM audit_log ORDER BY seq DESC LIMIT ?", (limit,))
            else:
                rows = conn.execute(
                    "SELECT seq, data FROM audit_log WHERE issue_id = ? ORDER BY seq DESC LIMIT ?",
                    (issue_id, limit),
                )
            return self._audit_rows(list(rows))[::-1]

        return await self._run(q)

    async def unfinished_attempts(self) -> list[AuditEntry]:
        def q(conn: sqlite3.Connection) -> list[AuditEntry]:
            rows = conn.execute(
                "SELECT seq, data FROM audit_log a WHERE phase = 'started' AND NOT EXISTS "
                "(SELECT 1 FROM audit_log b WHERE b.attempt_id = a.attempt_id AND b.seq > a.seq) ORDER BY seq"
            ).fetchall()
            return self._audit_rows(rows)

        return await self._run(q)

    # ------------------------------------------------------------------------------ memory

    @staticmethod
    def _memory_row(row: sqlite3.Row | tuple[Any, ...]) -> MemoryRecord:
        (
            isig,
            fsig,
            component,
            strategy,
            params,
            risk,
            s,
            f,
            last,
            last_s,
            last_f,
            sugg,
            created,
            updated,
        ) = row
        return MemoryRecord(
            issue_signature=isig,
            fix_signature=fsig,
            component=component,
            strategy=strategy,
            params=json.loads(params),
            risk=risk,
            successes=s,
            failures=f,
            last_outcome=last,
            last_success_at=last_s,
            last_failure_at=last_f,
            suggestions=json.loads(sugg),
            created_at=created,
            updated_at=updated,
            score=wilson_lower_bound(s, f),
        )

    _MEMORY_COLUMNS = (
        "issue_signature, fix_signature, component, strategy, params, risk, successes, failures, last_outcome, "
        "last_success_at, last_failure_at, suggestions, created_at, updated_at"
    )

    def _record_outcome(self, conn: sqlite3.Connection, outcome: OutcomeRecord) -> MemoryRecord:
        at = _iso(outcome.time)
        success = 1 if outcome.success else 0
        suggestion = json.dumps([outcome.suggestion] if outcome.suggestion else [])
        fresh = conn.execute("INSERT OR IGNORE INTO memory_outcomes VALUES (?, ?)", (outcome.outcome_id, at)).rowcount
        if fresh:
            self._fold_outcome(conn, outcome, at, success, suggestion)
        record = self._memory(conn, outcome.issue_signature, outcome.fix_signature)
        assert record is not None, "just folded"
        return record

    def _memory(self, conn: sqlite3.Connection, issue_signature: str, fix_signature: str) -> MemoryRecord | None:
        row = conn.execute(
            f"SELECT {self._MEMORY_COLUMNS} FROM healing_memory WHERE issue_signature = ? AND fix_signature = ?",
            (issue_signature, fix_signature),
        ).fetchone()
        return None if row is None else self._memory_row(row)

    async def record_outcome(self, outcome: OutcomeRecord) -> MemoryRecord:
        return await self._run(lambda conn: self._record_outcome(conn, outcome), write=True)

    def _fold_outcome(
        self, conn: sqlite3.Connection, outcome: OutcomeRecord, at: str | None, success: int, suggestion: str
    ) -> None:
        conn.execute(
            f"INSERT INTO healing_memory ({self._MEMORY_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (issue_signature, fix_signature) DO UPDATE SET "
            "successes = successes + excluded.successes, failures = failures + excluded.failures, "
            # last_* and updated_at only move forward in time (UTC ISO strings compare in time order), so
            # an old outcome replayed late never hides a newer one.
            "last_outcome = CASE WHEN excluded.updated_at >= updated_at THEN excluded.last_outcome "
            "ELSE last_outcome END, "
            "last_success_at = CASE WHEN excluded.last_success_at > coalesce(last_success_at, '') "
            "THEN excluded.last_success_at ELSE last_success_at END, "
            "last_failure_at = CASE WHEN excluded.last_failure_at > coalesce(last_failure_at, '') "
            "THEN excluded.last_failure_at ELSE last_failure_at END, "
            "params = excluded.params, updated_at = max(updated_at, excluded.updated_at), "
            "suggestions = CASE WHEN excluded.suggestions = '[]' THEN suggestions ELSE "
            "(SELECT json_group_array(value) FROM (SELECT value FROM json_each(suggestions) "
            "UNION SELECT value FROM json_each(excluded.suggestions) LIMIT 10)) END",
            (
                outcome.issue_signature,
                outcome.fix_signature,
                outcome.component,
                outcome.strategy,
                json.dumps(outcome.params, sort_keys=True, default=str),
                outcome.risk.value,
                success,
                1 - success,
                "success" if success else "failure",
                at if success else None,
                None if success else at,
                suggestion,
                at,
                at,
            ),
        )

    async def best_fixes(self, issue_signature: str, limit: int = 5) -> list[MemoryRecord]:
        def q(conn: sqlite3.Connection) -> list[MemoryRecord]:
            rows = conn.execute(
                f"SELECT {self._MEMORY_COLUMNS} FROM healing_memory WHERE issue_signature = ?",
                (issue_signature,),
            ).fetchall()
            records = [self._memory_row(r) for r in rows]
            records.sort(key=lambda r: (r.score, r.successes, r.updated_at), reverse=True)
            return records[:limit]

        return await self._run(q)

    async def memory_insights(self, limit: int = 10) -> MemoryInsights:
        def q(conn: sqlite3.Connection) -> MemoryInsights:
            totals = conn.execute(
                "SELECT count(*), count(DISTINCT issue_signature), coalesce(sum(successes), 0), "
                "coalesce(sum(failures), 0) FROM healing_memory"
            ).fetchone()
            best = conn.execute(
                f"SELECT {self._MEMORY_COLUMNS} FROM healing_memory WHERE successes > 0 "
                "ORDER BY successes * 1.0 / (successes + failures) DESC, successes DESC LIMIT ?",
                (limit * 4,),
            ).fetchall()
            failing = conn.execute(
                f"SELECT {self._MEMORY_COLUMNS} FROM healing_memory WHERE failures > successes "
                "ORDER BY failures DESC LIMIT ?",
                (limit,),
            ).fetchall()
            top = sorted((self._memory_row(r) for r in best), key=lambda r: r.score, reverse=True)[:limit]
            return MemoryInsights(
                records=totals[0],
                signatures=totals[1],
                successes=totals[2],
                failures=totals[3],
                top_fixes=top,
                failing_fixes=[self._memory_row(r) for r in failing],
            )

        return await self._run(q)

    # ------------------------------------------------------------------------------ patches

    async def save_patch(self, patch: PatchSuggestion) -> None:
        await self._run(
            lambda conn: conn.execute(
                "INSERT INTO patches (id, issue_id, component, created_at, data) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET data = excluded.data, created_at = excluded.created_at",
                (patch.id, patch.issue_id, patch.component, _iso(patch.created_at), patch.model_dump_json()),
            ),
            write=True,
        )

    async def list_patches(self, issue_id: str | None = None, component: str | None = None) -> list[PatchSuggestion]:
        clauses, params = [], []
        if issue_id is not None:
            clauses.append("issue_id = ?")
            params.append(issue_id)
        if component is not None:
            clauses.append("component = ?")
            params.append(component)
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""

        def q(conn: sqlite3.Connection) -> list[PatchSuggestion]:
            rows = conn.execute(
                f"SELECT data FROM patches{where} ORDER BY created_at DESC",
                params,
            ).fetchall()
            return [PatchSuggestion.model_validate_json(r[0]) for r in rows]

        return await self._run(q)
