"""The store protocol: everything the healing loop persists, behind one async interface.

A store keeps five things: issues (grouped events), intake watermarks and quarantined lines, healing
memory (per issue signature x fix signature), the append-only audit log, and patch suggestions. It also
hands out leases so that two supervisors never work on the same thing at once.

The loop only talks to this protocol. The embedded SQLite store is the default; a Postgres or Supabase
store implements the same methods. Rules every implementation follows:

- ``commit_intake`` is atomic: issue updates, watermarks and quarantined lines land together or not at
  all, so a crash mid-file re-reads exactly the uncommitted events. A watermark listed in
  ``IntakeBatch.expected`` moves only from the stored value the reader started from (compare-and-swap);
  otherwise the whole batch is refused with :class:`WatermarkMoved`, so lines are never counted twice.
- Issue merging uses :func:`healing_mcp.core.issues.merge_group` so every store groups identically.
- ``record_outcome`` is an atomic increment; ``best_fixes`` ranks with
  :func:`healing_mcp.core.ranking.wilson_lower_bound`.
- The audit log is append-only: no method updates or deletes an entry. ``append_audit`` is idempotent on
  ``(attempt_id, phase)``: appending a phase the attempt already has stores nothing and returns the
  stored entry's ``seq``, so a write replayed after a lost acknowledgement is kept once.
- An attempt is closed once. ``append_audit`` does not store ``interrupted`` for an attempt that already
  has its ``finished`` entry, and a ``finished`` entry that comes after ``interrupted`` (a supervisor cut
  off for longer than its lease, replaying its spool) is stored with ``details["late"]`` set and its
  outcome is not folded into memory by ``finish_attempt``.
- Lease expiry is judged by the store's clock (the database's ``now()`` for the remote stores), not by
  the caller's; the ``now`` arguments exist for tests. Holders are unique per claim, so "same holder"
  always means a renewal by the claimant itself.
- Issue leases use the key :func:`issue_lease_key`; ``claim_issues`` hands out the same leases.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

# Re-exported: the store errors live in healing_mcp.errors so the start-up path need not load this module.
from healing_mcp.errors import StoreError as StoreError
from healing_mcp.errors import StoreUnavailable as StoreUnavailable
from healing_mcp.models import (
    AuditEntry,
    Evidence,
    FixRisk,
    HealthIssue,
    IntakeStats,
    IssueState,
    MemoryInsights,
    MemoryRecord,
    PatchSuggestion,
    QuarantinedLine,
    Severity,
    Watermark,
)

ISSUE_LEASE_PREFIX = "issue:"
LATE_DETAIL = "late"
LATE_NOTE = "the attempt had already been closed as interrupted; this outcome was not counted in memory"


class WatermarkMoved(StoreError):
    """An intake batch started from a watermark another reader has moved since: nothing was written."""


def issue_lease_key(issue_id: str) -> str:
    """The lease key that claims one issue (shared by ``acquire_lease`` callers and ``claim_issues``)."""
    return f"{ISSUE_LEASE_PREFIX}{issue_id}"


class IssueGroup(BaseModel):
    """Events of one signature, aggregated by intake before they reach the store."""

    model_config = ConfigDict(extra="forbid")

    signature: str
    component: str
    kind: str
    target: str | None = None
    severity: Severity = Severity.error
    title: str
    count: int = 0
    first_seen: datetime
    last_seen: datetime
    samples: list[Evidence] = Field(default_factory=list)
    symptoms: list[str] = Field(default_factory=list)


class IntakeBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    groups: list[IssueGroup] = Field(default_factory=list)
    watermarks: list[Watermark] = Field(default_factory=list)
    quarantined: list[QuarantinedLine] = Field(default_factory=list)
    events: int = 0
    expected: dict[str, Watermark | None] = Field(
        default_factory=dict,
        description="Per source, the stored watermark the reader started from (None: there was none). "
        "Those watermarks move only if the stored one is still that (offset and fingerprint).",
    )


class IssueQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    component: str | None = None
    states: list[IssueState] | None = None
    since: datetime | None = Field(default=None, description="last_seen >= since")
    min_severity: Severity | None = None
    limit: int = 50
    offset: int = 0


class IssuePage(BaseModel):
    issues: list[HealthIssue]
    total: int


class IssueBucket(BaseModel):
    """Issue count for one (component, state, severity, recent?) combination; health is computed from these."""

    component: str
    state: IssueState
    severity: Severity
    recent: bool = Field(description="last_seen within the recency window")
    count: int


class OutcomeRecord(BaseModel):
    """One fix outcome to fold into healing memory."""

    model_config = ConfigDict(extra="forbid")

    outcome_id: str = Field(description="Unique per attempt; recording the same id twice counts once.")
    issue_signature: str
    fix_signature: str
    component: str
    strategy: str
    params: dict[str, Any] = Field(default_factory=dict)
    risk: FixRisk = FixRisk.reversible
    success: bool
    suggestion: str | None = None
    time: datetime


def uncounted_record(outcome: OutcomeRecord) -> MemoryRecord:
    """What ``finish_attempt`` returns for a late outcome whose pair has nothing in memory yet."""
    return MemoryRecord(
        issue_signature=outcome.issue_signature,
        fix_signature=outcome.fix_signature,
        component=outcome.component,
        strategy=outcome.strategy,
        params=outcome.params,
        risk=outcome.risk,
        created_at=outcome.time,
        updated_at=outcome.time,
    )


@runtime_checkable
class Store(Protocol):
    """Persistence of the healing loop. See the module docstring for the rules."""

    @property
    def description(self) -> str:
        """Where the data lives, secrets removed, e.g. ``sqlite:.healing/healing.db``."""
        ...

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    # intake
    async def get_watermark(self, source: str) -> Watermark | None: ...

    async def commit_intake(self, batch: IntakeBatch, *, now: datetime) -> list[HealthIssue]:
        """Merge groups into issues, store watermarks and quarantine, atomically. Returns touched issues."""
        ...

    async def intake_stats(self, recent: int = 5) -> IntakeStats: ...

    # issues
    async def get_issue(self, issue_id: str) -> HealthIssue | None: ...

    async def save_issue(self, issue: HealthIssue) -> None: ...

    async def query_issues(self, query: IssueQuery) -> IssuePage: ...

    async def issue_buckets(
        self, *, component: str | None, since: datetime | None, recent_since: datetime
    ) -> list[IssueBucket]:
        """Counts grouped by component, state, severity and whether last_seen >= recent_since."""
        ...

    # leases
    async def acquire_lease(self, key: str, holder: str, ttl_seconds: float, *, now: datetime | None = None) -> bool:
        """Take or renew ``key`` for ``holder`` unless someone else holds an unexpired lease. Expiry is
        judged by the store's clock; ``now`` replaces it in tests only."""
        ...

    async def release_lease(self, key: str, holder: str) -> None: ...

    async def claim_issues(
        self, states: list[IssueState], limit: int, holder: str, ttl_seconds: float, *, now: datetime | None = None
    ) -> list[HealthIssue]:
        """Lease up to ``limit`` issues for ``holder`` in one step, most urgent first (the order of
        ``query_issues``). Only issues in ``states`` that are due (``auto_fix.next_attempt_at`` unset or
        <= ``now``) and not leased (an unexpired lease, even ``holder``'s own, means the issue is being
        worked on; renew with ``acquire_lease``) are taken; each gets the lease ``issue_lease_key(id)``
        for ``ttl_seconds``. Concurrent claimers never receive the same issue, and a dead holder's
        issues come back once its leases expire."""
        ...

    # audit
    async def append_audit(self, entry: AuditEntry) -> int: ...

    async def finish_attempt(self, entry: AuditEntry, outcome: OutcomeRecord) -> MemoryRecord:
        """Append the ``finished`` audit entry and fold its outcome into memory in ONE transaction,
        so an interruption can never leave one without the other. A late entry (the attempt was closed as
        interrupted) is stored but not counted; the memory record is returned as it stands."""
        ...

    async def list_audit(self, issue_id: str | None = None, limit: int = 100) -> list[AuditEntry]: ...

    async def unfinished_attempts(self) -> list[AuditEntry]:
        """'started' entries with no later entry for the same attempt: runs that were interrupted."""
        ...

    # memory
    async def record_outcome(self, outcome: OutcomeRecord) -> MemoryRecord:
        """Atomically fold one outcome into memory. Idempotent on ``outcome_id`` (safe to replay)."""
        ...

    async def best_fixes(self, issue_signature: str, limit: int = 5) -> list[MemoryRecord]: ...

    async def memory_insights(self, limit: int = 10) -> MemoryInsights: ...

    # patches
    async def save_patch(self, patch: PatchSuggestion) -> None: ...

    async def list_patches(
        self, issue_id: str | None = None, component: str | None = None
    ) -> list[PatchSuggestion]: ...
